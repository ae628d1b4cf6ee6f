"""The AWS path end to end on the twin: moto's API, real hosts behind it.

`ansible-playbook site.yml -i inventory/aws` runs as a user runs it, with
only the overrides of tests/integration/aws/twin.yml and the few the test
brings (endpoint, Elastic IP, SSH key, admin and client CIDRs): see
tests/support/aws_twin.py for how instances become systemd hosts with
sshd, reached over SSH at the edge's Elastic IP and through the edge for
the GPU, with moto's security groups enforced between them.

The tests share one stack and run in file order: deploy and transcribe,
audit, egress, a revoked rule, stop/status/start, a second run, two
workers, teardown. Closing figures are printed and written to
artifacts/test/aws-twin-figures.txt.
"""

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
import aws_moto  # noqa: E402
import aws_twin  # noqa: E402
from aws_moto import REGION, REPO  # noqa: E402

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import audio, whisperlive_client  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OVERRIDES = os.path.join(REPO, "tests", "integration", "aws", "twin.yml")
FIGURES = os.path.join(REPO, "artifacts", "test", "aws-twin-figures.txt")
WHEELHOUSE = os.path.expanduser("~/.cache/realtime_asr/aws-twin-wheelhouse")
SENTENCE = "The quick brown fox jumps over the lazy dog, while the weather stays calm and bright all afternoon."


def _need_root():
    if os.geteuid() != 0:
        pytest.fail("the AWS twin makes network namespaces and containers: run the tests as root (make test does)")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    _need_root()
    work = tmp_path_factory.mktemp("aws-twin")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "twin@rasr", "-f", str(work / "id_ed25519")],
                   check=True)
    name = "tw" + uuid.uuid4().hex[:6]
    figures = {}
    with aws_moto.moto_server(work / "moto.log") as moto_url:
        ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        started = time.monotonic()
        image = aws_twin.build_image()
        figures["image_seconds"] = time.monotonic() - started
        started = time.monotonic()
        wheels = aws_twin.wheelhouse(WHEELHOUSE, REPO, sys.executable)
        figures["wheelhouse_seconds"] = time.monotonic() - started
        volumes = ["%s:/opt/control-node%s:ro" % (wheels, wheels)]
        net = aws_twin.Twin(ec2, image, name, volumes=volumes)
        net.start()
        try:
            eip = net.allocate_eip(net.public_address(10))
            moto_port = int(moto_url.rsplit(":", 1)[1])
            runtime = {
                "aws_edge_eip": eip["PublicIp"],
                "aws_ssh_public_key_path": str(work / "id_ed25519.pub"),
                "ansible_ssh_private_key_file": str(work / "id_ed25519"),
                "aws_ssh_known_hosts_file": str(work / "known_hosts"),
                "aws_whisperlive_api_key_file": str(work / "whisperlive-api-key"),
                "security_groups_admin_cidrs": ["%s/32" % net.control_address],
                "security_groups_client_cidrs": ["%s/32" % net.control_address],
                "realtime_asr_artifacts_dir": str(work / "artifacts"),
                "whisperlive_pip_find_links": ["/opt/control-node%s" % wheels],
                # The edge's GPU sleep daemon calls moto (through a relay on the control node's
                # twin address) with dummy credentials: no instance metadata service here.
                "gpu_sleep_aws_endpoint_url": "http://%s:%d" % (net.control_address, net.relay(moto_port)),
                "gpu_sleep_aws_environment": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
            }
            (work / "runtime.json").write_text(json.dumps(runtime))
            env = aws_moto.aws_env(moto_url, work, name)

            def run(path, *args, extra=None, expect_rc=0):
                result = aws_moto.run_playbook(path, env, extra_files=(OVERRIDES, str(work / "runtime.json")),
                                               extra=extra, args=args, expect_rc=expect_rc)
                figures.setdefault("runs", []).append((path, " ".join(args), round(result.seconds, 1)))
                net.raise_errors()
                return result

            yield types.SimpleNamespace(
                name=name, ec2=ec2, net=net, eip=eip, run=run, work=work, figures=figures, moto_url=moto_url,
                known_hosts=work / "known_hosts")
        finally:
            net.close()
            write_figures(figures)


def write_figures(figures):
    lines = ["AWS twin (moto + real hosts), %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())]
    for key in ("image_seconds", "wheelhouse_seconds"):
        if key in figures:
            lines.append("%s: %.0f" % (key, figures[key]))
    for path, args, seconds in figures.get("runs", []):
        lines.append("  %-40s %-28s %6.1f s" % (path, args, seconds))
    total = sum(s for _p, _a, s in figures.get("runs", []))
    lines.append("wall time of the AWS playbook runs: %.0f s" % total)
    for key in ("transcript", "wer", "url", "rerun_changed", "egress_source", "server_ready", "idle_stop",
                "page_to_green", "wake_page_said"):
        if key in figures:
            lines.append("%s: %s" % (key, figures[key]))
    text = "\n".join(lines)
    os.makedirs(os.path.dirname(FIGURES), exist_ok=True)
    with open(FIGURES, "w") as handle:
        handle.write(text + "\n")
    sys.stderr.write("\n" + text + "\n")


def instances(twin, role, states=("pending", "running", "stopping", "stopped")):
    found = twin.ec2.describe_instances(Filters=[
        {"Name": "tag:Stack", "Values": [twin.name]}, {"Name": "tag:Role", "Values": [role]},
        {"Name": "instance-state-name", "Values": list(states)}])
    return sorted((i for r in found["Reservations"] for i in r["Instances"]), key=lambda i: i["LaunchTime"])


def groups(twin):
    found = twin.ec2.describe_security_groups(Filters=[{"Name": "tag:Stack", "Values": [twin.name]}])
    return {next(t["Value"] for t in g["Tags"] if t["Key"] == "Role"): g for g in found["SecurityGroups"]}


def ca_file(twin):
    """The edge's root CA, where playbook 305 fetched it (edge_caddy_ca_fetch_dest)."""
    edge = instances(twin, "edge")[0]["InstanceId"]
    path = os.path.expanduser("~/.local/share/realtime_asr/%s/caddy-root.crt" % edge)
    assert os.path.exists(path), "no CA fetched to %s" % path
    return path


def https_status(twin, path, timeout=5):
    ctx = ssl.create_default_context(cafile=ca_file(twin))
    try:
        with urllib.request.urlopen("https://%s%s" % (twin.eip["PublicIp"], path), context=ctx, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_status(twin, path, status, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        got = https_status(twin, path)
        if got[0] == status or time.monotonic() > deadline:
            return got
        time.sleep(1)


def can_connect(twin, from_instance, address, port):
    code = ("import socket,sys\ntry:\n socket.create_connection((%r, %d), 3).close()\nexcept OSError as e:\n"
            " print(e); sys.exit(1)" % (address, port))
    return twin.net.exec(from_instance, "python3", "-c", code, check=False).returncode == 0


def upgrade_status(twin, from_instance, address, port, authorization=None):
    """The HTTP status a WebSocket upgrade to address:port gets, asked from inside an instance."""
    extra = "Authorization: %s\\r\\n" % authorization if authorization else ""
    code = ("import socket\ns = socket.create_connection((%r, %d), 5)\n"
            "s.sendall(b'GET / HTTP/1.1\\r\\nHost: gpu\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\n"
            "Sec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n%s\\r\\n')\n"
            "print(s.recv(200).split(b' ')[1].decode())" % (address, port, extra))
    return twin.net.exec(from_instance, "python3", "-c", code, check=False).stdout.strip()


# --- Deploy ----------------------------------------------------------------------

def test_site_deploys_and_transcribes_through_the_edges_public_address(twin):
    run = twin.run("site.yml")
    check = run.results("Stream through the edge and compare the transcript")
    assert len(check) == 1 and not check[0].get("skipped"), check
    result = check[0]
    # The edge serves its Elastic IP, not localhost (defect 1).
    assert result["url"].startswith("wss://%s/" % twin.eip["PublicIp"]), result["url"]
    assert result["wer"] <= 0.35, result
    twin.figures.update(transcript=result["transcript"], wer=result["wer"], url=result["url"])
    edge = instances(twin, "edge")[0]
    assert twin.eip["PublicIp"] == edge["PublicIpAddress"]
    # The private hop is authenticated: inside the VPC, a socket to the GPU without the key that
    # only the edge's Caddy holds gets 401 (the stream above went through the edge, key added).
    gpu = instances(twin, "gpu")[0]
    assert upgrade_status(twin, edge["InstanceId"], gpu["PrivateIpAddress"], 9090) == "401"
    key = (twin.work / "whisperlive-api-key").read_text().split()[0]
    assert upgrade_status(twin, edge["InstanceId"], gpu["PrivateIpAddress"], 9090,
                          authorization="Bearer " + key) == "101"


def test_audit_of_the_provisioned_state(twin):
    """An independent look at moto's state, with boto3 only."""
    ec2 = twin.ec2
    gpus, edges = instances(twin, "gpu"), instances(twin, "edge")
    assert len(gpus) == 1 and len(edges) == 1
    found = groups(twin)
    edge_group = found["edge"]["GroupId"]
    for gpu in gpus:
        # No public IPv4 on a GPU worker (defect 2, Security Hub EC2.9)...
        assert not gpu.get("PublicIpAddress"), gpu.get("PublicIpAddress")
        subnet = ec2.describe_subnets(SubnetIds=[gpu["SubnetId"]])["Subnets"][0]
        assert subnet["MapPublicIpOnLaunch"] is False
        # ...in the edge's zone, which offers the type (defect 5).
        assert subnet["AvailabilityZone"] == edges[0]["Placement"]["AvailabilityZone"]
        offered = ec2.describe_instance_type_offerings(
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": [gpu["InstanceType"]]}])["InstanceTypeOfferings"]
        assert subnet["AvailabilityZone"] in {o["Location"] for o in offered}
    # GPU ingress from the edge's group only.
    for perm in found["gpu"]["IpPermissions"]:
        assert perm["IpRanges"] == [] and perm.get("Ipv6Ranges", []) == [] and perm.get("PrefixListIds", []) == []
        assert [p["GroupId"] for p in perm["UserIdGroupPairs"]] == [edge_group]
    assert {(p["FromPort"], p["ToPort"]) for p in found["gpu"]["IpPermissions"]} == {(22, 22), (9090, 9090)}
    for inst in gpus + edges:
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
        vols = ec2.describe_volumes(VolumeIds=[m["Ebs"]["VolumeId"] for m in inst["BlockDeviceMappings"]])
        assert vols["Volumes"] and all(v["Encrypted"] for v in vols["Volumes"])
        # Debian 12, the OS the twin's hosts run (defect 10).
        image = ec2.describe_images(ImageIds=[inst["ImageId"]])["Images"][0]
        assert image["Name"].startswith("debian-12-amd64-") and image["OwnerId"] == "136693071363"
    # The edge is the NAT instance: source/destination check off.
    assert edges[0]["SourceDestCheck"] is False


def test_gpu_reaches_the_internet_only_through_the_edge(twin):
    gpu, edge = instances(twin, "gpu")[0], instances(twin, "edge")[0]
    tables = twin.ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [gpu["SubnetId"]]}])
    routes = [r for t in tables["RouteTables"] for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert [r.get("InstanceId") for r in routes] == [edge["InstanceId"]], routes
    # A server on the control node's side (its port 443 as the GPU sees it,
    # redirected inside the twin to a free port here) sees the Elastic IP.
    seen = []
    with socket.socket() as server:
        server.bind((twin.net.control_address, 0))
        server.listen(1)
        server.settimeout(20)
        with twin.net.redirect(443, server.getsockname()[1]):
            waiter = threading.Thread(target=lambda: seen.append(server.accept()[1]))
            waiter.start()
            assert can_connect(twin, gpu["InstanceId"], twin.net.control_address, 443)
            waiter.join(20)
            # Port 8080 is not among the edge's NAT ports: the security group drops it.
            assert not can_connect(twin, gpu["InstanceId"], twin.net.control_address, 8080)
    assert seen and seen[0][0] == twin.eip["PublicIp"], seen
    twin.figures["egress_source"] = seen[0][0]


def test_a_revoked_rule_cuts_the_traffic_and_030_restores_it(twin):
    gpu, edge = instances(twin, "gpu")[0], instances(twin, "edge")[0]
    gpu_group, edge_group = groups(twin)["gpu"]["GroupId"], groups(twin)["edge"]["GroupId"]
    assert can_connect(twin, edge["InstanceId"], gpu["PrivateIpAddress"], 9090)
    rule = next(p for p in groups(twin)["gpu"]["IpPermissions"] if p.get("FromPort") == 9090)
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [edge_group]
    twin.ec2.revoke_security_group_ingress(GroupId=gpu_group, IpPermissions=[rule])
    twin.net.wait_synced()
    assert not can_connect(twin, edge["InstanceId"], gpu["PrivateIpAddress"], 9090)
    run = twin.run("playbooks/030_security_groups.yml")
    assert run.changed() == 1
    twin.net.wait_synced()
    assert can_connect(twin, edge["InstanceId"], gpu["PrivateIpAddress"], 9090)


# --- Stop, status, start ---------------------------------------------------------

def test_stop_status_start(twin):
    gpu, edge = instances(twin, "gpu")[0], instances(twin, "edge")[0]
    assert wait_status(twin, "/healthz/upstream", 200)[0] == 200
    stop = twin.run("playbooks/210_gpu_stop.yml")
    assert stop.changed() == 2  # the hold tag, then the stop
    twin.net.wait_synced()
    stopped = instances(twin, "gpu")[0]
    assert stopped["State"]["Name"] == "stopped"
    # The hold tag keeps the edge's GPU sleep from starting it again.
    assert {t["Key"]: t["Value"] for t in stopped["Tags"]}.get("PowerHold") == "playbook 210"
    assert twin.run("playbooks/210_gpu_stop.yml").changed() == 0
    running = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", twin.net.container(gpu["InstanceId"])],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert running == "false"
    status, body = wait_status(twin, "/healthz/upstream", 503)
    assert status == 503 and "No healthy transcription server" in body, (status, body)

    # A re-run of 020 (what site.yml does first) leaves the stopped GPU stopped (defect 7).
    relaunch = twin.run("playbooks/020_gpu_instance.yml")
    assert relaunch.changed() == 0
    assert instances(twin, "gpu")[0]["State"]["Name"] == "stopped"
    assert any("are stopped (playbook 210)" in r.get("msg", "") for r in relaunch.results("Say which GPU workers stay stopped"))

    report = twin.run("playbooks/230_status.yml")
    text = json.dumps(report.doc)
    assert gpu["InstanceId"] in text and "stopped" in text
    assert "OPEN TO THE INTERNET" not in text
    # A stopped worker costs no compute; the edge (t3.medium) and its public address are charged
    # all the same (moto cannot describe the volumes: storage is reported as unknown).
    shown = "\n".join(report.results("Show the stack")[0]["msg"])
    assert "Hourly cost of the stack: $%.4f" % (0.0416 + 0.005) in shown, shown

    start = twin.run("playbooks/220_gpu_start.yml")
    assert start.changed("localhost") == 2  # the hold tag removed, then the start
    after = instances(twin, "gpu")[0]
    assert after["State"]["Name"] == "running"
    # What the edge's Caddy points at survives: no edge reconfiguration.
    assert after["InstanceId"] == gpu["InstanceId"] and after["PrivateIpAddress"] == gpu["PrivateIpAddress"]
    assert "PowerHold" not in {t["Key"] for t in after["Tags"]}
    assert instances(twin, "edge")[0]["PublicIpAddress"] == edge["PublicIpAddress"]
    ready = [r for r in start.results("Wait for SERVER_READY through the edge") if not r.get("skipped")]
    assert ready and ready[0]["url"].startswith("wss://%s/" % twin.eip["PublicIp"])
    twin.figures["server_ready"] = "%s s through %s after 220" % (ready[0]["latency"]["server_ready"], ready[0]["url"])


def test_a_second_site_run_changes_nothing(twin):
    run = twin.run("site.yml")
    changed = run.changed_tasks()
    twin.figures["rerun_changed"] = len(changed)
    assert changed == [], changed


# --- GPU sleep --------------------------------------------------------------------

IDLE_MINUTES = 0.25  # the test's idle time (15 s); the inventory's is 30 min


def gpu_sleep_state(twin):
    """The daemon's /gpu/state through the edge; {"state": "HTTP <code>"} while it does not answer
    (a restart after 240 changed its configuration takes a moment)."""
    status, body = https_status(twin, "/gpu/state")
    return json.loads(body) if status == 200 else {"state": "HTTP %d" % status, "body": body[:200]}


def post_wake(twin):
    request = urllib.request.Request("https://%s/gpu/wake" % twin.eip["PublicIp"], data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca_file(twin)), timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(predicate, timeout, interval=1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def sleep_log(twin):
    edge = instances(twin, "edge")[0]["InstanceId"]
    return twin.net.exec(edge, "journalctl", "-u", "rasr-gpu-sleep", "--no-pager", "-o", "cat", check=False).stdout


def test_the_edge_may_only_stop_and_start_this_stacks_gpu_workers(twin):
    """The instance profile attached to the edge is gpu_sleep's, with the policy whose document
    tests/unit/roles/test_gpu_sleep_policy.py checks (moto enforces neither its conditions nor its ARNs)."""
    edge = instances(twin, "edge")[0]
    role = "%s-edge-gpu-sleep" % twin.name
    assert edge["IamInstanceProfile"]["Arn"].endswith(":instance-profile/" + role), edge.get("IamInstanceProfile")
    iam = boto3.client("iam", region_name=REGION, endpoint_url=twin.moto_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    assert [r["RoleName"] for r in iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]["Roles"]] == [role]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [role]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    actions = sorted(a for st in document["Statement"] for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))
    assert actions == ["ec2:DescribeInstanceStatus", "ec2:DescribeInstances", "ec2:StartInstances", "ec2:StopInstances"]
    for statement in document["Statement"]:
        if statement["Action"] in ("ec2:StopInstances", "ec2:StartInstances", ["ec2:StopInstances"], ["ec2:StartInstances"]):
            tags = statement["Condition"]["StringEquals"]
            assert tags["ec2:ResourceTag/Stack"] == twin.name and tags["ec2:ResourceTag/Role"] == "gpu"


def test_the_gpu_sleeps_when_idle_and_the_page_wakes_it(twin, tmp_path):
    from websockets.sync.client import connect
    sys.path.insert(0, os.path.join(REPO, "tests"))
    from support import clients, speech
    gpu = instances(twin, "gpu")[0]["InstanceId"]
    twin.run("playbooks/240_gpu_sleep.yml", extra={"gpu_sleep_idle_minutes": IDLE_MINUTES, "gpu_sleep_poll_s": 1})
    restored = False
    try:
        assert wait_for(lambda: gpu_sleep_state(twin)["state"] == "awake", 30), (gpu_sleep_state(twin), sleep_log(twin)[-3000:])
        # A stream open at the deadline keeps the GPU up.
        tls = ssl.create_default_context(cafile=ca_file(twin))
        with connect("wss://%s/ws" % twin.eip["PublicIp"], ssl=tls, open_timeout=20) as ws:
            ws.send(json.dumps({"uid": "twin-keep-up", "language": "en", "task": "transcribe", "model": "tiny.en"}))
            while "SERVER_READY" not in ws.recv(timeout=60):
                pass
            opened = time.monotonic()
            while time.monotonic() - opened < IDLE_MINUTES * 60 + 10:
                ws.send(bytes(6400))
                time.sleep(0.1)
            during = gpu_sleep_state(twin)
        assert during["state"] == "awake" and during["streams"] >= 1, during
        assert instances(twin, "gpu")[0]["State"]["Name"] == "running"
        # No stream: the edge stops the worker (moto's state; the twin stops its host).
        closed = time.monotonic()
        assert wait_for(lambda: instances(twin, "gpu")[0]["State"]["Name"] == "stopped", IDLE_MINUTES * 60 + 40), \
            sleep_log(twin)[-2000:]
        twin.figures["idle_stop"] = "%.1f s after the last stream closed (idle %s min)" % (
            time.monotonic() - closed, IDLE_MINUTES)
        assert "stopped %s: no stream for" % gpu in sleep_log(twin)
        twin.net.wait_synced()
        assert twin.net.containers() and wait_for(lambda: gpu_sleep_state(twin)["state"] == "asleep", 20)
        # The page, opened now, starts it, says so, and ends with the green sentence.
        wav = speech.make_speech_wav(str(tmp_path / "mic.wav"), rate=16000, encoding="int16", trailing_silence=4.0)
        seen = clients.speak_into_page("https://%s/" % twin.eip["PublicIp"], 443, wav, speech.SENTENCE, speech.BROWSER_MAX_WER,
                                       timeout_s=240, host=twin.eip["PublicIp"])
        twin.figures["page_to_green"] = "first green words %.1f s, all green %.1f s, wer %.2f" % (
            seen["seconds_to_first_green"], seen["seconds_to_words"], seen["wer"])
        twin.figures["wake_page_said"] = seen["messages"][:2]
        assert any(m.startswith("Starting the transcription server, about ") for m in seen["messages"]), seen["messages"]
        assert "started %s: the page asked" % gpu in sleep_log(twin)
        assert instances(twin, "gpu")[0]["State"]["Name"] == "running"
        # Held by 210: no wake until 220.
        twin.run("playbooks/210_gpu_stop.yml")
        assert wait_for(lambda: gpu_sleep_state(twin)["state"] == "held", 20), gpu_sleep_state(twin)
        status, answer = post_wake(twin)
        assert status == 409 and "playbook 220" in answer["message"], (status, answer)
        time.sleep(3)
        assert instances(twin, "gpu")[0]["State"]["Name"] == "stopped"
        report = twin.run("playbooks/230_status.yml")
        text = "\n".join(report.results("Show the stack")[0]["msg"])
        assert "GPU sleep: held since" in text and "saved $" in text, text
        # The inventory's idle time again (before 220), so the tests after this one find the GPU up.
        twin.run("playbooks/240_gpu_sleep.yml")
        restored = True
        twin.run("playbooks/220_gpu_start.yml")
        assert wait_for(lambda: gpu_sleep_state(twin)["state"] == "awake", 60), gpu_sleep_state(twin)
    finally:
        if not restored:
            # The inventory's idle time, the hold released and the worker up for the tests after this one.
            twin.run("playbooks/240_gpu_sleep.yml")
            twin.run("playbooks/220_gpu_start.yml")


# --- Two workers -----------------------------------------------------------------

def test_two_workers_behind_least_conn(twin):
    first = instances(twin, "gpu")[0]
    twin.run("playbooks/020_gpu_instance.yml", extra={"gpu_host_count": 2})
    workers = instances(twin, "gpu")
    assert len(workers) == 2 and all(w["State"]["Name"] == "running" for w in workers)
    assert workers[0]["InstanceId"] == first["InstanceId"]
    # Two streams at once through the edge land on the two workers.
    ca = ca_file(twin)
    wav = os.path.join(twin.work, "speech.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", wav + ".raw.wav", SENTENCE], check=True)
    subprocess.run(["sox", wav + ".raw.wav", "-r", "16000", "-c", "1", "-b", "16", wav], check=True)
    clip = audio.load_wav(wav)
    results, errors = [], []

    def stream():
        try:
            results.append(whisperlive_client.check_transcription(
                "wss://%s/ws" % twin.eip["PublicIp"], clip, model="tiny.en", ca_path=ca, pace=1.0, timeout=120))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=stream) for _stream in range(2)]
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors and len(results) == 2, errors
    served, clients = {}, set()
    for worker in workers:
        log = twin.net.exec(worker["InstanceId"], "journalctl", "-u", "whisperlive", "--since", since, "--utc",
                            "-o", "cat", check=False).stdout
        # The launcher's line for an admitted stream: "client <uid> (<client address>) connected".
        seen = re.findall(r"\bclient \S+ \((\S+)\) connected$", log, re.M)
        served[worker["InstanceId"]] = len(seen)
        clients.update(seen)
    assert all(n >= 1 for n in served.values()), served
    # Each stream counts as its client's, named by the edge's X-Forwarded-For
    # (whisperlive_trusted_proxies in inventory/aws), not as the edge's.
    edge_private = instances(twin, "edge")[0]["PrivateIpAddress"]
    assert clients and edge_private not in clients, (clients, edge_private)
    # That a plain re-run keeps both (defect 6) is test_aws_moto's, at the API.


# --- Teardown --------------------------------------------------------------------

def test_teardown_leaves_nothing_behind(twin):
    found = [i for role in ("gpu", "edge") for i in instances(twin, role)]
    ids = [i["InstanceId"] for i in found]
    addresses = [i["PrivateIpAddress"] for i in found] + [twin.eip["PublicIp"]]
    ca_dir = os.path.dirname(ca_file(twin))
    twin.run("playbooks/900_teardown.yml", extra={"aws_teardown_confirm": twin.name})
    twin.net.wait_synced()
    ec2 = twin.ec2
    assert instances(twin, "gpu") == [] and instances(twin, "edge") == []
    assert groups(twin) == {}
    tagged = [{"Name": "tag:Stack", "Values": [twin.name]}]
    assert ec2.describe_subnets(Filters=tagged)["Subnets"] == []
    assert ec2.describe_route_tables(Filters=tagged)["RouteTables"] == []
    assert [k for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"] == twin.name] == []
    # The Elastic IP the test brought stays allocated, disassociated.
    mine = ec2.describe_addresses(PublicIps=[twin.eip["PublicIp"]])["Addresses"]
    assert len(mine) == 1 and not mine[0].get("InstanceId")
    assert twin.net.containers() == []
    # Host keys were filed by instance ID, never by address (defect 4).

    def known(name):
        return subprocess.run(["ssh-keygen", "-F", name, "-f", str(twin.known_hosts)],
                              capture_output=True, text=True, check=False).returncode == 0

    assert all(known(i) for i in ids), [i for i in ids if not known(i)]
    assert not any(known(a) for a in addresses), [a for a in addresses if known(a)]
    # The edge's CA stays on the control node after a teardown (for a redeploy
    # of the same stack it is replaced); this test's copy goes.
    subprocess.run(["rm", "-rf", ca_dir], check=True)
