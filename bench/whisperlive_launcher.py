#!/usr/bin/env python
"""Figures of the role's WhisperLive launcher on this machine (CPU, tiny.en).

No deployment needed: the launcher runs from the cached test venv
(tests/support/whisperlive.py) on a free loopback port. Printed, not
pass/fail:

  start_to_listen   process start -> port open (torch import + model load)
  start_to_ready    process start -> first SERVER_READY
  connect_to_ready  socket open -> SERVER_READY on a warm server
  rss_mb            server RSS when ready, and after one ~7 s sentence
  first_segment     first frame -> first segment of that sentence (real time)
  burst             8 simultaneous clients, max_clients 4: admitted per try,
                    for the launcher and for upstream's own run() (same model)

    .venv/bin/python bench/whisperlive_launcher.py --runs 3
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from support.speech import SENTENCE, make_speech_wav  # noqa: E402
from support.whisperlive import LAUNCHER, ensure_venv, free_port, heavy_lock, model_path, wait_for_port  # noqa: E402

PROBE = os.path.join(REPO, "roles", "whisperlive", "files", "whisperlive_probe.py")
UPSTREAM = """
import sys
from whisper_live.server import TranscriptionServer
TranscriptionServer().run("127.0.0.1", int(sys.argv[1]), backend="faster_whisper",
    faster_whisper_custom_model_path=sys.argv[2], single_model=True, max_clients=4)
"""


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0)
    return None


def probe(python, url, wav=None, retries=1):
    command = [python, PROBE, "--url", url, "--timeout", "10", "--retries", str(retries)]
    if wav:
        command += ["--wav", wav]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return json.loads(out.stdout)


def burst(url, clients=8):
    from websockets.sync.client import connect
    replies, barrier = [], threading.Barrier(clients)
    with contextlib.ExitStack() as stack:
        def one():
            ws = stack.enter_context(connect(url, open_timeout=10))
            barrier.wait(timeout=30)
            ws.send(json.dumps({"uid": str(uuid.uuid4()), "language": "en", "task": "transcribe",
                                "use_vad": False, "model": "tiny.en"}))
            message = json.loads(ws.recv(timeout=60))
            replies.append(message.get("message") == "SERVER_READY")

        threads = [threading.Thread(target=one) for client in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    return sum(replies)


@contextlib.contextmanager
def server(command, port, log):
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env=dict(os.environ, HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES=""))
    try:
        wait_for_port("127.0.0.1", port, 180, process)
        yield process, started
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = {"launcher": [], "upstream_burst": []}
    with tempfile.TemporaryDirectory() as tmp, heavy_lock():
        venv = ensure_venv()
        python = os.path.join(venv, "bin", "python")
        wav = make_speech_wav(os.path.join(tmp, "sentence.wav"), SENTENCE)
        model = model_path(venv)
        log = open(os.path.join(tmp, "server.log"), "ab")
        for run in range(args.runs):
            port = free_port()
            url = "ws://127.0.0.1:%d/" % port
            command = [python, LAUNCHER, "--host", "127.0.0.1", "--port", str(port),
                       "--model", "tiny.en=%s" % model, "--device", "cpu", "--max-clients", "4"]
            with server(command, port, log) as (process, started):
                listen = time.monotonic() - started
                ready = probe(python, url, retries=30)
                start_to_ready = time.monotonic() - started
                row = {"start_to_listen": round(listen, 2), "start_to_ready": round(start_to_ready, 2),
                       "connect_to_ready": probe(python, url)["ready_s"], "rss_ready_mb": rss_mb(process.pid)}
                spoken = probe(python, url, wav=wav)
                row.update(first_segment=spoken.get("first_segment_s"), audio_s=spoken.get("audio_s"),
                           rss_after_mb=rss_mb(process.pid), burst_admitted=burst(url), ready=ready["ready"])
                row["run"] = run + 1
                results["launcher"].append(row)
            port = free_port()
            with server([python, "-c", UPSTREAM, str(port), model], port, log):
                results["upstream_burst"].append(burst("ws://127.0.0.1:%d/" % port))
        log.close()
    for row in results["launcher"]:
        print("launcher: " + json.dumps(row, sort_keys=True))
    print("upstream run(), 8 at once, max_clients 4, admitted: %s" % results["upstream_burst"])
    print("launcher,       8 at once, max_clients 4, admitted: %s"
          % [row["burst_admitted"] for row in results["launcher"]])


if __name__ == "__main__":
    main()
