"""The role's launcher serving a real WhisperLive 0.10.0 on loopback (CPU, tiny.en).

Proves what the launcher adds over upstream: a burst of connections never
gets more than max_clients slots; a client may pick any served model and
gets a clear ERROR for any other name (nothing is downloaded); the API key
is enforced; a bad first message gets an ERROR naming the field; sockets
that say nothing are closed and bounded per client; fuzzed frames after
good options leave no slot or thread behind. Heavy: builds the cached venv
once and holds the machine lock.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from support.whisperlive import LAUNCHER, ensure_venv, free_port, heavy_lock, model_path, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Launcher with two model names (tiny.en and a copy) and max_clients 2."""
    tmp = tmp_path_factory.mktemp("launcher")
    with heavy_lock():
        venv = ensure_venv()
        models = tmp / "models"
        models.mkdir()
        shutil.copytree(model_path(venv), str(models / "tiny.en"))
        shutil.copytree(model_path(venv), str(models / "tiny-copy.en"))
        cache = tmp / "cache"
        cache.mkdir()
        key = tmp / "api_key"
        key.write_text("s3cret-key\n")
        port = free_port()
        log_path = tmp / "server.log"
        command = [os.path.join(venv, "bin", "python"), LAUNCHER, "--host", "127.0.0.1", "--port", str(port),
                   "--model", "tiny.en=%s" % (models / "tiny.en"),
                   "--model", "tiny-copy.en=%s" % (models / "tiny-copy.en"),
                   "--device", "cpu", "--max-clients", "2", "--cache-path", str(cache),
                   "--api-key-file", str(key),
                   # admission: short timeout for the test; the burst below is 8 sockets from one address
                   "--options-timeout-s", "2", "--max-pending-per-client", "8", "--max-pending", "12",
                   "--trusted-proxy", "127.0.0.1"]
        env = dict(os.environ, HOME=str(tmp))
        env.pop("HF_HUB_OFFLINE", None)  # the launcher must set it itself
        with open(str(log_path), "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                wait_for_port("127.0.0.1", port, 180, process)
                yield {"url": "ws://127.0.0.1:%d/" % port, "log": log_path, "cache": cache, "home": tmp,
                       "headers": {"Authorization": "Bearer s3cret-key"}, "pid": process.pid}
            finally:
                process.terminate()
                process.wait(timeout=30)


def first_reply(url, headers, model=None, hold=None, barrier=None):
    """Send the first message, return the server's first JSON reply.

    With `hold` (an ExitStack) the socket stays open until the stack closes.
    """
    stack = hold if hold is not None else contextlib.ExitStack()
    with contextlib.ExitStack() as local:
        if hold is None:
            local.enter_context(stack)
        ws = stack.enter_context(connect(url, additional_headers=headers, open_timeout=10))
        return _first_reply(ws, model, barrier)


def _first_reply(ws, model, barrier):
    if barrier is not None:
        barrier.wait(timeout=30)
    options = {"uid": str(uuid.uuid4()), "language": "en", "task": "transcribe", "use_vad": False}
    if model is not None:
        options["model"] = model
    ws.send(json.dumps(options))
    return json.loads(ws.recv(timeout=30))


def kind(reply):
    return reply.get("message") if reply.get("message") == "SERVER_READY" else reply.get("status")


def test_burst_never_exceeds_max_clients(served):
    for attempt in range(3):
        replies, barrier = [], threading.Barrier(8)
        with contextlib.ExitStack() as sockets:

            def one():
                replies.append(kind(first_reply(served["url"], served["headers"], hold=sockets, barrier=barrier)))

            threads = [threading.Thread(target=one) for client in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        assert sorted(replies) == ["SERVER_READY"] * 2 + ["WAIT"] * 6, (attempt, replies)
        time.sleep(1)  # the server frees the slots after the close


def test_client_may_pick_a_served_model(served):
    reply = first_reply(served["url"], served["headers"], model="tiny-copy.en")
    assert kind(reply) == "SERVER_READY"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "uses model tiny-copy.en" not in served["log"].read_text():
        time.sleep(0.2)
    assert "uses model tiny-copy.en" in served["log"].read_text()


def test_default_model_without_a_name(served):
    reply = first_reply(served["url"], served["headers"], model=None)
    assert kind(reply) == "SERVER_READY"


def test_unknown_model_refused_and_nothing_downloaded(served):
    before = sorted(os.walk(str(served["home"])))
    reply = first_reply(served["url"], served["headers"], model="large-v3")
    assert reply["status"] == "ERROR" and reply["field"] == "model"
    assert reply["message"] == ('model: "large-v3" is not served here; this server serves: '
                                "tiny.en, tiny-copy.en (default tiny.en)")
    time.sleep(1)
    after = sorted(os.walk(str(served["home"])))
    # only the server log may grow; no new folder or file (no hub cache)
    assert [(d, sorted(s), sorted(f)) for d, s, f in after] == [(d, sorted(s), sorted(f)) for d, s, f in before]


def test_api_key_enforced(served):
    with pytest.raises(InvalidStatus) as err:
        first_reply(served["url"], {})
    assert err.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        first_reply(served["url"], {"Authorization": "Bearer wrong"})
    reply = first_reply(served["url"].rstrip("/") + "/?token=s3cret-key", {})
    assert kind(reply) == "SERVER_READY"


def test_check_config_refuses_a_bad_file_before_it_goes_live(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"host": "127.0.0.1", "models": [{"name": "x", "path": str(tmp_path)}]}))
    proc = subprocess.run([sys.executable, LAUNCHER, "--config", str(bad), "--check-config"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "lacks model.bin, config.json" in proc.stderr


# -- admission (issue 18) -------------------------------------------------------

def threads_of(pid):
    with open("/proc/%d/status" % pid) as handle:
        return int(next(line for line in handle if line.startswith("Threads:")).split()[1])


def refusal(served, first, client=None):
    """Send ``first`` as the first message; return (ERROR reply, close code, close reason)."""
    headers = dict(served["headers"])
    if client:
        headers["X-Forwarded-For"] = client
    with connect(served["url"], additional_headers=headers, open_timeout=10) as ws:
        if first is not None:
            ws.send(first)
        reply = json.loads(ws.recv(timeout=15))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=15)
    return reply, closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize("first, field, code", [
    ("not json", "options", 1008),
    (b"\x00\x00\x80\x3f", "options", 1003),
    ("{}", "uid", 1008),
    (json.dumps({"uid": "u", "task": "fly", "model": "tiny.en"}), "task", 1008),
    (json.dumps({"uid": "u", "language": "xx", "model": "tiny.en"}), "language", 1008),
    (json.dumps({"uid": "u", "model": "large-v3"}), "model", 1008),
])
def test_a_bad_first_message_gets_an_error_naming_the_field(served, first, field, code):
    reply, close_code, reason = refusal(served, first)
    assert reply["status"] == "ERROR" and reply["field"] == field, reply
    assert reply["message"].startswith(field + ": "), reply
    assert close_code == code and reason.startswith(field + ": "), (close_code, reason)


def test_a_socket_that_says_nothing_is_closed_with_a_reason(served):
    started = time.monotonic()
    reply, code, reason = refusal(served, None)
    assert reply["field"] == "options" and "none received within 2 s" in reply["message"]
    assert code == 1008 and reason.startswith("options: none received")
    assert time.monotonic() - started < 10


def test_idle_sockets_are_bounded_per_client_and_others_are_served(served):
    """50 silent sockets from one client behind the edge: 8 wait, the rest are refused at once;
    the server's threads stay bounded and another client gets SERVER_READY meanwhile."""
    before = threads_of(served["pid"])
    headers = dict(served["headers"], **{"X-Forwarded-For": "198.51.100.7"})
    codes = []
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(served["url"], additional_headers=headers, open_timeout=10))
                   for _socket in range(50)]
        time.sleep(0.5)
        during = threads_of(served["pid"])
        for ws in sockets[8:]:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            codes.append((closed.value.rcvd.code, closed.value.rcvd.reason))
        other = first_reply(served["url"], dict(served["headers"], **{"X-Forwarded-For": "198.51.100.8"}))
    assert kind(other) == "SERVER_READY"
    assert {code for code, _reason in codes} == {1013}, codes[:3]
    assert "198.51.100.7 has 8 sockets waiting for their options already" in codes[0][1]
    # each admitted socket holds about three threads; 42 refused ones hold none for long
    assert during - before <= 3 * 8 + 10, (before, during)


FRAMES = st.lists(st.one_of(
    st.binary(min_size=0, max_size=9000),                         # any length, odd ones included
    st.text(max_size=50),                                         # text where audio belongs
    st.sampled_from([b"END_OF_AUDIO", b"\x00" * 4 * 1600, "END_OF_AUDIO"]),
), min_size=1, max_size=6)


@settings(max_examples=int(os.environ.get("RASR_FUZZ_STREAMS", "25")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(frames=FRAMES)
def test_fuzz_frames_after_good_options(served, frames):
    """Whatever frames follow valid options, the server survives and the stream's slot is freed."""
    with connect(served["url"], additional_headers=served["headers"], open_timeout=10) as ws:
        ws.send(json.dumps({"uid": str(uuid.uuid4()), "language": "en", "task": "transcribe",
                            "model": "tiny.en", "use_vad": True}))
        reply = json.loads(ws.recv(timeout=30))
        if reply.get("status") == "WAIT":  # the previous example's slot is still being freed
            return
        assert reply.get("message") == "SERVER_READY", reply
        try:
            for frame in frames:
                ws.send(frame)
        except ConnectionClosed:
            pass


def test_after_the_fuzz_no_slot_and_no_thread_is_left(served):
    """Runs after the fuzz above: both slots free, threads back to a handful."""
    deadline = time.monotonic() + 20
    while True:
        with contextlib.ExitStack() as hold:
            replies = [kind(first_reply(served["url"], served["headers"], hold=hold)) for _slot in range(2)]
        if replies == ["SERVER_READY"] * 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert replies == ["SERVER_READY"] * 2
    time.sleep(2)
    assert threads_of(served["pid"]) <= 20, threads_of(served["pid"])
