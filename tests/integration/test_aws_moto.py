"""The AWS playbooks at the API level, run for real against moto_server.

Every AWS call of the real playbooks (030, 040, 020, 210, 220, 230, 900) and
of the `inventory/aws/aws_ec2.yml` inventory goes to a moto_server started
here on a free loopback port, with dummy credentials; boto3 then checks the
resulting state. Nothing runs on the instances here (`aws_wait_for_hosts:
false`): test_aws_twin.py runs the same playbooks against real hosts. This
file is the fast, API-level half: refusals, idempotence, what is launched
where, scaling, stop/start, cost, teardown.

The tests of this module share one stack and run in file order: build,
re-run (nothing changes), inspect, scale, stop/start, status, teardown.
"""

import os
import subprocess
import sys
import uuid

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
import aws_moto  # noqa: E402
from aws_moto import BIN, LIVE, REGION, REPO  # noqa: E402
from support.playbook import parse_json_callback  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN_CIDRS = ["203.0.113.0/24"]
CLIENT_CIDRS = ["198.51.100.0/24"]
# The AMI the Debian lookup must pick from amis.json: the newest x86_64 image
# owned by Debian (not the newer arm64 one, not the lookalike's).
EXPECTED_AMI = "ami-0d1e2b3a4c5d60002"


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory):
    with aws_moto.moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


def public_key():
    return ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


@pytest.fixture(scope="module")
def stack(moto_url, tmp_path_factory):
    """Environment and names of one test stack (ssh key, stack name, endpoint)."""
    home = tmp_path_factory.mktemp("aws-home")
    key = public_key()
    pub = home / "id_ed25519.pub"
    pub.write_bytes(key + b" test@rasr\n")
    name = "t" + uuid.uuid4().hex[:8]
    extra = {
        "aws_ssh_public_key_path": str(pub),
        "aws_wait_for_hosts": False,
        "security_groups_admin_cidrs": ADMIN_CIDRS,
        "security_groups_client_cidrs": CLIENT_CIDRS,
    }
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return {"name": name, "env": aws_moto.aws_env(moto_url, home, name), "extra": extra, "ec2": ec2,
            "public_key": key.decode(), "home": home}


def playbook(stack, name, *args, extra=None, expect_rc=0, env=None):
    return aws_moto.run_playbook("playbooks/%s.yml" % name, env or stack["env"], args=args,
                                 extra=dict(stack["extra"], **(extra or {})), expect_rc=expect_rc, timeout=600)


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
    # (::/0 and the direct-SSH list: the same validator, unit-tested in test_cidrs.py.)
    {"security_groups_admin_cidrs": ["0.0.0.0/0"]},
    {"security_groups_client_cidrs": ["0.0.0.0/0"]},
    {"security_groups_admin_cidrs": []},
    {"security_groups_admin_cidrs": ["10.0.0.0"]},
])
def test_security_groups_refuse_unsafe_input(stack, override):
    run = playbook(stack, "030_security_groups", extra=override, expect_rc=2)
    assert run.stats()["failures"] == 1
    assert any("security_groups_" in m for m in run.messages()), run.messages()
    assert groups(stack) == {}


@pytest.mark.parametrize("cidrs", [["0.0.0.0/1", "128.0.0.0/1"], ["2001:db8::/32"]])
def test_client_ranges_judged_as_networks(stack, cidrs):
    """Two halves of the internet are the internet (defect 8); an IPv6 range
    in a VPC without IPv6 (moto's default VPC has none) would admit nothing."""
    run = playbook(stack, "030_security_groups", extra={"security_groups_client_cidrs": cidrs}, expect_rc=2)
    text = " ".join(run.messages())
    assert "security_groups_client_cidrs" in text and cidrs[0] in text, text
    assert groups(stack) == {}


def test_a_variable_under_its_old_name_is_refused_before_anything_changes(stack):
    """gpu_host's split renamed variables: 005 names the new name, and nothing is created."""
    run = playbook(stack, "005_preflight", extra={"gpu_host_edge_eip": "198.51.100.7"}, expect_rc=2)
    text = " ".join(run.messages())
    assert "gpu_host_edge_eip was renamed edge_host_eip" in text, text
    assert groups(stack) == {}


def test_check_mode_creates_nothing(stack):
    run = playbook(stack, "030_security_groups", "--check", "--diff")
    assert run.changed() >= 1
    assert groups(stack) == {}


# --- Build the stack, twice -------------------------------------------------

@pytest.fixture(scope="module")
def built(stack):
    return [playbook(stack, p) for p in ("030_security_groups", "040_edge_instance", "020_gpu_instance")]


def test_first_run_changes(built):
    # That a second run changes nothing: check mode below here, and a whole
    # second site.yml with changed=0 on the twin (test_aws_twin.py).
    assert all(r.changed() > 0 for r in built)


def test_check_mode_on_the_built_stack_reports_nothing(stack, built):
    for name in ("030_security_groups", "040_edge_instance", "020_gpu_instance", "220_gpu_start"):
        assert playbook(stack, name, "--check", "--diff").changed() == 0, name


def test_security_groups_hold_exactly_the_declared_rules(stack, built):
    found = groups(stack)
    assert set(found) == {"edge", "gpu"}
    edge, gpu = found["edge"]["GroupId"], found["gpu"]["GroupId"]
    # Web from the clients, SSH from the admins, and 80/443 from the GPU
    # group: the workers' internet traffic through the edge (NAT instance).
    assert rule_set(found["edge"]["IpPermissions"]) == {
        ("tcp", port, port, cidr) for port in (443, 80) for cidr in CLIENT_CIDRS
    } | {("tcp", 22, 22, cidr) for cidr in ADMIN_CIDRS} | {("tcp", port, port, gpu) for port in (80, 443)}
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
        assert inst["Placement"]["AvailabilityZone"] == edge[0]["Placement"]["AvailabilityZone"]
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
    # The GPU is private (defect 2): its own subnet maps no public IPv4, and
    # the subnet's default route is the edge, whose source/dest check is off.
    assert not gpu[0].get("PublicIpAddress")
    subnet = ec2.describe_subnets(SubnetIds=[gpu[0]["SubnetId"]])["Subnets"][0]
    assert subnet["MapPublicIpOnLaunch"] is False and subnet["CidrBlock"] == "172.31.255.0/24"
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}])
    assert [(r.get("DestinationCidrBlock"), r.get("InstanceId")) for t in tables["RouteTables"] for r in t["Routes"]
            if r.get("DestinationCidrBlock") == "0.0.0.0/0"] == [("0.0.0.0/0", edge[0]["InstanceId"])]
    assert edge[0]["SourceDestCheck"] is False
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
    world = ["0.0.0.0/0"]
    playbook(stack, "030_security_groups",
             extra={"security_groups_client_cidrs": world, "security_groups_public_web": True})
    found = groups(stack)
    gpu = found["gpu"]["GroupId"]
    assert rule_set(found["edge"]["IpPermissions"]) == {
        ("tcp", port, port, cidr) for port in (443, 80) for cidr in world
    } | {("tcp", 22, 22, cidr) for cidr in ADMIN_CIDRS} | {("tcp", port, port, gpu) for port in (80, 443)}
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
    assert e_user == g_user == "admin"
    # Both hops check host keys filed under the instance's ID (defect 4).
    assert "-o HostKeyAlias=%s" % gpu["InstanceId"] in g_args
    assert "-o ProxyCommand=\"ssh -W %%h:%%p -o HostKeyAlias=%s" % edge["InstanceId"] in g_args
    assert "admin %s\"" % edge["PublicIpAddress"] in g_args


def test_gpu_workers_scale_out_and_back(stack, built):
    first = instances(stack, "gpu")[0]["InstanceId"]
    up = playbook(stack, "020_gpu_instance", extra={"gpu_host_count": 2})
    assert up.changed() == 1
    assert len(instances(stack, "gpu")) == 2
    # Without gpu_host_count a re-run keeps what the stack has (defect 6).
    assert playbook(stack, "020_gpu_instance").changed() == 0
    assert len(instances(stack, "gpu")) == 2
    down = playbook(stack, "020_gpu_instance", extra={"gpu_host_count": 1})
    assert down.changed() == 1
    remaining = instances(stack, "gpu")
    assert len(remaining) == 1
    # exact_count terminates the oldest first.
    assert remaining[0]["InstanceId"] != first


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
    # us-east-1: t3.medium + g4dn.xlarge + one public IPv4 address (the
    # edge's Elastic IP; the GPU has none). moto cannot describe the volumes
    # (ec2_vol_info fails on them), so storage is reported as unknown.
    assert "Hourly cost of the stack: $%.4f" % (0.0416 + 0.526 + 0.005) in text


def test_a_key_pair_the_stack_did_not_create_is_not_taken_over(stack, built):
    """Defect 3: stack "<name>x" finds a key pair of its name it did not import."""
    ec2, other = stack["ec2"], stack["name"] + "x"
    theirs = public_key().decode()
    ec2.import_key_pair(KeyName=other, PublicKeyMaterial=theirs.encode())
    env = dict(stack["env"], RASR_AWS_STACK=other)
    try:
        playbook(stack, "030_security_groups", env=env)
        run = playbook(stack, "040_edge_instance", env=env, expect_rc=2)
        text = " ".join(run.messages())
        assert "ec2_stack_key_name" in text and other in text, text
        kept = ec2.describe_key_pairs(KeyNames=[other], IncludePublicKey=True)["KeyPairs"][0]
        assert kept["PublicKey"].split()[:2] == theirs.split()[:2]
        assert [i for r in ec2.describe_instances(Filters=[{"Name": "tag:Stack", "Values": [other]}])["Reservations"]
                for i in r["Instances"]] == []
    finally:
        playbook(stack, "900_teardown", env=env, extra={"aws_teardown_confirm": other})
        # The teardown leaves a key pair it did not create: removed here.
        assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"] == other] == [other]
        ec2.delete_key_pair(KeyName=other)


def test_a_zone_without_the_gpu_type_is_refused(stack, built):
    """Defect 5: moto, like us-east-1, offers no g4dn.xlarge in us-east-1e."""
    run = playbook(stack, "040_edge_instance", extra={"gpu_host_availability_zone": "us-east-1e"}, expect_rc=2)
    text = " ".join(run.messages())
    assert "us-east-1e" in text and "g4dn.xlarge" in text and "us-east-1a" in text, text


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
