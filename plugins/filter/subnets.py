# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter free_subnet: module_utils/subnets.py for playbooks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.subnets import (
    SubnetError,
    free_subnet as _free_subnet,
)


def free_subnet(vpc_cidr, taken=None, prefix=24):
    """The highest /prefix of vpc_cidr that no subnet in taken overlaps."""
    try:
        return _free_subnet(vpc_cidr, taken or [], prefix)
    except SubnetError as exc:
        raise AnsibleFilterError("free_subnet: %s" % exc)


class FilterModule(object):
    """Subnet planning."""

    def filters(self):
        return {"free_subnet": free_subnet}
