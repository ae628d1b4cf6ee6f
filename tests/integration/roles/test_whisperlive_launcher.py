"""The role's launcher serving a real WhisperLive 0.10.0 on loopback (CPU, tiny.en).

Proves what the launcher adds over upstream: a burst of connections never
gets more than max_clients slots; a client may pick any served model and
gets a clear ERROR for any other name (nothing is downloaded); the API key
is enforced. Heavy: builds the cached venv once and holds the machine lock.
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
from websockets.exceptions import InvalidStatus
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
                   "--api-key-file", str(key)]
        env = dict(os.environ, HOME=str(tmp))
        env.pop("HF_HUB_OFFLINE", None)  # the launcher must set it itself
        with open(str(log_path), "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                wait_for_port("127.0.0.1", port, 180, process)
                yield {"url": "ws://127.0.0.1:%d/" % port, "log": log_path, "cache": cache, "home": tmp,
                       "headers": {"Authorization": "Bearer s3cret-key"}}
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
    assert reply["status"] == "ERROR"
    assert reply["message"] == ("model 'large-v3' is not served here; this server serves: "
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
