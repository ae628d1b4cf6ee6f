#!/usr/bin/env python
"""How soon words appear and turn green, in a real browser and over the protocol (issue 17).

Against a deployed stack (default: the local deployment, through its edge).
Each run plays a scene: a lead of silence, the reference sentence, a tail of
silence, all of it optionally under pink noise at 20 dB SNR (a room). Onset
and end of the speech are known offsets in the scene; time zero is the
capture start: the page's first audio frame (minus its length) in Chromium
(fake microphone), the first frame sent by the transcription_check module's
client (its defaults: no options sent, the server's completion required).

  onset -> grey   speech onset until the first words show (any text)
  end -> green    speech end until no grey word is left and the last
                  sentence is green (completed by the server)

Figures, not pass/fail: median and p95 over --runs, with one stream and
two streams at once, printed with the goals beside them and written to
bench/results/endpointing.json.

    .venv/bin/python bench/endpointing.py                 # browser and protocol
    .venv/bin/python bench/endpointing.py --only protocol --runs 7
"""

import argparse
import json
import os
import statistics
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
from support import speech  # noqa: E402
from support.timing import wer  # noqa: E402

FRAME_S = 0.1  # the module's chunk_ms default
GOALS = {"onset_to_grey": 1.0, "end_to_green_1": 0.8, "end_to_green_2": 1.5}
# Before issue 17 (its text): browser, clean file, 5 runs on a quiet machine.
BEFORE = {"browser onset_to_grey": 1.8, "browser end_to_green": 2.9,
          "protocol end_to_green page options": "2.7-2.9 (1 stream), 4.6-5.9 (2)",
          "protocol end_to_green no options": "6.5-7.4 (1 stream), never within 8 s (2)"}

# Records, in the page, when frames leave and what the transcript shows.
PAGE_PROBE = """
(() => {
  window.__bench = { firstFrame: null, firstFrameSeconds: 0, log: [] };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (window.__bench.firstFrame === null && data instanceof ArrayBuffer) {
      window.__bench.firstFrame = performance.now();
      window.__bench.firstFrameSeconds = data.byteLength / 4 / 16000;
    }
    return send.call(this, data);
  };
  const watch = () => {
    const box = document.querySelector('#transcript');
    if (!box) { setTimeout(watch, 20); return; }
    new MutationObserver(() => {
      window.__bench.log.push([performance.now(),
        Array.from(box.querySelectorAll('.segment.completed')).map((n) => n.textContent.trim()),
        Array.from(box.querySelectorAll('.segment:not(.completed)')).map((n) => n.textContent.trim())]);
    }).observe(box, { childList: true, subtree: true, characterData: true });
  };
  watch();
})();
"""


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def summary(values):
    got = [v for v in values if v is not None]
    out = {"n": len(values), "missing": len(values) - len(got)}
    if got:
        out.update(median=round(statistics.median(got), 3), p95=round(percentile(got, 0.95), 3))
    return out


def page_figures(bench, bounds, expected):
    """(onset -> grey, end -> green, completed text) from the page's own log."""
    t0 = bench["firstFrame"] - 1000.0 * bench["firstFrameSeconds"]
    onset, last_onset, end = bounds[0][0], bounds[-1][0], bounds[-1][1]
    grey = green = None
    text = ""
    for at, completed, partial in bench["log"]:
        rel = (at - t0) / 1000.0
        if grey is None and (completed or any(partial)):
            grey = rel - onset
        text = " ".join(completed)
        if (green is None and rel >= end and completed and not any(partial)
                and wer(expected, text) <= speech.MAX_WER):
            green = rel - end
    del last_onset
    return grey, green, text


def browser_runs(args, scene_wav, bounds, expected, streams):
    from playwright.sync_api import sync_playwright
    from support.clients import launch_chromium
    rows = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw, scene_wav, args.https_port)
        try:
            for _run in range(args.runs):
                pages = []
                for _stream in range(streams):
                    page = browser.new_page()
                    page.add_init_script(PAGE_PROBE)
                    page.goto(args.page_url)
                    page.wait_for_selector("#model option", state="attached")
                    pages.append(page)
                for page in pages:
                    page.click("#start")
                time.sleep(bounds[-1][1] + args.tail + 1.0)
                for page in pages:
                    bench = page.evaluate("window.__bench")
                    grey, green, text = page_figures(bench, bounds, expected)
                    rows.append({"onset_to_grey": grey, "end_to_green": green,
                                 "wer": round(wer(expected, text), 3)})
                    page.click("#stop")
                    page.close()
        finally:
            browser.close()
    return rows


def protocol_runs(args, scene, bounds, expected, streams):
    """The transcription_check module's client, with its defaults (no options, require_final: server).

    The clip ends where the speech does: after it the client streams silence in
    real time until the server completes the transcript. The client sends each
    frame at its start time (a microphone, at its end), so the capture starts
    one frame before the first one leaves: onset -> grey is ``first_segment``
    + one frame - onset, and end -> green is ``final`` (from the last frame)
    + what the clip holds after the speech's end.
    """
    end_sample = int(round(bounds[-1][1] * 16000))
    clip = audio.Clip(scene[:end_sample], 16000, 1, "FLOAT")
    tail = clip.seconds - bounds[-1][1]
    rows = []
    for _run in range(args.runs):
        results, barrier = [], threading.Barrier(streams)

        def one():
            barrier.wait(30)
            try:
                result = check_transcription(args.url, clip, expected_text=expected, ca_path=args.ca_path,
                                             timeout=120, finalize_timeout=args.tail)
                latency = result["latency"]
                results.append({"onset_to_grey": latency["first_segment"] + FRAME_S - bounds[0][0],
                                "end_to_green": latency["final"] + tail,
                                "wer": result["wer"], "finalized_by": result["finalized_by"]})
            except errors.TranscriptionCheckError as exc:  # a failed run is a missing figure, named
                results.append({"onset_to_grey": None, "end_to_green": None, "error": exc.kind,
                                "finalized_by": exc.details.get("finalized_by")})

        threads = [threading.Thread(target=one) for _stream in range(streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        rows.extend(results)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page-url", default="https://localhost/")
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--url", default="wss://localhost/ws", help="the edge's WebSocket URL")
    parser.add_argument("--ca-path", default=os.path.expanduser("~/.local/share/realtime_asr/rasr-edge/caddy-root.crt"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lead", type=float, default=3.0, help="seconds of silence before the speech")
    parser.add_argument("--tail", type=float, default=4.0, help="seconds of silence after it")
    parser.add_argument("--only", default="browser,protocol")
    parser.add_argument("--rooms", default="clean,room", help="clean (digital silence) and/or room (20 dB SNR)")
    parser.add_argument("--output", default=os.path.join(REPO, "bench", "results", "endpointing.json"))
    args = parser.parse_args(argv)

    report = {"machine": {"cpus": os.cpu_count()}, "runs": args.runs, "before": BEFORE, "figures": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for room in args.rooms.split(","):
            scene, bounds = speech.make_scene([args.lead, speech.SENTENCE, args.tail],
                                              snr_db=speech.ROOM_SNR_DB if room == "room" else None)
            wav = speech.write_wav(os.path.join(tmp, room + ".wav"), scene)
            for path in args.only.split(","):
                for streams in (1, 2):
                    runner = browser_runs if path == "browser" else protocol_runs
                    source = wav if path == "browser" else scene
                    rows = runner(args, source, bounds, speech.SENTENCE, streams)
                    key = "%s %s %d stream%s" % (path, room, streams, "s" if streams > 1 else "")
                    report["figures"][key] = {
                        "onset_to_grey": summary([r["onset_to_grey"] for r in rows]),
                        "end_to_green": summary([r["end_to_green"] for r in rows]),
                        "wer": summary([r.get("wer") for r in rows]),
                        "errors": [r["error"] for r in rows if "error" in r],
                        "finalized_by": sorted({str(r.get("finalized_by")) for r in rows if "finalized_by" in r}),
                    }
                    print_row(key, report["figures"][key], streams)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(report, handle, indent=2)
    print("\nbefore (issue 17): %s" % json.dumps(BEFORE))
    print("JSON: %s" % args.output)


def print_row(key, figures, streams):
    def show(name):
        f = figures[name]
        return "%s/%s" % (f.get("median"), f.get("p95")) + (" (%d missing)" % f["missing"] if f["missing"] else "")
    goal = GOALS["end_to_green_%d" % streams]
    print("%-30s onset->grey %-14s end->green %-14s WER %-12s goals: grey <= %.1f, green <= %.1f s median%s" % (
        key, show("onset_to_grey"), show("end_to_green"), show("wer"), GOALS["onset_to_grey"], goal,
        " errors: %s" % figures["errors"][:2] if figures["errors"] else ""), flush=True)


if __name__ == "__main__":
    main()
