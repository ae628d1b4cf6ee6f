"""Stream a scene over the WhisperLive protocol in real time and time what comes back.

Shared by the endpointing tests (what arrives, and in which state) and by
``bench/endpointing.py`` (how soon). Time zero is the first frame sent, the
protocol's equivalent of a page's capture start; the scene's speech bounds
are offsets from it. Nothing here asserts: callers do.
"""

import json
import os
import sys
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "collections"))

from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import wer as wer_utils  # noqa: E402
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import (  # noqa: E402
    Transcript,
)

END_OF_AUDIO = b"END_OF_AUDIO"
# What upstream's TranscriptionClient sends (whisper_live/client.py): no tuning options.
UPSTREAM_OPTIONS = {"language": "en", "task": "transcribe", "model": "tiny.en", "use_vad": True}


def stream_timed(url, samples, bounds, options=None, chunk_ms=100, end_of_audio=True, timeout=120,
                 ssl_context=None, headers=None, rate=16000, pace=1.0):
    """Stream ``samples`` (float32, 16 kHz) at ``pace`` times real time; return what arrived and when.

    ``bounds`` are the (onset, end) of each spoken part, seconds from the
    first frame. Returned: ``first_words`` (seconds after the first onset
    until a message held any text), ``all_green`` (seconds after the last
    speech end until a message held no partial and a completed segment
    reaching past the last onset), ``transcript`` (completed text, in order),
    ``segments`` (the completed segments), ``partial`` (a partial still
    pending at the close, if any), ``completed_at_close`` (the last message
    before the close had no partial), ``flushed`` (segments completed after
    END_OF_AUDIO), ``close_code``.
    """
    first = {"uid": str(uuid.uuid4())}
    first.update(UPSTREAM_OPTIONS if options is None else options)
    transcript = Transcript()
    events = []
    state = {"t0": None, "eoa": None, "closed": None, "code": None}
    failures = []
    kwargs = {"open_timeout": 30, "max_size": None}
    if ssl_context is not None:
        kwargs["ssl"] = ssl_context
    if headers:
        kwargs["additional_headers"] = headers
    with connect(url, **kwargs) as ws:
        ws.send(json.dumps(first))
        ready = json.loads(ws.recv(timeout=60))
        if ready.get("message") != "SERVER_READY":
            raise RuntimeError("no SERVER_READY: %r" % (ready,))

        def receive():
            try:
                while True:
                    raw = ws.recv(timeout=timeout)
                    now = time.monotonic()
                    msg = json.loads(raw)
                    if "segments" in msg:
                        transcript.update(msg["segments"])
                        events.append((now, transcript.text(include_partial=True), transcript.partial is None,
                                       [dict(s) for s in transcript.completed], msg["segments"]))
            except ConnectionClosed as exc:
                state["closed"] = time.monotonic()
                state["code"] = exc.rcvd.code if exc.rcvd else None
            except Exception as exc:  # reported to the caller
                failures.append(exc)

        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        chunk = int(rate * chunk_ms / 1000)
        state["t0"] = time.monotonic()
        for index in range(0, len(samples), chunk):
            due = state["t0"] + index / float(rate) / pace
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            ws.send(samples[index:index + chunk].astype("<f4").tobytes())
        if end_of_audio:
            state["eoa"] = time.monotonic()
            ws.send(END_OF_AUDIO)
        reader.join(timeout=timeout)
    if failures:
        raise failures[0]
    return summarise(events, state, bounds)


def summarise(events, state, bounds):
    t0 = state["t0"]
    onset, last_onset, last_end = bounds[0][0], bounds[-1][0], bounds[-1][1]
    first_words = all_green = None
    for at, text, no_partial, completed, _raw in events:
        rel = at - t0
        if first_words is None and text:
            first_words = rel - onset
        if (all_green is None and rel >= last_end and no_partial and completed
                and completed[-1]["end"] >= last_onset):
            all_green = rel - last_end
    final = events[-1] if events else None
    before_eoa = [e for e in events if state["eoa"] is None or e[0] < state["eoa"]]
    completed = final[3] if final else []
    known = {s["start"] for s in before_eoa[-1][3]} if before_eoa else set()
    return {
        "first_words": None if first_words is None else round(first_words, 3),
        "all_green": None if all_green is None else round(all_green, 3),
        "transcript": " ".join(s["text"] for s in completed).strip(),
        "segments": completed,
        "partial": None if final is None or final[2] else final[1],
        "completed_at_close": bool(final and final[2] and completed),
        "flushed": [s for s in completed if s["start"] not in known],
        "close_code": state["code"],
        "messages": len(events),
        "texts": [e[1] for e in events],
    }


def wer(reference, hypothesis):
    return wer_utils.word_error_rate(reference, hypothesis)
