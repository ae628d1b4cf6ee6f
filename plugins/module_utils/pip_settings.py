# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the control node's pip settings so hosts can be handed the same ones.

Behind a TLS-intercepting proxy or with a local wheel mirror, pip on a
managed host needs the CA bundle, find-links folders and index URLs that
pip on the control node already uses. ``pip config list`` prints them as
``scope.key='value'`` lines; this module turns them into one dict. Plain
Python, no Ansible imports, so unit tests import it directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex
import subprocess
import sys

# pip applies its configuration in this order; later scopes win.
_SCOPE_ORDER = ("global", "user", "site", ":env:")
_SECTION_ORDER = ("global", "install", "download", "")


class PipSettingsError(Exception):
    """pip's configuration could not be read."""


def parse_config_list(text):
    """Parse ``pip config list`` output into {key: value}, applying precedence.

    Lines look like ``global.cert='/etc/ssl/certs/ca.crt'`` or
    ``:env:.find-links='/opt/wheels'``. Scope-less sections (``install.x``)
    come from files and rank with ``global``.
    """
    ranked = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or "=" not in line:
            continue
        name, value = line.split("=", 1)
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip("'\"")]
        value = " ".join(parts)
        section, key = name.rsplit(".", 1) if "." in name else ("", name)
        if section == ":env:":
            rank = (_SCOPE_ORDER.index(":env:"), 0)
        else:
            rank = (0, _SECTION_ORDER.index(section) if section in _SECTION_ORDER else 0)
        previous = ranked.get(key)
        if previous is None or rank >= previous[0]:
            ranked[key] = (rank, value)
    return dict((key, item[1]) for key, item in ranked.items())


def _local_path(location):
    """Return the filesystem path of a local location, or None for a remote URL."""
    if location.startswith("file://"):
        return location[len("file://"):]
    if "://" in location:
        return None
    return location


def _add_mount(mounts, path):
    if path and os.path.isabs(path) and path != "/" and path not in mounts:
        mounts.append(path)


def _under(prefix, location):
    """Rewrite a local location so it points below ``prefix``; keep remote URLs."""
    if not prefix or not location:
        return location
    path = _local_path(location)
    if path is None or not os.path.isabs(path):
        return location
    moved = prefix.rstrip("/") + path
    return "file://" + moved if location.startswith("file://") else moved


def settings_from_config(config, host_prefix=""):
    """Build the settings dict from parsed pip config values.

    With ``host_prefix``, every local file or folder in the returned settings
    is rewritten to lie below that prefix: how a host sees the control
    node's files when they are mounted there. ``local_paths`` always names
    the control node's own paths (the mount sources).
    """
    find_links = config.get("find-links", "").split()
    extra_index_urls = config.get("extra-index-url", "").split()
    index_url = config.get("index-url", "")
    cert = config.get("cert", "")
    mounts = []
    for location in [cert] + find_links:
        _add_mount(mounts, _local_path(location) if location else None)
    for location in extra_index_urls + [index_url]:
        path = _local_path(location) if location else None
        # A PEP 503 index folder links its files relative to itself
        # (``simple/name/ -> ../../files/``): share the folder above it.
        _add_mount(mounts, os.path.dirname(path.rstrip("/")) if path else None)
    return {
        "cert": _under(host_prefix, cert),
        "find_links": [_under(host_prefix, item) for item in find_links],
        "index_url": _under(host_prefix, index_url),
        "extra_index_urls": [_under(host_prefix, item) for item in extra_index_urls],
        "local_paths": mounts,
    }


_CACHE = {}


def read_pip_settings(python=None, host_prefix="", runner=subprocess.run):
    """Run ``pip config list`` with ``python`` (default: this interpreter).

    The output is cached per interpreter for the life of the process: one
    playbook run reads pip's configuration once per worker, not once per
    variable that refers to it.
    """
    command = [python or sys.executable, "-m", "pip", "config", "list"]
    key = (tuple(command), runner)
    if key not in _CACHE:
        _CACHE[key] = _run_pip_config(command, runner)
    return settings_from_config(parse_config_list(_CACHE[key]), host_prefix)


def _run_pip_config(command, runner):
    try:
        result = runner(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PipSettingsError("cannot run %s: %s" % (" ".join(command), exc))
    if result.returncode != 0:
        raise PipSettingsError(
            "%s failed (rc=%s): %s" % (" ".join(command), result.returncode, result.stderr.strip())
        )
    return result.stdout
