#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ec2_placement_info
short_description: Choose an availability zone that offers an EC2 instance type, and check its vCPU quota
version_added: "0.1.0"
description:
  - Before a launch, finds the availability zones of the region that offer O(instance_type)
    (C(DescribeInstanceTypeOfferings)) and chooses one; fails, naming the instance type, the region
    and the zones that offer it, when the wanted zone or none of the candidate zones offers it.
  - The zone is O(availability_zone) when given and offered; else the first offered zone of
    O(candidate_zones), in the order given; else, with O(vpc_id), the first offered zone, in sorted
    order, that has a subnet of that VPC; else the first offered zone in sorted order.
  - With O(check_quota), reads the Service Quotas On-Demand vCPU quota of the instance's class in the
    region and fails when O(count) instances of C(VCpuInfo.DefaultVCpus) vCPUs each, plus the vCPUs
    of pending and running instances of the same class (O(count_running)), do not fit. A new account
    has a quota of 0 for G and VT instances. The message names the quota, its value, what the launch
    needs, and the C(aws service-quotas request-service-quota-increase) command that asks for more.
  - "Quotas known: G and VT (C(L-DB2E81BA)), P (C(L-417A185B)), Inf (C(L-1945791B)) and Standard
    A, C, D, H, I, M, R, T, Z (C(L-1216C47A)). Other classes (F, X, DL, Trn, HPC, High Memory...)
    are reported with RV(quota.checked=false) and a warning."
  - When the Service Quotas API cannot answer (no permission C(servicequotas:GetServiceQuota), an
    unreachable endpoint, an emulator that does not implement it), the module warns and returns
    RV(quota.checked=false) with the reason; it never fails for that.
  - The module only reads, so it runs in check mode too and always reports C(changed=false).
author:
  - realtime_asr maintainers (@realtime-asr)
options:
  instance_type:
    description:
      - The instance type to launch, for example C(g4dn.xlarge).
    type: str
    required: true
  count:
    description:
      - How many instances the launch adds. Instances already pending or running are counted
        separately (see O(count_running)); when re-running an idempotent launch, pass the number
        still missing, or set O(count_running=false) and pass the total.
    type: int
    default: 1
  availability_zone:
    description:
      - Only check that this zone offers O(instance_type), and fail, naming the zones that do, when it
        does not.
      - Mutually exclusive with O(candidate_zones) and O(vpc_id).
    type: str
  candidate_zones:
    description:
      - Zones to choose from, in order of preference (for example the zones of the subnets a launch
        may use). The first one that offers O(instance_type) is chosen. An empty list is an error.
      - Mutually exclusive with O(availability_zone) and O(vpc_id).
    type: list
    elements: str
  vpc_id:
    description:
      - Choose among the zones where this VPC has a subnet (all its subnets, in sorted zone order), and
        return the subnets of the chosen zone in RV(subnet_ids). A VPC without subnets is an error.
      - Mutually exclusive with O(availability_zone) and O(candidate_zones).
    type: str
  check_quota:
    description:
      - Check the On-Demand vCPU quota of the instance's class in the region.
    type: bool
    default: true
  count_running:
    description:
      - Count the vCPUs of pending and running instances of the same quota class in the region
        (any instance of the account there, not only this stack's) against the quota.
      - Set to V(false) to compare O(count) x vCPUs with the quota alone.
    type: bool
    default: true
notes:
  - "C(module_defaults) for C(group/amazon.aws.aws) does B(not) reach this module (a group is the list in
    the C(meta/runtime.yml) of the collection that owns it). This collection's group
    C(group/realtime_asr.whisperlive.aws) extends amazon.aws's group with this module: one block of
    O(region), O(endpoint_url) and O(profile) there reaches both, as in this collection's playbooks."
  - Prices, Spot capacity and Capacity Reservations are not considered; an offered zone can still be out of
    capacity at launch time (C(InsufficientInstanceCapacity)).
  - "Permissions: C(ec2:DescribeInstanceTypeOfferings), C(ec2:DescribeInstanceTypes), C(ec2:DescribeSubnets)
    (with O(vpc_id)), C(ec2:DescribeInstances) (with O(count_running)) and C(servicequotas:GetServiceQuota)."
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
seealso:
  - name: Amazon EC2 instance type quotas
    description: How On-Demand vCPU quotas work and how to ask for more.
    link: https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html
  - module: amazon.aws.aws_az_info
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it runs in check mode exactly as without it.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Choose a zone for two GPU workers and check the G and VT quota
  realtime_asr.whisperlive.ec2_placement_info:
    instance_type: g4dn.xlarge
    count: 2
    vpc_id: "{{ ec2_stack_vpc_id }}"
    region: "{{ aws_region }}"
    profile: "{{ aws_profile or omit }}"
    endpoint_url: "{{ aws_endpoint_url or omit }}"
  register: __placement

- name: Launch in the chosen zone
  ansible.builtin.debug:
    msg: "{{ __placement.availability_zone }} subnet {{ __placement.subnet_ids | first }}"

- name: Only check that the zone of an existing subnet offers the type
  realtime_asr.whisperlive.ec2_placement_info:
    instance_type: g5.xlarge
    availability_zone: eu-west-1c
    check_quota: false
    region: eu-west-1

- name: Prefer the zones of the subnets we have, in this order
  realtime_asr.whisperlive.ec2_placement_info:
    instance_type: g6.xlarge
    candidate_zones: [us-east-1e, us-east-1b]
    region: us-east-1
"""

RETURN = r"""
availability_zone:
  description: The chosen zone.
  returned: success
  type: str
  sample: us-east-1b
offered_zones:
  description: Zones of the region that offer O(instance_type), sorted.
  returned: always
  type: list
  elements: str
  sample: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"]
candidate_zones:
  description:
    - The zones the choice was made among, in order; O(candidate_zones), or the zones of the subnets of
      O(vpc_id) (sorted); null when neither was given.
  returned: always
  type: list
  elements: str
  sample: ["us-east-1a", "us-east-1b"]
subnet_ids:
  description: With O(vpc_id), the VPC's subnets in the chosen zone, sorted; empty otherwise.
  returned: success
  type: list
  elements: str
  sample: ["subnet-0123456789abcdef0"]
vcpus_per_instance:
  description: Default vCPUs of O(instance_type) (C(VCpuInfo.DefaultVCpus)).
  returned: success
  type: int
  sample: 4
region:
  description: The region asked.
  returned: always
  type: str
  sample: us-east-1
quota:
  description: The On-Demand vCPU quota of the instance's class and the verdict.
  returned: success, and on failure RV(failure=quota_exceeded)
  type: dict
  sample: {"code": "L-DB2E81BA", "name": "Running On-Demand G and VT instances", "value": 8.0,
           "needed": 8, "in_use": 0, "checked": true, "reason": null}
  contains:
    code:
      description: Service Quotas code of the quota (service C(ec2)); null for an unknown class.
      type: str
      sample: L-DB2E81BA
    name:
      description: Name of the quota.
      type: str
      sample: Running On-Demand G and VT instances
    value:
      description: The quota in vCPUs, as Service Quotas returns it (a float); null when not read.
      type: float
      sample: 0.0
    needed:
      description: O(count) x RV(vcpus_per_instance).
      type: int
      sample: 4
    in_use:
      description: vCPUs held by pending and running instances of the same class in the region; 0 with
        O(count_running=false); null when not counted.
      type: int
      sample: 0
    checked:
      description: True when the quota was read and compared.
      type: bool
      sample: true
    reason:
      description: Why the quota was not checked, C(quota exceeded), or null.
      type: str
      sample: "GetServiceQuota failed: NoSuchResourceException: This service is not available in the current Region."
failure:
  description:
    - Class of failure, C(type_not_offered) (no zone of the region offers the type), C(zone_not_offered),
      C(quota_exceeded) or C(input) (for example a VPC without subnets). AWS API errors other than Service
      Quotas' fail with the AWS error instead.
  returned: failure
  type: str
  sample: quota_exceeded
"""

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import placement
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.placement import PlacementError


def _aws_error(exc):
    error = getattr(exc, "response", {}).get("Error", {})
    if error.get("Code"):
        return "%s: %s" % (error["Code"], error.get("Message", ""))
    return str(exc)


def _offered(ec2, instance_type):
    answer = paginated_query_with_retries(
        ec2, "describe_instance_type_offerings", LocationType="availability-zone",
        Filters=[{"Name": "instance-type", "Values": [instance_type]}])
    return placement.offered_zones(answer.get("InstanceTypeOfferings", []))


def _subnets(ec2, vpc_id):
    answer = paginated_query_with_retries(ec2, "describe_subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return placement.subnet_zones(answer.get("Subnets", []))


def _vcpus(ec2, instance_types):
    answer = ec2.describe_instance_types(InstanceTypes=sorted(instance_types), aws_retry=True)
    return placement.vcpus_by_type(answer.get("InstanceTypes", []))


def _in_use(ec2, code):
    answer = paginated_query_with_retries(
        ec2, "describe_instances",
        Filters=[{"Name": "instance-state-name", "Values": list(placement.COUNTED_STATES)}])
    counts = placement.counted_instances(answer.get("Reservations", []), code)
    return placement.vcpus_in_use(counts, _vcpus(ec2, counts) if counts else {})


def _warn(message):
    """Warn through ansible-core alone.

    AnsibleAWSModule.warn (amazon.aws 10.1.2) also passes ``warnings`` to
    exit_json, which ansible-core 2.19 reports as a deprecation on every run.
    """
    warn(message)


def _quota(module, ec2, params, vcpus, region):
    """The ``quota`` result; raises QuotaExceeded; warns when it cannot check."""
    instance_type, count = params["instance_type"], params["count"]
    code = placement.quota_code(instance_type)
    needed = count * vcpus
    if not params["check_quota"]:
        return placement.unchecked_quota(code, "check_quota is false", needed=needed)
    if code is None:
        reason = placement.unknown_quota_reason(instance_type)
        _warn(reason)
        return placement.unchecked_quota(None, reason, needed=needed)
    try:
        answer = module.client("service-quotas").get_service_quota(ServiceCode=placement.SERVICE_CODE, QuotaCode=code)
    except (BotoCoreError, ClientError) as exc:
        reason = "GetServiceQuota failed: %s" % _aws_error(exc)
        _warn("the vCPU quota %s of %s in %s was not checked: %s" % (code, instance_type, region, reason))
        return placement.unchecked_quota(code, reason, needed=needed)
    quota = placement.quota_from_response(answer, code)
    in_use = _in_use(ec2, code) if params["count_running"] else 0
    return placement.quota_verdict(quota, vcpus, count, in_use=in_use, instance_type=instance_type, region=region)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            instance_type=dict(type="str", required=True),
            count=dict(type="int", default=1),
            availability_zone=dict(type="str"),
            candidate_zones=dict(type="list", elements="str"),
            vpc_id=dict(type="str"),
            check_quota=dict(type="bool", default=True),
            count_running=dict(type="bool", default=True),
        ),
        mutually_exclusive=[
            ["availability_zone", "candidate_zones"],
            ["availability_zone", "vpc_id"],
            ["candidate_zones", "vpc_id"],
        ],
        supports_check_mode=True,
    )
    params = module.params
    instance_type = params["instance_type"]
    region = module.region
    result = {"region": region, "offered_zones": [], "candidate_zones": params["candidate_zones"]}
    if params["count"] < 0:
        module.fail_json(msg="count must be 0 or more, not %d" % params["count"], failure="input", **result)

    ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result["offered_zones"] = _offered(ec2, instance_type)
        by_zone = {}
        if params["vpc_id"]:
            by_zone = _subnets(ec2, params["vpc_id"])
            if not by_zone:
                raise placement.PlacementInputError("VPC %s has no subnets in %s" % (params["vpc_id"], region))
            result["candidate_zones"] = sorted(by_zone)
        result["availability_zone"] = placement.choose_zone(
            result["offered_zones"], candidates=result["candidate_zones"], wanted=params["availability_zone"],
            instance_type=instance_type, region=region)
        result["subnet_ids"] = by_zone.get(result["availability_zone"], [])
        vcpus = _vcpus(ec2, [instance_type]).get(instance_type)
        if vcpus is None:
            raise placement.PlacementInputError("DescribeInstanceTypes did not describe %s" % instance_type)
        result["vcpus_per_instance"] = vcpus
        result["quota"] = _quota(module, ec2, params, vcpus, region)
    except PlacementError as exc:
        result.update(exc.details)
        module.fail_json(msg=exc.message, failure=exc.kind, **result)
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg="EC2 could not describe %s in %s" % (instance_type, region), **result)

    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
