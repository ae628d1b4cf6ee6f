# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter stack_cost: module_utils/cost.py with the table of module_utils/aws_prices.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cost import CostInputError
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cost import stack_cost as _stack_cost


def stack_cost(instances, elastic_ips=None, region="", volumes=None):
    """Rows and total of a stack's hourly cost in ``region``."""
    try:
        return _stack_cost(instances, elastic_ips or [], region, volumes=volumes)
    except CostInputError as exc:
        raise AnsibleFilterError("stack_cost: %s" % exc)


class FilterModule(object):
    """AWS cost of the stack."""

    def filters(self):
        return {"stack_cost": stack_cost}
