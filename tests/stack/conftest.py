"""Fixtures for tests that use a deployed stack (Molecule scenario `stack`).

The scenario's verify step sets RASR_* variables naming the hosts, the
edge's URLs and the CA to trust; without them these tests are skipped, so
`pytest tests/` on a machine without a stack stays meaningful.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from support.speech import SENTENCE, make_speech_wav, missing_tools  # noqa: E402

from stack_helpers import REQUIRED, Stack  # noqa: E402


@pytest.fixture(scope="session")
def stack():

    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip("no deployed stack (the Molecule scenario `stack` sets %s)" % ", ".join(missing))
    return Stack(os.environ)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory):
    """A ~7 s spoken sentence, 16 kHz mono int16, with trailing silence."""
    if missing_tools():
        pytest.skip("espeak-ng and sox are needed")
    path = str(tmp_path_factory.mktemp("speech") / "sentence.wav")
    return make_speech_wav(path, SENTENCE, trailing_silence=1.0)


@pytest.fixture(scope="session")
def long_speech_wav(tmp_path_factory):
    """About 20 s of speech: long enough to break a stream in its middle."""
    if missing_tools():
        pytest.skip("espeak-ng and sox are needed")
    path = str(tmp_path_factory.mktemp("speech") / "long.wav")
    return make_speech_wav(path, " ".join([SENTENCE] * 3))
