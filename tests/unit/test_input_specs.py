"""Playbook-level inputs (playbooks/vars/input_specs.yml): declared once, read
somewhere, and a misspelt one fails naming itself before anything runs."""

import os
import re

import pytest
import yaml

from support.playbook import ansible_playbook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECS = os.path.join(REPO, "playbooks", "vars", "input_specs.yml")
# Read by the plays and inventories; roles never read playbook inputs.
SOURCES = ("playbooks", os.path.join("inventory", "aws"), "awx")


def specs():
    with open(SPECS, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["input_specs"]


def host_facts():
    """aws_* names that are not inputs: what the aws_ec2 inventory composes for each
    instance (and gpu_host and edge_host set for new ones), and module names."""
    with open(os.path.join(REPO, "inventory", "aws", "aws_ec2.yml"), encoding="utf-8") as handle:
        composed = set(yaml.safe_load(handle)["compose"])
    return composed | {"aws_ec2", "aws_caller_info"}


def referenced(prefix):
    names = set()
    pattern = re.compile(r"\b(%s_[a-z0-9_]+)" % prefix)
    for source in SOURCES:
        for folder, _dirs, files in os.walk(os.path.join(REPO, source)):
            for name in files:
                if not name.endswith((".yml", ".yaml")) or name == "input_specs.yml":
                    continue
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    names.update(pattern.findall(handle.read()))
    return {n for n in names if not n.startswith(prefix + "__")} - host_facts()


@pytest.mark.parametrize("prefix", sorted(specs()))
def test_every_input_read_is_declared_and_every_declared_one_is_read(prefix):
    declared = set(specs()[prefix]["options"])
    read = referenced(prefix)
    assert read - declared == set(), "read but not declared in input_specs.yml"
    assert declared - read == set(), "declared but read nowhere"
    for name, option in specs()[prefix]["options"].items():
        assert option.get("type") and option.get("description"), name


@pytest.mark.parametrize("extra, named", [
    ("transcription_check_max_werr=0.2", "transcription_check_max_werr"),
    ("transcription_check_pace=fast", "transcription_check_pace"),
])
def test_playbook_315_refuses_a_misspelt_or_mistyped_input_before_streaming(tmp_path, extra, named):
    proc = ansible_playbook(["-i", "localhost,", "-c", "local", "playbooks/315_test_transcription.yml", "-e", extra],
                            env=dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path)), json_output=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    errors = re.search(r'"argument_errors": \[([^\]]*)\]', out)
    assert errors and named in errors.group(1), out[-3000:]
    # It failed at the play's first task: nothing was generated or streamed.
    assert "Make the test sentence" not in out and "Stream through the edge" not in out, out[-3000:]
