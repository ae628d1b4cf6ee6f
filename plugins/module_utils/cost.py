# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Hourly cost of a stack: one row per billed item and a total that adds up.

Plain Python, no Ansible import: the filter ``stack_cost`` (playbook 230) and
the unit tests use it as it is. Prices come from module_utils/aws_prices.py
(or a table of the same shape passed in).

What is billed per hour:

- compute: an instance in state ``running`` at its region's On-Demand price;
  every other state (``pending``, ``stopping``, ``stopped``, ...) costs 0;
- storage: each EBS volume of an instance, running or stopped, at the
  region's gp3 price per GB-month / 730 h (other volume types: no price);
- public IPv4: each distinct public IPv4 address, auto-assigned or Elastic,
  attached, attached to a stopped instance or not attached at all.

A price the table lacks (region, instance type, volume type) makes that
row's ``hourly_usd`` None and adds a message to ``unknown``; nothing is ever
priced from another region. Each known row is rounded to 4 decimals (1/100
cent) and ``total_usd`` is exactly the sum of the known rows.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.aws_prices import price_table
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.shapes import require_keys

BILLED_STATES = ("running",)
DECIMALS = 4


class CostInputError(ValueError):
    """The instances, addresses or table are not of the expected shape."""


def _round(value):
    return round(float(value), DECIMALS)


def _row(item, kind, state, hourly, instance_id="", note=""):
    return {
        "item": item,
        "kind": kind,
        "instance_id": instance_id,
        "state": state,
        "hourly_usd": None if hourly is None else _round(hourly),
        "note": note,
    }


def _no_price(what, region, table):
    return "no price for %s in %s in the table dated %s" % (what, region, table["read_on"])


def _require(mapping, keys, what):
    require_keys(mapping, keys, what, CostInputError)


def _volume(volume):
    """``{volume_id, size, volume_type, instance_ids}`` from either shape.

    Takes amazon.aws.ec2_vol_info's (``id``, ``type``, ``attachment_set``)
    or the plain one (``volume_id``, ``volume_type``, ``instance_id``).
    """
    _require(volume, ("size",), "volume")
    attachments = volume.get("attachment_set")
    if isinstance(attachments, dict):
        attachments = [attachments]
    ids = [a.get("instance_id") for a in attachments or [] if isinstance(a, dict)]
    if volume.get("instance_id"):
        ids.append(volume["instance_id"])
    return {
        "volume_id": volume.get("volume_id") or volume.get("id") or "volume",
        "size": volume["size"],
        "volume_type": volume.get("volume_type") or volume.get("type") or "gp3",
        "instance_ids": [i for i in ids if i],
    }


def stack_cost(instances, elastic_ips=None, region="", table=None, volumes=None):
    """Rows and total of the stack's hourly cost.

    ``instances``: dicts with ``instance_id``, ``instance_type``, ``state``,
    optional ``public_ip`` and ``volumes`` (a list of ``{volume_id, size,
    volume_type}``, size in GiB). ``volumes``, when given, is a list of
    volumes (amazon.aws.ec2_vol_info's shape, or ``{volume_id, size,
    volume_type, instance_id}``) matched to the instances by attachment; an
    instance whose volumes are known neither way gets an unknown storage row.
    ``elastic_ips``: dicts with ``public_ip`` and ``instance_id`` (empty or
    absent when not attached).

    Returns ``{rows, total_usd, unknown, region, read_on, source}``.
    """
    table = table or price_table()
    regions = table.get("regions", {})
    prices = regions.get(region)
    rows, unknown = [], []
    if prices is None:
        unknown.append("no prices for region %s in the table dated %s (regions: %s)" % (
            region or "(none)", table["read_on"], ", ".join(sorted(regions))))
    attached = None
    if volumes is not None:
        attached = {}
        for volume in volumes:
            volume = _volume(volume)
            for iid in volume["instance_ids"]:
                attached.setdefault(iid, []).append(volume)
    states = {}
    for instance in instances or []:
        _require(instance, ("instance_id", "instance_type", "state"), "instance")
        iid, itype, state = instance["instance_id"], instance["instance_type"], instance["state"]
        states[iid] = state
        if state not in BILLED_STATES:
            rows.append(_row("%s %s compute" % (iid, itype), "compute", state, 0.0, iid, "not billed while %s" % state))
        else:
            price = (prices or {}).get("instance_hourly_usd", {}).get(itype)
            note = ""
            if price is None:
                note = _no_price(itype, region or "(none)", table)
                if prices is not None:
                    unknown.append(note)
            rows.append(_row("%s %s compute" % (iid, itype), "compute", state, price, iid, note))
        own = instance.get("volumes")
        if own is None and attached is not None:
            own = attached.get(iid, [])
        if own is None:
            note = "volume sizes unknown"
            unknown.append("%s: %s" % (iid, note))
            rows.append(_row("%s EBS volumes" % iid, "storage", state, None, iid, note))
            continue
        for volume in own:
            volume = _volume(volume)
            vtype = volume["volume_type"]
            label = "%s %s GiB %s (%s)" % (volume["volume_id"], volume["size"], vtype, iid)
            gb_month = (prices or {}).get("gp3_gb_month_usd") if vtype == "gp3" else None
            note = ""
            if gb_month is None:
                note = _no_price("%s storage" % vtype, region or "(none)", table)
                if prices is not None:
                    unknown.append(note)
                hourly = None
            else:
                hourly = float(volume["size"]) * gb_month / table["hours_per_month"]
            rows.append(_row(label, "storage", state, hourly, iid, note))
    # Public IPv4: one row per distinct address, Elastic IPs first.
    seen = set()
    ipv4 = table["public_ipv4_hourly_usd"]
    for eip in elastic_ips or []:
        _require(eip, ("public_ip",), "Elastic IP")
        address = eip["public_ip"]
        if not address or address in seen:
            continue
        seen.add(address)
        owner = eip.get("instance_id") or ""
        if owner:
            state = "attached to %s instance" % states.get(owner, "an")
            note = "attached to %s" % owner
        else:
            state, note = "not attached", "billed although not attached"
        rows.append(_row("Elastic IP %s" % address, "public_ipv4", state, ipv4, owner, note))
    for instance in instances or []:
        address = instance.get("public_ip") or ""
        if not address or address in seen:
            continue
        seen.add(address)
        rows.append(_row("public IPv4 %s (%s)" % (address, instance["instance_id"]), "public_ipv4",
                         instance["state"], ipv4, instance["instance_id"], "auto-assigned"))
    total = _round(sum(r["hourly_usd"] for r in rows if r["hourly_usd"] is not None))
    return {
        "rows": rows,
        "total_usd": total,
        "unknown": unknown,
        "region": region,
        "read_on": table["read_on"],
        "source": table["source"],
    }
