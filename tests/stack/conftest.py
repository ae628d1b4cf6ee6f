"""Fixtures for tests that use a deployed stack (Molecule's scenario).

molecule/default/verify.yml sets RASR_* variables naming the hosts, the
edge's URLs and the CA to trust. Without RASR_STACK_INVENTORY these tests
are not collected at all (tests/conftest.py); with it, a missing or empty
variable is an error, never a skip.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from support.speech import SENTENCE, make_speech_wav, missing_tools  # noqa: E402

from stack_helpers import Stack  # noqa: E402


@pytest.fixture(scope="session")
def stack():

    try:
        return Stack(os.environ)
    except ValueError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory):
    """A ~7 s spoken sentence, 16 kHz mono int16, with trailing silence."""
    assert not missing_tools(), "espeak-ng and sox are needed"
    path = str(tmp_path_factory.mktemp("speech") / "sentence.wav")
    return make_speech_wav(path, SENTENCE, trailing_silence=1.0)


@pytest.fixture(scope="session")
def long_speech_wav(tmp_path_factory):
    """About 20 s of speech: long enough to break a stream in its middle."""
    assert not missing_tools(), "espeak-ng and sox are needed"
    path = str(tmp_path_factory.mktemp("speech") / "long.wav")
    return make_speech_wav(path, " ".join([SENTENCE] * 3))
