"""Run one task of one of this collection's modules through ansible-playbook.

The module tests call their module the way a playbook does (argument spec,
check mode, --diff, the JSON result), on localhost with the Python that runs
Ansible, and read back that task's result.
"""

import json
import os
import textwrap

from support.playbook import ansible_playbook

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_task(workdir, module, args, flags=()):
    """Run ``module`` with ``args`` once in ``workdir``; return (rc, the task's result)."""
    config = os.path.join(str(workdir), "ansible.cfg")
    with open(config, "w") as handle:
        handle.write("[defaults]\ncollections_path = %s\n"
                     % os.path.join(REPO_ROOT, "collections"))
    playbook = os.path.join(str(workdir), "play.yml")
    with open(playbook, "w") as handle:
        handle.write(textwrap.dedent("""\
            ---
            - name: Module test
              hosts: localhost
              connection: local
              gather_facts: false
              vars:
                ansible_python_interpreter: "{{ ansible_playbook_python }}"
              tasks:
                - name: The module
                  realtime_asr.whisperlive.%s: %s
            """) % (module, json.dumps(args)))
    run = ansible_playbook(["-i", "localhost,", playbook] + list(flags), env=dict(os.environ, ANSIBLE_CONFIG=config),
                           timeout=120)
    return run.rc, run.doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
