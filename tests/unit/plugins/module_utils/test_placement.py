"""Zone choice and vCPU quota verdicts of ec2_placement_info, without Ansible.

Plain dicts in boto3's shapes go in; the EC2 answers come from moto in
process (mock_aws, us-east-1), the Service Quotas answer from a fixture
because moto cannot give it (see test_a_new_account_cannot_launch_one_gpu_worker).
"""

import json
import os

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import placement
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.placement import (
    PlacementInputError,
    QuotaExceeded,
    TypeNotOffered,
    ZoneNotOffered,
    choose_zone,
    quota_code,
    quota_verdict,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
OFFERED = ["us-east-1d", "us-east-1a", "us-east-1b", "us-east-1f", "us-east-1c"]
G_AND_VT = {"code": "L-DB2E81BA", "name": "Running On-Demand G and VT instances", "value": 8.0}


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


# --- zones -------------------------------------------------------------------

def test_offered_zones_are_sorted_and_distinct():
    offerings = [{"InstanceType": "g4dn.xlarge", "LocationType": "availability-zone", "Location": zone}
                 for zone in OFFERED + ["us-east-1a"]]
    assert placement.offered_zones(offerings) == sorted(OFFERED)


def test_without_preference_the_first_offered_zone_in_sorted_order_is_chosen():
    assert choose_zone(OFFERED) == "us-east-1a"


def test_the_first_offered_candidate_wins_in_the_order_given():
    assert choose_zone(OFFERED, candidates=["us-east-1e", "us-east-1f", "us-east-1b"]) == "us-east-1f"


def test_a_wanted_zone_that_is_offered_is_kept():
    assert choose_zone(OFFERED, wanted="us-east-1c") == "us-east-1c"


def test_a_wanted_zone_that_is_not_offered_fails_naming_type_region_and_offered_zones():
    with pytest.raises(ZoneNotOffered) as caught:
        choose_zone(OFFERED, wanted="us-east-1e", instance_type="g4dn.xlarge", region="us-east-1")
    message = caught.value.message
    assert "g4dn.xlarge is not offered in us-east-1e" in message
    assert "in us-east-1 it is offered in: us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f" in message
    assert caught.value.kind == "zone_not_offered"
    assert caught.value.details == {"offered_zones": sorted(OFFERED)}


def test_no_offered_candidate_fails_naming_the_candidates():
    with pytest.raises(ZoneNotOffered) as caught:
        choose_zone(["us-east-1a"], candidates=["us-east-1e", "us-east-1b"], instance_type="p5.48xlarge",
                    region="us-east-1")
    assert "candidate zones (us-east-1e, us-east-1b)" in caught.value.message
    assert caught.value.message.endswith("offered in: us-east-1a")


def test_a_type_offered_nowhere_in_the_region_is_its_own_failure():
    with pytest.raises(TypeNotOffered) as caught:
        choose_zone([], instance_type="g9x.huge", region="eu-north-1")
    assert caught.value.message.startswith("g9x.huge is not offered in any availability zone of eu-north-1")


def test_an_empty_candidate_list_is_an_error_not_any_zone():
    with pytest.raises(PlacementInputError):
        choose_zone(OFFERED, candidates=[])


def test_wanted_and_candidates_together_are_refused():
    with pytest.raises(PlacementInputError):
        choose_zone(OFFERED, candidates=["us-east-1a"], wanted="us-east-1a")


def test_subnets_are_grouped_by_zone():
    subnets = [{"SubnetId": "subnet-b", "AvailabilityZone": "us-east-1c"},
               {"SubnetId": "subnet-a", "AvailabilityZone": "us-east-1c"},
               {"SubnetId": "subnet-e", "AvailabilityZone": "us-east-1e"}]
    assert placement.subnet_zones(subnets) == {"us-east-1c": ["subnet-a", "subnet-b"], "us-east-1e": ["subnet-e"]}


@mock_aws
def test_moto_offers_g4dn_xlarge_in_some_zones_of_us_east_1_but_not_in_us_east_1e(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    offerings = []
    for page in ec2.get_paginator("describe_instance_type_offerings").paginate(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": ["g4dn.xlarge"]}]):
        offerings.extend(page["InstanceTypeOfferings"])
    offered = placement.offered_zones(offerings)
    all_zones = [zone["ZoneName"] for zone in ec2.describe_availability_zones()["AvailabilityZones"]]

    assert "us-east-1e" in all_zones
    assert "us-east-1e" not in offered
    assert "us-east-1b" in offered
    assert choose_zone(offered, candidates=["us-east-1e", "us-east-1b"],
                       instance_type="g4dn.xlarge", region="us-east-1") == "us-east-1b"
    with pytest.raises(ZoneNotOffered):
        choose_zone(offered, wanted="us-east-1e", instance_type="g4dn.xlarge", region="us-east-1")

    types = ec2.describe_instance_types(InstanceTypes=["g4dn.xlarge"])["InstanceTypes"]
    assert placement.vcpus_by_type(types) == {"g4dn.xlarge": 4}


# --- quota classes -------------------------------------------------------------

@pytest.mark.parametrize("instance_type, code", [
    ("g4dn.xlarge", "L-DB2E81BA"),
    ("g6e.12xlarge", "L-DB2E81BA"),
    ("gr6.4xlarge", "L-DB2E81BA"),
    ("vt1.3xlarge", "L-DB2E81BA"),
    ("p4d.24xlarge", "L-417A185B"),
    ("p5e.48xlarge", "L-417A185B"),
    ("inf2.xlarge", "L-1945791B"),
    ("t3.medium", "L-1216C47A"),
    ("m7i-flex.large", "L-1216C47A"),
    ("c7gn.medium", "L-1216C47A"),
    ("im4gn.large", "L-1216C47A"),
    ("is4gen.medium", "L-1216C47A"),
    ("i4i.large", "L-1216C47A"),
    ("z1d.large", "L-1216C47A"),
    ("a1.medium", "L-1216C47A"),
    ("d3en.xlarge", "L-1216C47A"),
    ("h1.2xlarge", "L-1216C47A"),
    ("r7iz.large", "L-1216C47A"),
    # Classes of their own, not known here: never guessed from the first letter.
    ("dl1.24xlarge", None),
    ("trn1.2xlarge", None),
    ("hpc7g.4xlarge", None),
    ("mac2.metal", None),
    ("x2idn.16xlarge", None),
    ("f1.2xlarge", None),
    ("u-6tb1.metal", None),
    ("", None),
])
def test_quota_code_of_each_instance_class(instance_type, code):
    assert quota_code(instance_type) == code


def test_pending_and_running_instances_of_the_same_class_hold_vcpus():
    reservations = [
        {"Instances": [{"InstanceType": "g4dn.xlarge", "State": {"Name": "running"}},
                       {"InstanceType": "g5.2xlarge", "State": {"Name": "pending"}},
                       {"InstanceType": "g4dn.xlarge", "State": {"Name": "stopped"}},
                       {"InstanceType": "t3.medium", "State": {"Name": "running"}}]},
        {"Instances": [{"InstanceType": "g4dn.xlarge", "State": {"Name": "running"}}]},
    ]
    counts = placement.counted_instances(reservations, "L-DB2E81BA")
    assert counts == {"g4dn.xlarge": 2, "g5.2xlarge": 1}
    assert placement.vcpus_in_use(counts, {"g4dn.xlarge": 4, "g5.2xlarge": 8}) == 16
    with pytest.raises(PlacementInputError):
        placement.vcpus_in_use(counts, {"g4dn.xlarge": 4})


# --- quota verdicts -------------------------------------------------------------

def test_a_launch_that_fits_is_reported_checked():
    result = quota_verdict(G_AND_VT, 4, 2, in_use=0, instance_type="g4dn.xlarge", region="us-east-1")
    assert result == {"code": "L-DB2E81BA", "name": "Running On-Demand G and VT instances", "value": 8.0,
                      "needed": 8, "in_use": 0, "checked": True, "reason": None}


def test_vcpus_in_use_count_against_the_quota():
    with pytest.raises(QuotaExceeded) as caught:
        quota_verdict(G_AND_VT, 4, 1, in_use=8, instance_type="g4dn.xlarge", region="us-east-1")
    assert "which is 8 vCPUs with 8 in use by pending and running instances, so 0 free" in caught.value.message
    assert "--desired-value 12" in caught.value.message
    assert caught.value.details["quota"]["in_use"] == 8


def test_a_zero_count_always_fits():
    assert quota_verdict(dict(G_AND_VT, value=0.0), 4, 0)["needed"] == 0


def test_a_negative_count_is_refused():
    with pytest.raises(PlacementInputError):
        quota_verdict(G_AND_VT, 4, -1)


def test_unchecked_quota_keeps_the_reason():
    result = placement.unchecked_quota("L-DB2E81BA", "GetServiceQuota failed: AccessDeniedException: no", needed=4)
    assert result["checked"] is False
    assert result["name"] == "Running On-Demand G and VT instances"
    assert result["value"] is None
    assert result["reason"].startswith("GetServiceQuota failed")


def test_the_reason_for_an_unknown_class_names_the_family():
    assert "'x' of x2idn.16xlarge" in placement.unknown_quota_reason("x2idn.16xlarge")


def test_an_answer_about_another_quota_is_refused():
    with pytest.raises(PlacementInputError):
        placement.quota_from_response({"Quota": {"QuotaCode": "L-1216C47A", "Value": 32.0}}, "L-DB2E81BA")


def test_a_new_account_cannot_launch_one_gpu_worker():
    """The real GetServiceQuota answer for L-DB2E81BA on a new account: Value 0.0.

    moto cannot answer this call (moto 5.2.5 implements Service Quotas for
    service ``vpc`` only and raises NoSuchResourceException for ``ec2``), so
    the answer is a fixture: written to the response shape documented for
    GetServiceQuota (botocore's service-quotas model, which the Stubber below
    checks it against), not captured from a live account. The account id is
    the documentation's placeholder, the request id made up.
    """
    answer = _fixture("servicequotas_get_service_quota_ec2_L-DB2E81BA.json")
    client = boto3.client("service-quotas", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    stubbed = dict((key, value) for key, value in answer.items() if key != "ResponseMetadata")
    with Stubber(client) as stubber:
        stubber.add_response("get_service_quota", stubbed, {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"})
        response = client.get_service_quota(ServiceCode="ec2", QuotaCode="L-DB2E81BA")

    quota = placement.quota_from_response(response, quota_code("g4dn.xlarge"))
    assert quota == {"code": "L-DB2E81BA", "name": "Running On-Demand G and VT instances", "value": 0.0}

    with pytest.raises(QuotaExceeded) as caught:
        quota_verdict(quota, 4, 1, in_use=0, instance_type="g4dn.xlarge", region="us-east-1")
    message = caught.value.message
    assert message.startswith("launching 1 g4dn.xlarge in us-east-1 needs 4 vCPUs (4 per instance) of the quota "
                              "'Running On-Demand G and VT instances' (L-DB2E81BA), which is 0 vCPUs")
    assert ("aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA "
            "--desired-value 4 --region us-east-1") in message
    assert "https://us-east-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-DB2E81BA" in message
    assert caught.value.kind == "quota_exceeded"
    assert caught.value.details["quota"] == {
        "code": "L-DB2E81BA", "name": "Running On-Demand G and VT instances", "value": 0.0, "needed": 4,
        "in_use": 0, "checked": True, "reason": "quota exceeded"}
