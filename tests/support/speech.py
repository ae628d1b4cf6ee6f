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
# (real-time pace, a busy machine, a browser's audio path); tiny.en hears
# "lazy dog" as "lazy nog" (0.05).
MAX_WER = 0.35
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
