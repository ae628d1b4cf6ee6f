"""Opening handshakes through a deployed edge: websockets' stock sync client
against transcription_check's (whisperlive_client.connect).

Each cycle opens a wss:// socket, sends the session options, waits for
SERVER_READY and closes, as the stack's 200-cycle test does. Cycles that
take longer than --stall-after seconds, or fail, are counted per client.
Run it against the local deployment (`make demo`); several copies at once
load the machine the way CI does. Figures, not pass/fail.

    .venv/bin/python bench/tls_handshakes.py --cycles 1500
"""

import argparse
import json
import os
import ssl
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))

from websockets.sync.client import connect as stock_connect  # noqa: E402

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import (  # noqa: E402
    connect as serialised_connect,
)

DEFAULT_CA = os.path.expanduser("~/.local/share/realtime_asr/rasr-edge/caddy-root.crt")


def cycle(connect, url, context, open_timeout):
    with connect(url, ssl=context, open_timeout=open_timeout, close_timeout=5) as ws:
        ws.send(json.dumps({"uid": "bench", "language": "en", "task": "transcribe", "model": "tiny.en",
                            "use_vad": True}))
        while True:
            message = json.loads(ws.recv(timeout=open_timeout))
            if message.get("message") == "SERVER_READY" or message.get("status") == "WAIT":
                return


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--url", default="wss://localhost/ws")
    parser.add_argument("--ca", default=DEFAULT_CA)
    parser.add_argument("--cycles", type=int, default=1000, help="cycles per client (alternating)")
    parser.add_argument("--open-timeout", type=float, default=10.0)
    parser.add_argument("--stall-after", type=float, default=2.0)
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.ca)
    clients = {"websockets (stock)": stock_connect, "whisperlive_client.connect": serialised_connect}
    figures = {name: {"cycles": 0, "stalls": 0, "errors": {}, "seconds": 0.0} for name in clients}
    for _round in range(args.cycles):
        for name, connect in clients.items():
            started = time.monotonic()
            try:
                cycle(connect, args.url, context, args.open_timeout)
            except Exception as exc:  # counted, not raised: this is a measurement
                key = type(exc).__name__
                figures[name]["errors"][key] = figures[name]["errors"].get(key, 0) + 1
            elapsed = time.monotonic() - started
            figures[name]["cycles"] += 1
            figures[name]["seconds"] += elapsed
            if elapsed > args.stall_after:
                figures[name]["stalls"] += 1
    for name, figure in figures.items():
        print("%-28s %5d cycles, %3d over %.0f s, errors %s, mean %.1f ms" % (
            name, figure["cycles"], figure["stalls"], args.stall_after, figure["errors"] or "none",
            1000 * figure["seconds"] / max(figure["cycles"], 1)))


if __name__ == "__main__":
    main()
