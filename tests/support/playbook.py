"""The one ansible-playbook runner of the test suite.

Every test that runs a playbook goes through ``ansible_playbook``: the venv's
ansible-playbook, the repository as working directory, and with
``json_output`` the JSON callback's document read back as a ``Run`` (its
stats, changed tasks, per-task results and failure messages).
"""

import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def parse_json_callback(stdout):
    """The JSON callback's document; ansible.cfg's profile_tasks prints around it."""
    start = 0 if stdout.startswith("{") else stdout.index("\n{\n") + 1
    return json.JSONDecoder().raw_decode(stdout[start:])[0]


class Run:
    """One ansible-playbook run, read from the JSON callback."""

    def __init__(self, proc, seconds=None):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds
        try:
            self.doc = parse_json_callback(proc.stdout)
        except ValueError:
            raise AssertionError("not JSON (rc=%s):\n%s\n%s" % (self.rc, proc.stdout[-3000:], proc.stderr[-3000:]))

    def stats(self, host="localhost"):
        return self.doc["stats"][host]

    def changed(self, host="localhost"):
        return self.stats(host)["changed"]

    def changed_tasks(self):
        """(host, task name) of every result that reported a change."""
        out = []
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                for host, res in task["hosts"].items():
                    if res.get("changed"):
                        out.append((host, task["task"]["name"]))
        return out

    def results(self, task_name):
        """Per-host results of every task whose name contains task_name."""
        out = []
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                if task_name in task["task"]["name"]:
                    out.extend(task["hosts"].values())
        return out

    def messages(self):
        """Messages of the failed or unreachable results (loop items included)."""
        out = []
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                for res in task["hosts"].values():
                    if res.get("failed") or res.get("unreachable"):
                        out.append(res.get("msg", ""))
                        out.extend(item.get("msg", "") for item in res.get("results", []) if item.get("failed"))
        return out


def ansible_playbook(args, env=None, json_output=True, timeout=900, cwd=REPO):
    """Run ``ansible-playbook ARGS``; a ``Run`` with ``json_output``, else the CompletedProcess
    (plain output without colour, for tests that read PLAY RECAP or "changed:" lines)."""
    env = dict(os.environ if env is None else env)
    if json_output:
        env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    else:
        env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook")] + [str(a) for a in args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc, time.monotonic() - started) if json_output else proc
