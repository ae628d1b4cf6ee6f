"""The edge in front of a real WhisperLive (tiny.en on CPU), all on loopback.

Caddy renders from role edge_caddy's template; WhisperLive runs from the role
whisperlive's pinned venv and launcher (tests/support/whisperlive.py). The
machine-wide heavy lock is held while the server lives.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from support import clients, speech
from support.edge import ANSIBLE_PLAYBOOK, REPO_ROOT, edge_with_whisperlive, stream_sentence, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(bool(speech.missing_tools()), reason="needs espeak-ng and sox")]

# Words tiny.en gets right in this sentence (it hears "lazy dog" as "lazy nog").
WORDS = ("quick", "brown", "fox", "weather", "afternoon")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("edge-wl"))
    with edge_with_whisperlive(workdir, edge_caddy_allowed_cidrs=["127.0.0.1/32"]) as parts:
        yield parts


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("speech") / "sentence.wav")
    return speech.make_speech_wav(path, rate=16000, encoding="int16", trailing_silence=3.0)


def test_upstream_transcription_client_through_the_edge(stack, wav, tmp_path):
    edge = stack["edge"]
    started = time.monotonic()
    result, text = clients.run_upstream_client(stack["venv"], edge.https_port, wav, stack["server"].model_name,
                                               edge.ca_path, tmp_path)
    print("TranscriptionClient through the edge: %.1f s wall" % (time.monotonic() - started))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    print(text)
    assert all(word in text for word in WORDS), text


def run_check(edge, wav, tmp_path, ca_path):
    play = tmp_path / "check.yml"
    args = {"url": "wss://localhost:%d/ws" % edge.https_port, "audio": wav,
            "expected_text": speech.SENTENCE, "max_wer": 0.35, "timeout": 90}
    if ca_path:
        args["ca_path"] = ca_path
    play.write_text(json.dumps([{
        "name": "transcription_check through the edge", "hosts": "localhost", "connection": "local",
        "gather_facts": False,
        "tasks": [{"name": "Check", "realtime_asr.whisperlive.transcription_check": args}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", str(play), "-e",
                           "ansible_python_interpreter=" + sys.executable],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_transcription_check_verifies_the_internal_ca(stack, wav, tmp_path):
    edge = stack["edge"]
    trusted = run_check(edge, wav, tmp_path, edge.ca_path)
    assert trusted.returncode == 0, trusted.stdout[-3000:]
    untrusted = run_check(edge, wav, tmp_path, None)
    assert untrusted.returncode != 0
    failure = " ".join(untrusted.stdout.split()).lower()
    assert "certificate" in failure and "verif" in failure, untrusted.stdout[-3000:]


def test_reload_during_a_live_stream_keeps_it_transcribing(stack, wav):
    edge = stack["edge"]
    results = {}
    reloads = {}

    def reload_now():
        edge.render(edge_caddy_lb_try_duration="5s")
        started = time.monotonic()
        reloads["result"] = edge.reload()
        reloads["seconds"] = time.monotonic() - started

    stream_sentence(edge.ws_url, edge.ssl_context(), wav, results, on_half=reload_now)
    assert reloads["result"].returncode == 0, reloads["result"].stderr
    print("caddy reload during the stream took %.2f s" % reloads["seconds"])
    # Words from both halves of the sentence: the stream went on after the
    # reload, and ended with our END_OF_AUDIO (normal close), not code 1001.
    # (tiny.en mishears single words under load: ask for most, not all.)
    assert sum(word in results["text"] for word in ("quick", "brown", "fox", "jump", "lazy")) >= 3, results
    assert sum(word in results["text"] for word in ("weather", "stays", "calm", "bright", "afternoon")) >= 2, results
    assert "code=1000" in results["closed_by"], results


def test_client_outside_the_allowlist_is_refused(stack, wav):
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus) as info:
        stream_sentence(stack["edge"].ws_url, stack["edge"].ssl_context(), wav, {}, source="127.0.0.2")
    assert info.value.response.status_code == 403


def test_upstream_health_follows_whisperlive(stack):
    edge, server = stack["edge"], stack["server"]
    assert edge.request("/healthz/upstream")[0] == 200
    server.stop()
    assert wait_for_status(edge, "/healthz/upstream", 503, timeout=30) == 503
    assert edge.request("/healthz")[0] == 200
    server.start()
    assert wait_for_status(edge, "/healthz/upstream", 200, timeout=60) == 200
