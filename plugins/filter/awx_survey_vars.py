# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter awx_survey_vars: module_utils/awx_survey.py with the types of the collection's argument specs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from collections.abc import Mapping

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import SurveyAnswerError
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import spec_types
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import survey_variables

# The collection: plugins/filter/../.. (a checkout or an installed collection).
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INPUT_SPECS = os.path.join("playbooks", "vars", "input_specs.yml")


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AnsibleFilterError("awx_survey_vars: cannot read %s: %s" % (path, exc))


def load_specs(root=COLLECTION_ROOT):
    """({role: argument_specs}, input_specs) of the collection at ``root``."""
    role_specs = {}
    roles = os.path.join(root, "roles")
    for role in sorted(os.listdir(roles)) if os.path.isdir(roles) else []:
        path = os.path.join(roles, role, "meta", "argument_specs.yml")
        if os.path.isfile(path):
            role_specs[role] = _read(path).get("argument_specs") or {}
    path = os.path.join(root, INPUT_SPECS)
    input_specs = (_read(path).get("input_specs") or {}) if os.path.isfile(path) else {}
    return role_specs, input_specs


def awx_survey_vars(answers, mapping):
    """{variable: value} of the survey answers {survey name: answer}, each variable of ``mapping``
    {survey name: variable} converted to the type its argument spec declares."""
    if not isinstance(answers, Mapping) or not isinstance(mapping, Mapping):
        raise AnsibleFilterError("awx_survey_vars: the answers and the mapping must be dictionaries, got %s and %s"
                                 % (type(answers).__name__, type(mapping).__name__))
    try:
        return survey_variables(answers, mapping, spec_types(set(mapping.values()), *load_specs()))
    except SurveyAnswerError as exc:
        raise AnsibleFilterError("awx_survey_vars: %s" % exc)


class FilterModule(object):
    """AWX survey answers to variables."""

    def filters(self):
        return {"awx_survey_vars": awx_survey_vars}
