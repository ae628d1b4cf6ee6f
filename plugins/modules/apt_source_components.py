#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apt_source_components
short_description: Enable APT components on the archive entries a host already has
version_added: "0.1.0"
description:
  - Reads the host's APT sources, one-line files (C(/etc/apt/sources.list), C(*.list)) and deb822
    files (C(*.sources)), and adds O(components) to every enabled entry of the distribution's
    archive, on whatever mirror the host already uses. No repository is added and no URI changes.
  - An entry is edited when its type is C(deb) or C(deb-src), one of its URIs matches
    O(uri_pattern), one of its suites is O(release) or starts with O(release) and a dash (so
    C(bookworm), C(bookworm-updates), C(bookworm-security)), and it has the C(main) component.
  - Only the components change; comments, options, order, file modes and line ends stay. A component
    that another entry already provides for the same type, URI and suite is not added again.
  - Run C(apt-get update) (for example M(ansible.builtin.apt) with C(update_cache)) afterwards.
author:
  - realtime_asr maintainers (@realtime-asr)
options:
  components:
    description:
      - Components every matching entry must carry, added in this order after the existing ones.
    type: list
    elements: str
    required: true
  release:
    description:
      - Codename whose suites are edited (C(bookworm) also covers C(bookworm-updates),
        C(bookworm-backports), C(bookworm-security)). Empty edits entries of every suite.
    type: str
    default: ""
  uri_pattern:
    description:
      - Python regular expression searched in each URI; entries with no matching URI are left alone
        (third-party repositories). The default matches Debian's archive and security archive on
        any mirror (a path ending in C(/debian) or C(/debian-security)).
    type: str
    default: "/debian(-security)?/?$"
  paths:
    description:
      - Sources files, or folders whose C(*.list) and C(*.sources) files are read. Missing paths
        are ignored.
    type: list
    elements: path
    default: [/etc/apt/sources.list, /etc/apt/sources.list.d]
  exclude:
    description:
      - Sources files not to read, for example one that an earlier task removes (so check mode predicts
        the same result as a real run).
    type: list
    elements: path
    default: []
  require_match:
    description:
      - Fail with RV(failure=no_matching_entry) when no entry matches (the host does not use the
        archive the pattern describes), instead of changing nothing.
    type: bool
    default: true
notes:
  - Files are replaced atomically and keep their owner and mode.
seealso:
  - module: ansible.builtin.deb822_repository
  - module: ansible.builtin.apt_repository
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One diff per changed file.
"""

EXAMPLES = r"""
- name: Enable contrib, non-free and non-free-firmware on the host's own Debian mirror
  realtime_asr.whisperlive.apt_source_components:
    components: [contrib, non-free, non-free-firmware]
    release: "{{ ansible_facts['distribution_release'] }}"
  register: __sources

- name: Refresh the package lists when a component was added
  ansible.builtin.apt:
    update_cache: true
  when: __sources is changed
"""

RETURN = r"""
files:
  description: Sources files that were (or in check mode would be) rewritten.
  returned: always
  type: list
  elements: str
  sample: [/etc/apt/sources.list.d/debian.sources]
entries:
  description: Every entry that matched, with its components before and the ones added.
  returned: success
  type: list
  elements: dict
  sample:
    - path: /etc/apt/sources.list.d/debian.sources
      line: 4
      types: [deb, deb-src]
      uris: [http://cdn-aws.deb.debian.org/debian]
      suites: [bookworm, bookworm-updates, bookworm-backports]
      components: [main]
      added: [contrib, non-free, non-free-firmware]
failure:
  description: Class of failure, C(bad_pattern), C(no_matching_entry) or C(io).
  returned: failure
  type: str
  sample: no_matching_entry
"""

import glob
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.apt_sources import (
    AptSourcesError,
    add_components,
)


def _source_files(paths, exclude):
    found = []
    for path in paths:
        if os.path.isdir(path):
            found.extend(sorted(glob.glob(os.path.join(path, "*.list")) + glob.glob(os.path.join(path, "*.sources"))))
        elif os.path.isfile(path):
            found.append(path)
    skip = set(os.path.abspath(path) for path in exclude)
    return [path for path in found if os.path.abspath(path) not in skip]


def _read(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "surrogateescape")


def _write(module, path, text):
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".ansible_tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(text.encode("utf-8", "surrogateescape"))
    module.atomic_move(temp, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            components=dict(type="list", elements="str", required=True),
            release=dict(type="str", default=""),
            uri_pattern=dict(type="str", default="/debian(-security)?/?$"),
            paths=dict(type="list", elements="path", default=["/etc/apt/sources.list", "/etc/apt/sources.list.d"]),
            exclude=dict(type="list", elements="path", default=[]),
            require_match=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        files = [(path, _read(path)) for path in _source_files(params["paths"], params["exclude"])]
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read the APT sources: %s" % to_native(exc), failure="io", files=[])

    try:
        result = add_components(files, params["components"], params["release"], params["uri_pattern"],
                                params["require_match"])
    except AptSourcesError as exc:
        module.fail_json(msg=exc.message, failure=exc.kind, files=[])

    changed = [item for item in result["files"] if item["changed"]]
    if not module.check_mode:
        for item in changed:
            try:
                _write(module, item["path"], item["after"])
            except (IOError, OSError) as exc:
                module.fail_json(msg="cannot write %s: %s" % (item["path"], to_native(exc)), failure="io",
                                 files=[entry["path"] for entry in changed])

    diff = [
        {"before_header": item["path"], "after_header": item["path"], "before": item["before"], "after": item["after"]}
        for item in changed
    ]
    module.exit_json(changed=bool(changed), files=[item["path"] for item in changed], entries=result["entries"],
                     diff=diff)


if __name__ == "__main__":
    main()
