"""Survey answers to variables: each type, blanks, bad values, unknown names,
and where the types come from."""

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import (
    ANSWER_TYPES,
    SurveyAnswerError,
    spec_types,
    survey_variables,
)

MAPPING = {
    "survey_count": "role_count",
    "survey_ratio": "role_ratio",
    "survey_name": "role_name",
    "survey_dir": "role_dir",
    "survey_flag": "role_flag",
    "survey_cidrs": "role_cidrs",
}
TYPES = {"role_count": "int", "role_ratio": "float", "role_name": "str", "role_dir": "path",
         "role_flag": "bool", "role_cidrs": "list"}


def _convert(name, answer):
    return survey_variables({name: answer}, MAPPING, TYPES)[MAPPING[name]]


def _errors(answers, mapping=None, types=None):
    with pytest.raises(SurveyAnswerError) as info:
        survey_variables(answers, MAPPING if mapping is None else mapping, TYPES if types is None else types)
    assert str(info.value) == " ".join(info.value.errors)
    return info.value.errors


GOOD = [
    ("survey_count", 3, 3),                 # AWX sends integers as numbers
    ("survey_count", "6", 6),               # the CLI sends strings
    ("survey_count", " -2\n", -2),
    ("survey_count", "007", 7),
    ("survey_ratio", 0.25, 0.25),
    ("survey_ratio", 90, 90.0),
    ("survey_ratio", "0.25", 0.25),
    ("survey_ratio", " 3. ", 3.0),
    ("survey_ratio", ".5", 0.5),
    ("survey_ratio", "-1", -1.0),
    ("survey_name", "  asr.example.org ", "asr.example.org"),
    ("survey_name", 42, "42"),
    ("survey_dir", " /tmp/x ", "/tmp/x"),
    ("survey_flag", True, True),
    ("survey_flag", False, False),
    ("survey_flag", "yes", True),
    ("survey_flag", " No ", False),
    ("survey_flag", "TRUE", True),
    ("survey_flag", "false\n", False),
    ("survey_cidrs", "10.0.0.0/8, 192.0.2.0/24\n198.51.100.0/24\n", ["10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"]),
    ("survey_cidrs", "10.0.0.0/8 192.0.2.0/24,,", ["10.0.0.0/8", "192.0.2.0/24"]),
    ("survey_cidrs", ["203.0.113.7/32"], ["203.0.113.7/32"]),     # a list stays a list
    ("survey_cidrs", ("a", "b"), ["a", "b"]),
    ("survey_cidrs", " , \n", []),          # not blank: an explicit empty list
]


@pytest.mark.parametrize("name,answer,value", GOOD, ids=["%s=%r" % (g[0], g[1]) for g in GOOD])
def test_each_type_converts(name, answer, value):
    converted = _convert(name, answer)
    assert converted == value and type(converted) is type(value)


def test_every_answer_type_is_covered():
    assert {TYPES[MAPPING[g[0]]] for g in GOOD} == set(ANSWER_TYPES)


@pytest.mark.parametrize("blank", ["", None, []])
def test_blank_answers_are_left_out(blank):
    answers = {name: blank for name in MAPPING}
    assert survey_variables(answers, MAPPING, TYPES) == {}
    answers["survey_count"] = "4"
    assert survey_variables(answers, MAPPING, TYPES) == {"role_count": 4}


def test_no_answers_set_nothing():
    assert survey_variables({}, MAPPING, TYPES) == {}


def test_several_answers():
    answers = {"survey_count": "2", "survey_flag": "no", "survey_cidrs": "a,b", "survey_name": ""}
    assert survey_variables(answers, MAPPING, TYPES) == {"role_count": 2, "role_flag": False, "role_cidrs": ["a", "b"]}


BAD = [
    ("survey_count", "four", "survey_count must be an integer, not 'four'."),
    ("survey_count", "4.0", "survey_count must be an integer, not '4.0'."),
    ("survey_count", 4.0, "survey_count must be an integer, not '4.0'."),
    ("survey_count", True, "survey_count must be an integer, not 'True'."),
    ("survey_count", " ", "survey_count must be an integer, not ' '."),
    ("survey_ratio", "0,3", "survey_ratio must be a number, not '0,3'."),
    ("survey_ratio", "1e3", "survey_ratio must be a number, not '1e3'."),
    ("survey_ratio", False, "survey_ratio must be a number, not 'False'."),
    ("survey_flag", "maybe", "survey_flag must be yes or no, not 'maybe'."),
    ("survey_flag", 1, "survey_flag must be yes or no, not '1'."),
    ("survey_flag", "on", "survey_flag must be yes or no, not 'on'."),
    ("survey_name", ["a"], "survey_name must be a string, not '['a']'."),
    ("survey_dir", {"a": 1}, "survey_dir must be a string, not '{'a': 1}'."),
    ("survey_cidrs", {"a": 1}, "survey_cidrs must be a list, not '{'a': 1}'."),
]


@pytest.mark.parametrize("name,answer,message", BAD, ids=[b[2] for b in BAD])
def test_bad_values_fail_naming_the_survey_variable(name, answer, message):
    assert _errors({name: answer}) == [message]


def test_unknown_survey_names_fail_naming_them_and_the_known_ones():
    errors = _errors({"survey_zz": 1, "survey_cnt": 2, "survey_count": 3})
    assert errors == ["Unknown survey variable(s): survey_cnt, survey_zz (known: %s)." % ", ".join(sorted(MAPPING))]


def test_every_problem_is_reported_at_once():
    errors = _errors({"survey_cnt": 2, "survey_count": "four", "survey_flag": "maybe", "survey_ratio": "0.5"})
    assert errors == [
        "Unknown survey variable(s): survey_cnt (known: %s)." % ", ".join(sorted(MAPPING)),
        "survey_count must be an integer, not 'four'.",
        "survey_flag must be yes or no, not 'maybe'.",
    ]


def test_a_mapped_variable_without_a_type_fails_naming_it():
    types = dict(TYPES)
    del types["role_ratio"]
    # Even when its question was not answered: the mapping itself is wrong.
    errors = _errors({"survey_count": "2"}, types=types)
    assert len(errors) == 1
    assert errors[0].startswith("survey_ratio sets role_ratio, whose type no argument spec declares (")
    assert "argument_specs.yml" in errors[0] and "input_specs.yml" in errors[0]


def test_a_mapped_variable_of_a_type_no_answer_gives_fails_naming_it():
    errors = _errors({"survey_count": "2"}, types=dict(TYPES, role_ratio="dict"))
    assert errors == ["survey_ratio sets role_ratio of type dict, which a survey answer cannot give "
                      "(bool, float, int, list, path, str)."]


# Specs shaped as the files are: {role: argument_specs}, input_specs.
ROLE_SPECS = {
    "gpu": {"main": {"options": {"gpu_count": {"type": "int"}, "gpu_name": {"description": "no type: str"}}},
            "other": {"options": {"gpu_other": {"type": "bool"}}}},
    "gpu_host": {"main": {"options": {"gpu_host_count": {"type": "int"}, "gpu_host_cidrs": {"type": "list"}}}},
    "nospec": {},
}
INPUT_SPECS = {
    "aws": {"options": {"aws_wait": {"type": "bool"}, "aws_count": {"type": "int"}}},
    "transcription_check": {"options": {"transcription_check_timeout": {"type": "float"}}},
    "transcription": {"options": {"transcription_x": {"type": "str"}}},
}


def test_spec_types_take_each_variable_from_its_owner():
    names = ["gpu_count", "gpu_name", "gpu_host_count", "gpu_host_cidrs", "aws_wait",
             "transcription_check_timeout", "transcription_x"]
    assert spec_types(names, ROLE_SPECS, INPUT_SPECS) == {
        "gpu_count": "int",
        "gpu_name": "str",                  # an option without type is a str, as in Ansible
        "gpu_host_count": "int",            # the longest role prefix: gpu_host, not gpu
        "gpu_host_cidrs": "list",
        "aws_wait": "bool",
        "transcription_check_timeout": "float",
        "transcription_x": "str",
    }


def test_spec_types_leave_out_what_no_spec_declares():
    names = ["gpu_other",           # another entry point of the role, not main
             "gpu_host_count_x",    # a role prefix, not declared
             "gpu_host",            # the role's name without a variable
             "nospec_x", "aws_nope", "unowned_var", "transcription_check_url"]
    assert spec_types(names, ROLE_SPECS, INPUT_SPECS) == {}
    assert spec_types(["aws_wait"], {}, {}) == {}
