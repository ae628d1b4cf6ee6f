# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters stack_cost and instance_prices: module_utils/cost.py with the table of module_utils/aws_prices.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.aws_prices import REGIONS
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cost import CostInputError
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cost import stack_cost as _stack_cost


def stack_cost(instances, elastic_ips=None, region="", volumes=None):
    """Rows and total of a stack's hourly cost in ``region``."""
    try:
        return _stack_cost(instances, elastic_ips or [], region, volumes=volumes)
    except CostInputError as exc:
        raise AnsibleFilterError("stack_cost: %s" % exc)


def instance_prices(region):
    """On-Demand USD per hour of each instance type the table knows in ``region`` ({} for a region it lacks)."""
    if not isinstance(region, str):
        raise AnsibleFilterError("instance_prices: the region must be a string, got %r" % (region,))
    return dict(REGIONS.get(region, {}).get("instance_hourly_usd", {}))


class FilterModule(object):
    """AWS cost of the stack."""

    def filters(self):
        return {"stack_cost": stack_cost, "instance_prices": instance_prices}
