"""Helpers for the stack tests: what the scenario deployed and how to poke at it."""

import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from support.playbook import ansible_playbook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WHISPERLIVE_UNIT = "whisperlive"
CADDY_UNIT = "caddy"

# What molecule/default/verify.yml hands to the tests: every one is needed.
REQUIRED = ("RASR_STACK_INVENTORY", "RASR_GPU_HOST", "RASR_EDGE_HOST", "RASR_EDGE_URL", "RASR_WS_URL",
            "RASR_HEALTHZ_URL", "RASR_UPSTREAM_HEALTH_URL", "RASR_CA_PATH", "RASR_WEB_ROOT",
            "RASR_EDGE_HTTP_PORT", "RASR_WHISPERLIVE_URL", "RASR_MAX_CLIENTS")


class Stack(object):
    """What the scenario deployed, and how to poke at it."""

    def __init__(self, env):
        missing = [name for name in REQUIRED if not env.get(name)]
        if missing:
            raise ValueError("the stack tests need %s (molecule/default/verify.yml sets them)" % ", ".join(missing))
        self.inventory = env["RASR_STACK_INVENTORY"]
        self.gpu = env["RASR_GPU_HOST"]
        self.edge = env["RASR_EDGE_HOST"]
        self.edge_url = env["RASR_EDGE_URL"]
        self.ws_url = env["RASR_WS_URL"]
        self.healthz_url = env["RASR_HEALTHZ_URL"]
        self.upstream_health_url = env["RASR_UPSTREAM_HEALTH_URL"]
        self.ca_path = env["RASR_CA_PATH"]
        self.web_root = env["RASR_WEB_ROOT"]
        self.http_port = int(env["RASR_EDGE_HTTP_PORT"])
        self.whisperlive_url = env["RASR_WHISPERLIVE_URL"]
        self.max_clients = int(env["RASR_MAX_CLIENTS"])

    def host_exec(self, host, *argv, check=True, timeout=60):
        """Run a command inside a local host (a container)."""
        result = subprocess.run(["docker", "exec", host] + list(argv), capture_output=True,
                                text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError("%s on %s failed (rc %s): %s %s" % (
                " ".join(argv), host, result.returncode, result.stdout, result.stderr))
        return result

    def unit_property(self, host, unit, prop):
        return self.host_exec(host, "systemctl", "show", unit, "-p", prop, "--value").stdout.strip()

    def process_figures(self, host, unit):
        """RSS (kB) and thread count of a unit's main process."""
        pid = self.unit_property(host, unit, "MainPID")
        status = self.host_exec(host, "cat", "/proc/%s/status" % pid).stdout
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["Threads"].strip())

    def ansible_playbook(self, *args, timeout=600, json_output=False):
        """Plain output (the tests read PLAY RECAP and "changed:" lines), or with
        ``json_output`` the JSON callback's, read back as a support.playbook.Run."""
        return ansible_playbook(["-i", self.inventory] + list(args), json_output=json_output, timeout=timeout)


def wait_until(predicate, timeout, interval=0.25):
    """Poll ``predicate`` until it returns a truthy value; return it, or None at timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def https_get(url, ca_path=None, timeout=15):
    """(status, body) of a GET over https; trusts ``ca_path``, or the system's CAs without one."""
    context = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
