#!/usr/bin/env python
"""Recovery after `kill -9` of WhisperLive on the deployed local stack (issue 18).

Kills the service's main process with SIGKILL inside the local GPU host,
then measures, from the kill: when the edge's /healthz/upstream answers 200
again, and when a new stream through the edge gets SERVER_READY. Median and
range over --runs; figures, not pass/fail (goal: a new stream within 5 s).

    .venv/bin/python bench/recovery.py --runs 5
"""

import argparse
import json
import ssl
import statistics
import subprocess
import os
import time
import urllib.request
import uuid

from websockets.sync.client import connect


def healthy(url, context):
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return response.status == 200
    except Exception:  # 503 and refused both mean "not yet"
        return False


def stream_ready(url, context):
    try:
        with connect(url, ssl=context, open_timeout=3) as ws:
            ws.send(json.dumps({"uid": str(uuid.uuid4()), "language": "en", "task": "transcribe",
                                "model": "tiny.en", "use_vad": True}))
            return json.loads(ws.recv(timeout=5)).get("message") == "SERVER_READY"
    except Exception:  # 503, refused, closed: not yet
        return False


def one_run(args, context):
    # Repeated kills are a crash loop to systemd: the unit's start limit
    # (whisperlive_start_limit_burst in _interval) would stop the restarts.
    subprocess.run(["docker", "exec", args.gpu_host, "systemctl", "reset-failed", "whisperlive"],
                   check=False, capture_output=True, timeout=30)
    subprocess.run(["docker", "exec", args.gpu_host, "systemctl", "kill", "--signal=KILL", "whisperlive"],
                   check=True, capture_output=True, timeout=30)
    killed = time.monotonic()
    health = ready = None
    while time.monotonic() - killed < 60 and ready is None:
        if health is None and healthy(args.health_url, context):
            health = time.monotonic() - killed
        if stream_ready(args.ws_url, context):
            ready = time.monotonic() - killed
        else:
            time.sleep(0.1)
    while health is None and time.monotonic() - killed < 60:
        if healthy(args.health_url, context):
            health = time.monotonic() - killed
        else:
            time.sleep(0.05)
    return health, ready


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gpu-host", default="rasr-gpu")
    parser.add_argument("--ws-url", default="wss://localhost/ws")
    parser.add_argument("--health-url", default="https://localhost/healthz/upstream")
    parser.add_argument("--ca-path", default=os.path.expanduser("~/.local/share/realtime_asr/rasr-edge/caddy-root.crt"))
    args = parser.parse_args(argv)
    context = ssl.create_default_context(cafile=args.ca_path)
    rows = []
    for _run in range(args.runs):
        if not stream_ready(args.ws_url, context):
            time.sleep(5)
        rows.append(one_run(args, context))
        print("kill -9 -> /healthz/upstream 200 after %s s, new stream SERVER_READY after %s s"
              % tuple(None if v is None else round(v, 2) for v in rows[-1]), flush=True)
        time.sleep(3)
    for index, name in ((0, "upstream healthy"), (1, "new stream ready")):
        values = [r[index] for r in rows if r[index] is not None]
        if values:
            print("%-17s median %.2f s (%.2f-%.2f), %d of %d runs" % (
                name, statistics.median(values), min(values), max(values), len(values), len(rows)))


if __name__ == "__main__":
    main()
