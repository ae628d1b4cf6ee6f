# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness probe for a WhisperLive server, run with the service's venv.

Opens a real WebSocket, sends the first JSON message and waits for
SERVER_READY. With ``--wav`` it also streams a 16 kHz mono 16-bit WAV as
Float32 frames paced in real time, then a trailing silence, and reports the
transcript and the time from the first frame to the first segment.

Prints one JSON object; exit 0 when ready (and, with --wav, some text came
back), 1 otherwise. With --retries it tries again until the deadline, so a
service that is still starting counts as 'not yet', not as a failure.

Why this file beside the collection's protocol client
(plugins/module_utils/whisperlive_client.py, module transcription_check):
the probe runs on the GPU host, in WhisperLive's own venv, because the
port is reachable only there on AWS (the GPU's security group admits 9090
from the edge's group alone, and the role must know the server is ready
before the edge proxies to it). That venv holds exactly the server's pinned
requirements: websockets and numpy are among them, while the module's
soundfile, soxr and jiwer are not and are not added for a probe. So the
probe needs nothing beyond the service it checks, and stays a small
standalone script. Everything that runs on the control node (315, 220,
the tests) uses the module.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import sys
import time
import uuid
import wave

__metaclass__ = type

RATE = 16000


def read_wav(path):
    """Float32 samples of a 16 kHz mono 16-bit WAV."""
    import numpy as np
    with wave.open(path, "rb") as handle:
        if handle.getframerate() != RATE or handle.getnchannels() != 1 or handle.getsampwidth() != 2:
            raise ValueError("%s: need 16 kHz mono 16-bit PCM, got %d Hz, %d ch, %d bytes"
                             % (path, handle.getframerate(), handle.getnchannels(), handle.getsampwidth()))
        data = handle.readframes(handle.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def probe(url, model, timeout, api_key=None, wav=None, chunk_ms=100, tail_s=3.0,
          same_output_threshold=3):
    from websockets.sync.client import connect
    result = {"url": url, "ready": False}
    headers = {"Authorization": "Bearer %s" % api_key} if api_key else None
    started = time.monotonic()
    with connect(url, open_timeout=timeout, additional_headers=headers, max_size=None) as ws:
        uid = str(uuid.uuid4())
        first = {"uid": uid, "language": "en", "task": "transcribe", "use_vad": False,
                 "same_output_threshold": same_output_threshold}
        if model:
            first["model"] = model
        ws.send(json.dumps(first))
        while True:
            message = json.loads(ws.recv(timeout=max(0.1, timeout - (time.monotonic() - started))))
            if message.get("message") == "SERVER_READY":
                result.update(ready=True, backend=message.get("backend"),
                              ready_s=round(time.monotonic() - started, 3))
                break
            if message.get("status") in ("WAIT", "ERROR"):
                result.update(status=message["status"], message=message.get("message"))
                return result
        if wav is None:
            ws.send(b"END_OF_AUDIO")
            return result
        samples = read_wav(wav)
        import numpy as np
        silence = np.zeros(int(tail_s * RATE), dtype=np.float32)
        audio = np.concatenate([samples, silence])
        step = int(RATE * chunk_ms / 1000)
        segments = {}
        first_frame = time.monotonic()
        first_segment = None
        for index, offset in enumerate(range(0, len(audio), step)):
            ws.send(audio[offset:offset + step].tobytes())
            deadline = first_frame + (index + 1) * chunk_ms / 1000.0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    message = json.loads(ws.recv(timeout=left))
                except TimeoutError:
                    break
                for seg in message.get("segments", []):
                    if first_segment is None and seg.get("text", "").strip():
                        first_segment = time.monotonic() - first_frame
                    segments[seg["start"]] = seg
        ws.send(b"END_OF_AUDIO")
        ordered = [segments[k] for k in sorted(segments, key=float)]
        result.update(
            audio_s=round(len(samples) / RATE, 2),
            first_segment_s=None if first_segment is None else round(first_segment, 3),
            completed=sum(1 for s in ordered if s.get("completed")),
            text=" ".join(s["text"].strip() for s in ordered).strip(),
        )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="WhisperLive readiness probe (SERVER_READY, optional WAV)")
    parser.add_argument("--url", required=True, help="ws://HOST:PORT/")
    parser.add_argument("--model", default=None, help="model name to ask for (default: the server's default)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    parser.add_argument("--retries", type=int, default=1, help="attempts, one second apart")
    parser.add_argument("--api-key-file", default=None, help="file holding the API key")
    parser.add_argument("--wav", default=None, help="16 kHz mono 16-bit WAV to stream after SERVER_READY")
    parser.add_argument("--expect-status", default=None, choices=("WAIT", "ERROR"),
                        help="succeed only when the server answers this status instead of SERVER_READY")
    args = parser.parse_args(argv)
    api_key = None
    if args.api_key_file:
        with open(args.api_key_file) as handle:
            api_key = handle.read().strip()
    result = {"ready": False}
    for attempt in range(1, args.retries + 1):
        try:
            result = probe(args.url, args.model, args.timeout, api_key=api_key, wav=args.wav)
        except (OSError, TimeoutError, ValueError) as exc:
            result = {"url": args.url, "ready": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        except Exception as exc:  # websockets' own errors: handshake refused, closed early
            result = {"url": args.url, "ready": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        result["attempts"] = attempt
        if result.get("ready") or result.get("status"):
            break
        time.sleep(1)
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    if args.expect_status:
        return 0 if result.get("status") == args.expect_status else 1
    if not result.get("ready"):
        return 1
    if args.wav and not result.get("text"):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
