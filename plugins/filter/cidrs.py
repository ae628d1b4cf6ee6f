# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters cidr_errors and cidr_exposure: the checks of module_utils/cidrs.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cidrs import (
    cidr_errors as _cidr_errors,
    cidr_exposure as _cidr_exposure,
)


def cidr_errors(entries, variable="cidrs"):
    """Messages for the entries that are not valid CIDRs (empty: all valid)."""
    return _cidr_errors(entries, variable)


def cidr_exposure(entries, variable="cidrs"):
    """How much of IPv4 and IPv6 a CIDR list admits, merged, and whether that is the internet."""
    return _cidr_exposure(entries, variable)


class FilterModule(object):
    """CIDR list checks."""

    def filters(self):
        return {"cidr_errors": cidr_errors, "cidr_exposure": cidr_exposure}
