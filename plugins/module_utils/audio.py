# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Turn any WAV file into what WhisperLive reads: mono Float32 PCM at 16 kHz.

Decoding is libsndfile's (``soundfile``), resampling is libsoxr's (``soxr``,
an anti-aliased high-quality resampler). Plain Python, no Ansible import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    import numpy as np
    import soundfile
    import soxr
except ImportError as exc:  # reported by the module with missing_required_lib
    np = soundfile = soxr = None
    AUDIO_IMPORT_ERROR = exc
else:
    AUDIO_IMPORT_ERROR = None

from .errors import AudioError

# What WhisperLive expects on the wire (whisper_live/server.py: RATE = 16000,
# frames decoded with numpy.frombuffer(..., dtype=numpy.float32)).
TARGET_RATE = 16000
WIRE_DTYPE = "<f4"
# libsndfile's names for the RIFF/WAVE family (plain, extensible, 64-bit).
WAV_FORMATS = ("WAV", "WAVEX", "RF64")


class Clip(object):
    """Mono Float32 samples at TARGET_RATE plus what the source was."""

    def __init__(self, samples, source_rate, source_channels, source_subtype, path=None):
        self.samples = samples
        self.source_rate = source_rate
        self.source_channels = source_channels
        self.source_subtype = source_subtype
        self.path = path

    @property
    def seconds(self):
        return len(self.samples) / float(TARGET_RATE)

    @property
    def speech_end(self):
        """Seconds to the last sample within 20 dB of the peak (0.0 for silence)."""
        if not len(self.samples):
            return 0.0
        level = np.abs(self.samples)
        loud = np.flatnonzero(level >= 0.1 * float(level.max())) if level.max() > 0 else []
        return (loud[-1] + 1) / float(TARGET_RATE) if len(loud) else 0.0

    def describe(self):
        return {
            "path": self.path,
            "seconds": round(self.seconds, 3),
            "source_rate": self.source_rate,
            "source_channels": self.source_channels,
            "source_subtype": self.source_subtype,
        }


def to_wire_format(samples, source_rate):
    """Downmix to mono and resample to 16 kHz Float32 (numpy array).

    ``samples`` is a float array, shape (frames,) or (frames, channels).
    """
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    elif data.ndim != 1:
        raise AudioError("audio must be one- or two-dimensional, got %d dimensions" % data.ndim)
    if source_rate != TARGET_RATE:
        data = soxr.resample(data, source_rate, TARGET_RATE, quality="HQ")
    return np.ascontiguousarray(data, dtype=np.float32)


def load_wav(path):
    """Read a WAV file of any PCM/float subtype, rate and channel count.

    Raises AudioError for a missing, empty, non-WAV or silent-length file.
    """
    if not os.path.isfile(path):
        raise AudioError("audio file %s does not exist or is not a file" % path)
    if os.path.getsize(path) == 0:
        raise AudioError("audio file %s is empty (0 bytes)" % path)
    try:
        info = soundfile.info(path)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioError("audio file %s is not a WAV file libsndfile can read: %s" % (path, exc))
    if info.format not in WAV_FORMATS:
        raise AudioError(
            "audio file %s is %s (%s), not WAV; convert it first, e.g. "
            "`sox in.%s -r 16000 -c 1 out.wav`" % (path, info.format, info.format_info, info.format.lower())
        )
    if info.frames <= 0:
        raise AudioError("audio file %s holds no samples" % path)
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioError("audio file %s could not be decoded: %s" % (path, exc))
    samples = to_wire_format(data, rate)
    if samples.size == 0:
        raise AudioError("audio file %s is too short to resample to %d Hz" % (path, TARGET_RATE))
    return Clip(samples, rate, info.channels, info.subtype, path=path)


def silence(seconds):
    """Float32 zeros lasting ``seconds`` at TARGET_RATE."""
    return np.zeros(int(round(seconds * TARGET_RATE)), dtype=np.float32)


def frames(samples, chunk_ms):
    """Split samples into wire frames (bytes, little-endian Float32) of chunk_ms."""
    step = max(1, int(TARGET_RATE * chunk_ms / 1000.0))
    wire = np.asarray(samples, dtype=WIRE_DTYPE)
    for start in range(0, len(wire), step):
        yield wire[start:start + step].tobytes()
