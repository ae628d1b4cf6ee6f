"""The sample checks the browser tests rely on (support.speech, support.clients):
they must pass the page's own stream and fail a wrong one. Synthetic speech
(noise bursts between pauses) stands in for espeak-ng here."""

import numpy as np
import pytest
import soxr

from support import clients, speech

RATE = 16000


def _speech_like(seconds=6.0, seed=3):
    """Bursts of band-limited noise (0.3 s on, 0.2 s off) after 0.1 s of quiet."""
    rng = np.random.default_rng(seed)
    samples = np.zeros(int(seconds * RATE))
    for start in np.arange(0.1, seconds - 0.3, 0.5):
        at = int(start * RATE)
        samples[at:at + int(0.3 * RATE)] = rng.standard_normal(int(0.3 * RATE)) * 0.3
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(len(samples), 1.0 / RATE) > 6000] = 0
    return np.fft.irfft(spectrum, len(samples)).astype(np.float32)


@pytest.fixture
def clip(tmp_path):
    samples = _speech_like()
    return str(speech.write_wav(str(tmp_path / "clip.wav"), samples, RATE)), samples


def _resampled_through_48k(samples, delay_48k=7):
    """What a page does: a 48 kHz context (Chromium upsamples the microphone,
    a few samples late) resampled back to 16 kHz."""
    up = np.concatenate([np.zeros(delay_48k), soxr.resample(samples, RATE, 48000)])
    return soxr.resample(up, 48000, RATE).astype(np.float32)


def test_the_offset_is_found_to_a_fraction_of_a_sample(clip):
    _path, samples = clip
    sent = np.concatenate([np.zeros(4800, dtype=np.float32), _resampled_through_48k(samples)])
    offset, correlation = speech.aligned_band_correlation(sent, samples)
    assert offset == pytest.approx(0.3 + 7 / 48000.0, abs=0.1 / RATE)
    assert correlation >= 0.999


def test_the_pages_own_stream_passes(clip):
    path, samples = clip
    sent = np.concatenate([np.zeros(800, dtype=np.float32), _resampled_through_48k(samples), np.zeros(8000)])
    figures = clients.assert_sent_the_clip({"samples": sent}, path)
    assert "12 of 12 half seconds" in figures, figures


def test_one_spoiled_buffer_at_the_start_is_tolerated(clip):
    """Chromium's capture fills its first render quanta with silence on a busy machine."""
    path, samples = clip
    sent = _resampled_through_48k(samples).copy()
    sent[2000:2256] = 0.0
    assert "11 of 12 half seconds" in clients.assert_sent_the_clip({"samples": sent}, path)


@pytest.mark.parametrize("name, sent", [
    ("44.1 kHz taken for 48 kHz", lambda s: soxr.resample(s, RATE, RATE * 48000 / 44100.0)),
    ("every tenth 100 ms frame dropped", lambda s: np.concatenate(
        [s[i:i + 1600] for i in range(0, len(s), 1600) if (i // 1600) % 10 != 9])),
    ("the second half lost", lambda s: s[:len(s) // 2]),
    ("silence", np.zeros_like),
])
def test_a_wrong_stream_fails(clip, name, sent):
    path, samples = clip
    with pytest.raises(AssertionError, match="other samples|began sending"):
        clients.assert_sent_the_clip({"samples": np.asarray(sent(samples), dtype=np.float32)}, path)


def test_a_stream_that_began_late_fails(clip):
    path, samples = clip
    with pytest.raises(AssertionError, match="began sending 0.400 s after"):
        clients.assert_sent_the_clip({"samples": samples[int(0.4 * RATE):]}, path)


def test_a_clip_without_speech_is_refused(tmp_path):
    """Nothing to compare is a failure, never a pass."""
    path = str(speech.write_wav(str(tmp_path / "quiet.wav"), np.zeros(RATE * 2, dtype=np.float32), RATE))
    with pytest.raises(AssertionError, match="holds no speech"):
        clients.assert_sent_the_clip({"samples": np.zeros(RATE * 3, dtype=np.float32)}, path)
