# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWX surveys: check a job template's survey spec before it is sent to the
controller, and turn the answers of a job's survey into variables.

Two sets of rules for a survey spec, both offline:

* what AWX's API refuses (``JobTemplateSurveySpec._validate_spec_data`` in
  AWX): the top-level ``name``/``description``/``spec``, the required keys and
  types of each question, the question types, a default of the question's
  type and, for choice questions, among the choices; integer ``min``/``max``;
* what makes ``awx.awx.job_template`` idempotent: the module compares the spec
  it is given with the one the API returns, so every question carries every
  field (``CANONICAL_FIELDS``), choices are a list (AWX rewrites a string of
  choices), and there is no password question (AWX returns ``$encrypted$``).

The answers (extra variables ``survey_*``) become the variables they stand
for, each converted to the type its argument spec declares
(``survey_variables``, with the types ``spec_types`` finds in the specs).

Plain Python, no Ansible import; the filter plugins ``awx_survey_errors`` and
``awx_survey_vars`` and the unit tests use it.
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


# Survey answers -> variables ------------------------------------------------
#
# AWX sends each answer as an extra variable named survey_*; the play
# playbooks/awx_survey.yml sets the variable each one stands for, converted
# to the type its argument spec declares (the filter awx_survey_vars).

# Argument spec types a survey answer can give, and what a bad answer must be.
ANSWER_TYPES = {
    "str": "a string",
    "path": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "yes or no",
    "list": "a list",
}
# The answers the play takes as given, the same rules as before it had a filter.
_INT_RE = re.compile(r"^\s*-?[0-9]+\s*$")
_FLOAT_RE = re.compile(r"^\s*-?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$")
_BOOL_WORDS = {"yes": True, "true": True, "no": False, "false": False}
_LIST_ITEM_RE = re.compile(r"[^\s,]+")
SPEC_FILES = "roles/<role>/meta/argument_specs.yml (entry point main) or playbooks/vars/input_specs.yml"


class SurveyAnswerError(ValueError):
    """Survey answers the play cannot set: unknown names, values of the wrong type."""

    def __init__(self, errors):
        super(SurveyAnswerError, self).__init__(" ".join(errors))
        self.errors = list(errors)


class _Refused(Exception):
    """An answer that is not of its variable's type."""


def is_blank(value):
    """AWX's empty answer ("", nothing, an empty multiselect): keeps the default."""
    return value is None or (isinstance(value, (str, list, tuple)) and len(value) == 0)


def _scalar(value):
    return isinstance(value, (str, int, float))


def convert_answer(value, vtype):
    """``value`` as ``vtype`` (a key of ANSWER_TYPES); _Refused when it is not one.

    int: an integer or a string of digits; float: a number or a decimal string
    (no exponent); bool: a boolean or yes/no/true/false, any case; str and
    path: a scalar, stripped; list: a list as it is, or a string split on
    commas, spaces and newlines. Strings may carry surrounding spaces.
    """
    is_bool = isinstance(value, bool)
    if vtype == "int":
        if isinstance(value, int) and not is_bool:
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value):
            return int(value.strip())
    elif vtype == "float":
        if isinstance(value, (int, float)) and not is_bool:
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.match(value):
            return float(value.strip())
    elif vtype == "bool":
        if is_bool:
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
    elif vtype in ("str", "path"):
        if _scalar(value):
            return str(value).strip()
    elif vtype == "list":
        if isinstance(value, (list, tuple)):
            return list(value)
        if _scalar(value):
            return _LIST_ITEM_RE.findall(str(value))
    raise _Refused(vtype)


def survey_variables(answers, mapping, types):
    """The variables the survey answers set: {variable: converted value}.

    ``answers`` {survey name: answer} (every survey_* variable given),
    ``mapping`` {survey name: variable}, ``types`` {variable: argument spec
    type}. Blank answers are left out. Raises SurveyAnswerError naming every
    unknown survey name, every answer that is not of its type and every mapped
    variable without a type a survey can give, all at once.
    """
    errors = []
    unknown = sorted(name for name in answers if name not in mapping)
    if unknown:
        errors.append("Unknown survey variable(s): %s (known: %s)." % (", ".join(unknown), ", ".join(sorted(mapping))))
    typed = {}
    for name in sorted(mapping):
        variable = mapping[name]
        vtype = types.get(variable)
        if vtype is None:
            errors.append("%s sets %s, whose type no argument spec declares (%s)." % (name, variable, SPEC_FILES))
        elif vtype not in ANSWER_TYPES:
            errors.append("%s sets %s of type %s, which a survey answer cannot give (%s)."
                          % (name, variable, vtype, ", ".join(sorted(ANSWER_TYPES))))
        else:
            typed[name] = vtype
    result = {}
    for name in sorted(answers):
        value = answers[name]
        if name not in typed or is_blank(value):
            continue
        try:
            result[mapping[name]] = convert_answer(value, typed[name])
        except _Refused:
            errors.append("%s must be %s, not '%s'." % (name, ANSWER_TYPES[typed[name]], value))
    if errors:
        raise SurveyAnswerError(errors)
    return result


def _owner(name, prefixes):
    """The longest of ``prefixes`` that ``name`` starts with, followed by ``_`` (None: none)."""
    owners = [p for p in prefixes if name.startswith(p + "_")]
    return max(owners, key=len) if owners else None


def spec_types(names, role_specs, input_specs):
    """{name: type} of each of ``names`` that a spec declares.

    A role variable is looked up in the entry point ``main`` of the role whose
    name is its longest prefix (``role_specs``: {role: the ``argument_specs``
    of roles/<role>/meta/argument_specs.yml}), any other in the entry point of
    ``input_specs`` (the ``input_specs`` of playbooks/vars/input_specs.yml)
    named by its longest prefix. An option without ``type`` is a ``str``, as
    in Ansible's argument specs. Names no spec declares are left out.
    """
    types = {}
    for name in names:
        for specs, entry in ((role_specs, "main"), (input_specs, None)):
            owner = _owner(name, specs or {})
            if owner is None:
                continue
            point = (specs[owner] or {}).get(entry) if entry else specs[owner]
            option = ((point or {}).get("options") or {}).get(name)
            if option is not None:
                types[name] = (option or {}).get("type", "str")
                break
    return types
