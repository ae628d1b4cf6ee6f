"""audio: any WAV in, mono Float32 16 kHz out; everything else refused."""

import numpy as np
import pytest
import soundfile

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import audio
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.errors import AudioError

SUBTYPES = {"int16": "PCM_16", "int24": "PCM_24", "int32": "PCM_32", "float": "FLOAT", "double": "DOUBLE",
            "uint8": "PCM_U8"}


def tone(rate, seconds=1.0, freq=440.0, channels=1, amplitude=0.5):
    t = np.arange(int(rate * seconds)) / float(rate)
    mono = amplitude * np.sin(2 * np.pi * freq * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def peak_frequency(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1.0 / rate)[np.argmax(spectrum)]


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("kind", sorted(SUBTYPES))
def test_any_wav_becomes_mono_float32_16k(tmp_path, rate, kind):
    path = str(tmp_path / "in.wav")
    soundfile.write(path, tone(rate), rate, subtype=SUBTYPES[kind])
    clip = audio.load_wav(path)
    assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    assert clip.seconds == pytest.approx(1.0, abs=0.002)
    assert clip.source_rate == rate and clip.source_subtype == SUBTYPES[kind]
    # The tone survives resampling: same pitch, same level (no clipping, no int scale left).
    assert peak_frequency(clip.samples, audio.TARGET_RATE) == pytest.approx(440.0, abs=2.0)
    assert np.max(np.abs(clip.samples[2000:-2000])) == pytest.approx(0.5, abs=0.03)


def test_stereo_is_downmixed_by_averaging(tmp_path):
    path = str(tmp_path / "stereo.wav")
    left = tone(48000, amplitude=0.6)
    data = np.stack([left, np.zeros_like(left)], axis=1)
    soundfile.write(path, data, 48000, subtype="PCM_16")
    clip = audio.load_wav(path)
    assert clip.source_channels == 2
    assert np.max(np.abs(clip.samples[2000:-2000])) == pytest.approx(0.3, abs=0.02)


def test_downsampling_filters_what_16k_cannot_hold(tmp_path):
    """A 7.9 kHz-and-up tone must not fold back into the speech band (aliasing)."""
    path = str(tmp_path / "high.wav")
    soundfile.write(path, tone(48000, freq=12000.0), 48000, subtype="FLOAT")
    clip = audio.load_wav(path)
    assert np.sqrt(np.mean(clip.samples[2000:-2000] ** 2)) < 0.01


def test_wav_extensible_is_accepted(tmp_path):
    path = str(tmp_path / "ext.wav")
    soundfile.write(path, tone(16000, channels=2), 16000, subtype="PCM_24", format="WAVEX")
    assert audio.load_wav(path).seconds == pytest.approx(1.0)


@pytest.mark.parametrize("fmt, ext", [("FLAC", "flac"), ("OGG", "ogg"), ("AIFF", "aiff")])
def test_other_formats_are_refused_with_advice(tmp_path, fmt, ext):
    path = str(tmp_path / ("in." + ext))
    soundfile.write(path, tone(16000), 16000, format=fmt)
    with pytest.raises(AudioError, match="not WAV.*sox"):
        audio.load_wav(path)


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n")
    with pytest.raises(AudioError, match="not a WAV file"):
        audio.load_wav(str(path))


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        audio.load_wav(str(path))


def test_wav_without_samples_is_refused(tmp_path):
    path = str(tmp_path / "header-only.wav")
    soundfile.write(path, np.zeros((0,)), 16000, subtype="PCM_16")
    with pytest.raises(AudioError, match="no samples"):
        audio.load_wav(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(AudioError, match="does not exist"):
        audio.load_wav(str(tmp_path / "nope.wav"))


def test_frames_are_little_endian_float32_of_chunk_ms():
    samples = np.arange(16000 * 0.25, dtype=np.float32) / 10000.0
    chunks = list(audio.frames(samples, 100))
    assert [len(c) for c in chunks] == [1600 * 4, 1600 * 4, 800 * 4]
    assert np.array_equal(np.frombuffer(b"".join(chunks), dtype="<f4"), samples)


def test_silence():
    quiet = audio.silence(0.5)
    assert quiet.dtype == np.float32 and len(quiet) == 8000 and not quiet.any()


def test_speech_end_is_where_the_sound_stops():
    samples = np.concatenate([tone(16000, seconds=1.0), np.zeros(8000)]).astype(np.float32)
    assert audio.Clip(samples, 16000, 1, "FLOAT").speech_end == pytest.approx(1.0, abs=0.01)
    assert audio.Clip(np.zeros(160, dtype=np.float32), 16000, 1, "FLOAT").speech_end == 0.0
