"""Role gpu_sleep: the edge's IAM policy (templates/edge_policy.json.j2).

The edge's instance profile lets the sleep daemon stop and start this stack's
GPU workers and nothing else. Two layers check it:

1. The document. Rendered by Ansible's own template lookup (the one
   tasks/iam.yml uses), in a child process so this one keeps no Ansible
   plugin loader, then read statement by statement: the exact set of
   actions, the instance ARNs, the Project/Stack/Role conditions on every
   stop and start, the hold tag absent for every start, the KMS grant only
   with a key. ``policy_problems`` is checked against widened copies too, so
   these tests fail when the policy is widened.

2. moto 5.2.5, in process (mock_aws), with IAM authorization switched on
   (``moto.core.enable_iam_authentication``): the role with this policy is
   assumed and its credentials call EC2. What moto enforces, from its source
   (moto/iam/access_control.py, moto/iam/policy_conditions.py,
   moto/core/responses.py):
   - the Action element (``IAMPolicyStatement.is_action_permitted``, with
     ``*`` wildcards) and explicit Deny: an action the policy lacks is refused
     with AccessDenied;
   - the grammar of the document (``IAMPolicyDocumentValidator`` in
     PutRolePolicy, ``IAMTrustPolicyDocumentValidator`` in CreateRole).
   What it does not:
   - Resource, for EC2: ``BaseResponse.call_action`` authorizes every EC2
     request against the resource ``"*"`` (only IAM, STS, SQS and S3 name
     theirs), and ``IAMPolicyStatement._match`` turns the policy's pattern
     into a regex that ``"*"`` never matches; so a statement scoped to
     instance ARNs never allows anything in moto;
   - Condition, for identity policies: ``IAMRequestBase.check_action_permitted``
     passes no request context, so ``_check_conditions`` finds no value to
     compare and passes every condition (and ``TrustCondition`` knows only
     StringEquals: Null and Bool are skipped). ec2:ResourceTag conditions are
     not evaluated at all.
   So the moto tests run the document as written (Describe works, nothing else
   does) and its "moto view", each Resource set to "*": the actions are what
   moto then decides, and a policy widened by an action fails here. Tags,
   ARNs and the hold tag are the document layer's to check.
"""

import copy
import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID, enable_iam_authentication

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TEMPLATES = os.path.join(REPO, "roles", "gpu_sleep", "templates")
POLICY = os.path.join(TEMPLATES, "edge_policy.json.j2")
TRUST = os.path.join(TEMPLATES, "edge_trust_policy.json.j2")

REGION = "us-east-1"
KEY_ARN = "arn:aws:kms:%s:%s:key/0f4c3a5e-1b2d-4e6f-8a9b-0c1d2e3f4a5b" % (REGION, DEFAULT_ACCOUNT_ID)
BASE = {
    "gpu_sleep_project_tag": "realtime-asr",
    "gpu_sleep_stack_name": "rasr-a",
    "gpu_sleep_hold_tag": "PowerHold",
    "gpu_sleep_aws_region": REGION,
    "gpu_sleep_aws_account_id": DEFAULT_ACCOUNT_ID,
    "gpu_sleep_kms_key_arn": "",
}
VARIANTS = {
    "plain": {},
    "kms": {"gpu_sleep_kms_key_arn": KEY_ARN},
    "any_account": {"gpu_sleep_aws_account_id": ""},
    "odd_names": {"gpu_sleep_stack_name": 'a"b\\c d', "gpu_sleep_project_tag": "p/q", "gpu_sleep_hold_tag": "Hold Me"},
    "govcloud": {"gpu_sleep_aws_region": "us-gov-west-1",
                 "gpu_sleep_kms_key_arn": "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k"},
    "china": {"gpu_sleep_aws_region": "cn-north-1",
              "gpu_sleep_kms_key_arn": "arn:aws-cn:kms:cn-north-1:111122223333:key/k"},
}

# Ansible's template lookup, as tasks/iam.yml calls it, for each variant.
_RENDER = r"""
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar
init_plugin_loader()
jobs = json.load(sys.stdin)
loader = DataLoader()
out = {}
for name, (path, variables) in jobs.items():
    lookup = lookup_loader.get("ansible.builtin.template", loader=loader,
                               templar=Templar(loader=loader, variables=variables))
    out[name] = str(lookup.run([path], variables=variables)[0])
json.dump(out, sys.stdout)
"""


def render_all(jobs):
    """{name: (template path, variables)} -> {name: rendered text}, by Ansible's template lookup."""
    proc = subprocess.run([sys.executable, "-c", _RENDER], input=json.dumps(jobs), capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def rendered():
    jobs = {name: (POLICY, dict(BASE, **change)) for name, change in VARIANTS.items()}
    jobs["trust"] = (TRUST, {})
    return render_all(jobs)


def doc(rendered, name="plain"):
    return json.loads(rendered[name])


def expectation(name):
    """What the document of VARIANTS[name] must say."""
    inputs = dict(BASE, **VARIANTS[name])
    region = inputs["gpu_sleep_aws_region"]
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return {
        "instances": "arn:%s:ec2:%s:%s:instance/*" % (partition, region, inputs["gpu_sleep_aws_account_id"] or "*"),
        "tags": {"ec2:ResourceTag/Project": inputs["gpu_sleep_project_tag"],
                 "ec2:ResourceTag/Stack": inputs["gpu_sleep_stack_name"],
                 "ec2:ResourceTag/Role": "gpu"},
        "hold": "ec2:ResourceTag/" + inputs["gpu_sleep_hold_tag"],
        "key": inputs["gpu_sleep_kms_key_arn"],
        "via": "ec2.%s.%s" % (region, "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"),
    }


DESCRIBE = {"ec2:DescribeInstances", "ec2:DescribeInstanceStatus"}
POWER = {"ec2:StopInstances", "ec2:StartInstances"}


def _list(value):
    return value if isinstance(value, list) else [value]


def policy_problems(document, want):
    """Every way ``document`` is wider (or other) than the edge's policy; [] when it is exactly that."""
    problems = []
    if document.get("Version") != "2012-10-17":
        problems.append("Version is not 2012-10-17")
    statements = _list(document.get("Statement", []))
    actions = set()
    for st in statements:
        sid = st.get("Sid", "?")
        for key in ("NotAction", "NotResource", "Principal", "NotPrincipal"):
            if key in st:
                problems.append("%s: has %s" % (sid, key))
        if st.get("Effect") != "Allow":
            problems.append("%s: Effect %r" % (sid, st.get("Effect")))
        acts = set(_list(st.get("Action", [])))
        actions |= acts
        for action in acts:
            if "*" in action or "?" in action:
                problems.append("%s: wildcard action %s" % (sid, action))
        resources = _list(st.get("Resource", []))
        condition = st.get("Condition", {})
        if acts & DESCRIBE:
            if acts - DESCRIBE:
                problems.append("%s: the Describe statement also allows %s" % (sid, sorted(acts - DESCRIBE)))
            if resources != ["*"]:
                problems.append("%s: Describe is not on '*'" % sid)
        elif acts & POWER:
            if acts - POWER:
                problems.append("%s: a stop/start statement also allows %s" % (sid, sorted(acts - POWER)))
            if resources != [want["instances"]]:
                problems.append("%s: Resource %r, not %s" % (sid, resources, want["instances"]))
            allowed_ops = {"StringEquals", "Null"} if "ec2:StartInstances" in acts else {"StringEquals"}
            if set(condition) - allowed_ops:
                problems.append("%s: condition operators %s" % (sid, sorted(set(condition) - allowed_ops)))
            if condition.get("StringEquals") != want["tags"]:
                problems.append("%s: StringEquals %r, not this stack's GPU workers %r"
                                % (sid, condition.get("StringEquals"), want["tags"]))
            if "ec2:StartInstances" in acts and condition.get("Null") != {want["hold"]: "true"}:
                problems.append("%s: start without %s absent (Null)" % (sid, want["hold"]))
        elif acts == {"kms:CreateGrant"}:
            if resources != [want["key"]] or not want["key"]:
                problems.append("%s: CreateGrant on %r, not on key %r" % (sid, resources, want["key"]))
            if condition != {"Bool": {"kms:GrantIsForAWSResource": "true"},
                             "StringEquals": {"kms:ViaService": want["via"]}}:
                problems.append("%s: CreateGrant not limited to EC2's grants (%r)" % (sid, condition))
        else:
            problems.append("%s: unexpected statement with %s" % (sid, sorted(acts)))
    wanted = DESCRIBE | POWER | ({"kms:CreateGrant"} if want["key"] else set())
    if actions != wanted:
        problems.append("actions %s, not %s" % (sorted(actions), sorted(wanted)))
    return problems


# --- The document -----------------------------------------------------------

@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_document_is_exactly_the_edges_policy(rendered, name):
    assert policy_problems(doc(rendered, name), expectation(name)) == []


def test_document_names_this_stack_region_and_hold_tag(rendered):
    by_sid = {st["Sid"]: st for st in doc(rendered)["Statement"]}
    assert sorted(by_sid) == ["DescribeInstances", "StartStackGpuWorkersNotHeld", "StopStackGpuWorkers"]
    start = by_sid["StartStackGpuWorkersNotHeld"]
    assert start["Action"] == ["ec2:StartInstances"]
    assert start["Resource"] == "arn:aws:ec2:us-east-1:%s:instance/*" % DEFAULT_ACCOUNT_ID
    assert start["Condition"] == {
        "StringEquals": {"ec2:ResourceTag/Project": "realtime-asr", "ec2:ResourceTag/Stack": "rasr-a",
                         "ec2:ResourceTag/Role": "gpu"},
        "Null": {"ec2:ResourceTag/PowerHold": "true"},
    }
    assert "Null" not in by_sid["StopStackGpuWorkers"]["Condition"]
    assert "iam:PassRole" not in rendered["plain"] and "kms:" not in rendered["plain"]


def test_kms_grant_only_with_a_key(rendered):
    grants = [st for st in doc(rendered, "kms")["Statement"] if "kms:CreateGrant" in _list(st["Action"])]
    assert grants == [{
        "Sid": "KmsGrantForEncryptedVolumesOnStart", "Effect": "Allow", "Action": ["kms:CreateGrant"],
        "Resource": KEY_ARN,
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"},
                      "StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
    }]


def test_odd_input_values_stay_values(rendered):
    start = [st for st in doc(rendered, "odd_names")["Statement"] if st["Action"] == ["ec2:StartInstances"]][0]
    assert start["Condition"]["StringEquals"]["ec2:ResourceTag/Stack"] == 'a"b\\c d'
    assert start["Condition"]["Null"] == {"ec2:ResourceTag/Hold Me": "true"}


def test_trust_lets_only_ec2_assume_the_role(rendered):
    assert doc(rendered, "trust") == {"Version": "2012-10-17", "Statement": [{
        "Sid": "Ec2AssumesTheEdgeRole", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}


def _power(document, action):
    return next(st for st in document["Statement"] if action in _list(st["Action"]))


def _widen_action(document):
    _power(document, "ec2:StopInstances")["Action"].append("ec2:*")


def _add_any(document):
    document["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})


def _pass_role(document):
    document["Statement"].append({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})


def _tagging(document):
    _power(document, "ec2:StartInstances")["Action"].append("ec2:DeleteTags")


def _no_hold(document):
    del _power(document, "ec2:StartInstances")["Condition"]["Null"]


def _no_stack(document):
    del _power(document, "ec2:StopInstances")["Condition"]["StringEquals"]["ec2:ResourceTag/Stack"]


def _if_exists(document):
    condition = _power(document, "ec2:StopInstances")["Condition"]
    condition["StringEqualsIfExists"] = condition.pop("StringEquals")


def _any_instance(document):
    _power(document, "ec2:StartInstances")["Resource"] = "*"


def _terminate_on_describe(document):
    document["Statement"][0]["Action"].append("ec2:TerminateInstances")


def _grant_anywhere(document):
    grant = next(st for st in document["Statement"] if st["Action"] == ["kms:CreateGrant"])
    grant["Resource"] = "*"
    del grant["Condition"]["Bool"]


@pytest.mark.parametrize("widen", [_widen_action, _add_any, _pass_role, _tagging, _no_hold, _no_stack, _if_exists,
                                   _any_instance, _terminate_on_describe, _grant_anywhere])
def test_a_widened_document_is_caught(rendered, widen):
    document = doc(rendered, "kms")
    widen(document)
    assert policy_problems(document, expectation("kms")), widen.__name__


# --- moto -------------------------------------------------------------------

def moto_view(document):
    """The document with each Resource "*": moto matches EC2 requests against "*" only (see the module's doc)."""
    view = copy.deepcopy(document)
    for st in view["Statement"]:
        st["Resource"] = "*"
    return view


class Stack:
    """In mock_aws: GPU workers of stacks rasr-a and rasr-b, rasr-a's edge (fresh ones for each test), and
    roles to assume."""

    def __init__(self, clients):
        self.ec2, self.iam, self.sts, self.image = clients
        self.ids = {}
        for name, stack, role, extra in [("gpu", "rasr-a", "gpu", {}), ("edge", "rasr-a", "edge", {}),
                                         ("other_gpu", "rasr-b", "gpu", {}),
                                         ("held_gpu", "rasr-a", "gpu", {"PowerHold": "210"})]:
            tags = dict(extra, Project="realtime-asr", Stack=stack, Role=role)
            reservation = self.ec2.run_instances(
                ImageId=self.image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                TagSpecifications=[{"ResourceType": "instance",
                                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])
            self.ids[name] = reservation["Instances"][0]["InstanceId"]
        self.ec2.stop_instances(InstanceIds=[self.ids["held_gpu"]])

    def edge_clients(self, document, trust):
        """EC2 and IAM clients with the credentials of a role holding ``document`` (as the edge's profile would)."""
        name = "edge-%d" % len(self.iam.list_roles()["Roles"])
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(document))
        creds = self.sts.assume_role(RoleArn=arn, RoleSessionName="edge")["Credentials"]
        session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                        aws_secret_access_key=creds["SecretAccessKey"],
                                        aws_session_token=creds["SessionToken"], region_name=REGION)
        return session.client("ec2"), session.client("iam")


def refused(call, **kwargs):
    """True when moto refuses the call for want of permission (AccessDenied, naming the action)."""
    try:
        call(**kwargs)
    except ClientError as err:
        if err.response["Error"]["Code"] == "AccessDenied":
            return True
        raise
    return False


def forbidden_calls_allowed(ec2, iam, aws, trust):
    """The calls the edge must never make that moto let through: [] for the edge's policy.
    Each is valid, so where a widened policy lets it through it succeeds (terminate comes last)."""
    own = [aws.ids["gpu"]]
    calls = [
        ("RebootInstances", ec2.reboot_instances, {"InstanceIds": own}),
        ("DeleteTags (the hold tag)", ec2.delete_tags,
         {"Resources": [aws.ids["held_gpu"]], "Tags": [{"Key": "PowerHold"}]}),
        ("CreateTags", ec2.create_tags, {"Resources": own, "Tags": [{"Key": "Stack", "Value": "x"}]}),
        ("ModifyInstanceAttribute", ec2.modify_instance_attribute,
         {"InstanceId": aws.ids["gpu"], "DisableApiTermination": {"Value": False}}),
        ("RunInstances", ec2.run_instances,
         {"ImageId": aws.image, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1}),
        ("DescribeVpcs", ec2.describe_vpcs, {}),
        ("iam:ListRoles", iam.list_roles, {}),
        ("iam:CreateRole", iam.create_role, {"RoleName": "escalate", "AssumeRolePolicyDocument": trust}),
        ("TerminateInstances", ec2.terminate_instances, {"InstanceIds": own}),
    ]
    return [name for name, call, kwargs in calls if not refused(call, **kwargs)]


@pytest.fixture(scope="module")
def moto_clients():
    """One emulated account for the module (starting moto's EC2 costs seconds); each test adds its own
    instances and roles."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        yield ec2, boto3.client("iam", region_name=REGION), boto3.client("sts", region_name=REGION), image


@pytest.fixture
def aws(moto_clients):
    return Stack(moto_clients)


@pytest.mark.parametrize("name", ["plain", "kms"])
def test_moto_accepts_the_documents(aws, rendered, name):
    """IAM's grammar as moto validates it (PutRolePolicy, CreateRole's trust policy)."""
    role = "accepts-" + name
    aws.iam.create_role(RoleName=role, AssumeRolePolicyDocument=rendered["trust"])
    aws.iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=rendered[name])
    stored = aws.iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    assert stored == doc(rendered, name)


def test_moto_edge_credentials_describe_and_nothing_more(aws, rendered):
    ec2, iam = aws.edge_clients(doc(rendered), rendered["trust"])
    with enable_iam_authentication():
        found = ec2.describe_instances(Filters=[{"Name": "tag:Stack", "Values": ["rasr-a"]}])
        found = {i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]}
        assert {aws.ids["gpu"], aws.ids["edge"], aws.ids["held_gpu"]} <= found
        assert aws.ids["other_gpu"] not in found
        ec2.describe_instance_status(InstanceIds=[aws.ids["gpu"]])
        assert forbidden_calls_allowed(ec2, iam, aws, rendered["trust"]) == []


def test_moto_view_allows_stop_and_start_and_nothing_more(aws, rendered):
    ec2, iam = aws.edge_clients(moto_view(doc(rendered, "kms")), rendered["trust"])
    with enable_iam_authentication():
        ec2.stop_instances(InstanceIds=[aws.ids["gpu"]])
        ec2.start_instances(InstanceIds=[aws.ids["gpu"]])
        assert forbidden_calls_allowed(ec2, iam, aws, rendered["trust"]) == []
    state = aws.ec2.describe_instances(InstanceIds=[aws.ids["gpu"]])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "running"


def test_moto_catches_a_widened_action(aws, rendered):
    widened = doc(rendered)
    _widen_action(widened)
    ec2, iam = aws.edge_clients(moto_view(widened), rendered["trust"])
    with enable_iam_authentication():
        allowed = forbidden_calls_allowed(ec2, iam, aws, rendered["trust"])
    assert "TerminateInstances" in allowed and "DeleteTags (the hold tag)" in allowed


def test_moto_5_2_5_evaluates_neither_instance_arns_nor_tag_conditions(aws, rendered):
    """Evidence for the module's doc, not a property of the policy: if this fails, moto learnt to
    evaluate them; then assert the denials below in the tests above instead."""
    as_written, _trust = aws.edge_clients(doc(rendered), rendered["trust"])
    view, _trust_view = aws.edge_clients(moto_view(doc(rendered)), rendered["trust"])
    with enable_iam_authentication():
        # The stack's own worker, allowed on AWS: refused, the instance ARN never matches "*".
        assert refused(as_written.stop_instances, InstanceIds=[aws.ids["gpu"]])
        # Another stack's worker, the edge, a held worker: refused on AWS (tags); moto lets them through.
        assert not refused(view.stop_instances, InstanceIds=[aws.ids["other_gpu"], aws.ids["edge"]])
        assert not refused(view.start_instances, InstanceIds=[aws.ids["held_gpu"]])
