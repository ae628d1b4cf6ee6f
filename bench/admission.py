#!/usr/bin/env python
"""Sockets that say nothing, against the role's launcher and against upstream's run() (issue 18).

No deployment needed: both servers run from the cached test venv
(tests/support/whisperlive.py) on free loopback ports with tiny.en. For
each, N sockets open from one client address (behind a trusted proxy: the
same X-Forwarded-For) and send nothing; printed, not pass/fail:

  threads, RSS    of the server before, while the sockets are open, and
                  after they are gone
  refused         sockets the server closed at once (launcher: beyond its
                  per-client bound, 1013)
  closed by       how long the server takes to close the rest (launcher:
                  its options timeout; upstream: never, until the client
                  goes)
  other client    whether another address gets SERVER_READY meanwhile,
                  and how soon

    .venv/bin/python bench/admission.py --sockets 200
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from support.whisperlive import LAUNCHER, ensure_venv, free_port, heavy_lock, model_path, wait_for_port  # noqa: E402

UPSTREAM = """
import sys
from whisper_live.server import TranscriptionServer
TranscriptionServer().run("127.0.0.1", int(sys.argv[1]), backend="faster_whisper",
    faster_whisper_custom_model_path=sys.argv[2], single_model=True, max_clients=2)
"""


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith(("Threads:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return {"threads": out.get("Threads"), "rss_mb": round(out.get("VmRSS", 0) / 1024.0, 1)}


def ready_in(url, client):
    started = time.monotonic()
    with connect(url, open_timeout=30, additional_headers={"X-Forwarded-For": client}) as ws:
        ws.send(json.dumps({"uid": str(uuid.uuid4()), "language": "en", "task": "transcribe",
                            "model": "tiny.en", "use_vad": True}))
        reply = json.loads(ws.recv(timeout=30))
    return round(time.monotonic() - started, 3) if reply.get("message") == "SERVER_READY" else reply


def idle_sockets(url, pid, count, wait_s):
    row = {"before": proc_status(pid)}
    refused, closed_at = 0, []
    with contextlib.ExitStack() as stack:
        opened = time.monotonic()
        sockets = []
        for _socket in range(count):
            try:
                sockets.append(stack.enter_context(connect(
                    url, open_timeout=30, additional_headers={"X-Forwarded-For": "198.51.100.7"})))
            except Exception:  # refused during the handshake counts as refused
                refused += 1
        time.sleep(1.0)
        row["during"] = proc_status(pid)
        row["other_client_ready_s"] = ready_in(url, "198.51.100.8")
        deadline = time.monotonic() + wait_s
        for ws in sockets:
            try:
                while True:  # an ERROR message may come first: read on to the close
                    ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            except ConnectionClosed as exc:
                if exc.rcvd and exc.rcvd.code == 1013:
                    refused += 1
                else:
                    closed_at.append(time.monotonic() - opened)
            except TimeoutError:
                pass
        row["still_open_after_s"] = {"seconds": wait_s,
                                     "sockets": count - refused - len(closed_at)}
    time.sleep(2.0)
    row["after"] = proc_status(pid)
    row["refused_at_once"] = refused
    row["closed_by_server"] = len(closed_at)
    row["closed_by_server_within_s"] = round(max(closed_at), 1) if closed_at else None
    return row


@contextlib.contextmanager
def server(command, port, log):
    process = subprocess_popen(command, log)
    try:
        wait_for_port("127.0.0.1", port, 180, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def subprocess_popen(command, log):
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES=""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the server to close them")
    args = parser.parse_args(argv)
    report = {}
    with tempfile.TemporaryDirectory() as tmp, heavy_lock():
        venv = ensure_venv()
        python = os.path.join(venv, "bin", "python")
        model = model_path(venv)
        with open(os.path.join(tmp, "server.log"), "ab") as log:
            port = free_port()
            command = [python, LAUNCHER, "--host", "127.0.0.1", "--port", str(port), "--model",
                       "tiny.en=%s" % model, "--device", "cpu", "--max-clients", "2", "--trusted-proxy", "127.0.0.1"]
            with server(command, port, log) as process:
                report["launcher"] = idle_sockets("ws://127.0.0.1:%d/" % port, process.pid, args.sockets, args.wait)
            port = free_port()
            with server([python, "-c", UPSTREAM, str(port), model], port, log) as process:
                report["upstream run()"] = idle_sockets("ws://127.0.0.1:%d/" % port, process.pid, args.sockets,
                                                        args.wait)
    for name, row in report.items():
        print("%-15s %s" % (name, json.dumps(row, sort_keys=True)))


if __name__ == "__main__":
    main()
