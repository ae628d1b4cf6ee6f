"""Concepts the AWS path needs in more than one kind of file, each defined once.

An inventory plugin runs before any group_vars, and the GPU sleep daemon runs
on the edge without Ansible: where a value must be read by those too, the
places that read it are named here and a change to one of them fails a test
instead of breaking discovery.
"""

import importlib
import os
import re
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV_LOOKUP = re.compile(r"^\{\{ lookup\('ansible.builtin.env', '(\w+)', default='([^']*)'\) \}\}$")


def load(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_project_tag_is_one_environment_variable_with_one_default():
    inventory = load("inventory", "aws", "aws_ec2.yml")
    group_vars = load("inventory", "aws", "group_vars", "all.yml")
    discovered = ENV_LOOKUP.match(inventory["filters"]["tag:Project"])
    defined = ENV_LOOKUP.match(group_vars["aws_project_tag"])
    assert discovered and defined, (inventory["filters"]["tag:Project"], group_vars["aws_project_tag"])
    assert discovered.groups() == defined.groups() == ("RASR_AWS_PROJECT", "realtime-asr")
    # The stack name follows the same pattern.
    assert ENV_LOOKUP.match(inventory["filters"]["tag:Stack"]).groups() == \
        ENV_LOOKUP.match(group_vars["aws_stack_name"]).groups()
    # Each role's own default (for use outside this project) is the same tag,
    # and in this project the inventory hands every role aws_project_tag.
    for role in ("ec2_stack", "security_groups", "gpu_sleep"):
        assert load("roles", role, "defaults", "main.yml")["%s_project_tag" % role] == defined.group(2), role
    for role in ("ec2_stack", "gpu_sleep"):
        assert group_vars["%s_project_tag" % role] == "{{ aws_project_tag }}", role
    assert group_vars["ec2_stack_name"] == group_vars["gpu_sleep_stack_name"] == "{{ aws_stack_name }}"


def test_every_play_that_passes_a_stack_name_passes_the_project_tag():
    playbooks = os.path.join(REPO, "playbooks")
    seen = 0
    for name in sorted(os.listdir(playbooks)):
        if not name.endswith(".yml"):
            continue
        with open(os.path.join(playbooks, name), encoding="utf-8") as handle:
            text = handle.read()
        # ec2_stack and gpu_sleep take both from group_vars (above); no play passes them.
        assert "ec2_stack_name:" not in text and "ec2_stack_project_tag:" not in text, name
        for role in ("security_groups",):
            stacks = text.count('%s_stack_name: "{{ aws_stack_name }}"' % role)
            tags = text.count('%s_project_tag: "{{ aws_project_tag }}"' % role)
            assert stacks == tags, (name, role, stacks, tags)
            seen += stacks
    assert seen >= 5


def test_every_aws_play_takes_the_one_set_of_module_defaults():
    group_vars = load("inventory", "aws", "group_vars", "all.yml")
    assert set(group_vars["aws_module_defaults"]) == {"region", "profile", "endpoint_url"}
    plays = 0
    for name in sorted(os.listdir(os.path.join(REPO, "playbooks"))):
        if not name.endswith(".yml"):
            continue
        for play in load("playbooks", name) or []:
            defaults = (play.get("module_defaults") if isinstance(play, dict) else None) or {}
            aws = {key: value for key, value in defaults.items() if "aws" in key}
            if not aws:
                continue
            assert aws == {"group/realtime_asr.whisperlive.aws": "{{ aws_module_defaults }}"}, (name, defaults)
            plays += 1
    assert plays >= 7


def test_live_instance_states_agree_with_the_inventory_plugins_default():
    """aws_ec2.yml names no states, so amazon.aws.aws_ec2 adds its default; the role and the
    GPU sleep daemon count the same states as an existing instance."""
    inventory = load("inventory", "aws", "aws_ec2.yml")
    assert "instance-state-name" not in inventory["filters"]
    from ansible_collections.amazon.aws.plugins.inventory.aws_ec2 import InventoryModule

    plugin = InventoryModule()
    plugin.all_clients = lambda service: []
    filters = []
    plugin._get_instances_by_region([], filters, False)  # pylint: disable=protected-access
    added = [f["Values"] for f in filters if f["Name"] == "instance-state-name"]
    assert len(added) == 1

    role_states = load("roles", "ec2_stack", "vars", "main.yml")["__ec2_stack_live_states"]
    sys.path.insert(0, os.path.join(REPO, "roles", "gpu_sleep", "files"))
    try:
        daemon = importlib.import_module("rasr_gpu_sleep")
    finally:
        sys.path.pop(0)
    assert sorted(added[0]) == sorted(role_states) == sorted(daemon.AwsWorkers.LIVE)
