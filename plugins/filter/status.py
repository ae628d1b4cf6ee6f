# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter status_table: module_utils/status.py, the status table of playbook 230."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.status import StatusInputError
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.status import status_table as _status_table


def status_table(instances, stack, region, cost, endpoint_url="", probed=None, down=None,
                 edge_code=-1, hosts_checked=False, exposure=None, gpu_sleep=None):
    """The stack's status table, one string per line."""
    try:
        return _status_table(instances, stack, region, cost, endpoint_url=endpoint_url, probed=probed, down=down,
                             edge_code=edge_code, hosts_checked=hosts_checked, exposure=exposure,
                             gpu_sleep=gpu_sleep)
    except StatusInputError as exc:
        raise AnsibleFilterError("status_table: %s" % exc)


class FilterModule(object):
    """The stack's status table."""

    def filters(self):
        return {"status_table": status_table}
