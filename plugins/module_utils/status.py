# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The stack's status table (playbook 230), one string per line.

Plain Python, no Ansible import: the filter ``status_table`` and the unit
tests use it as it is. Everything it prints is read elsewhere (AWS, the
edge's probes, module_utils/cost.py, the GPU sleep daemon) and handed in.

The lines, in order:

- ``Stack NAME in REGION`` (``via ENDPOINT`` when an endpoint URL is set);
- a header and one row per instance: role, instance id, type, state,
  private IP, public IP (``-`` when none) and the service: ``whisperlive
  up``/``DOWN`` for a GPU worker whose port the edge probed, ``https up`` or
  ``https DOWN (CODE)`` for the edge when the hosts were checked, else
  ``not checked``;
- ``security group ROLE ID: RULES`` per group, with ``OPEN TO THE
  INTERNET: ...`` when a rule admits the internet;
- the cost rows of module_utils/cost.py and ``Hourly cost of the stack:
  $TOTAL`` (``+ unknown (...)`` when a price is missing);
- the GPU sleep daemon's state (three lines), or why there is none.

A value printed on its own renders None as an empty string, a value inside a
formatted column as ``None``: the same text the playbook's Jinja template
gave before this module replaced it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.shapes import require_keys, require_list

ROW_FORMAT = "%-5s %-20s %-12s %-8s %-15s %-15s %s"
HEADER = ROW_FORMAT % ("ROLE", "INSTANCE", "TYPE", "STATE", "PRIVATE IP", "PUBLIC IP", "SERVICE")
COST_FORMAT = "  %-46s %-30s %10s  %s"
NO_GPU_SLEEP = "not deployed (gpu_sleep_enabled false) or not asked"

INSTANCE_KEYS = ("role", "instance_id", "instance_type", "state", "private_ip")
GROUP_KEYS = ("group_id", "rules", "world_open")
COST_KEYS = ("region", "read_on", "rows", "total_usd", "unknown")
COST_ROW_KEYS = ("item", "state", "hourly_usd", "note")
SLEEP_KEYS = ("since", "stay_awake", "streams", "slept_today_s", "saved_today", "gpu_hourly_usd")


class StatusInputError(ValueError):
    """An input of the status table is not of the expected shape."""


def _text(value):
    """A value printed on its own, as Ansible's templating prints it (None: nothing)."""
    return "" if value is None else str(value)


def _join(values, what):
    return "; ".join(str(v) for v in _list(values, what))


def _dict(value, keys, what):
    return require_keys(value, keys, what, StatusInputError)


def _list(value, what, allow_none=False):
    return require_list(value, what, StatusInputError, allow_none)


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StatusInputError("%s: expected a number, got %r" % (what, value))
    return value


def _http_code(value):
    """The edge's HTTP status as an int (-1: no answer); an int or a string of one."""
    if isinstance(value, bool):
        raise StatusInputError("edge_code: expected an HTTP status code, got %r" % (value,))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StatusInputError("edge_code: expected an HTTP status code, got %r" % (value,))


def _service(instance, probed, down, edge_code, hosts_checked):
    iid = instance["instance_id"]
    if instance["role"] == "gpu" and iid in probed:
        return "whisperlive " + ("DOWN" if iid in down else "up")
    if instance["role"] == "edge" and hosts_checked:
        return "https " + ("up" if _http_code(edge_code) == 200 else "DOWN (%s)" % (edge_code,))
    return "not checked"


def _instance_lines(instances, probed, down, edge_code, hosts_checked):
    lines = [HEADER]
    for index, instance in enumerate(_list(instances, "instances")):
        what = "instances[%d]" % index
        _dict(instance, INSTANCE_KEYS, what)
        lines.append(ROW_FORMAT % (
            instance["role"], instance["instance_id"], instance["instance_type"], instance["state"],
            instance["private_ip"], instance.get("public_ip") or "-",
            _service(instance, probed, down, edge_code, hosts_checked)))
    return lines


def _group_lines(exposure):
    if exposure is None:
        return []
    if not isinstance(exposure, Mapping):
        raise StatusInputError("exposure: expected a dict of role: group, got %r" % (exposure,))
    lines = []
    for role, group in exposure.items():
        what = "exposure[%r]" % (role,)
        _dict(group, GROUP_KEYS, what)
        rules = _join(group["rules"], what + ".rules") or "admits nothing"
        world_open = _list(group["world_open"], what + ".world_open")
        open_text = ("  OPEN TO THE INTERNET: " + _join(world_open, what + ".world_open")) if world_open else ""
        lines.append("security group %s %s: %s%s" % (_text(role), _text(group["group_id"]), rules, open_text))
    return lines


def _cost_lines(cost):
    _dict(cost, COST_KEYS, "cost")
    lines = ["Cost per hour, %s On-Demand prices read on %s:" % (_text(cost["region"]), _text(cost["read_on"]))]
    for index, row in enumerate(_list(cost["rows"], "cost.rows")):
        what = "cost.rows[%d]" % index
        _dict(row, COST_ROW_KEYS, what)
        hourly = row["hourly_usd"]
        price = "unknown" if hourly is None else "$%.4f" % _number(hourly, what + ".hourly_usd")
        lines.append((COST_FORMAT % (row["item"], row["state"], price, row["note"])).rstrip())
    unknown = _list(cost["unknown"], "cost.unknown")
    lines.append("Hourly cost of the stack: $%.4f%s" % (
        _number(cost["total_usd"], "cost.total_usd"),
        (" + unknown (%s)" % _join(unknown, "cost.unknown")) if unknown else ""))
    return lines


def _gpu_sleep_lines(sleep):
    if sleep is None:
        sleep = {}
    if not isinstance(sleep, Mapping):
        raise StatusInputError("gpu_sleep: expected a dict, got %r" % (sleep,))
    if "state" not in sleep:
        return ["GPU sleep: %s" % (_text(sleep["message"]) if "message" in sleep else NO_GPU_SLEEP)]
    _dict(sleep, SLEEP_KEYS + (() if sleep.get("stay_awake") else ("idle_minutes",)), "gpu_sleep")
    if sleep["stay_awake"]:
        stops = " (stay awake: never stopped)"
    else:
        stops = ", stopped after %s min without a stream" % (sleep["idle_minutes"],)
    return [
        "GPU sleep: %s since %s%s; %s stream(s) open;" % (
            _text(sleep["state"]), _text(sleep["since"]), stops, _text(sleep["streams"])),
        "  asleep %.1f h today (UTC), saved $%.2f" % (
            _number(sleep["slept_today_s"], "gpu_sleep.slept_today_s") / 3600,
            _number(sleep["saved_today"], "gpu_sleep.saved_today")),
        "  at $%s/h for the GPU workers" % _text(sleep["gpu_hourly_usd"]),
    ]


def status_table(instances, stack, region, cost, endpoint_url="", probed=None, down=None,
                 edge_code=-1, hosts_checked=False, exposure=None, gpu_sleep=None):
    """The status table of the stack, one string per line.

    ``instances``: dicts with ``role`` (``edge``, ``gpu``), ``instance_id``,
    ``instance_type``, ``state``, ``private_ip`` and optional ``public_ip``.
    ``stack``, ``region``, ``endpoint_url``: what the first line names.
    ``cost``: module_utils/cost.py's ``stack_cost`` result (``region``,
    ``read_on``, ``rows`` of ``{item, state, hourly_usd, note}``,
    ``total_usd``, ``unknown``).
    ``probed``: ids of the GPU workers whose WhisperLive port the edge
    probed; ``down``: those of them whose port did not answer.
    ``edge_code``: the HTTP status of the edge's health URL (-1: no answer);
    read only when ``hosts_checked`` (``aws_wait_for_hosts``) is true.
    ``exposure``: role -> ``{group_id, rules, world_open}``
    (security_groups__exposure). ``gpu_sleep``: the daemon's state
    (``state``, ``since``, ``stay_awake``, ``idle_minutes``, ``streams``,
    ``slept_today_s``, ``saved_today``, ``gpu_hourly_usd``), or
    ``{message}`` saying why there is none, or empty/None when not asked.

    Raises StatusInputError naming the input that is not of that shape.
    """
    probed = _list(probed, "probed", allow_none=True)
    down = _list(down, "down", allow_none=True)
    if not isinstance(hosts_checked, bool):
        raise StatusInputError("hosts_checked: expected a boolean, got %r" % (hosts_checked,))
    if endpoint_url is None:
        endpoint_url = ""
    if not isinstance(endpoint_url, str):
        raise StatusInputError("endpoint_url: expected a string, got %r" % (endpoint_url,))
    lines = ["Stack %s in %s%s" % (_text(stack), _text(region), (" via " + endpoint_url) if endpoint_url else "")]
    lines.extend(_instance_lines(instances, probed, down, edge_code, hosts_checked))
    lines.extend(_group_lines(exposure))
    lines.extend(_cost_lines(cost))
    lines.extend(_gpu_sleep_lines(gpu_sleep))
    # As the template's text was split: a value holding a line break makes two lines.
    return "\n".join(lines).splitlines()
