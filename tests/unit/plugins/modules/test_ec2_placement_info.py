"""The ec2_placement_info module, run in process against moto (mock_aws, us-east-1).

The decisions are tested in module_utils (test_placement.py); here: the
argument spec, the AWS calls and their pagination, the result keys, failures
named in ``failure``, and a quota that cannot be read (moto answers
NoSuchResourceException for service ``ec2``) reported as a warning, never a
failure. A quota that is read is simulated by replacing the Service Quotas
client only.
"""

import contextlib
import io
import json

import boto3
import pytest
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from moto import mock_aws

from ansible_collections.realtime_asr.whisperlive.plugins.modules import ec2_placement_info

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def run(args):
    """Run main() with ``args``; return the result it printed."""
    ansible_warnings._global_warnings.clear()
    ansible_warnings._global_deprecations.clear()
    out = io.StringIO()
    with patch_module_args(dict({"region": REGION}, **args)), contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit):
            ec2_placement_info.main()
    return json.loads(out.getvalue())


def _warnings(result):
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


class FakeQuotas(object):
    def __init__(self, value):
        self.value = value

    def get_service_quota(self, ServiceCode, QuotaCode):
        return {"Quota": {"ServiceCode": ServiceCode, "QuotaCode": QuotaCode, "Value": self.value,
                          "QuotaName": "Running On-Demand G and VT instances", "Unit": "None"}}


@pytest.fixture
def quota_of(monkeypatch):
    """Make service-quotas answer ``value`` for any quota; EC2 stays moto."""
    def install(value):
        real = ec2_placement_info.AnsibleAWSModule.client

        def client(self, service, *args, **kwargs):
            if service == "service-quotas":
                return FakeQuotas(value)
            return real(self, service, *args, **kwargs)
        monkeypatch.setattr(ec2_placement_info.AnsibleAWSModule, "client", client)
    return install


def test_the_first_offered_candidate_is_chosen_and_an_unreadable_quota_only_warns(aws, capsys):
    result = run({"instance_type": "g4dn.xlarge", "candidate_zones": ["us-east-1e", "us-east-1b"]})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["availability_zone"] == "us-east-1b"
    assert result["offered_zones"] == sorted(result["offered_zones"])
    assert "us-east-1e" not in result["offered_zones"]
    assert result["candidate_zones"] == ["us-east-1e", "us-east-1b"]
    assert result["subnet_ids"] == []
    assert result["vcpus_per_instance"] == 4
    quota = result["quota"]
    assert quota["checked"] is False
    assert quota["code"] == "L-DB2E81BA"
    assert quota["needed"] == 4
    assert "NoSuchResourceException" in quota["reason"]
    # In the result's warnings; ansible-core shows it on stderr instead when an
    # earlier test of the session left a controller-side display behind.
    shown = _warnings(result) + capsys.readouterr().err.splitlines()
    assert any("L-DB2E81BA" in message and "not checked" in message for message in shown), shown
    assert not result.get("deprecations")


def test_a_wanted_zone_without_the_type_fails_naming_the_offered_zones(aws):
    result = run({"instance_type": "g4dn.xlarge", "availability_zone": "us-east-1e"})
    assert result["failed"] is True
    assert result["failure"] == "zone_not_offered"
    assert result["msg"].startswith("g4dn.xlarge is not offered in us-east-1e; in us-east-1 it is offered in: us-east-1a")
    assert result["offered_zones"]


def test_with_a_vpc_the_zones_of_its_subnets_are_the_candidates(aws):
    vpc = aws.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    aws.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1e")
    subnet = aws.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZone="us-east-1d")["Subnet"]["SubnetId"]
    result = run({"instance_type": "g4dn.xlarge", "vpc_id": vpc, "check_quota": False})
    assert result["availability_zone"] == "us-east-1d"
    assert result["candidate_zones"] == ["us-east-1d", "us-east-1e"]
    assert result["subnet_ids"] == [subnet]
    assert result["quota"]["checked"] is False
    assert result["quota"]["reason"] == "check_quota is false"
    assert not _warnings(result)


def test_a_vpc_without_subnets_is_an_input_failure(aws):
    vpc = aws.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    result = run({"instance_type": "g4dn.xlarge", "vpc_id": vpc})
    assert result["failure"] == "input"
    assert "has no subnets" in result["msg"]


def test_a_vpc_whose_zones_lack_the_type(aws):
    vpc = aws.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    aws.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24", AvailabilityZone="us-east-1e")
    result = run({"instance_type": "g4dn.xlarge", "vpc_id": vpc})
    assert result["failure"] == "zone_not_offered"
    assert "candidate zones (us-east-1e)" in result["msg"]


def test_a_type_offered_nowhere_fails(aws):
    result = run({"instance_type": "g9x.huge"})
    assert result["failure"] == "type_not_offered"
    assert result["offered_zones"] == []


def test_a_zero_quota_fails_with_the_increase_command(aws, quota_of):
    quota_of(0.0)
    result = run({"instance_type": "g4dn.xlarge", "count": 1})
    assert result["failure"] == "quota_exceeded"
    assert "--quota-code L-DB2E81BA --desired-value 4 --region us-east-1" in result["msg"]
    assert result["quota"]["value"] == 0.0
    assert result["quota"]["needed"] == 4
    assert result["availability_zone"] == "us-east-1a"


def test_running_instances_of_the_class_count_unless_told_not_to(aws, quota_of):
    quota_of(8.0)
    image = aws.describe_images()["Images"][0]["ImageId"]
    aws.run_instances(ImageId=image, InstanceType="g4dn.xlarge", MinCount=1, MaxCount=1)
    aws.run_instances(ImageId=image, InstanceType="t3.medium", MinCount=1, MaxCount=1)

    result = run({"instance_type": "g4dn.xlarge", "count": 1})
    assert not result.get("failed"), result.get("msg")
    assert result["quota"] == {"code": "L-DB2E81BA", "name": "Running On-Demand G and VT instances", "value": 8.0,
                               "needed": 4, "in_use": 4, "checked": True, "reason": None}

    result = run({"instance_type": "g4dn.xlarge", "count": 2})
    assert result["failure"] == "quota_exceeded"
    assert "--desired-value 12" in result["msg"]

    result = run({"instance_type": "g4dn.xlarge", "count": 2, "count_running": False})
    assert result["quota"]["checked"] is True
    assert result["quota"]["in_use"] == 0


def test_an_unknown_class_is_reported_not_checked(aws, capsys):
    result = run({"instance_type": "x2idn.16xlarge"})
    assert not result.get("failed"), result.get("msg")
    assert result["quota"]["code"] is None
    assert result["quota"]["checked"] is False
    shown = _warnings(result) + capsys.readouterr().err.splitlines()
    assert any("'x' of x2idn.16xlarge" in message for message in shown), shown


@pytest.mark.parametrize("args", [
    {"availability_zone": "us-east-1a", "candidate_zones": ["us-east-1b"]},
    {"availability_zone": "us-east-1a", "vpc_id": "vpc-1"},
    {"candidate_zones": ["us-east-1b"], "vpc_id": "vpc-1"},
])
def test_zone_options_are_mutually_exclusive(aws, args):
    result = run(dict({"instance_type": "g4dn.xlarge"}, **args))
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]


def test_a_negative_count_is_refused(aws):
    result = run({"instance_type": "g4dn.xlarge", "count": -1})
    assert result["failure"] == "input"
