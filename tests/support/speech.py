"""Speech WAV files for tests, benchmarks and Molecule verify steps.

espeak-ng speaks a sentence, sox converts it to the rate, channel count and
sample encoding asked for. Usable as a library (``make_speech_wav``) and as a
command:

    python tests/support/speech.py OUT.wav --rate 48000 --channels 2 --encoding float
"""

import argparse
import os
import shutil
import subprocess
import tempfile

# About 7 s at espeak-ng's speed 140: the sentence the figures are measured on.
SENTENCE = "The quick brown fox jumps over the lazy dog, while the weather stays calm and bright all afternoon."
# The word error rate a transcript of SENTENCE may have when decoding varies
# (real-time pace, a busy machine); tiny.en hears "lazy dog" as "lazy nog"
# (0.05). The module's real-time stream measures 0.11 run after run.
MAX_WER = 0.35
# The same through a real browser's microphone. Chromium's capture clock and
# its own load on two cores move where the server cuts the stream, and
# tiny.en hears each cut differently: 0.06, 0.11, 0.28 and 0.39 (7 of 18
# words: "A quick round-fark jump, over the lazy nog, while the weather
# stays come, and right all afternoon", CI run of 2026-12-06) were measured.
# The words coming back is what this bound says (nonsense is near 1); that
# the page sends the microphone's own samples at 16 kHz is proven by the
# samples (``aligned_band_correlation``), not by the WER.
BROWSER_MAX_WER = 0.5
# How alike a stream's samples and the clip's must be (``band_correlation``):
# a file decoded in every format measures 1.0000, each half second of speech
# the browser sent 0.9999 (Chromium's own resampler, then the page's; the
# whole stream 0.969 to 0.9999, as the fake microphone's first buffers
# vary); a clip read at twice its rate gives 0.016, at 44.1 kHz taken for
# 48 kHz 0.10, with every tenth 100 ms frame dropped 0.19.
MIN_SAMPLE_CORRELATION = 0.99
SHORT_SENTENCE = "Please call Stella and ask her to bring these things with her from the store."

# name -> sox output options (encoding, bits)
ENCODINGS = {
    "int16": ["-e", "signed-integer", "-b", "16"],
    "int24": ["-e", "signed-integer", "-b", "24"],
    "int32": ["-e", "signed-integer", "-b", "32"],
    "float": ["-e", "floating-point", "-b", "32"],
}
TOOLS = ("espeak-ng", "sox")


def missing_tools():
    """The programs needed here that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def make_speech_wav(path, text=SENTENCE, rate=16000, channels=1, encoding="int16", speed=140,
                    voice="en-us", trailing_silence=0.0):
    """Write ``text`` spoken by espeak-ng to ``path`` as a WAV file; return ``path``."""
    if encoding not in ENCODINGS:
        raise ValueError("encoding must be one of %s" % ", ".join(sorted(ENCODINGS)))
    missing = missing_tools()
    if missing:
        raise RuntimeError("missing programs: %s (apt-get install espeak-ng sox)" % ", ".join(missing))
    with tempfile.TemporaryDirectory(prefix="speech-") as tmp:
        raw = os.path.join(tmp, "espeak.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", raw, text],
                       check=True, capture_output=True, timeout=60)
        command = ["sox", raw, "-r", str(rate), "-c", str(channels)] + ENCODINGS[encoding] + [path]
        if trailing_silence:
            command += ["pad", "0", str(trailing_silence)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path


# The pink noise of the endpointing checks (issue 17): sox's own generator at
# the volume users complained about upstream, and the SNR a room gives.
PINK_NOISE_VOLUME = 0.05
ROOM_SNR_DB = 20.0


def speech_bounds(samples, rate=16000, floor=0.02):
    """(onset, end) in seconds of the samples louder than ``floor`` of the peak."""
    import numpy as np
    level = np.abs(samples)
    loud = np.flatnonzero(level >= floor * float(level.max())) if len(level) and level.max() > 0 else []
    if not len(loud):
        return None
    return loud[0] / float(rate), (loud[-1] + 1) / float(rate)


def pink_noise(seconds, rate=16000, volume=PINK_NOISE_VOLUME, seed=1):
    """sox's pink noise (``synth pinknoise vol``) as float32 samples."""
    import numpy as np
    with tempfile.TemporaryDirectory(prefix="noise-") as tmp:
        out = os.path.join(tmp, "noise.raw")
        subprocess.run(["sox", "-R", "-n", "-r", str(rate), "-c", "1", "-e", "floating-point", "-b", "32", out,
                        "synth", "%.3f" % seconds, "pinknoise", "vol", str(volume)],
                       check=True, capture_output=True, timeout=60)
        return np.fromfile(out, dtype=np.float32)


def make_scene(parts, rate=16000, snr_db=None, speed=140):
    """Speech and pauses laid end to end, with pink noise under all of it at ``snr_db``.

    ``parts`` is a list of numbers (seconds of silence) and strings (spoken
    by espeak-ng). Returns (float32 samples, [(onset, end) of each spoken
    part in seconds]), the bounds measured on the clean speech. With
    ``snr_db`` the noise's power sits that many dB under the speech's
    (measured over its voiced samples), pauses included.
    """
    import numpy as np
    import soundfile
    pieces, bounds, at, voiced = [], [], 0, []
    with tempfile.TemporaryDirectory(prefix="scene-") as tmp:
        for index, part in enumerate(parts):
            if isinstance(part, str):
                path = make_speech_wav(os.path.join(tmp, "%d.wav" % index), part, rate=rate, encoding="float",
                                       speed=speed)
                samples, _rate = soundfile.read(path, dtype="float32")
                onset, end = speech_bounds(samples, rate)
                bounds.append((round(at / float(rate) + onset, 3), round(at / float(rate) + end, 3)))
                voiced.append(samples[int(onset * rate):int(end * rate)])
            else:
                samples = np.zeros(int(round(float(part) * rate)), dtype=np.float32)
            pieces.append(samples)
            at += len(samples)
    scene = np.concatenate(pieces).astype(np.float32)
    if snr_db is not None:
        noise = pink_noise(len(scene) / float(rate) + 0.1, rate)[:len(scene)]
        speech_power = float(np.mean(np.concatenate(voiced) ** 2))
        noise *= np.sqrt(speech_power / float(np.mean(noise ** 2)) / 10 ** (snr_db / 10.0))
        scene = np.clip(scene + noise, -1.0, 1.0).astype(np.float32)
    return scene, bounds


def write_wav(path, samples, rate=16000):
    """Write float32 samples as a 16-bit WAV (what a fake microphone reads)."""
    import soundfile
    soundfile.write(path, samples, rate, subtype="PCM_16")
    return path


def _low_spectrum(signal, rate, cutoff):
    """The spectrum of ``signal`` with everything above ``cutoff`` Hz removed."""
    import numpy as np
    spectrum = np.fft.rfft(np.asarray(signal, dtype=np.float64))
    spectrum[np.fft.rfftfreq(len(signal), 1.0 / rate) > cutoff] = 0
    return spectrum


def _normalised_dot(a, b):
    import numpy as np
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def band_correlation(samples, reference, rate=16000, cutoff=3800):
    """Normalised correlation of two equally long signals below ``cutoff`` Hz."""
    import numpy as np
    return _normalised_dot(np.fft.irfft(_low_spectrum(samples, rate, cutoff), len(samples)),
                           np.fft.irfft(_low_spectrum(reference, rate, cutoff), len(reference)))


def _align(sent, reference, rate, cutoff, lags):
    """(lag in samples, to a twentieth of one; band correlation there) of
    ``reference`` in ``sent``, the whole lag taken from ``lags`` (an array)."""
    import numpy as np
    size = 1 << int(np.ceil(np.log2(len(sent) + len(reference))))
    cross = np.fft.irfft(np.fft.rfft(sent, size) * np.conj(np.fft.rfft(reference, size)), size)
    # cross[k]: reference starting at sent[k]; negative k wraps to the top.
    lag = int(lags[int(np.argmax(cross[lags % size]))])
    start, end = max(lag, 0), min(len(sent), lag + len(reference))
    if end - start > 1600:
        end = start + (end - start) // 1600 * 1600   # an FFT length with small factors
    if end - start <= 0 or not np.any(sent[start:end]):
        return float(lag), 0.0
    length = end - start
    # Low-passed once; each fraction of a sample is then a phase shift of the reference's spectrum.
    heard = np.fft.irfft(_low_spectrum(sent[start:end], rate, cutoff), length)
    spectrum = _low_spectrum(reference[start - lag:end - lag], rate, cutoff)
    frequencies = np.fft.rfftfreq(length)   # cycles per sample
    best = (-2.0, 0.0)
    for fraction in np.linspace(-0.5, 0.5, 21):   # a resampled stream is rarely whole samples late
        shifted = np.fft.irfft(spectrum * np.exp(-2j * np.pi * frequencies * fraction), length)
        best = max(best, (_normalised_dot(heard, shifted), fraction))
    return float(lag + best[1]), float(best[0])


def aligned_band_correlation(sent, reference, rate=16000, cutoff=3800):
    """Where ``reference`` lies in ``sent``, and how alike they are there.

    Returns ``(offset, correlation)``: the offset in seconds of the
    reference's first sample in ``sent`` (negative: ``sent`` began after
    the reference did), found by cross-correlation, and ``band_correlation``
    over the part both cover.
    """
    import numpy as np
    sent = np.asarray(sent, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    lag, correlation = _align(sent, reference, rate, cutoff, np.arange(-(len(reference) - 1), len(sent)))
    return lag / rate, correlation


def window_correlations(sent, reference, offset, rate=16000, cutoff=3800, window=0.5, search=0.02, floor=0.1):
    """``band_correlation`` of each ``window`` seconds of ``reference`` that
    holds speech (RMS at least ``floor`` of the loudest window's) with
    ``sent``, each found within ``search`` seconds of ``offset``: a list of
    (second of the reference, correlation), 0.0 where ``sent`` holds less
    than half the window. A capture that drops or repeats a buffer spoils
    one window; a stream at the wrong rate spoils them all.
    """
    import numpy as np
    sent = np.asarray(sent, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    step, reach = int(window * rate), int(search * rate)
    starts = range(0, len(reference) - step + 1, step)
    levels = [float(np.sqrt(np.mean(reference[i:i + step] ** 2))) for i in starts]
    loudest = max(levels) if levels else 0.0
    found = []
    for first, level in zip(starts, levels):
        if loudest <= 0 or level < floor * loudest:
            continue
        at = first + int(round(offset * rate))
        low, high = max(at - reach, 0), min(at + step + reach, len(sent))
        correlation = 0.0
        if min(high, at + step) - max(low, at) >= step // 2:
            correlation = _align(sent[low:high], reference[first:first + step], rate, cutoff,
                                 np.arange(at - reach - low, at + reach - low + 1))[1]
        found.append((first / float(rate), correlation))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a spoken sentence as a WAV file (espeak-ng + sox).")
    parser.add_argument("out", help="WAV file to write")
    parser.add_argument("--text", default=SENTENCE)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--encoding", choices=sorted(ENCODINGS), default="int16")
    parser.add_argument("--speed", type=int, default=140, help="espeak-ng words per minute")
    args = parser.parse_args(argv)
    make_speech_wav(args.out, args.text, args.rate, args.channels, args.encoding, args.speed)
    print(args.out)


if __name__ == "__main__":
    main()
