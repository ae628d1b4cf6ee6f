# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Choose a free subnet inside a VPC's IPv4 block (plain Python, unit tested)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress


class SubnetError(ValueError):
    """No subnet of the wanted size is free, or an input is not a network."""


def free_subnet(vpc_cidr, taken=(), prefix=24):
    """The highest /prefix network of vpc_cidr that overlaps none of taken.

    The top of the block is chosen because AWS's default subnets (and most
    hand-made layouts) fill a VPC from the bottom.
    """
    try:
        vpc = ipaddress.ip_network(vpc_cidr)
        used = [ipaddress.ip_network(cidr) for cidr in taken]
    except ValueError as exc:
        raise SubnetError("not a network: %s" % exc)
    prefix = int(prefix)
    if prefix < vpc.prefixlen:
        raise SubnetError("a /%d does not fit in the VPC's %s" % (prefix, vpc))
    candidates = list(vpc.subnets(new_prefix=prefix))
    for candidate in reversed(candidates):
        if not any(candidate.overlaps(other) for other in used):
            return str(candidate)
    raise SubnetError("no free /%d left in %s (subnets in use: %s)" % (
        prefix, vpc, ", ".join(sorted(str(u) for u in used)) or "none"))
