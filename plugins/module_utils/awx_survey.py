# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check an AWX job template survey spec before it is sent to the controller.

Two sets of rules, both offline:

* what AWX's API refuses (``JobTemplateSurveySpec._validate_spec_data`` in
  AWX): the top-level ``name``/``description``/``spec``, the required keys and
  types of each question, the question types, a default of the question's
  type and, for choice questions, among the choices; integer ``min``/``max``;
* what makes ``awx.awx.job_template`` idempotent: the module compares the spec
  it is given with the one the API returns, so every question carries every
  field (``CANONICAL_FIELDS``), choices are a list (AWX rewrites a string of
  choices), and there is no password question (AWX returns ``$encrypted$``).

Plain Python, no Ansible import; the filter plugin ``awx_survey_errors`` and
the unit tests use it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# AWX's question types and the Python type a default must have
# (awx/main/constants.py SURVEY_TYPE_MAPPING).
SURVEY_TYPES = {
    "text": (str,),
    "textarea": (str,),
    "password": (str,),
    "multiplechoice": (str,),
    "multiselect": (str,),
    "integer": (int,),
    "float": (float, int),
}
CHOICE_TYPES = ("multiplechoice", "multiselect")
LENGTH_TYPES = ("text", "textarea", "password")
NUMBER_TYPES = ("integer", "float")

# Every field of a question as the API returns it.
CANONICAL_FIELDS = (
    "question_name",
    "question_description",
    "required",
    "type",
    "variable",
    "min",
    "max",
    "default",
    "choices",
)
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SurveySpecError(ValueError):
    """A survey spec AWX would refuse, or one that breaks idempotence."""

    def __init__(self, errors):
        super(SurveySpecError, self).__init__("; ".join(errors))
        self.errors = list(errors)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _question_errors(idx, item):
    where = "question %d" % idx
    if not isinstance(item, dict):
        return ["%s is not a mapping" % where]
    if isinstance(item.get("variable"), str):
        where = "question %d (%s)" % (idx, item["variable"])

    errors = []
    for field in CANONICAL_FIELDS:
        if field not in item:
            errors.append("%s lacks '%s' (AWX returns it, so job_template would report a change on every run)" % (where, field))
    for field in sorted(set(item) - set(CANONICAL_FIELDS)):
        errors.append("%s has unknown field '%s'" % (where, field))
    for field in ("question_name", "variable", "type"):
        if field in item and not isinstance(item[field], str):
            errors.append("%s: '%s' must be a string" % (where, field))
    if "question_description" in item and not isinstance(item["question_description"], str):
        errors.append("%s: 'question_description' must be a string" % where)
    if "required" in item and not isinstance(item["required"], bool):
        errors.append("%s: 'required' must be a boolean" % where)
    if errors:
        return errors

    qtype = item["type"]
    if qtype not in SURVEY_TYPES:
        return ["%s: type '%s' is not one of %s" % (where, qtype, ", ".join(sorted(SURVEY_TYPES)))]
    if qtype == "password":
        errors.append("%s: password questions come back as $encrypted$, so every apply reports a change" % where)
    if not _VARIABLE_RE.match(item["variable"]):
        errors.append("%s: variable '%s' is not a valid Ansible variable name" % (where, item["variable"]))

    low, high = item["min"], item["max"]
    for key, value in (("min", low), ("max", high)):
        if value is not None and not _is_int(value):
            errors.append("%s: '%s' must be an integer or null" % (where, key))
    if _is_int(low) and _is_int(high) and low > high:
        errors.append("%s: min %d is above max %d" % (where, low, high))

    default = item["default"]
    if default != "":
        allowed = SURVEY_TYPES[qtype]
        if isinstance(default, bool) or not isinstance(default, allowed):
            errors.append("%s: default %r is not of type %s" % (where, default, qtype))
        elif qtype in NUMBER_TYPES:
            if _is_int(low) and default < low or _is_int(high) and default > high:
                errors.append("%s: default %r is outside [%s, %s]" % (where, default, low, high))
        elif qtype in LENGTH_TYPES:
            if _is_int(low) and len(default) < low or _is_int(high) and len(default) > high:
                errors.append("%s: default is %d characters, outside [%s, %s]" % (where, len(default), low, high))

    choices = item["choices"]
    if qtype in CHOICE_TYPES:
        if not isinstance(choices, list) or not choices:
            errors.append("%s: a %s question needs a non-empty list of choices" % (where, qtype))
        elif any(not isinstance(c, str) or not c.strip() for c in choices):
            errors.append("%s: every choice must be a non-empty string" % where)
        elif len(set(choices)) != len(choices):
            errors.append("%s: choices repeat" % where)
        elif isinstance(default, str) and default != "":
            picked = default.split("\n")
            if qtype == "multiplechoice" and len(picked) > 1:
                errors.append("%s: a multiplechoice question has one default" % where)
            missing = [p for p in picked if p not in choices]
            if missing:
                errors.append("%s: default %s not among the choices" % (where, ", ".join(repr(m) for m in missing)))
    elif choices not in ("", []):
        errors.append("%s: a %s question takes no choices (use \"\")" % (where, qtype))
    return errors


def survey_spec_errors(spec):
    """Every problem of ``spec``, as a list of messages (empty: valid)."""
    if not isinstance(spec, dict):
        return ["the survey spec is not a mapping"]
    errors = []
    for field in ("name", "description"):
        if not isinstance(spec.get(field), str):
            errors.append("the survey spec needs a string '%s'" % field)
    for field in sorted(set(spec) - {"name", "description", "spec"}):
        errors.append("the survey spec has unknown field '%s'" % field)
    questions = spec.get("spec")
    if not isinstance(questions, list) or not questions:
        errors.append("the survey spec needs a non-empty list 'spec'")
        return errors
    seen = set()
    for idx, item in enumerate(questions):
        errors.extend(_question_errors(idx, item))
        variable = item.get("variable") if isinstance(item, dict) else None
        if isinstance(variable, str):
            if variable in seen:
                errors.append("question %d: variable '%s' is used twice" % (idx, variable))
            seen.add(variable)
    return errors


def validate_survey_spec(spec):
    """Raise SurveySpecError listing every problem of ``spec``."""
    errors = survey_spec_errors(spec)
    if errors:
        raise SurveySpecError(errors)
