"""The module wrapper, run by ansible-playbook against FakeWhisperLive.

The protocol is tested in module_utils; here: the argument spec, the result
keys, changed=false, check mode, and failures turned into `failure` classes.
"""

import json

import numpy as np
import pytest
import soundfile

from unit.fake_whisperlive import FakeWhisperLive
from unit.module_play import run_task


@pytest.fixture
def run_module(tmp_path):
    """Run one transcription_check task with ``args``; return (rc, task result)."""
    wav = tmp_path / "tone.wav"
    t = np.arange(int(0.6 * 44100)) / 44100.0
    soundfile.write(str(wav), np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1), 44100, subtype="PCM_24")

    def run(args, check_mode=False):
        args = dict({"audio": str(wav), "pace": 0, "timeout": 10, "finalize_timeout": 3}, **args)
        return run_task(tmp_path, "transcription_check", args, ["--check"] if check_mode else [])
    return run


@pytest.mark.parametrize("check_mode", [False, True])
def test_success_reports_transcript_and_figures(run_module, check_mode):
    with FakeWhisperLive() as fake:
        rc, result = run_module({"url": fake.url, "expected_text": "Hello world.", "max_wer": 0.2}, check_mode)
    assert rc == 0, result
    assert result["changed"] is False
    assert result["transcript"] == "hello world" and result["wer"] == 0.0 and result["finalized"] is True
    assert result["audio"]["source_rate"] == 44100 and result["audio"]["source_channels"] == 2
    assert set(result["latency"]) == {"connect", "server_ready", "first_segment", "final", "close", "total"}
    assert result["warnings_from_server"] == [] and result["backend"] == "faster_whisper"


def test_http_status_failure_names_its_class(run_module):
    with FakeWhisperLive(http_status=403) as fake:
        rc, result = run_module({"url": fake.url})
    assert rc != 0 and result["failed"] is True
    assert result["failure"] == "http_status" and result["http_status"] == 403
    assert "HTTP 403" in result["msg"]


def test_wer_failure_still_returns_the_transcript(run_module):
    with FakeWhisperLive() as fake:
        rc, result = run_module({"url": fake.url, "expected_text": "goodbye moon", "max_wer": 0.35})
    assert rc != 0 and result["failure"] == "wer_too_high"
    assert result["transcript"] == "hello world" and result["wer"] == 1.0


def test_token_is_not_logged(run_module):
    with FakeWhisperLive(token="s3cret-token") as fake:
        rc, result = run_module({"url": fake.url, "token": "s3cret-token"})
    assert rc == 0, result
    assert "s3cret-token" not in json.dumps(result)


def test_max_wer_needs_expected_text(run_module):
    rc, result = run_module({"url": "ws://127.0.0.1:1/", "max_wer": 0.3})
    assert rc != 0 and "expected_text" in result["msg"]


def test_non_wav_audio_is_refused(run_module, tmp_path):
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio")
    rc, result = run_module({"url": "ws://127.0.0.1:1/", "audio": str(bogus)})
    assert rc != 0 and result["failure"] == "audio" and "not a WAV file" in result["msg"]
