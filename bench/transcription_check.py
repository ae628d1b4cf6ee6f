"""Figures of transcription_check against a real WhisperLive (CPU, tiny.en) on this machine.

No deployment needed: the server is the role's launcher in the cached test
venv (tests/support/whisperlive.py) on a free loopback port. For one ~7 s
sentence (espeak-ng), at pace 1.0 (real time) and 0 (as fast as possible):
SERVER_READY after the socket opens, first segment after the first frame,
final segment after the last frame of the audio, close after END_OF_AUDIO,
WER. Figures, not pass/fail.

    .venv/bin/python bench/transcription_check.py --runs 3
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import audio  # noqa: E402
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import (  # noqa: E402
    check_transcription,
)
from support.speech import SENTENCE, make_speech_wav  # noqa: E402
from support.whisperlive import WhisperLiveServer, ensure_venv, heavy_lock  # noqa: E402

FIGURES = ("server_ready", "first_segment", "final", "close", "total")


def describe(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return "%.2f (%.2f-%.2f)" % (statistics.median(values), min(values), max(values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp, heavy_lock():
        clip = audio.load_wav(make_speech_wav(os.path.join(tmp, "sentence.wav"), SENTENCE))
        server = WhisperLiveServer(ensure_venv(), os.path.join(tmp, "server.log"), max_clients=2)
        with server:
            for run in range(args.runs):
                for pace in (1.0, 0.0):  # interleaved: both see the same machine load
                    result = check_transcription(server.url, clip, expected_text=SENTENCE, pace=pace, timeout=120,
                                                 finalize_timeout=15)
                    rows.setdefault(pace, []).append(result)
    print("transcription_check, %.2f s sentence, tiny.en on CPU, %d run(s) each; median (min-max) seconds"
          % (clip.seconds, args.runs))
    print("%-10s %s %-18s %s" % ("pace", " ".join("%-18s" % f for f in FIGURES), "WER", "finalized"))
    for pace, results in rows.items():
        cells = " ".join("%-18s" % describe([r["latency"][f] for r in results]) for f in FIGURES)
        print("%-10s %s %-18s %d/%d" % ("real time" if pace else "fast", cells, describe([r["wer"] for r in results]),
                                        sum(r["finalized"] for r in results), len(results)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({str(k): v for k, v in rows.items()}, handle, indent=2)


if __name__ == "__main__":
    main()
