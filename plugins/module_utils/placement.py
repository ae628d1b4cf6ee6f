# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where an EC2 instance type can be launched, and whether the vCPU quota fits.

Used by the ``ec2_placement_info`` module, which only calls the AWS APIs and
hands their answers here as plain dicts (boto3's shapes: ``InstanceTypeOfferings``,
``InstanceTypes``, ``Reservations``, ``Quota``). Every decision is a plain
function; a launch that cannot work raises a ``PlacementError`` subclass whose
message says what to change, and whose ``kind`` the module returns as
``failure``. No Ansible and no boto3 import, so the tests call it directly.

On-Demand instances count against one regional quota per instance class, in
vCPUs (service ``ec2`` of Service Quotas). A new account has 0 for the G and
VT class, so the first GPU launch fails with ``VcpuLimitExceeded`` unless an
increase was asked for first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

SERVICE_CODE = "ec2"

# Quota code -> quota name, as Service Quotas names them (service ``ec2``).
QUOTA_NAMES = {
    "L-1216C47A": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
    "L-DB2E81BA": "Running On-Demand G and VT instances",
    "L-417A185B": "Running On-Demand P instances",
    "L-1945791B": "Running On-Demand Inf instances",
}

# Family prefix (the letters before the generation digit) -> quota code.
# Listed exactly: a prefix that merely starts with a standard letter (``dl``,
# ``hpc``, ``mac``, ``trn``) has a quota of its own, unknown here.
FAMILY_QUOTAS = {
    "g": "L-DB2E81BA",
    "gr": "L-DB2E81BA",
    "vt": "L-DB2E81BA",
    "p": "L-417A185B",
    "inf": "L-1945791B",
    "a": "L-1216C47A",
    "c": "L-1216C47A",
    "d": "L-1216C47A",
    "h": "L-1216C47A",
    "i": "L-1216C47A",
    "im": "L-1216C47A",
    "is": "L-1216C47A",
    "m": "L-1216C47A",
    "r": "L-1216C47A",
    "t": "L-1216C47A",
    "z": "L-1216C47A",
}

# Instances that hold vCPUs of a quota (stopped ones do not).
COUNTED_STATES = ("pending", "running")

_FAMILY = re.compile(r"^([a-z]+)[0-9]")


class PlacementError(Exception):
    """Base class: the launch as asked for cannot work.

    ``details`` holds what was found before the failure (offered zones, the
    quota figures), so the module returns them with the message.
    """

    kind = "error"

    def __init__(self, message, details=None):
        super(PlacementError, self).__init__(message)
        self.message = message
        self.details = details or {}


class PlacementInputError(PlacementError):
    """An input or an API answer is not of the expected shape."""

    kind = "input"


class TypeNotOffered(PlacementError):
    """No availability zone of the region offers the instance type."""

    kind = "type_not_offered"


class ZoneNotOffered(PlacementError):
    """The wanted zone, or every candidate zone, lacks the instance type."""

    kind = "zone_not_offered"


class QuotaExceeded(PlacementError):
    """The launch needs more vCPUs than the quota leaves free."""

    kind = "quota_exceeded"


def _zones(names):
    return ", ".join(names) if names else "none"


def offered_zones(offerings):
    """Sorted, distinct zone names of ``InstanceTypeOfferings`` items."""
    zones = set()
    for item in offerings or []:
        if not isinstance(item, dict) or not item.get("Location"):
            raise PlacementInputError("an instance type offering without a Location: %r" % (item,))
        zones.add(item["Location"])
    return sorted(zones)


def subnet_zones(subnets):
    """{zone: [subnet ids, sorted]} of ``Subnets`` items."""
    by_zone = {}
    for subnet in subnets or []:
        if not isinstance(subnet, dict) or not subnet.get("AvailabilityZone") or not subnet.get("SubnetId"):
            raise PlacementInputError("a subnet without AvailabilityZone or SubnetId: %r" % (subnet,))
        by_zone.setdefault(subnet["AvailabilityZone"], []).append(subnet["SubnetId"])
    return dict((zone, sorted(ids)) for zone, ids in by_zone.items())


def choose_zone(offered, candidates=None, wanted=None, instance_type="the instance type", region="the region"):
    """The zone to launch in.

    ``wanted`` (one zone): it, when offered. ``candidates`` (a list, in order
    of preference): the first offered one. Neither: the first offered zone in
    sorted order. ``None`` means "not given"; an empty candidate list is an
    error, not "any zone" (a VPC without subnets must not pass silently).
    """
    offered = sorted(set(offered or []))
    details = {"offered_zones": offered}
    if wanted is not None and candidates is not None:
        raise PlacementInputError("give a wanted zone or candidate zones, not both", details)
    if not offered:
        raise TypeNotOffered(
            "%s is not offered in any availability zone of %s (check the name, or choose another region "
            "or instance type)" % (instance_type, region), details)
    if wanted is not None:
        if wanted in offered:
            return wanted
        raise ZoneNotOffered(
            "%s is not offered in %s; in %s it is offered in: %s"
            % (instance_type, wanted, region, _zones(offered)), details)
    if candidates is None:
        return offered[0]
    candidates = list(candidates)
    if not candidates:
        raise PlacementInputError("no candidate zones to choose from (an empty list)", details)
    for zone in candidates:
        if zone in offered:
            return zone
    raise ZoneNotOffered(
        "%s is not offered in any of the candidate zones (%s); in %s it is offered in: %s"
        % (instance_type, _zones(candidates), region, _zones(offered)), details)


def instance_family(instance_type):
    """The family prefix of an instance type: ``g`` for g4dn.xlarge, ``inf`` for inf2.xlarge.

    None when the name has no such prefix (``u-6tb1.metal``).
    """
    match = _FAMILY.match((instance_type or "").strip().lower())
    return match.group(1) if match else None


def quota_code(instance_type):
    """Service Quotas code (service ``ec2``) of the On-Demand vCPU quota of the type, or None."""
    return FAMILY_QUOTAS.get(instance_family(instance_type))


def vcpus_by_type(instance_types):
    """{instance type: default vCPUs} of ``InstanceTypes`` items (DescribeInstanceTypes)."""
    table = {}
    for item in instance_types or []:
        try:
            table[item["InstanceType"]] = int(item["VCpuInfo"]["DefaultVCpus"])
        except (KeyError, TypeError, ValueError):
            raise PlacementInputError("an instance type without InstanceType or VCpuInfo.DefaultVCpus: %r" % (item,))
    return table


def counted_instances(reservations, code):
    """{instance type: number} of pending and running instances whose quota is ``code``.

    ``reservations`` is DescribeInstances' ``Reservations`` (any filter).
    """
    counts = {}
    for reservation in reservations or []:
        for instance in reservation.get("Instances", []):
            state = (instance.get("State") or {}).get("Name")
            kind = instance.get("InstanceType")
            if state in COUNTED_STATES and kind and quota_code(kind) == code:
                counts[kind] = counts.get(kind, 0) + 1
    return counts


def vcpus_in_use(counts, vcpus):
    """Sum of vCPUs of ``counts`` ({type: number}) with ``vcpus`` ({type: vCPUs})."""
    missing = sorted(kind for kind in counts if kind not in vcpus)
    if missing:
        raise PlacementInputError("no vCPU figure for the running instance type(s): %s" % ", ".join(missing))
    return sum(vcpus[kind] * number for kind, number in counts.items())


def quota_from_response(response, code=None):
    """{code, name, value} of a GetServiceQuota answer (its ``Quota``, or the whole response)."""
    quota = response.get("Quota", response) if isinstance(response, dict) else None
    if not isinstance(quota, dict) or "Value" not in quota or "QuotaCode" not in quota:
        raise PlacementInputError("a GetServiceQuota answer without Quota.QuotaCode and Quota.Value: %r" % (response,))
    if code is not None and quota["QuotaCode"] != code:
        raise PlacementInputError("asked for quota %s, the answer is about %s" % (code, quota["QuotaCode"]))
    try:
        value = float(quota["Value"])
    except (TypeError, ValueError):
        raise PlacementInputError("quota %s has a non-numeric Value: %r" % (quota["QuotaCode"], quota["Value"]))
    return {
        "code": quota["QuotaCode"],
        "name": quota.get("QuotaName") or QUOTA_NAMES.get(quota["QuotaCode"]),
        "value": value,
    }


def unchecked_quota(code, reason, needed=None, in_use=None):
    """The ``quota`` result when no verdict was possible (never a failure)."""
    return {
        "code": code,
        "name": QUOTA_NAMES.get(code) if code else None,
        "value": None,
        "needed": needed,
        "in_use": in_use,
        "checked": False,
        "reason": reason,
    }


def unknown_quota_reason(instance_type):
    family = instance_family(instance_type)
    return ("no known On-Demand vCPU quota for the family %s of %s (known: G and VT, P, Inf, Standard); "
            "not checked" % (repr(family) if family else "(none)", instance_type))


def increase_hint(code, desired, region):
    """How to ask for ``desired`` vCPUs of quota ``code`` in ``region``."""
    return ("Ask for an increase in the Service Quotas console "
            "(https://%s.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/%s) or with: "
            "aws service-quotas request-service-quota-increase --service-code %s --quota-code %s "
            "--desired-value %d --region %s"
            % (region, code, SERVICE_CODE, code, desired, region))


def quota_verdict(quota, vcpus_per_instance, count, in_use=0, instance_type="the instance type", region="the region"):
    """The checked ``quota`` result, or QuotaExceeded when count x vCPUs does not fit.

    ``quota`` is {code, name, value} (see quota_from_response); ``in_use`` the
    vCPUs that pending and running instances of the same class already hold.
    """
    if count < 0:
        raise PlacementInputError("count must be 0 or more, not %d" % count)
    if vcpus_per_instance < 1:
        raise PlacementInputError("%s has no vCPUs (%r)" % (instance_type, vcpus_per_instance))
    in_use = in_use or 0
    needed = count * vcpus_per_instance
    result = {
        "code": quota["code"],
        "name": quota.get("name") or QUOTA_NAMES.get(quota["code"]),
        "value": quota["value"],
        "needed": needed,
        "in_use": in_use,
        "checked": True,
        "reason": None,
    }
    if needed + in_use <= quota["value"]:
        return result
    free = max(quota["value"] - in_use, 0)
    desired = int(math.ceil(needed + in_use))
    message = (
        "launching %d %s in %s needs %d vCPUs (%d per instance) of the quota '%s' (%s), which is %s vCPUs "
        "with %d in use by pending and running instances, so %s free. %s"
        % (count, instance_type, region, needed, vcpus_per_instance, result["name"], result["code"],
           _number(quota["value"]), in_use, _number(free), increase_hint(result["code"], desired, region)))
    result["reason"] = "quota exceeded"
    raise QuotaExceeded(message, {"quota": result})


def _number(value):
    """0.0 -> '0', 2.5 -> '2.5' (Service Quotas returns floats)."""
    return ("%d" % value) if float(value).is_integer() else ("%s" % value)
