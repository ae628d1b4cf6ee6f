"""whisperlive_client against FakeWhisperLive and against closed doors.

Every failure class of the check, each with its message, and never a hang
past ``timeout``.
"""

import datetime
import socket
import ssl
import time

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import errors
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.audio import TARGET_RATE, Clip
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import (
    SerialisedTLSSocket,
    Transcript,
    check_transcription,
    connect,
    redact_url,
)

from unit.fake_whisperlive import FakeWhisperLive


def speech_clip(seconds=0.6):
    """A tone standing in for speech: non-silent Float32 at 16 kHz."""
    t = np.arange(int(seconds * TARGET_RATE)) / float(TARGET_RATE)
    return Clip((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), TARGET_RATE, 1, "FLOAT")


FAST = dict(pace=0, timeout=10, finalize_timeout=3)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 signed by a throwaway CA, and that CA."""
    base = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path = base / "ca.pem"
    cert_path = base / "cert.pem"
    key_path = base / "key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(cert_path), str(key_path))
    return {"ca_path": str(ca_path), "server_ctx": server_ctx}


# -- the happy path ---------------------------------------------------------

def test_streams_float32_and_returns_the_completed_transcript():
    events = []
    with FakeWhisperLive() as fake:
        result = check_transcription(fake.url, speech_clip(), expected_text="Hello, world!", max_wer=0.0,
                                     on_event=lambda name, t, p: events.append(name), **FAST)
        assert fake.end_of_audio.wait(2), "the client never sent END_OF_AUDIO"
    assert result["transcript"] == "hello world"
    assert result["segments"] == [{"start": 0.0, "end": pytest.approx(0.6, abs=0.11), "text": "hello world",
                                   "completed": True}]
    assert result["finalized"] is True and result["finalized_by"] == "server"
    assert result["wer"] == 0.0
    assert result["backend"] == "faster_whisper"
    assert result["audio_seconds"] == pytest.approx(0.6)
    for name in ("connect", "server_ready", "first_segment", "final", "close", "total"):
        assert result["latency"][name] is not None and result["latency"][name] >= 0, name
    opts = fake.options[0]
    assert opts["language"] == "en" and opts["task"] == "transcribe" and opts["model"] == "tiny.en"
    # The server's own defaults, as upstream's clients see them: no tuning options sent.
    assert opts["use_vad"] is True and "same_output_threshold" not in opts and opts["uid"] == result["uid"]
    assert result["flushed"] is False
    assert events[:3] == ["connecting", "connected", "server_ready"]
    assert "final" in events and events.index("final") < events.index("end_of_audio")


def test_options_reach_the_server_and_headers_are_sent():
    with FakeWhisperLive() as fake:
        check_transcription(fake.url, speech_clip(), language="de", task="translate", model="small",
                            use_vad=False, same_output_threshold=5, headers={"X-Check": "yes"}, **FAST)
    opts = fake.options[0]
    assert (opts["language"], opts["task"], opts["model"], opts["use_vad"], opts["same_output_threshold"]) == \
        ("de", "translate", "small", False, 5)
    assert fake.requests[0]["X-Check"] == "yes"


def test_pace_one_streams_no_faster_than_real_time():
    clip = speech_clip(0.8)
    with FakeWhisperLive() as fake:
        started = time.monotonic()
        check_transcription(fake.url, clip, pace=1.0, timeout=10, finalize_timeout=3)
        elapsed = time.monotonic() - started
    # 8 frames of 100 ms: the last one leaves 0.7 s after the first.
    assert elapsed >= 0.7


def test_a_readiness_probe_needs_no_segments_but_a_transcript_check_does():
    with FakeWhisperLive(mode="no_segments") as fake:
        result = check_transcription(fake.url, speech_clip(0.3), require_segments=False, pace=0, timeout=5,
                                     finalize_timeout=0.1)
        assert result["segments"] == [] and result["backend"] is not None
        with pytest.raises(errors.NoSegments):
            check_transcription(fake.url, speech_clip(0.3), expected_text="hello", require_segments=False,
                                pace=0, timeout=5, finalize_timeout=0.1)


def test_chunk_ms_sets_the_frame_size():
    with FakeWhisperLive(mode="no_segments") as fake:
        with pytest.raises(errors.NoSegments):
            check_transcription(fake.url, speech_clip(0.6), chunk_ms=200, pace=0, timeout=5, finalize_timeout=0.1)
    # 3 audio frames of 200 ms, then at least one frame of silence.
    assert fake.frames_received >= 3


def test_repeated_segments_are_kept_once():
    with FakeWhisperLive(mode="two_sentences") as fake:
        result = check_transcription(fake.url, speech_clip(), stable_messages=0, **FAST)
    assert result["transcript"] == "hello world second sentence"
    assert [s["text"] for s in result["segments"]] == ["hello world", "second sentence"]


def test_a_never_completed_segment_fails_the_check_by_default():
    with FakeWhisperLive(mode="never_final") as fake:
        with pytest.raises(errors.NotFinal) as err:
            check_transcription(fake.url, speech_clip(), pace=0, timeout=10, finalize_timeout=0.5)
    assert err.value.kind == "not_final"
    assert "did not complete the segment holding the last word" in err.value.message
    assert "'hello world' stayed grey" in err.value.message and "require_final=server" in err.value.message
    assert err.value.details["finalized"] is False and err.value.details["finalized_by"] is None


def test_require_final_none_reports_the_partial():
    with FakeWhisperLive(mode="never_final") as fake:
        result = check_transcription(fake.url, speech_clip(), pace=0, timeout=10, finalize_timeout=0.5,
                                     require_final="none")
    assert result["finalized"] is False and result["finalized_by"] is None
    assert result["latency"]["final"] is None
    assert result["transcript"] == "hello world"
    assert result["segments"][-1]["completed"] is False


def test_a_stable_partial_is_a_reported_guess_that_fails_by_default():
    with FakeWhisperLive(mode="flicker") as fake:
        with pytest.raises(errors.NotFinal) as err:
            check_transcription(fake.url, speech_clip(), pace=0, timeout=10, finalize_timeout=1.0)
    assert err.value.details["finalized_by"] == "stable" and err.value.details["finalized"] is False
    assert "set require_final: stable to accept a partial that stopped changing" in err.value.message


def test_require_final_stable_accepts_a_partial_whose_words_stop_changing():
    with FakeWhisperLive(mode="flicker") as fake:
        result = check_transcription(fake.url, speech_clip(), pace=0, timeout=10, finalize_timeout=5,
                                     require_final="stable")
    assert result["finalized"] is True and result["finalized_by"] == "stable"
    assert result["transcript"].rstrip(",") == "hello world"
    assert result["latency"]["final"] is not None


def test_a_stable_partial_that_stops_short_of_the_speech_is_not_final():
    """Words stable, but the segment ends long before the audio's speech does: keep waiting."""
    with FakeWhisperLive(mode="flicker", segment_end=0.6) as fake:
        result = check_transcription(fake.url, speech_clip(3.0), pace=0, timeout=10, finalize_timeout=1.0,
                                     require_final="none")
    assert result["finalized"] is False and result["finalized_by"] is None
    assert result["transcript"].rstrip(",") == "hello world"


def test_stable_messages_zero_turns_the_guess_off():
    with FakeWhisperLive(mode="flicker") as fake:
        with pytest.raises(errors.NotFinal) as err:
            check_transcription(fake.url, speech_clip(), pace=0, timeout=10, finalize_timeout=0.6,
                                stable_messages=0, require_final="stable")
    assert err.value.details["finalized_by"] is None


def test_a_segment_completed_while_closing_is_final_and_flushed():
    """The role's launcher completes what is left after END_OF_AUDIO, before it closes."""
    with FakeWhisperLive(mode="flush") as fake:
        result = check_transcription(fake.url, speech_clip(), pace=0, timeout=10, finalize_timeout=0.5)
    assert result["finalized"] is True and result["finalized_by"] == "server" and result["flushed"] is True
    assert result["transcript"] == "hello world" and result["segments"][-1]["completed"] is True


def test_require_final_must_be_known():
    with pytest.raises(errors.ConfigurationError, match="require_final must be one of server, stable, none"):
        check_transcription("ws://127.0.0.1:9/", speech_clip(), require_final="maybe")


def test_without_partials_an_unfinished_stream_has_no_segments():
    with FakeWhisperLive(mode="never_final") as fake:
        with pytest.raises(errors.NoSegments):
            check_transcription(fake.url, speech_clip(), include_partial=False,
                                pace=0, timeout=10, finalize_timeout=0.5)


def test_server_warning_is_reported():
    with FakeWhisperLive(mode="warning_then_ok") as fake:
        result = check_transcription(fake.url, speech_clip(), **FAST)
    assert result["warnings"] and "Reverting" in result["warnings"][0]


def test_wait_for_slot_retries_until_a_slot_frees():
    with FakeWhisperLive(mode="wait_then_ok", waits=1) as fake:
        result = check_transcription(fake.url, speech_clip(), wait_for_slot=10, **FAST)
    assert fake.connections == 2
    assert result["transcript"] == "hello world"


# -- failure classes ----------------------------------------------------------

def test_wait_beyond_wait_for_slot_is_server_busy():
    with FakeWhisperLive(mode="wait") as fake:
        with pytest.raises(errors.ServerBusy, match="WAIT.*4.5 minutes"):
            check_transcription(fake.url, speech_clip(), wait_for_slot=0, **FAST)
    assert fake.connections == 1


def test_error_status_is_server_error():
    with FakeWhisperLive(mode="error") as fake:
        with pytest.raises(errors.ServerError, match="Failed to load model: large-v3") as info:
            check_transcription(fake.url, speech_clip(), model="large-v3", **FAST)
    assert info.value.kind == "server_error"


def test_disconnect_is_server_disconnect():
    with FakeWhisperLive(mode="disconnect") as fake:
        with pytest.raises(errors.ServerDisconnect, match="max_connection_time"):
            check_transcription(fake.url, speech_clip(2.0), pace=0, timeout=10)


def test_close_mid_stream_is_stream_closed():
    with FakeWhisperLive(mode="close_mid_stream") as fake:
        with pytest.raises(errors.StreamClosed, match="while streaming.*1011.*fake internal error"):
            check_transcription(fake.url, speech_clip(2.0), pace=0, timeout=10)


def test_no_segments():
    with FakeWhisperLive(mode="no_segments") as fake:
        with pytest.raises(errors.NoSegments, match="no transcript segment") as info:
            check_transcription(fake.url, speech_clip(), pace=0, timeout=10, finalize_timeout=0.3)
    assert info.value.details["latency"]["server_ready"] is not None


@pytest.mark.parametrize("mode", ["garbage", "binary"])
def test_non_protocol_messages_are_protocol_errors(mode):
    with FakeWhisperLive(mode=mode) as fake:
        with pytest.raises(errors.ProtocolError):
            check_transcription(fake.url, speech_clip(), **FAST)


@pytest.mark.parametrize("status", [403, 404, 502])
def test_http_status_instead_of_101(status):
    with FakeWhisperLive(http_status=status) as fake:
        with pytest.raises(errors.HttpStatusError, match="HTTP %d" % status) as info:
            check_transcription(fake.url, speech_clip(), **FAST)
    assert info.value.status == status and info.value.kind == "http_status"


def test_token_goes_in_the_authorization_header():
    with FakeWhisperLive(token="s3cret") as fake:
        with pytest.raises(errors.HttpStatusError, match="HTTP 401"):
            check_transcription(fake.url, speech_clip(), **FAST)
        result = check_transcription(fake.url, speech_clip(), token="s3cret", **FAST)
    assert result["transcript"] == "hello world"


def test_token_in_the_url_is_redacted():
    assert redact_url("wss://edge/ws?token=abc&x=1") == "wss://edge/ws?token=REDACTED&x=1"
    assert redact_url("ws://h:1/") == "ws://h:1/"
    with FakeWhisperLive() as fake:
        result = check_transcription(fake.url + "?token=abc", speech_clip(), **FAST)
    assert "abc" not in result["url"]


def test_tls_with_the_ca_succeeds(self_signed):
    with FakeWhisperLive(ssl_context=self_signed["server_ctx"]) as fake:
        result = check_transcription(fake.url, speech_clip(), ca_path=self_signed["ca_path"], **FAST)
    assert fake.url.startswith("wss://") and result["transcript"] == "hello world"


def test_tls_without_the_ca_is_a_tls_error(self_signed):
    with FakeWhisperLive(ssl_context=self_signed["server_ctx"]) as fake:
        with pytest.raises(errors.TlsError, match="not trusted.*ca_path") as info:
            check_transcription(fake.url, speech_clip(), **FAST)
    assert info.value.kind == "tls"


def test_tls_without_validation_succeeds(self_signed):
    with FakeWhisperLive(ssl_context=self_signed["server_ctx"]) as fake:
        result = check_transcription(fake.url, speech_clip(), validate_certs=False, **FAST)
    assert result["transcript"] == "hello world"


def test_tls_connections_serialise_reads_and_writes(self_signed):
    """Over wss:// the socket under websockets is a SerialisedTLSSocket (the
    handshake stall: concurrent SSL_read/SSL_write on one connection), and
    many opening handshakes in a row all complete."""
    context = ssl.create_default_context(cafile=self_signed["ca_path"])
    with FakeWhisperLive(ssl_context=self_signed["server_ctx"]) as fake:
        for _cycle in range(50):
            with connect(fake.url, ssl=context, open_timeout=5, close_timeout=2) as ws:
                assert isinstance(ws.socket, SerialisedTLSSocket)
                ws.send('{"uid": "u", "language": "en", "task": "transcribe", "model": "tiny.en"}')
                assert "SERVER_READY" in ws.recv(timeout=5)
        with connect(fake.url, ssl=context, open_timeout=5) as ws:
            assert ws.socket.gettimeout() is None   # what websockets set, kept through the wrapper
    assert len(fake.options) == 50


def test_plain_ws_connections_keep_the_plain_socket():
    with FakeWhisperLive() as fake:
        with connect(fake.url, open_timeout=5) as ws:
            assert isinstance(ws.socket, socket.socket)


def test_plain_ws_to_a_tls_port_fails_cleanly(self_signed):
    with FakeWhisperLive(ssl_context=self_signed["server_ctx"]) as fake:
        with pytest.raises(errors.TranscriptionCheckError):
            check_transcription(fake.url.replace("wss://", "ws://"), speech_clip(), pace=0, timeout=3)


def test_connection_refused():
    with pytest.raises(errors.ConnectionRefused, match="refused"):
        check_transcription("ws://127.0.0.1:%d/" % closed_port(), speech_clip(), **FAST)


def test_unresolvable_name_is_dns():
    with pytest.raises(errors.NameResolutionError, match="resolve"):
        check_transcription("ws://whisperlive.invalid:9090/", speech_clip(), **FAST)


def test_a_server_that_never_answers_the_upgrade_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts TCP; nobody speaks HTTP
        started = time.monotonic()
        with pytest.raises(errors.CheckTimeout):
            check_transcription("ws://127.0.0.1:%d/" % listener.getsockname()[1], speech_clip(),
                                pace=0, timeout=1.5)
    assert time.monotonic() - started < 1.5 + 2.5


def test_a_server_that_never_sends_server_ready_times_out():
    with FakeWhisperLive(mode="silent") as fake:
        started = time.monotonic()
        with pytest.raises(errors.CheckTimeout, match="SERVER_READY"):
            check_transcription(fake.url, speech_clip(), pace=0, timeout=1.5)
        assert time.monotonic() - started < 1.5 + 2.5


def test_wer_above_max_wer_fails_with_the_transcript():
    with FakeWhisperLive() as fake:
        with pytest.raises(errors.WerTooHigh, match="above max_wer") as info:
            check_transcription(fake.url, speech_clip(), expected_text="goodbye moon", max_wer=0.35, **FAST)
    assert info.value.details["wer"] == 1.0
    assert info.value.details["transcript"] == "hello world"


@pytest.mark.parametrize("url, options, message", [
    ("http://127.0.0.1:1/", {}, "ws:// or wss://"),
    ("ws://127.0.0.1:1/", {"chunk_ms": 0}, "chunk_ms"),
    ("ws://127.0.0.1:1/", {"pace": -1}, "pace"),
    ("ws://127.0.0.1:1/", {"bogus": 1}, "unknown options: bogus"),
    ("wss://127.0.0.1:1/", {"ca_path": "/nonexistent/ca.pem"}, "cannot load CA bundle"),
])
def test_bad_options_are_configuration_errors(url, options, message):
    with pytest.raises(errors.ConfigurationError, match=message):
        check_transcription(url, speech_clip(), **options)


def test_max_wer_needs_expected_text():
    with pytest.raises(errors.ConfigurationError, match="max_wer needs expected_text"):
        check_transcription("ws://127.0.0.1:1/", speech_clip(), max_wer=0.3)


# -- Transcript (dedup) -------------------------------------------------------

def seg(start, end, text, completed):
    return {"start": "%.3f" % start, "end": "%.3f" % end, "text": text, "completed": completed}


def test_transcript_keeps_each_completed_segment_once_in_time_order():
    t = Transcript()
    t.update([seg(0, 1, " one", False)])
    t.update([seg(0, 1.5, " one two", False)])
    t.update([seg(0, 2, " one two.", True)])
    t.update([seg(0, 2, " one two.", True), seg(2, 3, " three", False)])
    t.update([seg(0, 2, " one two.", True), seg(2, 4, " three four", True)])
    t.update([seg(2, 4, " three four", True)])  # window moved on (send_last_n_segments)
    assert t.text() == "one two. three four"
    assert [s["start"] for s in t.segments()] == [0.0, 2.0]
    assert t.last_message_final is True


def test_transcript_partial_is_replaced_not_appended():
    t = Transcript()
    assert t.update([seg(0, 1, " the quick round", False)]) is True
    assert t.update([seg(0, 2, " the quick brown fox", False)]) is True
    assert t.update([seg(0, 2, " the quick brown fox", False)]) is False
    assert t.text() == "the quick brown fox"
    assert t.text(include_partial=False) == ""
    assert t.last_message_final is False


def test_transcript_rejects_malformed_segments():
    with pytest.raises(errors.ProtocolError):
        Transcript().update([{"start": "0.0", "text": "x"}])
    with pytest.raises(errors.ProtocolError):
        Transcript().update({"start": "0.0"})
