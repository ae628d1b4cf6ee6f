"""GPU sleep on the local stack (role gpu_sleep, ssh backend): idle stop, a stream
that keeps the GPU up, a WAIT for upstream's clients, the page's wake, the
operator's hold (210/220). The module turns gpu_sleep on with an idle time of
seconds and turns it off again at the end (the daemon is removed, WhisperLive
left running)."""

import json
import os
import ssl
import threading
import time

import pytest
from websockets.sync.client import connect

from stack_helpers import REPO, WHISPERLIVE_UNIT, https_get, wait_until

IDLE_MINUTES = 0.25          # 15 s
SLEEP_UNIT = "rasr-gpu-sleep"


def gpu_state(stack):
    status, body = https_get(stack.edge_url + "gpu/state", stack.ca_path)
    assert status == 200, (status, body)
    return json.loads(body)


def service_state(stack):
    return stack.host_exec(stack.gpu, "systemctl", "is-active", WHISPERLIVE_UNIT, check=False).stdout.strip()


def wait_asleep(stack, timeout):
    return wait_until(lambda: service_state(stack) == "inactive" and gpu_state(stack)["state"] == "asleep", timeout,
                      interval=0.5)


def wait_awake(stack, timeout=90):
    return wait_until(lambda: gpu_state(stack)["state"] == "awake", timeout, interval=0.5)


STARTED = {}


def daemon_log(stack):
    """The daemon's log since this module turned it on (the journal keeps earlier runs')."""
    return stack.host_exec(stack.edge, "journalctl", "-u", SLEEP_UNIT, "--since", "@%d" % STARTED["epoch"],
                           "--no-pager", "-o", "cat").stdout


def tls(stack):
    return ssl.create_default_context(cafile=stack.ca_path)


def options(uid):
    return json.dumps({"uid": uid, "language": "en", "task": "transcribe", "model": "tiny.en", "use_vad": True})


@pytest.fixture(scope="module")
def sleepy(stack):
    STARTED["epoch"] = int(time.time()) - 1
    run = stack.ansible_playbook("site.yml", "--tags", "edge,gpu_sleep", "-e", "gpu_sleep_enabled=true",
                                 "-e", "gpu_sleep_idle_minutes=%s" % IDLE_MINUTES, "-e", "gpu_sleep_poll_s=0.5",
                                 "-e", "gpu_sleep_wake_estimate_s=8")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert stack.unit_property(stack.edge, SLEEP_UNIT, "ActiveState") == "active"
    yield stack
    # Off again: the daemon goes, the routes go, WhisperLive is left serving.
    stack.host_exec(stack.gpu, "rm", "-f", "/var/lib/rasr-power/hold")
    run = stack.ansible_playbook("site.yml", "--tags", "edge,gpu_sleep")
    stack.host_exec(stack.gpu, "systemctl", "start", WHISPERLIVE_UNIT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert stack.host_exec(stack.edge, "test", "-e", "/etc/systemd/system/%s.service" % SLEEP_UNIT,
                           check=False).returncode != 0
    assert https_get(stack.edge_url + "gpu/state", stack.ca_path)[0] != 200


def test_the_daemon_is_hardened_and_the_state_is_readable(sleepy):
    stack = sleepy
    state = gpu_state(stack)
    assert state["state"] == "awake" and state["idle_minutes"] == IDLE_MINUTES
    assert [w["name"] for w in state["workers"]] == [stack.gpu]
    assert stack.unit_property(stack.edge, SLEEP_UNIT, "User") == "rasr-gpu-sleep"
    exposure = stack.host_exec(stack.edge, "systemd-analyze", "security", SLEEP_UNIT, "--no-pager").stdout
    score = float(exposure.strip().splitlines()[-1].split("exposure level for %s.service: " % SLEEP_UNIT)[1].split()[0])
    print("systemd-analyze security %s: %.1f" % (SLEEP_UNIT, score))
    assert score <= 2.5
    # A GET never wakes, only POST /gpu/wake does; other methods are refused.
    assert https_get(stack.edge_url + "gpu/wake", stack.ca_path)[0] == 405


def test_a_stream_open_at_the_deadline_keeps_the_gpu_up(sleepy):
    stack = sleepy
    hold_for = IDLE_MINUTES * 60 + 10
    seen = {}

    def stream():
        with connect(stack.ws_url, ssl=tls(stack), open_timeout=20) as ws:
            ws.send(options("keep-up"))
            while "SERVER_READY" not in ws.recv(timeout=30):
                pass
            seen["ready"] = time.monotonic()
            silence = bytes(6400)
            while time.monotonic() - seen["ready"] < hold_for:
                ws.send(silence)
                time.sleep(0.1)
            seen["streams_during"] = gpu_state(stack)["streams"]
            seen["state_during"] = service_state(stack)

    worker = threading.Thread(target=stream)
    worker.start()
    worker.join(hold_for + 60)
    assert "ready" in seen, "the stream never got SERVER_READY"
    print("a stream of %.0f s (idle stop after %.0f s): WhisperLive %s, streams %s" % (
        hold_for, IDLE_MINUTES * 60, seen["state_during"], seen["streams_during"]))
    assert seen["state_during"] == "active"
    assert seen["streams_during"] >= 1
    assert "stopped %s" % stack.gpu not in daemon_log(stack)


def test_no_stream_for_the_idle_time_stops_the_gpu(sleepy):
    stack = sleepy
    started = time.monotonic()
    assert wait_asleep(stack, IDLE_MINUTES * 60 + 30), (service_state(stack), gpu_state(stack))
    print("idle stop: asleep %.1f s after the last stream closed (idle_minutes %s)" % (
        time.monotonic() - started, IDLE_MINUTES))
    log = daemon_log(stack)
    assert "stopped %s: no stream for" % stack.gpu in log, log[-2000:]
    state = gpu_state(stack)
    assert state["slept_today_s"] >= 0 and "asleep" in state["message"]


def test_an_upstream_client_gets_wait_and_the_gpu_wakes(sleepy):
    stack = sleepy
    assert wait_asleep(stack, IDLE_MINUTES * 60 + 30)
    with connect(stack.ws_url, ssl=tls(stack), open_timeout=20) as ws:
        ws.send(options("upstream-client"))
        answer = json.loads(ws.recv(timeout=20))
    print("a WebSocket client while asleep: %s" % answer)
    assert answer["status"] == "WAIT" and answer["uid"] == "upstream-client" and answer["reason"] == "gpu_starting"
    assert isinstance(answer["message"], float)
    started = time.monotonic()
    assert wait_awake(stack), gpu_state(stack)
    print("WebSocket wake: awake %.1f s after the WAIT" % (time.monotonic() - started))
    assert "started %s: a WebSocket client connected" % stack.gpu in daemon_log(stack)


def test_the_page_wakes_a_sleeping_gpu_and_shows_green_words(sleepy, tmp_path):
    from support import clients, speech
    from urllib.parse import urlsplit
    stack = sleepy
    assert wait_asleep(stack, IDLE_MINUTES * 60 + 30)
    wav = speech.make_speech_wav(str(tmp_path / "mic.wav"), rate=16000, encoding="int16", trailing_silence=4.0)
    port = urlsplit(stack.edge_url).port or 443
    seen = clients.speak_into_page(stack.edge_url, port, wav, speech.SENTENCE, speech.BROWSER_MAX_WER, timeout_s=120,
                                   screenshot=os.path.join(REPO, "artifacts", "browser", "gpu-sleep-wake.png"))
    print("page open on a sleeping GPU -> first green words %.1f s, all green %.1f s, wer %.2f; the page said %s" % (
        seen["seconds_to_first_green"], seen["seconds_to_words"], seen["wer"], seen["messages"]))
    assert any(m.startswith("Starting the transcription server, about ") for m in seen["messages"]), seen["messages"]
    assert seen["color"] == "rgb(21, 128, 61)" and seen["server_ready"]
    assert "started %s: the page asked" % stack.gpu in daemon_log(stack)


def test_a_gpu_held_by_the_operator_stays_stopped(sleepy):
    stack = sleepy
    run = stack.ansible_playbook("playbooks/210_gpu_stop.yml")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert service_state(stack) == "inactive"
    assert wait_until(lambda: gpu_state(stack)["state"] == "held", 15, interval=0.5), gpu_state(stack)
    status, body = post_wake(stack)
    assert status == 409 and "playbook 220" in json.loads(body)["message"]
    time.sleep(2)
    assert service_state(stack) == "inactive"
    run = stack.ansible_playbook("playbooks/220_gpu_start.yml")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert wait_awake(stack, 60), gpu_state(stack)


def post_wake(stack):
    import urllib.error
    import urllib.request
    request = urllib.request.Request(stack.edge_url + "gpu/wake", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=tls(stack), timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
