# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter instance_summary: the fields of ec2_instance_info the roles use."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def instance_summary(instances):
    """One flat dict per instance of amazon.aws.ec2_instance_info's result."""
    out = []
    for inst in instances or []:
        out.append({
            "instance_id": inst["instance_id"],
            "private_ip": inst.get("private_ip_address") or "",
            "public_ip": inst.get("public_ip_address") or "",
            "instance_type": inst.get("instance_type", ""),
            "state": (inst.get("state") or {}).get("name", ""),
            "subnet_id": inst.get("subnet_id") or "",
            "availability_zone": (inst.get("placement") or {}).get("availability_zone", ""),
            "source_dest_check": bool(inst.get("source_dest_check", True)),
        })
    return out


class FilterModule(object):
    """EC2 instance summaries."""

    def filters(self):
        return {"instance_summary": instance_summary}
