"""The split of gpu_host renamed variables: an old name fails, naming its new one.

Role ec2_stack's `renamed` entry point holds the one map (vars/main.yml); every
ec2_stack entry point runs it first and playbook 005 runs it before its
validation (tests/integration/test_aws_moto.py runs 005 with an old name).
These tests run it through ansible-playbook and check the map against the
roles' argument specs.
"""

import os

import yaml

from support.playbook import REPO, ansible_playbook

PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: realtime_asr.whisperlive.ec2_stack
        tasks_from: renamed
"""


def load(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


RENAMED = load("roles", "ec2_stack", "vars", "main.yml")["__ec2_stack_renamed"]


def options(role):
    specs = load("roles", role, "meta", "argument_specs.yml")["argument_specs"]
    return {name for spec in specs.values() for name in (spec.get("options") or {})}


def run(tmp_path, *extra):
    play = tmp_path / "renamed.yml"
    play.write_text(PLAY)
    args = ["-i", "localhost,", str(play)]
    for item in extra:
        args += ["-e", item]
    return ansible_playbook(args, env=dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path)))


def test_the_map_points_from_no_longer_declared_names_to_declared_ones():
    declared = {name for role in ("gpu_host", "edge_host", "ec2_stack") for name in options(role)}
    assert len(RENAMED) == 17
    assert not set(RENAMED) & declared, "an old name is still declared"
    assert set(RENAMED.values()) <= declared, set(RENAMED.values()) - declared
    for old, new in RENAMED.items():
        role = "edge_host" if old.startswith("gpu_host_edge_") else "ec2_stack"
        assert new in options(role), (old, new)


def test_an_old_name_fails_naming_its_new_name(tmp_path):
    result = run(tmp_path, "gpu_host_edge_eip=198.51.100.7", "gpu_host_stack_name=mine")
    assert result.rc == 2, result.stdout[-2000:]
    text = " ".join(result.messages())
    assert "gpu_host_edge_eip was renamed edge_host_eip" in text, text
    assert "gpu_host_stack_name was renamed ec2_stack_name" in text, text


def test_no_old_name_passes(tmp_path):
    result = run(tmp_path, "ec2_stack_name=mine", "edge_host_eip=198.51.100.7", "gpu_host_count=2")
    assert result.rc == 0, (result.messages(), result.stderr[-2000:])
