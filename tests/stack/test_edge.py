"""The deployed edge (roles edge_caddy and browser_client, through playbooks
305 and 320 of site.yml), used from outside: TLS, redirects, the page, the
unit's hardening, validation before a config goes live, graceful reloads,
the apt method in check mode, and `--tags clients`.

Streams through the edge, its health following WhisperLive, and a reload
during a live stream are in test_stack.py.
"""

import json
import os
import re
import time
import urllib.error
import urllib.request

import pytest

from stack_helpers import CADDY_UNIT, https_get


def test_tls_needs_the_fetched_ca(stack):
    assert os.path.isfile(stack.ca_path)
    status, body = https_get(stack.edge_url + "healthz", stack.ca_path)
    assert (status, body) == (200, "ok")
    with pytest.raises(urllib.error.URLError) as info:
        https_get(stack.edge_url + "healthz", None)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


def test_plain_http_redirects(stack):
    request = urllib.request.Request("http://127.0.0.1:%s/x?y=1" % stack.http_port)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    assert info.value.code == 308
    assert info.value.headers["Location"] == stack.edge_url + "x?y=1"


def test_page_and_config_are_served(stack):
    status, page = https_get(stack.edge_url, stack.ca_path)
    assert status == 200 and "pcm-worklet" not in page and 'id="start"' in page
    status, body = https_get(stack.edge_url + "config.json", stack.ca_path)
    config = json.loads(body)
    assert status == 200 and config["models"] == ["tiny.en"] and config["socket_path"] == "/ws"


def test_service_is_hardened_and_admin_is_a_unix_socket(stack):
    user = stack.unit_property(stack.edge, CADDY_UNIT, "User")
    assert user == "caddy"
    report = stack.host_exec(stack.edge, "systemd-analyze", "security", "caddy", "--no-pager", check=False).stdout
    exposure = float(re.search(r"Overall exposure level for caddy\.service: ([0-9.]+)", report).group(1))
    print("FIGURE systemd-analyze security caddy: exposure %.1f" % exposure)
    assert exposure <= 2.0
    listening = stack.host_exec(stack.edge, "ss", "-Hltnp").stdout
    assert ":2019" not in listening        # no TCP admin API
    stack.host_exec(stack.edge, "test", "-S", "/run/caddy/admin.sock")
    # Caddy's own validate, timed, on the live file.
    started = time.monotonic()
    stack.host_exec(stack.edge, "env", "EDGE_CADDY_STORAGE=/var/lib/caddy-validate/data",
                    "EDGE_CADDY_LOG_DIR=/var/lib/caddy-validate/log", "/usr/local/bin/caddy", "validate",
                    "--adapter", "caddyfile", "--config", "/etc/caddy/Caddyfile")
    print("FIGURE caddy validate of the live Caddyfile: %.2f s" % (time.monotonic() - started))


def test_invalid_config_never_goes_live(stack):
    before = stack.host_exec(stack.edge, "sha256sum", "/etc/caddy/Caddyfile").stdout
    pid = stack.unit_property(stack.edge, CADDY_UNIT, "MainPID")
    # Passes the role's input checks but not `caddy validate`.
    run = stack.ansible_playbook("playbooks/305_edge_proxy.yml", "-e", "edge_caddy_health_interval=banana")
    assert run.returncode != 0
    # The template's validate step (caddy validate) refused it, naming the value.
    assert "failed to validate" in run.stdout, run.stdout[-3000:]
    assert "banana" in run.stdout, run.stdout[-3000:]
    assert stack.host_exec(stack.edge, "sha256sum", "/etc/caddy/Caddyfile").stdout == before
    assert stack.unit_property(stack.edge, CADDY_UNIT, "MainPID") == pid
    assert https_get(stack.edge_url + "healthz", stack.ca_path)[0] == 200


def test_config_change_reloads_without_restart(stack):
    pid = stack.unit_property(stack.edge, CADDY_UNIT, "MainPID")
    try:
        run = stack.ansible_playbook("playbooks/305_edge_proxy.yml", "-e", "edge_caddy_lb_try_duration=4s")
        assert run.returncode == 0, run.stdout[-3000:]
        assert "RUNNING HANDLER [realtime_asr.whisperlive.edge_caddy : Reload caddy (systemd)]" in run.stdout
        assert "Restart caddy" not in run.stdout
        assert "lb_try_duration 4s" in stack.host_exec(stack.edge, "cat", "/etc/caddy/Caddyfile").stdout
    finally:
        assert stack.ansible_playbook("playbooks/305_edge_proxy.yml").returncode == 0
    assert stack.unit_property(stack.edge, CADDY_UNIT, "MainPID") == pid
    assert https_get(stack.edge_url + "healthz", stack.ca_path)[0] == 200


def test_apt_method_in_check_mode(stack):
    """Caddy's apt repository is out of reach here: check mode shows what the
    apt method would do on this host, and changes nothing."""
    files = ("/etc/caddy/Caddyfile", "/etc/systemd/system/caddy.service")
    before = stack.host_exec(stack.edge, "sha256sum", *files).stdout
    run = stack.ansible_playbook(
        "playbooks/305_edge_proxy.yml", "--check", "--diff", "-e", "edge_caddy_install_method=apt",
        # get_url sends a HEAD in check mode: a local key file stands in for the repository's.
        "-e", "edge_caddy_apt_key_url=file:///usr/share/keyrings/debian-archive-keyring.gpg")
    assert run.returncode == 0, run.stdout[-3000:]
    assert re.search(r"changed: \[%s\]" % re.escape(stack.edge), run.stdout)
    assert "Add Caddy's apt repository" in run.stdout
    assert "ExecStart=/usr/bin/caddy run" in run.stdout       # the unit's diff
    assert stack.host_exec(stack.edge, "sha256sum", *files).stdout == before
    repo_list = "/etc/apt/sources.list.d/caddy-stable.list"
    assert stack.host_exec(stack.edge, "test", "!", "-e", repo_list, check=False).returncode == 0
