# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: pip_settings
author: realtime_asr maintainers (@realtime-asr)
short_description: The control node's pip settings (CA bundle, find-links, index URLs)
version_added: 0.1.0
description:
  - Runs C(pip config list) with the Python that runs Ansible and returns the settings pip
    itself would apply (environment over site over user over global configuration).
  - Use it to hand managed hosts the same CA bundle, wheel folders and index mirrors,
    e.g. behind a TLS-intercepting proxy, instead of disabling certificate checks.
  - Without terms, returns one dictionary. With terms, returns the value of each named key.
options:
  _terms:
    description: Keys to return (V(cert), V(find_links), V(index_url), V(extra_index_urls), V(local_paths)).
    required: false
    type: list
    elements: str
  python:
    description: Interpreter whose pip configuration is read. Defaults to the one running Ansible.
    type: str
    required: false
  host_prefix:
    description:
      - Rewrite every local file and folder in the result to lie below this prefix, as a host sees
        the control node's files when they are mounted there (role local_hosts mounts them below
        C(/opt/control-node)). C(local_paths) keeps the control node's own paths.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Give the host pip's CA bundle
  ansible.builtin.set_fact:
    whisperlive_pip_ca_bundle: "{{ lookup('realtime_asr.whisperlive.pip_settings', 'cert') }}"

- name: Show everything
  ansible.builtin.debug:
    msg: "{{ lookup('realtime_asr.whisperlive.pip_settings') }}"
"""

RETURN = r"""
_raw:
  description:
    - Without terms, one dictionary with C(cert) (str), C(find_links) (list), C(index_url) (str),
      C(extra_index_urls) (list) and C(local_paths) (list of local files and folders that these
      settings refer to, for read-only mounts).
    - With terms, the value of each key asked for.
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.pip_settings import (
    PipSettingsError,
    read_pip_settings,
)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            settings = read_pip_settings(self.get_option("python"), self.get_option("host_prefix"))
        except PipSettingsError as exc:
            raise AnsibleLookupError(str(exc))
        if not terms:
            return [settings]
        unknown = [term for term in terms if term not in settings]
        if unknown:
            raise AnsibleLookupError(
                "unknown pip_settings key(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(settings)))
            )
        return [settings[term] for term in terms]
