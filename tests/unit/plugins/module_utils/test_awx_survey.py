"""The AWX survey spec checker: every rule, one broken spec each."""

import copy

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import (
    CANONICAL_FIELDS,
    SurveySpecError,
    survey_spec_errors,
    validate_survey_spec,
)


def _question(**overrides):
    item = {
        "question_name": "Streams",
        "question_description": "Simultaneous streams",
        "required": False,
        "type": "integer",
        "variable": "survey_streams",
        "min": 1,
        "max": 8,
        "default": "",
        "choices": "",
    }
    item.update(overrides)
    return item


def _spec(*questions):
    return {"name": "Survey", "description": "", "spec": list(questions) or [_question()]}


VALID = [
    _spec(),
    _spec(_question(default=4)),
    _spec(_question(type="text", variable="survey_name", min=0, max=10, default="edge")),
    _spec(_question(type="textarea", variable="survey_cidrs", min=0, max=100, default="10.0.0.0/8\n192.0.2.0/24")),
    _spec(_question(type="multiplechoice", variable="survey_mode", min=None, max=None, choices=["a", "b"], default="b")),
    _spec(_question(type="multiselect", variable="survey_modes", min=None, max=None, choices=["a", "b", "c"], default="a\nc")),
    _spec(_question(type="float", variable="survey_ratio", min=0, max=2, default=1.5)),
    _spec(_question(), _question(variable="survey_other", required=True)),
]


@pytest.mark.parametrize("spec", VALID, ids=range(len(VALID)))
def test_valid_specs_pass(spec):
    assert survey_spec_errors(spec) == []
    validate_survey_spec(spec)


# (change to a valid spec, words the error must contain)
INVALID = [
    (lambda s: s.pop("name"), "needs a string 'name'"),
    (lambda s: s.update(description=None), "needs a string 'description'"),
    (lambda s: s.update(spec=[]), "non-empty list 'spec'"),
    (lambda s: s.update(extra=1), "unknown field 'extra'"),
    (lambda s: s["spec"].append("nope"), "question 1 is not a mapping"),
    (lambda s: s["spec"][0].update(typo=1), "unknown field 'typo'"),
    (lambda s: s["spec"][0].update(required="no"), "'required' must be a boolean"),
    (lambda s: s["spec"][0].update(variable=5), "'variable' must be a string"),
    (lambda s: s["spec"][0].update(type="date"), "type 'date' is not one of"),
    (lambda s: s["spec"][0].update(type="password", min=None, max=None), "password questions"),
    (lambda s: s["spec"][0].update(variable="bad-name"), "not a valid Ansible variable name"),
    (lambda s: s["spec"][0].update(min="1"), "'min' must be an integer or null"),
    (lambda s: s["spec"][0].update(max=1.5), "'max' must be an integer or null"),
    (lambda s: s["spec"][0].update(min=9), "min 9 is above max 8"),
    (lambda s: s["spec"][0].update(default="4"), "is not of type integer"),
    (lambda s: s["spec"][0].update(default=True), "is not of type integer"),
    (lambda s: s["spec"][0].update(default=9), "outside [1, 8]"),
    (lambda s: s["spec"][0].update(type="text", default="x" * 9, min=0, max=8), "9 characters, outside [0, 8]"),
    (lambda s: s["spec"][0].update(choices=["a"]), "takes no choices"),
    (lambda s: s["spec"][0].update(type="multiplechoice", min=None, max=None, choices="a\nb"), "non-empty list of choices"),
    (lambda s: s["spec"][0].update(type="multiplechoice", min=None, max=None, choices=[]), "non-empty list of choices"),
    (lambda s: s["spec"][0].update(type="multiselect", min=None, max=None, choices=["a", " "]), "non-empty string"),
    (lambda s: s["spec"][0].update(type="multiselect", min=None, max=None, choices=["a", "a"]), "choices repeat"),
    (lambda s: s["spec"][0].update(type="multiplechoice", min=None, max=None, choices=["a", "b"], default="a\nb"), "one default"),
    (lambda s: s["spec"][0].update(type="multiplechoice", min=None, max=None, choices=["a", "b"], default="c"), "'c' not among the choices"),
    (lambda s: s["spec"].append(_question()), "variable 'survey_streams' is used twice"),
]


@pytest.mark.parametrize("change,words", INVALID, ids=[item[1] for item in INVALID])
def test_each_rule_fails_with_its_message(change, words):
    spec = copy.deepcopy(_spec())
    change(spec)
    errors = survey_spec_errors(spec)
    assert any(words in e for e in errors), errors
    with pytest.raises(SurveySpecError) as info:
        validate_survey_spec(spec)
    assert info.value.errors == errors


@pytest.mark.parametrize("field", CANONICAL_FIELDS)
def test_every_canonical_field_is_required(field):
    spec = _spec()
    del spec["spec"][0][field]
    errors = survey_spec_errors(spec)
    assert any("lacks '%s'" % field in e for e in errors), errors


def test_not_a_mapping():
    assert survey_spec_errors(["x"]) == ["the survey spec is not a mapping"]
