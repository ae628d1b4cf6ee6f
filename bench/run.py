#!/usr/bin/env python
"""Benchmarks of a deployed stack (default: the local deployment).

Prints a table and writes JSON (bench/results/latest.json). Figures, not
pass/fail: the goals from the project's issues are printed beside them.

    .venv/bin/python bench/run.py                    # everything
    .venv/bin/python bench/run.py --only edge,streams --runs 7

Measured, interleaved so that both sides see the same machine load:
  edge      first segment and final transcript through the edge / direct
  streams   concurrent real-time streams that finalise in time, edge / direct
  ansible   `site.yml --tags clients` and a full idempotent re-run, wall time
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import audio, errors  # noqa: E402
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import (  # noqa: E402
    check_transcription,
)
from support.speech import SENTENCE, make_speech_wav  # noqa: E402


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "p95": round(percentile(values, 0.95), 3)}


def one_stream(url, clip, ca_path, pace=1.0):
    result = check_transcription(url, clip, expected_text=SENTENCE, ca_path=ca_path, pace=pace,
                                 timeout=120)
    latency = result["latency"]
    # first_segment: first frame -> first segment; final: end of the input
    # audio -> last segment completed (what a user waits for).
    return {"first_segment": latency["first_segment"], "final": latency["final"], "wer": result["wer"]}


def bench_edge(args, clip):
    sides = {"edge": args.ws_url, "direct": args.direct_url}
    runs = {name: [] for name in sides}
    for _run in range(args.runs):
        for name, url in sides.items():  # interleaved
            runs[name].append(one_stream(url, clip, args.ca_path))
    out = {}
    for name in sides:
        out[name] = {key: summary([r[key] for r in runs[name]]) for key in ("first_segment", "final", "wer")}
    for key in ("first_segment", "final"):
        edge, direct = out["edge"][key].get("median"), out["direct"][key].get("median")
        out["ratio_" + key] = round(edge / direct, 3) if edge and direct else None
    return out


def sustained(url, clip, ca_path, count, final_limit):
    """How many of ``count`` simultaneous real-time streams finalise within final_limit s."""
    barrier = threading.Barrier(count)
    results = []

    def run():
        barrier.wait(30)
        try:
            results.append(one_stream(url, clip, ca_path))
        except errors.TranscriptionCheckError as exc:
            results.append({"error": type(exc).__name__})

    threads = [threading.Thread(target=run) for _stream in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return sum(1 for r in results if r.get("final") is not None and r["final"] <= final_limit)


def bench_streams(args, clip):
    out = {"final_limit_s": args.final_limit, "by_count": {}}
    best = {"edge": 0, "direct": 0}
    for count in range(1, args.max_streams + 1):
        row = {}
        for name, url in (("edge", args.ws_url), ("direct", args.direct_url)):
            row[name] = sustained(url, clip, args.ca_path, count, args.final_limit)
            if row[name] == count:
                best[name] = max(best[name], count)
        out["by_count"][count] = row
    out["sustained"] = best
    out["ratio"] = round(best["edge"] / best["direct"], 3) if best["direct"] else None
    return out


def timed(command):
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    recap = [line for line in result.stdout.splitlines() if "changed=" in line]
    return {"seconds": round(elapsed, 1), "rc": result.returncode, "recap": recap}


def bench_ansible(args):
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    base = [playbook, "-i", args.inventory, "site.yml"]
    return {"tags_clients": timed(base + ["--tags", "clients"]),
            "idempotent_rerun": timed(base)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ws-url", default="wss://localhost/ws", help="the edge's WebSocket URL")
    parser.add_argument("--direct-url", default="ws://127.0.0.1:9090", help="WhisperLive itself")
    parser.add_argument("--ca-path", default=os.path.expanduser("~/.local/share/realtime_asr/rasr-edge/caddy-root.crt"),
                        help="CA that signed the edge's certificate")
    parser.add_argument("--inventory", default="inventory/local")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-streams", type=int, default=3)
    parser.add_argument("--final-limit", type=float, default=5.0,
                        help="a stream counts as sustained when its final segment comes this soon after speech end")
    parser.add_argument("--only", default="edge,streams,ansible")
    parser.add_argument("--output", default=os.path.join(REPO, "bench", "results", "latest.json"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        clip = audio.load_wav(make_speech_wav(os.path.join(tmp, "s.wav"), SENTENCE, trailing_silence=1.0))
    parts = set(args.only.split(","))
    report = {"machine": {"cpus": os.cpu_count()}, "audio_seconds": round(clip.seconds, 2)}
    if "edge" in parts:
        report["edge"] = bench_edge(args, clip)
    if "streams" in parts:
        report["streams"] = bench_streams(args, clip)
    if "ansible" in parts:
        report["ansible"] = bench_ansible(args)

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(report, handle, indent=2)
    print_table(report)
    print("\nJSON: %s" % args.output)


def print_table(report):
    rows = []
    edge = report.get("edge")
    if edge:
        for key in ("first_segment", "final"):
            rows.append(("%s through edge, median/p95 s" % key,
                         "%s / %s" % (edge["edge"][key].get("median"), edge["edge"][key].get("p95")), ""))
            rows.append(("%s direct, median/p95 s" % key,
                         "%s / %s" % (edge["direct"][key].get("median"), edge["direct"][key].get("p95")), ""))
            rows.append(("edge overhead (%s), edge/direct" % key, edge["ratio_" + key], "<= 1.02"))
        rows.append(("WER through edge, median", edge["edge"]["wer"].get("median"), "<= 0.35"))
    streams = report.get("streams")
    if streams:
        rows.append(("sustained real-time streams, edge", streams["sustained"]["edge"], ""))
        rows.append(("sustained real-time streams, direct", streams["sustained"]["direct"], ""))
        rows.append(("streams edge/direct", streams["ratio"], "1.0"))
    ans = report.get("ansible")
    if ans:
        rows.append(("site.yml --tags clients, s", ans["tags_clients"]["seconds"], "<= 10"))
        rows.append(("site.yml idempotent re-run, s", ans["idempotent_rerun"]["seconds"], "<= 60"))
    width = max(len(r[0]) for r in rows) if rows else 10
    print("%-*s  %-16s %s" % (width, "figure", "value", "goal"))
    for name, value, goal in rows:
        print("%-*s  %-16s %s" % (width, name, value, goal))


if __name__ == "__main__":
    main()
