"""The AWS playbooks, run for real against moto_server on 127.0.0.1.

Every AWS call of the real playbooks (030, 040, 020, 210, 220, 230, 900) and
of the `inventory/aws/aws_ec2.yml` inventory goes to a moto_server started
here on a free loopback port, with dummy credentials; boto3 then checks the
resulting state. moto cannot run SSH or WhisperLive, so the playbooks run
with `aws_wait_for_hosts: false` (the documented switch for those waits).

The tests of this module share one stack and run in file order: build,
re-run (nothing changes), inspect, scale, stop/start, status, teardown.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
AMIS = os.path.join(REPO, "tests", "integration", "aws", "amis.json")
REGION = "us-east-1"
ADMIN_CIDRS = ["203.0.113.0/24"]
CLIENT_CIDRS = ["198.51.100.0/24", "2001:db8::/32"]
# The AMI the Ubuntu lookup must pick from amis.json: the newest x86_64 image
# owned by Canonical (not the newer arm64 one, not the impostor's).
EXPECTED_AMI = "ami-0a1b2c3d4e5f60002"
LIVE = ["pending", "running", "stopping", "stopped"]


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory):
    """A moto_server on 127.0.0.1:<free port> that knows the AMIs of amis.json."""
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    env = dict(os.environ, MOTO_AMIS_PATH=AMIS)
    proc = subprocess.Popen(
        [os.path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto_server did not start; see %s" % log.name)
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def stack(moto_url, tmp_path_factory):
    """Environment and names of one test stack (ssh key, stack name, endpoint)."""
    home = tmp_path_factory.mktemp("aws-home")
    key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    pub = home / "id_ed25519.pub"
    pub.write_bytes(key + b" test@rasr\n")
    name = "t" + uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update({
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        # No ~/.aws of the person running the tests.
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "RASR_AWS_STACK": name,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    extra = {
        "aws_ssh_public_key_path": str(pub),
        "aws_wait_for_hosts": False,
        "security_groups_admin_cidrs": ADMIN_CIDRS,
        "security_groups_client_cidrs": CLIENT_CIDRS,
    }
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return {"name": name, "env": env, "extra": extra, "ec2": ec2, "public_key": key.decode()}


def parse_json_callback(stdout):
    """The JSON callback's document; ansible.cfg's profile_tasks prints around it."""
    start = 0 if stdout.startswith("{") else stdout.index("\n{\n") + 1
    return json.JSONDecoder().raw_decode(stdout[start:])[0]


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        try:
            self.doc = parse_json_callback(proc.stdout)
        except ValueError:
            raise AssertionError("not JSON (rc=%s):\n%s\n%s" % (self.rc, proc.stdout[-3000:], proc.stderr[-3000:]))

    def stats(self, host="localhost"):
        return self.doc["stats"][host]

    def changed(self, host="localhost"):
        return self.stats(host)["changed"]

    def results(self, task_name):
        """Per-host results of every task whose name contains task_name."""
        out = []
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                if task_name in task["task"]["name"]:
                    out.extend(task["hosts"].values())
        return out

    def messages(self):
        """Messages of the failed results (loop items included)."""
        out = []
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                for res in task["hosts"].values():
                    if res.get("failed"):
                        out.append(res.get("msg", ""))
                        out.extend(item.get("msg", "") for item in res.get("results", []) if item.get("failed"))
        return out


def playbook(stack, name, *args, extra=None, expect_rc=0):
    variables = dict(stack["extra"], **(extra or {}))
    proc = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), "-i", "inventory/aws", "playbooks/%s.yml" % name,
         "-e", json.dumps(variables), *args],
        cwd=REPO, env=stack["env"], capture_output=True, text=True, timeout=600, check=False,
    )
    run = Run(proc)
    if expect_rc is not None:
        assert run.rc == expect_rc, "%s rc=%s: %s\n%s" % (name, run.rc, run.messages(), proc.stderr[-3000:])
    return run


def tagged(stack, **tags):
    filters = [{"Name": "tag:Stack", "Values": [stack["name"]]}]
    filters += [{"Name": "tag:%s" % k, "Values": [v]} for k, v in tags.items()]
    return filters


def instances(stack, role, states=None):
    states = LIVE if states is None else states
    reservations = stack["ec2"].describe_instances(
        Filters=tagged(stack, Role=role) + [{"Name": "instance-state-name", "Values": states}])
    return [i for r in reservations["Reservations"] for i in r["Instances"]]


def groups(stack):
    found = stack["ec2"].describe_security_groups(Filters=tagged(stack))["SecurityGroups"]
    return {next(t["Value"] for t in g["Tags"] if t["Key"] == "Role"): g for g in found}


def rule_set(permissions):
    """{(proto, from, to, source)} with source a CIDR or a group ID."""
    out = set()
    for perm in permissions:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        out.update(key + (r["CidrIp"],) for r in perm.get("IpRanges", []))
        out.update(key + (r["CidrIpv6"],) for r in perm.get("Ipv6Ranges", []))
        out.update(key + (p["GroupId"],) for p in perm.get("UserIdGroupPairs", []))
    return out


# --- Refusals and check mode, before anything exists ------------------------

@pytest.mark.parametrize("override", [
    {"security_groups_admin_cidrs": ["0.0.0.0/0"]},
    {"security_groups_admin_cidrs": ["::/0"]},
    {"security_groups_gpu_direct_ssh_cidrs": ["0.0.0.0/0"]},
    {"security_groups_client_cidrs": ["0.0.0.0/0"]},
    {"security_groups_admin_cidrs": []},
    {"security_groups_admin_cidrs": ["10.0.0.0"]},
])
def test_security_groups_refuse_unsafe_input(stack, override):
    run = playbook(stack, "030_security_groups", extra=override, expect_rc=2)
    assert run.stats()["failures"] == 1
    assert any("security_groups_" in m for m in run.messages()), run.messages()
    assert groups(stack) == {}


def test_check_mode_creates_nothing(stack):
    run = playbook(stack, "030_security_groups", "--check", "--diff")
    assert run.changed() >= 1
    assert groups(stack) == {}


# --- Build the stack, twice -------------------------------------------------

@pytest.fixture(scope="module")
def built(stack):
    first = [playbook(stack, p) for p in ("030_security_groups", "040_edge_instance", "020_gpu_instance")]
    second = [playbook(stack, p) for p in ("030_security_groups", "040_edge_instance", "020_gpu_instance")]
    return first, second


def test_first_run_changes_second_run_does_not(built):
    first, second = built
    assert all(r.changed() > 0 for r in first)
    assert [r.changed() for r in second] == [0, 0, 0]


def test_check_mode_on_the_built_stack_reports_nothing(stack, built):
    for name in ("030_security_groups", "040_edge_instance", "020_gpu_instance", "220_gpu_start"):
        assert playbook(stack, name, "--check", "--diff").changed() == 0, name


def test_security_groups_hold_exactly_the_declared_rules(stack, built):
    found = groups(stack)
    assert set(found) == {"edge", "gpu"}
    edge, gpu = found["edge"]["GroupId"], found["gpu"]["GroupId"]
    assert rule_set(found["edge"]["IpPermissions"]) == {
        ("tcp", port, port, cidr) for port in (443, 80) for cidr in CLIENT_CIDRS
    } | {("tcp", 22, 22, cidr) for cidr in ADMIN_CIDRS}
    # The GPU admits nothing from any address range: the edge group is the only source.
    assert rule_set(found["gpu"]["IpPermissions"]) == {("tcp", 9090, 9090, edge), ("tcp", 22, 22, edge)}
    for perm in found["gpu"]["IpPermissions"]:
        assert perm["IpRanges"] == [] and perm["Ipv6Ranges"] == [] and perm["PrefixListIds"] == []
    # Security Hub EC2.19/53/54: no world source on SSH (or anything but 80/443).
    for group in found.values():
        for proto, low, high, source in rule_set(group["IpPermissions"]):
            if source in ("0.0.0.0/0", "::/0"):
                assert (low, high) in ((80, 80), (443, 443)), (group["GroupName"], low, source)
    assert gpu != edge


def test_instances_are_launched_as_declared(stack, built):
    ec2 = stack["ec2"]
    edge, gpu = instances(stack, "edge"), instances(stack, "gpu")
    assert len(edge) == 1 and len(gpu) == 1
    sg = groups(stack)
    for inst, role, itype, size in ((edge[0], "edge", "t3.medium", 20), (gpu[0], "gpu", "g4dn.xlarge", 100)):
        assert inst["InstanceType"] == itype
        assert inst["ImageId"] == EXPECTED_AMI
        assert inst["KeyName"] == stack["name"]
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
        assert inst["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        assert [g["GroupId"] for g in inst["SecurityGroups"]] == [sg[role]["GroupId"]]
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        assert tags["Project"] == "realtime-asr" and tags["Stack"] == stack["name"] and tags["Role"] == role
        volumes = ec2.describe_volumes(VolumeIds=[m["Ebs"]["VolumeId"] for m in inst["BlockDeviceMappings"]])
        root = [v for v in volumes["Volumes"] if v["Attachments"][0]["Device"] == inst["RootDeviceName"]]
        assert len(root) == 1
        assert (root[0]["VolumeType"], root[0]["Size"], root[0]["Encrypted"]) == ("gp3", size, True)
    addresses = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [edge[0]["InstanceId"]]}])
    assert len(addresses["Addresses"]) == 1
    assert addresses["Addresses"][0]["PublicIp"] == edge[0]["PublicIpAddress"]
    keys = ec2.describe_key_pairs(KeyNames=[stack["name"]])["KeyPairs"]
    assert len(keys) == 1


def test_undeclared_rules_are_purged_and_check_mode_only_reports(stack, built):
    ec2 = stack["ec2"]
    gpu = groups(stack)["gpu"]["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gpu, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    check = playbook(stack, "030_security_groups", "--check", "--diff")
    assert check.changed() == 1
    assert ("tcp", 8080, 8080, "0.0.0.0/0") in rule_set(groups(stack)["gpu"]["IpPermissions"])
    run = playbook(stack, "030_security_groups")
    assert run.changed() == 1
    assert ("tcp", 8080, 8080, "0.0.0.0/0") not in rule_set(groups(stack)["gpu"]["IpPermissions"])
    assert playbook(stack, "030_security_groups").changed() == 0


def test_public_web_opens_only_the_web_ports_to_the_internet(stack, built):
    world = ["0.0.0.0/0", "::/0"]
    playbook(stack, "030_security_groups",
             extra={"security_groups_client_cidrs": world, "security_groups_public_web": True})
    found = groups(stack)
    assert rule_set(found["edge"]["IpPermissions"]) == {
        ("tcp", port, port, cidr) for port in (443, 80) for cidr in world
    } | {("tcp", 22, 22, cidr) for cidr in ADMIN_CIDRS}
    assert all(source not in world for *_rule, source in rule_set(found["gpu"]["IpPermissions"]))
    # Back to the declared client ranges: the world rules are purged.
    assert playbook(stack, "030_security_groups").changed() == 1
    assert all(source not in world for *_rule, source in rule_set(groups(stack)["edge"]["IpPermissions"]))


def test_inventory_yields_gpu_and_edge_with_the_jump_host(stack, built):
    edge, gpu = instances(stack, "edge")[0], instances(stack, "gpu")[0]
    proc = subprocess.run(
        [os.path.join(BIN, "ansible"), "-i", "inventory/aws", "gpu:edge", "-m", "ansible.builtin.debug",
         "-a", "msg={{ [group_names, ansible_host, ansible_user, ansible_ssh_common_args] }}"],
        cwd=REPO, env=stack["env"], capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = {}
    for play in parse_json_callback(proc.stdout)["plays"]:
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                seen[host] = res["msg"]
    assert set(seen) == {edge["InstanceId"], gpu["InstanceId"]}
    e_groups, e_host, e_user = seen[edge["InstanceId"]][:3]
    g_groups, g_host, g_user, g_args = seen[gpu["InstanceId"]]
    assert "edge" in e_groups and "gpu" not in e_groups
    assert "gpu" in g_groups and "edge" not in g_groups
    assert e_host == edge["PublicIpAddress"]
    assert g_host == gpu["PrivateIpAddress"]
    assert e_user == g_user == "ubuntu"
    assert "-o ProxyJump=ubuntu@%s" % edge["PublicIpAddress"] in g_args


def test_gpu_workers_scale_out_and_back(stack, built):
    first = instances(stack, "gpu")[0]["InstanceId"]
    up = playbook(stack, "020_gpu_instance", extra={"gpu_host_count": 2})
    assert up.changed() == 1
    assert len(instances(stack, "gpu")) == 2
    assert playbook(stack, "020_gpu_instance", extra={"gpu_host_count": 2}).changed() == 0
    down = playbook(stack, "020_gpu_instance", extra={"gpu_host_count": 1})
    assert down.changed() == 1
    remaining = instances(stack, "gpu")
    assert len(remaining) == 1
    # exact_count terminates the oldest first.
    assert remaining[0]["InstanceId"] != first


def test_stop_and_start_keep_the_private_ip(stack, built):
    before = instances(stack, "gpu")[0]
    edge_before = instances(stack, "edge")[0]
    stop = playbook(stack, "210_gpu_stop")
    assert stop.changed() == 1
    stopped = instances(stack, "gpu")[0]
    assert stopped["State"]["Name"] == "stopped"
    assert playbook(stack, "210_gpu_stop").changed() == 0
    start = playbook(stack, "220_gpu_start")
    assert start.changed() == 1
    after = instances(stack, "gpu")[0]
    assert after["State"]["Name"] == "running"
    assert after["InstanceId"] == before["InstanceId"]
    # What the edge's Caddy points at survives: no edge reconfiguration.
    assert after["PrivateIpAddress"] == before["PrivateIpAddress"]
    assert instances(stack, "edge")[0]["PublicIpAddress"] == edge_before["PublicIpAddress"]
    assert playbook(stack, "220_gpu_start").changed() == 0


def test_status_prints_states_exposure_and_cost(stack, built):
    edge, gpu = instances(stack, "edge")[0], instances(stack, "gpu")[0]
    run = playbook(stack, "230_status")
    assert run.changed() == 0
    lines = run.results("Show the stack")[0]["msg"]
    text = "\n".join(lines)
    for inst in (edge, gpu):
        row = next(line for line in lines if line.split()[1:2] == [inst["InstanceId"]])
        assert inst["PrivateIpAddress"] in row and "running" in row
    assert "OPEN TO THE INTERNET" not in text
    assert "tcp/9090 <- %s" % groups(stack)["edge"]["GroupId"] in text
    # t3.medium + g4dn.xlarge + two public IPv4 addresses.
    assert "Hourly cost of what runs: $%.3f" % (0.042 + 0.526 + 2 * 0.005) in text
    playbook(stack, "210_gpu_stop")
    text = "\n".join(playbook(stack, "230_status").results("Show the stack")[0]["msg"])
    assert "Hourly cost of what runs: $%.3f" % (0.042 + 0.005) in text
    playbook(stack, "220_gpu_start")


def test_teardown_needs_confirmation(stack, built):
    run = playbook(stack, "900_teardown", expect_rc=2)
    assert any("aws_teardown_confirm" in m for m in run.messages())
    assert len(instances(stack, "gpu")) == 1


def test_teardown_leaves_nothing(stack, built):
    ec2 = stack["ec2"]
    edge_ip = instances(stack, "edge")[0]["PublicIpAddress"]
    run = playbook(stack, "900_teardown", extra={"aws_teardown_confirm": stack["name"]})
    assert run.changed() >= 4
    assert instances(stack, "gpu") == [] and instances(stack, "edge") == []
    assert groups(stack) == {}
    assert [a for a in ec2.describe_addresses()["Addresses"] if a["PublicIp"] == edge_ip] == []
    assert [k for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"] == stack["name"]] == []
    again = playbook(stack, "900_teardown", extra={"aws_teardown_confirm": stack["name"]})
    assert again.changed() == 0
