"""wer: jiwer's word error rate after case and punctuation normalisation."""

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import wer
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.errors import ConfigurationError


@pytest.mark.parametrize("expected, transcript, value", [
    ("Hello, World!", "hello world", 0.0),
    ("The quick brown fox.", " the  QUICK brown   fox ", 0.0),
    ("one two three four", "one two three", 0.25),             # a deletion
    ("one two three four", "one two tree four", 0.25),         # a substitution
    ("one two", "one two three four", 1.0),                    # two insertions
    ("one two three four", "", 1.0),                           # nothing heard
])
def test_word_error_rate(expected, transcript, value):
    assert wer.word_error_rate(expected, transcript) == pytest.approx(value)


def test_normalise_is_what_is_compared():
    assert wer.normalise("  It's   DONE, isn't it?  ") == "its done isnt it"


def test_expected_text_without_words_is_refused():
    with pytest.raises(ConfigurationError, match="no words"):
        wer.word_error_rate(" ?! ", "anything")
