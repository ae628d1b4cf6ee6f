"""Filter awx_survey_vars: the collection's own argument specs give the types,
errors are filter errors; every survey question of awx/controller.yml sets a
variable whose type a spec declares."""

import fnmatch
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.filter import awx_survey_vars as plugin
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import (
    ANSWER_TYPES,
    SurveyAnswerError,
    spec_types,
    survey_variables,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def _load(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _survey_map():
    return _load("playbooks", "awx_survey.yml")[0]["vars"]["__awx_survey_map"]


def _questions():
    templates = _load("awx", "controller.yml")["awx_configure_job_templates"]
    return [(key, q) for key, t in sorted(templates.items()) for q in t["survey"]["spec"]]


FILTER = plugin.FilterModule().filters()["awx_survey_vars"]


def test_the_collection_root_is_the_checkout():
    assert os.path.realpath(plugin.COLLECTION_ROOT) == os.path.realpath(ROOT)
    role_specs, input_specs = plugin.load_specs()
    assert "whisperlive" in role_specs and "main" in role_specs["whisperlive"]
    assert set(input_specs) == {"aws", "transcription_check", "awx_configure"}


def test_types_come_from_role_and_input_specs():
    answers = {"survey_max_clients": "8", "survey_client_cidrs": "10.0.0.0/8, 192.0.2.0/24",
               "survey_use_vad": "no", "survey_wait_for_hosts": "yes", "survey_check_timeout": 90,
               "survey_acme_email": ""}
    assert FILTER(answers, _survey_map()) == {
        "whisperlive_max_clients": 8,                                   # roles/whisperlive: int
        "security_groups_client_cidrs": ["10.0.0.0/8", "192.0.2.0/24"],  # roles/security_groups: list
        "browser_client_use_vad": False,                                # roles/browser_client: bool
        "aws_wait_for_hosts": True,                                     # input_specs aws: bool
        "transcription_check_timeout": 90.0,                            # input_specs transcription_check: float
    }


def test_errors_are_filter_errors_naming_each_variable():
    with pytest.raises(AnsibleFilterError) as info:
        FILTER({"survey_gpu_cnt": 2, "survey_max_clients": "four"}, _survey_map())
    message = str(info.value)
    assert message.startswith("awx_survey_vars: Unknown survey variable(s): survey_gpu_cnt (known: ")
    assert "survey_max_clients must be an integer, not 'four'." in message


def test_a_variable_no_spec_declares_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="survey_x sets edge_caddy_no_such_option, whose type no argument spec"):
        FILTER({}, {"survey_x": "edge_caddy_no_such_option"})


def test_answers_and_mapping_must_be_dictionaries():
    with pytest.raises(AnsibleFilterError, match="must be dictionaries"):
        FILTER([("survey_max_clients", "8")], _survey_map())


def test_the_specs_are_shipped_in_the_built_collection():
    ignored = _load("galaxy.yml").get("build_ignore") or []
    role_specs = [os.path.join("roles", r, "meta", "argument_specs.yml") for r in sorted(os.listdir(os.path.join(ROOT, "roles")))]
    for path in [plugin.INPUT_SPECS] + role_specs:
        parts = path.split(os.sep)
        # ansible-galaxy matches each pattern against the path and every folder above it.
        for above in [os.sep.join(parts[:n]) for n in range(1, len(parts) + 1)]:
            assert not any(fnmatch.fnmatch(above, i) or fnmatch.fnmatch(os.path.basename(above), i) for i in ignored), (
                path, above)


# An answer each AWX question type can send, as AWX sends it.
SAMPLES = {"integer": 4, "float": 0.5, "text": "x", "textarea": "a\nb"}


@pytest.mark.parametrize("template,question", _questions(), ids=["%s:%s" % (k, q["variable"]) for k, q in _questions()])
def test_every_survey_question_sets_a_variable_whose_type_the_specs_declare(template, question):
    variable = _survey_map().get(question["variable"])
    assert variable, "%s asks %s, which playbooks/awx_survey.yml does not map" % (template, question["variable"])
    vtype = spec_types([variable], *plugin.load_specs()).get(variable)
    assert vtype in ANSWER_TYPES, "%s sets %s, of type %r in the specs" % (question["variable"], variable, vtype)
    # Whatever the question lets the user answer converts to that type.
    answers = list(question["choices"]) if question["type"] in ("multiplechoice", "multiselect") \
        else [SAMPLES[question["type"]]]
    if question["default"] != "":
        answers.append(question["default"])
    for answer in answers:
        try:
            survey_variables({question["variable"]: answer}, {question["variable"]: variable}, {variable: vtype})
        except SurveyAnswerError as exc:
            pytest.fail("%s (%s sets %s, of type %s)" % (exc, template, variable, vtype))
