# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How much of the internet a list of CIDRs admits.

Plain Python (``ipaddress``), no Ansible import: the filter plugin
``plugins/filter/cidrs.py`` and the unit tests use it as it is.

A security group rule admits the *union* of its sources, so the list is
merged (``ipaddress.collapse_addresses``) before it is judged: ``0.0.0.0/1``
plus ``128.0.0.0/1`` is ``0.0.0.0/0``.

Threshold ("internet scale"). A list is open to the internet in an address
family when, after merging,

- it covers the whole family (``0.0.0.0/0``, ``::/0``), or
- one merged network that holds globally routable addresses is shorter
  than ``/8`` (IPv4) or ``/32`` (IPv6), e.g.
  ``0.0.0.0/1`` (half the internet), ``10.0.0.0/8`` + ``11.0.0.0/8``
  (= ``10.0.0.0/7``) or ``2000::/3`` (all global unicast IPv6), or
- the globally routable addresses it covers, summed over disjoint networks,
  are more than one ``/8`` (2**24) or one ``/32`` (2**96) holds, e.g. two
  separate public ``/8`` networks.

A ``/8`` of IPv4 is what the largest single organisations hold and a ``/32``
of IPv6 is a whole ISP's allocation: a client list beyond that is not "our
users" but the internet. Addresses that are not globally routable (RFC 1918,
CGNAT, loopback, link-local, documentation, multicast, reserved; IPv6 ULA,
link-local, documentation, multicast) do not count, so 10.0.0.0/8 +
172.16.0.0/12 + 192.168.0.0/16 or fc00::/7 is not internet scale, and only
the entries that reach globally routable space are named as opening it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

FAMILIES = ("ipv4", "ipv6")
# Prefix lengths below which one network alone is internet scale.
SHORTEST_PREFIX = {"ipv4": 8, "ipv6": 32}
# Globally routable addresses above which a list is internet scale.
MAX_PUBLIC_ADDRESSES = {"ipv4": 2 ** 24, "ipv6": 2 ** 96}
_TOTAL = {"ipv4": 2 ** 32, "ipv6": 2 ** 128}
_NOT_GLOBAL = {
    "ipv4": [ipaddress.ip_network(n) for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4")],
    "ipv6": [ipaddress.ip_network(n) for n in (
        "::/8", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8")],
}


class CidrError(ValueError):
    """One or more entries of a CIDR list are not valid CIDRs.

    ``variable`` names the list, ``bad`` holds ``(entry, reason)`` pairs.
    """

    def __init__(self, variable, bad):
        self.variable = variable
        self.bad = list(bad)
        super(CidrError, self).__init__("; ".join(cidr_messages(variable, self.bad)))


def cidr_messages(variable, bad):
    """One message per bad entry, naming the variable and the entry."""
    return ["%s: %r is not a valid CIDR (%s)" % (variable, entry, reason) for entry, reason in bad]


def _family(network):
    return "ipv4" if network.version == 4 else "ipv6"


def parse_cidr(entry):
    """An ``ipaddress`` network from ``address/prefix``; ValueError says why not.

    The prefix is required (AWS takes no bare address) and host bits must be
    zero (``10.0.0.1/8`` is refused: the writer meant ``10.0.0.0/8`` or
    ``10.0.0.1/32``, and AWS would not say which).
    """
    if not isinstance(entry, str):
        raise ValueError("not a string")
    text = entry.strip()
    if "/" not in text:
        raise ValueError("no /prefix; write e.g. %s/32 or %s/128" % (text, text))
    address, prefix = text.split("/", 1)
    if not prefix.isdigit():
        raise ValueError("prefix %r is not a number" % prefix)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError("%r is not an IPv4 or IPv6 address" % address)
    if int(prefix) > parsed.max_prefixlen:
        raise ValueError("prefix /%s is longer than /%d" % (prefix, parsed.max_prefixlen))
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(str(exc))


def parse_cidrs(entries, variable="cidrs"):
    """Networks of every entry, in order; CidrError lists every bad entry."""
    if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
        raise CidrError(variable, [(entries, "expected a list of CIDRs")])
    networks, bad = [], []
    for entry in entries:
        try:
            networks.append(parse_cidr(entry))
        except ValueError as exc:
            bad.append((entry, str(exc)))
    if bad:
        raise CidrError(variable, bad)
    return networks


def cidr_errors(entries, variable="cidrs"):
    """Messages for the bad entries of a list (empty: every entry is valid)."""
    try:
        parse_cidrs(entries, variable)
    except CidrError as exc:
        return cidr_messages(variable, exc.bad)
    return []


def _overlap(network, other):
    """Addresses two networks share (one holds the other, or none)."""
    if network.version != other.version:
        return 0
    if network.subnet_of(other):
        return network.num_addresses
    if other.subnet_of(network):
        return other.num_addresses
    return 0


def public_addresses(networks, family):
    """Globally routable addresses in disjoint (collapsed) networks."""
    total = 0
    for network in networks:
        total += network.num_addresses - sum(_overlap(network, special) for special in _NOT_GLOBAL[family])
    return total


def _share_text(share):
    if share >= 1:
        return "all"
    percent = share * 100
    if percent >= 1:
        return "%.0f%%" % percent
    return "%.2g%%" % percent


def _family_exposure(entries, networks, family):
    merged = list(ipaddress.collapse_addresses(networks))
    addresses = sum(n.num_addresses for n in merged)
    public = public_addresses(merged, family)
    share = addresses / float(_TOTAL[family])
    wide = [n for n in merged
            if n.prefixlen < SHORTEST_PREFIX[family] and public_addresses([n], family) > 0]
    internet = share >= 1 or bool(wide) or public > MAX_PUBLIC_ADDRESSES[family]
    opening = []
    if internet:
        # The entries that make it so: those reaching globally routable space.
        opening = [entry for entry, network in zip(entries, networks)
                   if public_addresses([network], family) > 0]
    label = "IPv4" if family == "ipv4" else "IPv6"
    verb = "covers" if len(opening) == 1 else "together cover"
    if not internet:
        reason = ""
    elif share >= 1:
        reason = "%s %s all of %s" % (", ".join(opening), verb, label)
    elif wide:
        reason = "%s %s %s of %s (merged: %s; wider than /%d)" % (
            ", ".join(opening), verb, _share_text(share), label, ", ".join(str(n) for n in wide),
            SHORTEST_PREFIX[family])
    else:
        reason = "%s %s %s of %s, more public addresses than one /%d holds" % (
            ", ".join(opening), verb, _share_text(share), label, SHORTEST_PREFIX[family])
    return {
        "entries": list(entries),
        "networks": [str(n) for n in merged],
        "share": share,
        "share_text": _share_text(share),
        "internet_scale": internet,
        "opening_entries": opening,
        "reason": reason,
    }


def cidr_exposure(entries, variable="cidrs"):
    """How much of each address family a CIDR list admits, merged.

    Returns ``{ipv4: {...}, ipv6: {...}, internet_scale, opening_entries,
    reasons, errors}``; per family ``entries`` (as written), ``networks``
    (merged), ``share`` (fraction of the family's address space, 0..1),
    ``share_text``, ``internet_scale``, ``opening_entries`` and ``reason``.
    Invalid entries are left out of the figures and listed in ``errors``
    (messages naming ``variable``).
    """
    if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
        entries = [entries]
    by_family = dict((family, ([], [])) for family in FAMILIES)
    bad = []
    for entry in entries:
        try:
            network = parse_cidr(entry)
        except ValueError as exc:
            bad.append((entry, str(exc)))
            continue
        written, networks = by_family[_family(network)]
        written.append(entry)
        networks.append(network)
    result = dict((family, _family_exposure(by_family[family][0], by_family[family][1], family))
                  for family in FAMILIES)
    result["internet_scale"] = any(result[f]["internet_scale"] for f in FAMILIES)
    result["opening_entries"] = [e for f in FAMILIES for e in result[f]["opening_entries"]]
    result["reasons"] = [result[f]["reason"] for f in FAMILIES if result[f]["reason"]]
    result["errors"] = cidr_messages(variable, bad)
    return result
