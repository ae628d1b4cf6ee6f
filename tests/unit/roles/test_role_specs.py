"""Roles whisperlive and nvidia_driver: argument_specs and defaults agree."""

import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles")


def load(role, *path):
    with open(os.path.join(ROLES, role, *path)) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("role", ["whisperlive", "nvidia_driver"])
def test_every_default_is_declared_with_the_same_value(role):
    defaults = load(role, "defaults", "main.yml")
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options)
    for name, spec in options.items():
        assert spec.get("description"), name
        assert spec["type"], name
        assert name.startswith(role + "_"), name
        assert spec.get("default") == defaults[name], name


def test_model_suboptions_documented():
    options = load("whisperlive", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    models = options["whisperlive_models"]
    assert models["elements"] == "dict"
    for name, spec in models["options"].items():
        assert spec.get("description"), name
    assert models["options"]["source"]["choices"] == ["pypi", "path", "archive", "hub"]
