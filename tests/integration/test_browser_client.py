"""A real browser speaks into the page through the edge to a real WhisperLive.

Debian's Chromium (driven by Playwright) gets a fake microphone that plays an
espeak-ng WAV; the page is published by role browser_client (run for real
with ansible-playbook), served by a real Caddy from role edge_caddy's
template, in front of WhisperLive with tiny.en. Chromium trusts the edge's
key by its SPKI pin (no blanket certificate-error bypass). A screenshot of
each run lands in artifacts/browser/.
"""

import contextlib
import json
import os
import re
import subprocess
import time

import pytest

from support import clients, speech
from support.edge import REPO_ROOT, edge_with_whisperlive, run_playbook

CHROMIUM = clients.CHROMIUM
ARTIFACTS = os.path.join(REPO_ROOT, "artifacts", "browser")
FRAME_BYTES = 1600 * 4   # 100 ms of Float32 at 16 kHz

pytestmark = [
    pytest.mark.slow, pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
    pytest.mark.skipif(bool(speech.missing_tools()), reason="needs espeak-ng and sox"),
]

DEPLOY_PLAYBOOK = """---
- name: Publish the browser client as playbook 320 does
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: realtime_asr.whisperlive.browser_client
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("browser"))
    with edge_with_whisperlive(workdir) as parts:
        yield parts


@pytest.fixture(scope="module")
def deployed(stack, tmp_path_factory):
    edge = stack["edge"]
    workdir = str(tmp_path_factory.mktemp("deploy"))
    extra = {"browser_client_web_root": edge.vars["edge_caddy_web_root"],
             "browser_client_models": [stack["server"].model_name]}
    first = run_playbook(DEPLOY_PLAYBOOK, workdir, extra)
    assert first.returncode == 0, first.stdout[-3000:]
    second = run_playbook(DEPLOY_PLAYBOOK, workdir, extra)
    assert second.returncode == 0 and re.search(r"changed=0\b", second.stdout), second.stdout[-3000:]
    return edge


@pytest.fixture(scope="module")
def fake_mic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mic")
    spoken = str(folder / "spoken.wav")
    speech.make_speech_wav(spoken, rate=16000, encoding="int16", trailing_silence=4.0)
    return spoken


def test_config_json_lists_the_served_models(deployed, stack):
    status, headers, body = deployed.request("/config.json")
    assert status == 200
    config = json.loads(body)
    assert config["models"] == [stack["server"].model_name]
    assert config["default_model"] == stack["server"].model_name
    assert config["socket_url"] == "" and config["socket_path"] == "/ws"
    assert config["use_vad"] is True and config["same_output_threshold"] == 0
    for page in ("/", "/test-whisper.html", "/pcm-worklet.js", "/app.js", "/test_client.py"):
        assert deployed.request(page)[0] == 200, page


def test_downloaded_test_client_runs_against_the_edge(deployed, stack, fake_mic, tmp_path):
    """What a user does: fetch test_client.py and its module_utils/ from the
    edge, then check the edge with the edge's CA."""
    import subprocess
    import sys
    os.makedirs(str(tmp_path / "module_utils"))
    for name in ("test_client.py", "module_utils/errors.py", "module_utils/audio.py",
                 "module_utils/wer.py", "module_utils/whisperlive_client.py"):
        status, _headers, body = deployed.request("/" + name)
        assert status == 200, name
        (tmp_path / name).write_text(body)
    result = subprocess.run([sys.executable, str(tmp_path / "test_client.py"), deployed.ws_url, fake_mic,
                             "--ca", deployed.ca_path, "--expected", speech.SENTENCE,
                             "--max-wer", str(speech.MAX_WER)],
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=180, check=False)
    print(result.stdout[-800:])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


# The 16 kHz context path is the stack test's (tests/stack, through the
# deployed edge); here the resampling path, forced by a 48 kHz context.
@pytest.mark.parametrize("mode", ["resampled-48k"])
def test_spoken_words_appear_as_green_completed_segments(deployed, stack, fake_mic, mode):
    # Every segment green, and the green text within the WER bound.
    seen = clients.speak_into_page(deployed.base + "/", deployed.https_port, fake_mic, speech.SENTENCE,
                                   speech.BROWSER_MAX_WER,
                                   screenshot=os.path.join(ARTIFACTS, "transcript-%s.png" % mode),
                                   force_48k=(mode == "resampled-48k"))
    print("%s: %s | %.1f s from Start to all green | wer %.2f | %d binary frames | %s"
          % (mode, seen["format"], seen["seconds_to_words"], seen["wer"], seen["frames"], " ".join(seen["completed"])))
    assert seen["model"] == stack["server"].model_name
    assert seen["color"] == "rgb(21, 128, 61)"      # green, from style.css
    assert seen["state"].startswith("Listening")
    # The first message is the session's options, then Float32 frames of 100 ms.
    assert seen["options"]["model"] == stack["server"].model_name and "same_output_threshold" not in seen["options"]
    assert seen["frame_sizes"] == [FRAME_BYTES], seen["frame_sizes"]
    assert seen["frames"] >= 50            # at least the 5 s before the words completed
    assert seen["server_ready"]
    assert ("resampled to 16000 Hz" in seen["format"]) == (mode == "resampled-48k"), seen["format"]
    print("%s: %s" % (mode, clients.assert_sent_the_clip(seen, fake_mic)))


class ScriptedServer(object):
    """A stand-in WhisperLive that answers every session with one scripted
    message and closes, as the real server does for WAIT and ERROR."""

    def __init__(self, message):
        from support.edge import free_port
        self.port = free_port()
        self.message = message
        self.sessions = []

    def _handler(self, ws):
        self.sessions.append(json.loads(ws.recv(timeout=10)))
        ws.send(json.dumps(dict(self.message, uid=self.sessions[-1]["uid"])))
        ws.close()

    def __enter__(self):
        import threading
        from websockets.sync.server import serve
        self.server = serve(self._handler, "127.0.0.1", self.port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


@contextlib.contextmanager
def page_edge(tmp_path, server, **overrides):
    """A real Caddy from the role's template in front of ``server``, the page published on it."""
    from support.edge import Edge
    edge = Edge(str(tmp_path / "edge"), dict({"edge_caddy_upstreams": ["127.0.0.1:%d" % server.port]}, **overrides))
    try:
        edge.start()
        extra = {"browser_client_web_root": edge.vars["edge_caddy_web_root"], "browser_client_models": ["tiny.en"]}
        assert run_playbook(DEPLOY_PLAYBOOK, str(tmp_path), extra).returncode == 0
        yield edge
    finally:
        edge.stop()


@pytest.mark.parametrize("message, shown", [
    ({"status": "WAIT", "message": 2.4}, "WAIT: all transcription slots are in use; about 2 minute(s)"),
    ({"status": "ERROR", "message": "model not available"}, "ERROR from the server: model not available"),
])
def test_server_states_are_shown_in_words_and_the_page_reconnects(tmp_path, fake_mic, message, shown):
    from playwright.sync_api import sync_playwright
    with ScriptedServer(message) as server:
        with page_edge(tmp_path, server) as edge:
            with sync_playwright() as pw:
                browser = clients.launch_chromium(pw, fake_mic, edge.https_port)
                try:
                    page = browser.new_page()
                    page.goto(edge.base + "/")
                    page.wait_for_selector("#model option", state="attached")
                    page.click("#start")
                    page.wait_for_function("(text) => document.querySelector('#message').textContent.includes(text)",
                                           arg=shown, timeout=20000)
                    # Backoff: the first retry comes after 0.5-1 s.
                    deadline = time.monotonic() + 15
                    while len(server.sessions) < 2 and time.monotonic() < deadline:
                        time.sleep(0.2)
                    os.makedirs(ARTIFACTS, exist_ok=True)
                    page.screenshot(path=os.path.join(ARTIFACTS, "state-%s.png" % message["status"].lower()))
                    state = page.inner_text("#state")
                    page.click("#stop")
                finally:
                    browser.close()
    assert len(server.sessions) >= 2, server.sessions      # reconnected by itself
    assert server.sessions[0]["model"] == "tiny.en"
    assert state in ("Server busy", "Server error", "Reconnecting…", "Waiting for the server…")


def test_basic_auth_guards_the_page_and_its_socket_in_a_real_browser(tmp_path, fake_mic):
    """edge_caddy_auth_mode basic: with credentials Chromium loads the page and its same-origin
    WebSocket passes too (Chromium sends the cached credentials on the upgrade); without them
    both get 401."""
    from playwright.sync_api import sync_playwright
    from websockets.exceptions import InvalidStatus
    from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import connect
    password = "rasr-pass"
    hashed = subprocess.run([os.path.join(REPO_ROOT, ".venv", "bin", "caddy"), "hash-password", "--plaintext",
                             password], capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    ready = {"message": "SERVER_READY", "backend": "faster_whisper"}
    with ScriptedServer(ready) as server:
        with page_edge(tmp_path, server, edge_caddy_auth_mode="basic",
                       edge_caddy_basic_auth_users=[{"username": "ana", "password_hash": hashed}]) as edge:
            with sync_playwright() as pw:
                browser = clients.launch_chromium(pw, fake_mic, edge.https_port)
                try:
                    member = browser.new_context(http_credentials={"username": "ana", "password": password})
                    page = member.new_page()
                    assert page.goto(edge.base + "/").status == 200
                    page.wait_for_selector("#model option", state="attached")
                    page.click("#start")
                    deadline = time.monotonic() + 20
                    while not server.sessions and time.monotonic() < deadline:
                        time.sleep(0.2)
                    page.click("#stop")
                    member.close()
                finally:
                    browser.close()
            with pytest.raises(InvalidStatus) as refused:
                with connect("wss://localhost:%d/ws" % edge.https_port, ssl=edge.ssl_context(), open_timeout=10):
                    pass
            assert refused.value.response.status_code == 401
            assert edge.request("/")[0] == 401 and edge.request("/config.json")[0] == 401
    assert server.sessions and server.sessions[0]["model"] == "tiny.en", server.sessions
