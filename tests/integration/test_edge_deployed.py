"""The edge as Molecule's scenario `edge` deployed it (roles edge_caddy and
browser_client on a local systemd host), used from outside.

Runs only from that scenario's verify step, which sets RASR_EDGE_* (elsewhere
every test here is skipped). A real WhisperLive is started on the control
node at the address the edge proxies to (one network namespace).
"""

import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from support import speech
from support import whisperlive as wl
from support.edge import REPO_ROOT, stream_sentence

ENV = ("RASR_EDGE_INVENTORY", "RASR_EDGE_HOST", "RASR_EDGE_URL", "RASR_EDGE_WS_URL",
       "RASR_EDGE_UPSTREAM_HEALTH_URL", "RASR_EDGE_CA_PATH", "RASR_EDGE_HTTP_PORT", "RASR_WHISPERLIVE_PORT")

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(not all(os.environ.get(name) for name in ENV),
                                 reason="run by molecule/edge's verify step")]


@pytest.fixture(scope="module")
def edge():
    return {name: os.environ.get(name, "") for name in ENV}


def https_status(url, ca_path, timeout=15):
    ctx = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_status(url, ca_path, status, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = https_status(url, ca_path)[0]
        if last == status:
            return last
        time.sleep(0.5)
    return last


def host(edge, *argv, check=True):
    result = subprocess.run(["docker", "exec", edge["RASR_EDGE_HOST"]] + list(argv),
                            capture_output=True, text=True, timeout=60, check=False)
    if check:
        assert result.returncode == 0, (argv, result.stdout, result.stderr)
    return result


def playbook(edge, *args):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
               edge["RASR_EDGE_INVENTORY"]] + list(args)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=env, check=False)


@pytest.fixture(scope="module")
def whisperlive(tmp_path_factory):
    log = str(tmp_path_factory.mktemp("wl") / "whisperlive.log")
    with wl.heavy_lock():
        server = wl.WhisperLiveServer(wl.ensure_venv(), log, max_clients=2,
                                      port=int(os.environ["RASR_WHISPERLIVE_PORT"]))
        yield server
        server.stop()


def test_tls_needs_the_fetched_ca(edge):
    assert os.path.isfile(edge["RASR_EDGE_CA_PATH"])
    status, body = https_status(edge["RASR_EDGE_URL"] + "healthz", edge["RASR_EDGE_CA_PATH"])
    assert (status, body) == (200, "ok")
    with pytest.raises(urllib.error.URLError) as info:
        https_status(edge["RASR_EDGE_URL"] + "healthz", None)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


def test_plain_http_redirects(edge):
    request = urllib.request.Request("http://127.0.0.1:%s/x?y=1" % edge["RASR_EDGE_HTTP_PORT"])

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    assert info.value.code == 308
    assert info.value.headers["Location"] == edge["RASR_EDGE_URL"] + "x?y=1"


def test_page_and_config_are_served(edge):
    status, page = https_status(edge["RASR_EDGE_URL"], edge["RASR_EDGE_CA_PATH"])
    assert status == 200 and "pcm-worklet" not in page and 'id="start"' in page
    status, body = https_status(edge["RASR_EDGE_URL"] + "config.json", edge["RASR_EDGE_CA_PATH"])
    config = json.loads(body)
    assert status == 200 and config["models"] == ["tiny.en"] and config["socket_path"] == "/ws"


def test_service_is_hardened_and_admin_is_a_unix_socket(edge):
    user = host(edge, "systemctl", "show", "caddy", "-p", "User", "--value").stdout.strip()
    assert user == "caddy"
    report = host(edge, "systemd-analyze", "security", "caddy", "--no-pager", check=False).stdout
    exposure = float(re.search(r"Overall exposure level for caddy\.service: ([0-9.]+)", report).group(1))
    print("FIGURE systemd-analyze security caddy: exposure %.1f" % exposure)
    assert exposure <= 2.5
    listening = host(edge, "ss", "-Hltnp").stdout
    assert ":2019" not in listening        # no TCP admin API
    host(edge, "test", "-S", "/run/caddy/admin.sock")
    # Caddy's own validate, timed, on the live file.
    started = time.monotonic()
    host(edge, "env", "EDGE_CADDY_STORAGE=/var/lib/caddy-validate/data", "EDGE_CADDY_LOG_DIR=/var/lib/caddy-validate/log",
         "/usr/local/bin/caddy", "validate", "--adapter", "caddyfile", "--config", "/etc/caddy/Caddyfile")
    print("FIGURE caddy validate of the live Caddyfile: %.2f s" % (time.monotonic() - started))


def test_invalid_config_never_goes_live(edge):
    before = host(edge, "sha256sum", "/etc/caddy/Caddyfile").stdout
    pid = host(edge, "systemctl", "show", "caddy", "-p", "MainPID", "--value").stdout.strip()
    # Passes the role's input checks but not `caddy validate`.
    run = playbook(edge, "playbooks/305_edge_proxy.yml", "-e", "edge_caddy_health_interval=banana")
    assert run.returncode != 0
    assert "failed to validate" in run.stdout or "validate" in run.stdout.lower()
    assert host(edge, "sha256sum", "/etc/caddy/Caddyfile").stdout == before
    assert host(edge, "systemctl", "show", "caddy", "-p", "MainPID", "--value").stdout.strip() == pid
    assert https_status(edge["RASR_EDGE_URL"] + "healthz", edge["RASR_EDGE_CA_PATH"])[0] == 200


def test_config_change_reloads_without_restart(edge):
    pid = host(edge, "systemctl", "show", "caddy", "-p", "MainPID", "--value").stdout.strip()
    try:
        run = playbook(edge, "playbooks/305_edge_proxy.yml", "-e", "edge_caddy_lb_try_duration=4s")
        assert run.returncode == 0, run.stdout[-3000:]
        assert "RUNNING HANDLER [realtime_asr.whisperlive.edge_caddy : Reload caddy (systemd)]" in run.stdout
        assert "Restart caddy" not in run.stdout
        assert "lb_try_duration 4s" in host(edge, "cat", "/etc/caddy/Caddyfile").stdout
    finally:
        assert playbook(edge, "playbooks/305_edge_proxy.yml").returncode == 0
    assert host(edge, "systemctl", "show", "caddy", "-p", "MainPID", "--value").stdout.strip() == pid
    assert https_status(edge["RASR_EDGE_URL"] + "healthz", edge["RASR_EDGE_CA_PATH"])[0] == 200


def test_apt_method_in_check_mode(edge):
    """Caddy's apt repository is out of reach here: check mode shows what the
    apt method would do on this host, and changes nothing."""
    before = host(edge, "sha256sum", "/etc/caddy/Caddyfile", "/etc/systemd/system/caddy.service").stdout
    run = playbook(edge, "playbooks/305_edge_proxy.yml", "--check", "--diff",
                   "-e", "edge_caddy_install_method=apt",
                   # get_url sends a HEAD in check mode: a local key file stands in for the repository's.
                   "-e", "edge_caddy_apt_key_url=file:///usr/share/keyrings/debian-archive-keyring.gpg")
    assert run.returncode == 0, run.stdout[-3000:]
    assert re.search(r"changed: \[rasr-molecule-edge\].*\n?", run.stdout)
    assert "Add Caddy's apt repository" in run.stdout
    assert "ExecStart=/usr/bin/caddy run" in run.stdout       # the unit's diff
    assert host(edge, "sha256sum", "/etc/caddy/Caddyfile", "/etc/systemd/system/caddy.service").stdout == before
    assert host(edge, "test", "!", "-e", "/etc/apt/sources.list.d/caddy-stable.list", check=False).returncode == 0


def test_clients_tag_touches_only_the_web_root(edge):
    pid = host(edge, "systemctl", "show", "caddy", "-p", "MainPID", "--value").stdout.strip()
    started = time.monotonic()
    run = playbook(edge, "playbooks/320_browser_clients.yml", "--tags", "clients")
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:]
    print("FIGURE playbook 320 --tags clients on the converged edge: %.1f s" % seconds)
    assert re.search(r"rasr-molecule-edge\s*:.*changed=0\b", run.stdout), run.stdout[-2000:]
    assert "RUNNING HANDLER" not in run.stdout
    assert host(edge, "systemctl", "show", "caddy", "-p", "MainPID", "--value").stdout.strip() == pid


def test_through_the_edge_to_a_real_whisperlive(edge, whisperlive, tmp_path):
    url, ca = edge["RASR_EDGE_UPSTREAM_HEALTH_URL"], edge["RASR_EDGE_CA_PATH"]
    assert wait_status(url, ca, 503, 20) == 503       # nothing listens yet
    whisperlive.start()
    assert wait_status(url, ca, 200, 60) == 200
    wav = speech.make_speech_wav(str(tmp_path / "s.wav"), rate=16000, encoding="int16", trailing_silence=3.0)
    results, reloads = {}, {}

    def reload_now():
        reloads["rc"] = host(edge, "systemctl", "reload", "caddy", check=False).returncode

    stream_sentence(edge["RASR_EDGE_WS_URL"], ssl.create_default_context(cafile=ca), wav, results,
                    on_half=reload_now)
    assert reloads["rc"] == 0
    assert all(word in results["text"] for word in ("quick", "brown", "fox")), results
    assert any(word in results["text"] for word in ("weather", "stays", "calm")), results
    assert "code=1000" in results["closed_by"], results
    whisperlive.stop()
    assert wait_status(url, ca, 503, 30) == 503
