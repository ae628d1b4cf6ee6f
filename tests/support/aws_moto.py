"""moto_server and ansible-playbook runs for the AWS tests (API-only and twin).

moto_server runs on 127.0.0.1:<free port> with the AMIs of
tests/integration/aws/amis.json; playbooks run with the JSON callback and
dummy credentials, through support.playbook (results read back as Run objects).
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from support.playbook import ansible_playbook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
AMIS = os.path.join(REPO, "tests", "integration", "aws", "amis.json")
REGION = "us-east-1"
LIVE = ["pending", "running", "stopping", "stopped"]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server(log_path):
    """A moto_server on 127.0.0.1 that knows the AMIs of amis.json; yields its URL."""
    port = free_port()
    with open(log_path, "w") as log:
        env = dict(os.environ, MOTO_AMIS_PATH=AMIS)
        proc = subprocess.Popen([os.path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        url = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError("moto_server did not start; see %s" % log_path)
                time.sleep(0.2)
        try:
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def aws_env(moto_url, home, stack_name):
    """The environment of a playbook run against moto: no ~/.aws, JSON output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update({
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "RASR_AWS_STACK": stack_name,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    return env


def run_playbook(path, env, extra_files=(), extra=None, args=(), expect_rc=0, timeout=900):
    """ansible-playbook -i inventory/aws PATH with -e @file for each file and -e JSON."""
    argv = ["-i", "inventory/aws", path]
    for name in extra_files:
        argv += ["-e", "@%s" % name]
    if extra:
        argv += ["-e", json.dumps(extra)]
    run = ansible_playbook(argv + list(args), env=env, timeout=timeout)
    if expect_rc is not None:
        assert run.rc == expect_rc, "%s rc=%s: %s\n%s" % (path, run.rc, run.messages(), run.stderr[-3000:])
    return run
