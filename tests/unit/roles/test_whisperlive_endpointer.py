"""The launcher's endpointing decisions and encoder window (plain Python: no WhisperLive, no torch).

Speech probabilities stand in for Silero's, one per 32 ms window. The real
server's behaviour (VAD on real audio, completion before the close) is
tested in tests/integration/test_endpointing.py.
"""

import pytest

from unit import launcher as launcher_file

W = 512 / 16000.0  # one window, seconds


@pytest.fixture(scope="module")
def launcher():
    return launcher_file.load()


@pytest.fixture
def ep(launcher):
    return launcher.Endpointer(silence_s=0.5, margin_s=0.1, min_speech_s=0.1)


def windows(*runs):
    """[(probability, seconds), ...] -> one probability per window."""
    out = []
    for prob, seconds in runs:
        out += [prob] * int(round(seconds / W))
    return out


def test_silence_and_noise_below_the_threshold_are_no_speech(ep):
    span = ep.span(windows((0.0, 3.0)))
    assert not span.has_speech and span.trailing_silence == pytest.approx(3.0, abs=W)
    # pink noise: Silero hovers well under 0.5
    assert not ep.span(windows((0.2, 1.0), (0.4, 1.0), (0.3, 1.0))).has_speech


def test_a_blip_shorter_than_min_speech_is_noise(ep):
    assert not ep.span(windows((0.0, 1.0), (0.9, 0.064), (0.0, 1.0))).has_speech
    assert ep.span(windows((0.0, 1.0), (0.9, 0.16), (0.0, 1.0))).has_speech


def test_speech_bounds_use_hysteresis(ep):
    # speech 1.0-3.0 s; after it the probability sits between the two thresholds for 0.3 s
    span = ep.span(windows((0.0, 1.0), (0.9, 2.0), (0.4, 0.3), (0.1, 1.0)))
    assert span.start == pytest.approx(1.0, abs=W)
    assert span.end == pytest.approx(3.3, abs=2 * W)  # still speech until it drops below 0.35
    assert span.trailing_silence == pytest.approx(1.0, abs=2 * W)


def test_a_pause_inside_speech_keeps_one_span(ep):
    span = ep.span(windows((0.9, 1.0), (0.1, 0.3), (0.9, 1.0), (0.0, 0.2)))
    assert span.start == 0.0 and span.end == pytest.approx(2.3, abs=W)
    assert span.spoken == pytest.approx(2.0, abs=2 * W)


def test_speech_to_the_end_of_the_chunk_has_no_trailing_silence(ep):
    span = ep.span(windows((0.0, 0.5), (0.9, 1.0)))
    assert span.end == pytest.approx(span.length) and span.trailing_silence == pytest.approx(0.0)
    assert not ep.ended(span)


def test_ended_needs_the_endpoint_silence(ep):
    assert not ep.ended(ep.span(windows((0.9, 2.0), (0.0, 0.4))))
    assert ep.ended(ep.span(windows((0.9, 2.0), (0.0, 0.55))))


def test_covered_needs_the_decode_to_reach_past_the_speech(ep):
    span = ep.span(windows((0.9, 2.0), (0.0, 1.0)))  # speech ends at 2.0 s of 3.0 s
    assert not ep.covered(span, 1.9)   # the decode stopped inside the last word
    assert not ep.covered(span, 2.05)  # within the margin: the last phoneme may be cut
    assert ep.covered(span, 2.1)
    assert not ep.covered(ep.span(windows((0.0, 1.0))), 1.0)  # no speech: nothing to cover


def test_cut_keeps_a_tail_for_an_onset(ep):
    span = ep.span(windows((0.0, 2.0)))
    assert ep.cut(span) == pytest.approx(span.length - 0.3)
    assert ep.cut(ep.span(windows((0.0, 0.2)))) == 0.0


def test_a_two_sentence_scene_ends_the_first_in_a_700_ms_pause(ep):
    """Speech, a 700 ms pause: the first segment ends inside the pause, before the second starts."""
    first = ep.span(windows((0.9, 3.0), (0.05, 0.55)))
    assert ep.ended(first) and ep.covered(first, first.length)


@pytest.mark.parametrize("frames, window, expected", [
    (150, 1000, 1000),    # 1.5 s of audio in a 10 s window
    (1001, 1000, 1100),   # longer than the window: the next whole second
    (2950, 1000, 3000),
    (4000, 1000, 3000),   # never past Whisper's 30 s
    (150, 3000, 3000),    # window 30 s = Whisper's own
])
def test_encoder_frames(launcher, frames, window, expected):
    assert launcher.encoder_frames(frames, window) == expected


def test_endpoint_settings_are_validated(launcher, tmp_path):
    base = {"host": "127.0.0.1", "models": ["m=%s" % launcher_file.model_dir(tmp_path)]}
    conf = launcher.validate_config(base)
    assert conf["endpoint_silence_ms"] == 500 and conf["partial_window_s"] == 10
    with pytest.raises(launcher.ConfigError, match=r"endpoint_silence_ms: -1 is not an integer in \[0, 10000\]"):
        launcher.validate_config(dict(base, endpoint_silence_ms=-1))
    with pytest.raises(launcher.ConfigError, match=r"partial_window_s: 40 is not an integer in \[1, 30\]"):
        launcher.validate_config(dict(base, partial_window_s=40))


class Seg:
    """A faster-whisper Segment as upstream reads one."""

    def __init__(self, start, end, text, no_speech_prob=0.1, words=None):
        self.start, self.end, self.text, self.no_speech_prob, self.words = start, end, text, no_speech_prob, words


def test_a_greedy_pass_is_one_partial_so_it_completes_nothing(launcher):
    merged = launcher.one_partial([Seg(0.0, 2.0, " The quick brown fox.", words=["a"]),
                                   Seg(2.7, 4.1, " While the weather stays", words=["b", "c"])], 0.45)
    assert len(merged) == 1
    only = merged[0]
    assert (only.start, only.end) == (0.0, 4.1)
    assert only.text == " The quick brown fox. While the weather stays"
    assert only.words == ["a", "b", "c"] and only.no_speech_prob == pytest.approx(0.1)


def test_one_partial_leaves_out_what_whisper_calls_no_speech(launcher):
    segs = [Seg(0.0, 1.0, " Hello.", no_speech_prob=0.2), Seg(1.0, 3.0, " Thank you.", no_speech_prob=0.9),
            Seg(3.0, 3.5, "  ", no_speech_prob=0.0)]
    kept = launcher.one_partial(segs, 0.45)
    assert [s.text for s in kept] == [" Hello."] and kept[0] is segs[0]
    assert launcher.one_partial([Seg(0.0, 1.0, " Thanks.", no_speech_prob=0.8)], 0.45) == []
    assert launcher.one_partial([], 0.45) == []
