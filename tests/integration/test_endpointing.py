"""The server ends segments where the speaker stops, with its own defaults (issue 17).

The role's launcher on a real WhisperLive (CPU, tiny.en), fed scenes built
by espeak-ng and sox: speech, pauses and pink noise under all of it at
20 dB SNR (a room, not digital silence). Every stream connects as
upstream's TranscriptionClient does: no tuning options. What is asserted is
what arrives and in which state, never how soon; the figures are in
``make bench`` (bench/endpointing.py).
"""

import threading

import numpy as np
import pytest

from support import speech
from support.timing import stream_timed, wer

pytestmark = [pytest.mark.slow, pytest.mark.integration]

LAST_WORDS = {speech.SENTENCE: "afternoon", speech.SHORT_SENTENCE: "store"}


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = speech.missing_tools()
    if missing:
        pytest.skip("needs %s (apt-get install espeak-ng sox)" % ", ".join(missing))


def holding(segments, word):
    """The segments whose text holds ``word``."""
    return [s for s in segments if word in s["text"].lower()]


def test_the_server_completes_the_last_segment_while_the_stream_is_open(whisperlive_server):
    """Two seconds of room noise after the sentence, no options sent: upstream completes nothing in
    that time (its repetition rule needs 10 repeats); the launcher must, before END_OF_AUDIO."""
    scene, bounds = speech.make_scene([1.0, speech.SENTENCE, 2.0], snr_db=speech.ROOM_SNR_DB)
    seen = stream_timed(whisperlive_server.url, scene, bounds)
    assert seen["partial"] is None and seen["completed_at_close"], seen
    assert holding(seen["segments"], LAST_WORDS[speech.SENTENCE]), seen["segments"]
    assert seen["flushed"] == [], "the last segment was completed only by END_OF_AUDIO's flush: %s" % seen
    assert seen["all_green"] is not None
    assert wer(speech.SENTENCE, seen["transcript"]) <= speech.MAX_WER, seen["transcript"]
    assert seen["close_code"] == 1000


def test_end_of_audio_flushes_what_is_left_before_the_close(whisperlive_server):
    """END_OF_AUDIO 0.1 s after the last word: what is left arrives completed, then the close."""
    scene, bounds = speech.make_scene([0.5, speech.SHORT_SENTENCE, 0.1])
    seen = stream_timed(whisperlive_server.url, scene, bounds)
    last = holding(seen["segments"], LAST_WORDS[speech.SHORT_SENTENCE])
    assert last and last[-1] in seen["flushed"], seen
    assert seen["partial"] is None and seen["completed_at_close"]
    assert wer(speech.SHORT_SENTENCE, seen["transcript"]) <= speech.MAX_WER, seen["transcript"]
    assert seen["close_code"] == 1000


def test_silence_and_pink_noise_give_no_text(whisperlive_server):
    """30 s of digital silence and 30 s of sox's pink noise (vol 0.05), at once, six times real time:
    nothing at all comes back (no "Thank you.")."""
    scenes = {"silence": np.zeros(30 * 16000, dtype=np.float32), "pink noise": speech.pink_noise(30.0)}
    seen, failures = {}, []

    def run(name):
        try:
            seen[name] = stream_timed(whisperlive_server.url, scenes[name], [(0.0, 0.0)], pace=6.0)
        except Exception as exc:  # reported below, with the stream's name
            failures.append("%s: %r" % (name, exc))

    threads = [threading.Thread(target=run, args=(name,)) for name in scenes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    for name in scenes:
        assert seen[name]["texts"] == [] and seen[name]["segments"] == [], (name, seen[name])
        assert seen[name]["close_code"] == 1000, (name, seen[name])


def test_two_sentences_with_a_700_ms_pause_are_two_green_segments(whisperlive_server):
    scene, bounds = speech.make_scene([0.5, speech.SENTENCE, 0.7, speech.SHORT_SENTENCE, 1.5],
                                      snr_db=speech.ROOM_SNR_DB)
    seen = stream_timed(whisperlive_server.url, scene, bounds)
    texts = [s["text"] for s in seen["segments"]]
    assert len(texts) == 2 and seen["partial"] is None, seen
    assert wer(speech.SENTENCE, texts[0]) <= speech.MAX_WER, texts
    assert wer(speech.SHORT_SENTENCE, texts[1]) <= speech.MAX_WER, texts
    # no word lost or repeated across the boundary
    assert holding(seen["segments"], LAST_WORDS[speech.SENTENCE]) == [seen["segments"][0]], texts
    assert holding(seen["segments"], "please") == [seen["segments"][1]], texts
    assert seen["segments"][0]["end"] <= seen["segments"][1]["start"], seen["segments"]
