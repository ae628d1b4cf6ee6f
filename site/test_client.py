# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debugging client for a WhisperLive stream, for a human at a shell.

Streams a WAV file and prints each step as it happens: the connection, the
server's SERVER_READY, every segment with its timestamps, the final
transcript, the word error rate and the latency figures.

    python3 test_client.py wss://edge.example.com/ws hello.wav --ca root.crt \\
        --expected "The quick brown fox jumps over the lazy dog."

It carries no protocol code of its own: it runs the collection's client
library (plugins/module_utils of realtime_asr.whisperlive), found in this
order:
  1. installed: ansible_collections.realtime_asr.whisperlive importable;
  2. in a checkout: ../collections next to this file's folder (site/);
  3. deployed: a folder named ``module_utils`` next to this file holding
     errors.py, audio.py, wer.py and whisperlive_client.py (the edge's web
     root ships it that way).
Needs Python 3.8+ with websockets, numpy, soundfile, soxr and jiwer
(pip install -r requirements/control.txt, or those five).

Exit status: 0 when the check passed, 1 when it failed (the class of failure
is printed, e.g. "tls" or "http_status"), 2 for usage errors.
"""

from __future__ import absolute_import, division, print_function

import argparse
import importlib
import json
import os
import sys

__metaclass__ = type

COLLECTION = "ansible_collections.realtime_asr.whisperlive.plugins.module_utils"
HERE = os.path.dirname(os.path.abspath(__file__))


def load_library():
    """Return (audio, errors, whisperlive_client) from wherever they are."""
    names = ("audio", "errors", "whisperlive_client")
    attempts = [
        (None, COLLECTION),
        (os.path.join(os.path.dirname(HERE), "collections"), COLLECTION),
        (HERE, "module_utils"),
    ]
    problems = []
    for path, package in attempts:
        if path is not None:
            if not os.path.isdir(os.path.join(path, *package.split("."))):
                continue
            if path not in sys.path:
                sys.path.insert(0, path)
        try:
            return tuple(importlib.import_module("%s.%s" % (package, name)) for name in names)
        except ImportError as exc:
            problems.append("%s: %s" % (package, exc))
    found = "; ".join(problems) or "not found"
    sys.exit("test_client.py: cannot import the client library (%s). Install the collection, run this "
             "from a checkout, or put its module_utils folder next to this file." % found)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Stream a WAV file to WhisperLive (directly or through the edge) and print what comes back.")
    parser.add_argument("url", help="ws://host:9090/ (WhisperLive) or wss://edge/ws (through the edge)")
    parser.add_argument("wav", help="any WAV file (int16/24/32 or float, mono or stereo, 8-48 kHz)")
    parser.add_argument("--expected", help="what the audio says; prints the word error rate")
    parser.add_argument("--max-wer", type=float, help="fail when the word error rate is above this")
    parser.add_argument("--language", default="en")
    parser.add_argument("--model", default="tiny.en", help="ignored by a server that pins its model")
    parser.add_argument("--task", default="transcribe", choices=["transcribe", "translate"])
    parser.add_argument("--no-vad", dest="vad", action="store_false",
                        help="ask the server not to use its voice activity detector (on by default, as in the page)")
    parser.add_argument("--vad", dest="vad", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pace", type=float, default=1.0,
                        help="1 = real time (default), 2 = twice as fast, 0 = as fast as possible")
    parser.add_argument("--chunk-ms", type=int, default=100, help="frame length in ms (default 100)")
    parser.add_argument("--same-output-threshold", type=int, default=None,
                        help="upstream's repetition rule; not sent by default (the server's own defaults)")
    parser.add_argument("--timeout", type=float, default=60, help="upper bound for the whole run, seconds")
    parser.add_argument("--finalize-timeout", type=float, default=10,
                        help="seconds of silence to send while waiting for the last segment")
    parser.add_argument("--require-final", default="server", choices=["server", "stable", "none"],
                        help="server (default): fail unless the server completes the last segment; "
                             "stable: also accept a partial whose words stopped changing; none: anything")
    parser.add_argument("--stable-messages", type=int, default=3,
                        help="take the last partial as final once its words repeat this often (0: wait for the server)")
    parser.add_argument("--wait-for-slot", type=float, default=0, help="seconds to retry while the server says WAIT")
    parser.add_argument("--ca", dest="ca_path", help="CA file to trust for wss:// (e.g. Caddy's root.crt)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    parser.add_argument("--token", default=os.environ.get("WHISPERLIVE_TOKEN"),
                        help="bearer token (default: $WHISPERLIVE_TOKEN)")
    parser.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                        help="extra HTTP header for the upgrade request (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON at the end")
    args = parser.parse_args(argv)
    headers = {}
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error("--header needs NAME=VALUE, got %r" % item)
        headers[name] = value
    args.headers = headers
    return args


class Printer(object):
    """Turns the library's events into lines for a human."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.shown = set()
        self.partial = None

    def line(self, elapsed, text):
        self.out.write("[%7.2fs] %s\n" % (elapsed, text))
        self.out.flush()

    def __call__(self, name, elapsed, payload):
        if name == "connecting":
            self.line(elapsed, "connecting to %s" % payload)
        elif name == "connected":
            self.line(elapsed, "connected (WebSocket open)")
        elif name == "server_ready":
            self.line(elapsed, "SERVER_READY (backend %s)" % payload)
        elif name == "wait":
            self.line(elapsed, "WAIT: server full, a slot frees in about %.1f min; retrying" % float(payload or 0))
        elif name == "warning":
            self.line(elapsed, "WARNING from server: %s" % payload)
        elif name == "language":
            self.line(elapsed, "language %s (p=%s)" % (payload.get("language"), payload.get("language_prob")))
        elif name == "segments":
            for seg in payload:
                if seg["completed"] and seg["start"] not in self.shown:
                    self.shown.add(seg["start"])
                    self.line(elapsed, "segment  %7.3f-%7.3f  %s" % (seg["start"], seg["end"], seg["text"]))
                elif not seg["completed"] and seg["text"] != self.partial:
                    self.partial = seg["text"]
                    self.line(elapsed, "partial  %7.3f-%7.3f  %s" % (seg["start"], seg["end"], seg["text"]))
        elif name == "audio_sent":
            self.line(elapsed, "all %.2fs of audio sent; streaming silence until the last segment completes"
                      % payload)
        elif name == "final":
            self.line(elapsed, "final: %s" % ("the server completed the last segment" if payload == "server"
                                              else "the last segment's words stopped changing"))
        elif name == "end_of_audio":
            self.line(elapsed, "END_OF_AUDIO sent")
        elif name == "closed":
            self.line(elapsed, "server closed the connection")


def main(argv=None):
    args = parse_args(argv)
    audio, errors, client = load_library()
    printer = Printer()
    try:
        clip = audio.load_wav(args.wav)
        printer.line(0.0, "audio %s: %.2fs, %d Hz, %d channel(s), %s -> mono Float32 16 kHz" % (
            args.wav, clip.seconds, clip.source_rate, clip.source_channels, clip.source_subtype))
        result = client.check_transcription(
            args.url, clip, expected_text=args.expected, max_wer=args.max_wer, on_event=printer,
            language=args.language, model=args.model, task=args.task, use_vad=args.vad, pace=args.pace,
            chunk_ms=args.chunk_ms, same_output_threshold=args.same_output_threshold, timeout=args.timeout,
            finalize_timeout=args.finalize_timeout, stable_messages=args.stable_messages, require_final=args.require_final,
            wait_for_slot=args.wait_for_slot, ca_path=args.ca_path,
            validate_certs=not args.insecure, token=args.token, headers=args.headers)
    except errors.TranscriptionCheckError as exc:
        print("FAILED (%s): %s" % (exc.kind, exc.message), file=sys.stderr)
        if args.json and exc.details:
            print(json.dumps(dict(exc.details, failure=exc.kind), indent=2))
        return 1
    print()
    print("transcript: %s" % result["transcript"])
    if result["wer"] is not None:
        print("WER:        %.3f" % result["wer"])
    print("finalized:  %s%s" % (result["finalized"], " (%s)" % result["finalized_by"] if result["finalized"] else ""))
    print("latency:    %s" % ", ".join("%s %s" % (k, "-" if v is None else "%.3fs" % v)
                                       for k, v in result["latency"].items()))
    print("realtime factor: %s over %.2fs of audio" % (result["realtime_factor"], result["audio_seconds"]))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
