# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of the shape of a filter's input, shared by the filters' plain Python.

Plain Python, no Ansible import. Each caller passes its own exception class
(a ValueError subclass), so a filter's error names the filter's input and a
playbook can tell which filter refused what.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping


def require_keys(value, keys, what, error=ValueError):
    """Return ``value`` if it is a mapping holding every key of ``keys``; else raise ``error``.

    The message names ``what`` and the missing keys, so the user sees which
    input lacks which field.
    """
    if not isinstance(value, Mapping):
        raise error("%s: expected a dict, got %r" % (what, value))
    missing = [k for k in keys if k not in value]
    if missing:
        raise error("%s %r lacks %s" % (what, value, ", ".join(missing)))
    return value


def require_list(value, what, error=ValueError, allow_none=False):
    """Return ``value`` if it is a list or tuple (``[]`` for None when allowed); else raise ``error``."""
    if value is None and allow_none:
        return []
    if not isinstance(value, (list, tuple)):
        raise error("%s: expected a list, got %r" % (what, value))
    return value
