"""Every role: meta/argument_specs.yml and defaults/main.yml agree.

- every variable of defaults/main.yml is declared in the `main` entry point,
  with the same default (a Jinja expression is only shown, not compared);
- every option that has a default (in any entry point) is in
  defaults/main.yml, since a spec's default is documentation only: Ansible
  takes the value from defaults/main.yml;
- no required option has a value in defaults/main.yml (a placeholder there
  satisfies `required` and hides the missing input);
- every option, nested ones too, has a type and a description, and every
  input carries its role's prefix.
"""

import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles")
ALL_ROLES = sorted(name for name in os.listdir(ROLES) if os.path.isfile(os.path.join(ROLES, name, "meta", "argument_specs.yml")))


def load(role, *path):
    with open(os.path.join(ROLES, role, *path)) as handle:
        return yaml.safe_load(handle)


def specs(role):
    return load(role, "meta", "argument_specs.yml")["argument_specs"]


def defaults(role):
    path = os.path.join(ROLES, role, "defaults", "main.yml")
    return (load(role, "defaults", "main.yml") or {}) if os.path.exists(path) else {}


def walk(options, path=()):
    """(dotted name, spec) of every option and sub-option."""
    for name, spec in (options or {}).items():
        yield ".".join(path + (name,)), spec
        yield from walk(spec.get("options"), path + (name,))


def is_jinja(value):
    return isinstance(value, str) and "{{" in value


def test_every_role_is_covered():
    assert len(ALL_ROLES) >= 9, ALL_ROLES
    for name in os.listdir(ROLES):
        assert name in ALL_ROLES, f"role {name} has no meta/argument_specs.yml"


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_default_is_declared_with_the_same_value(role):
    options = specs(role)["main"].get("options") or {}
    wrong = []
    for name, value in defaults(role).items():
        if name not in options:
            wrong.append(f"{name}: in defaults/main.yml, not in the main entry point's options")
        elif options[name].get("required"):
            wrong.append(f"{name}: required, yet defaults/main.yml gives it a value, which satisfies `required`")
        elif not is_jinja(value) and options[name].get("default") != value:
            wrong.append(f"{name}: spec default {options[name].get('default')!r} != defaults/main.yml {value!r}")
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_spec_default_is_in_defaults(role):
    role_defaults = defaults(role)
    missing = sorted(
        f"{name} (entry point {entry})"
        for entry, spec in specs(role).items()
        for name, option in (spec.get("options") or {}).items()
        if "default" in option and name not in role_defaults
    )
    assert not missing, f"role {role}: spec defaults that defaults/main.yml lacks: {missing}"


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_option_is_typed_described_and_prefixed(role):
    for entry, spec in specs(role).items():
        assert spec.get("short_description"), (role, entry)
        for name, option in (spec.get("options") or {}).items():
            assert name.startswith(role + "_"), (role, entry, name)
        for name, option in walk(spec.get("options")):
            assert option.get("description"), (role, entry, name)
            assert option.get("type"), (role, entry, name)


def test_model_suboptions_documented():
    options = specs("whisperlive")["main"]["options"]
    models = options["whisperlive_models"]
    assert models["elements"] == "dict"
    for name, spec in models["options"].items():
        assert spec.get("description"), name
    assert models["options"]["source"]["choices"] == ["pypi", "path", "archive", "hub"]


@pytest.mark.parametrize("entry, missing", [
    ({"name": "a", "source": "pypi", "package": "x==1"}, "package_path"),
    ({"name": "a", "source": "path"}, "path"),
    ({"name": "a", "source": "archive"}, "path"),
    ({"name": "a", "source": "hub"}, "repo"),
])
def test_each_model_source_needs_its_keys_named_by_the_spec(entry, missing):
    """The per-source keys are the spec's required_if, which Ansible's own validator applies
    (the role's argument validation and playbook 005's preflight both use it)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    def errors(model):
        spec = {"whisperlive_models": specs("whisperlive")["main"]["options"]["whisperlive_models"]}
        return [str(e) for e in ArgumentSpecValidator(spec).validate({"whisperlive_models": [dict(model)]}).errors]

    found = errors(entry)
    assert len(found) == 1 and missing in found[0] and "whisperlive_models" in found[0], found
    assert errors(dict(entry, **{missing: "x"})) == []
