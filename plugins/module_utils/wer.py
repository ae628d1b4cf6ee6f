# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Word error rate between an expected text and a transcript (jiwer).

Both sides are normalised the same way before comparison: lower case,
punctuation removed, whitespace collapsed; so "Hello, World!" equals
"hello world". Plain Python, no Ansible import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import jiwer
except ImportError as exc:  # reported by the module with missing_required_lib
    jiwer = None
    WER_IMPORT_ERROR = exc
else:
    WER_IMPORT_ERROR = None

from .errors import ConfigurationError


def _transform():
    return jiwer.Compose([
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ])


def normalise(text):
    """The words compared, as one string (for reports)."""
    words = _transform()(text or "")
    return " ".join(words[0]) if words else ""


def word_error_rate(expected, transcript):
    """(substitutions + deletions + insertions) / words expected.

    0.0 is a perfect match; the value can exceed 1.0 when the transcript
    holds many extra words. An empty transcript scores 1.0.
    """
    if not normalise(expected):
        raise ConfigurationError("expected_text has no words to compare against")
    if not normalise(transcript):
        return 1.0
    return float(jiwer.wer(
        expected,
        transcript,
        reference_transform=_transform(),
        hypothesis_transform=_transform(),
    ))
