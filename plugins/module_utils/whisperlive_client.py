# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The project's one client of the WhisperLive 0.10 WebSocket protocol.

Used by the ``transcription_check`` module, by ``site/test_client.py`` and
by the tests. Plain Python, no Ansible import; failures raise the typed
exceptions of ``errors``.

Protocol (read from whisper_live/server.py and backend/base.py, 0.10.0):

1. The client opens the socket and sends one JSON text message with
   ``uid``, ``language``, ``task``, ``model``, ``use_vad`` and optional
   fields (``same_output_threshold`` only when asked: by default the check
   sees what the server does with its own defaults, as upstream's clients do).
2. The server answers ``{"uid", "message": "SERVER_READY", "backend"}``; or
   ``{"uid", "status": "WAIT", "message": <minutes>}`` and closes when all
   slots are taken; or ``{"uid", "status": "ERROR", "message"}`` and closes
   (model failed to load); a ``{"status": "WARNING"}`` may come first.
3. The client sends binary frames of little-endian Float32 mono 16 kHz PCM.
4. The server sends ``{"uid", "segments": [{"start", "end", "text",
   "completed"}, ...]}`` again and again: the last N completed segments
   (times as strings), then at most one partial (``completed: false``)
   whose text may still change. Once, ``{"uid", "language",
   "language_prob"}``; at ``max_connection_time``
   ``{"uid", "message": "DISCONNECT"}``.
5. The client sends the bytes ``END_OF_AUDIO``. Upstream's server closes at
   once and drops whatever it has not sent; the role's launcher first sends
   what is left, completed.

How a final transcript is obtained: after the last frame of the input audio,
the client keeps the "microphone" open and streams silence in real time, as
a browser would, until the server marks the last segment completed (the
role's launcher does so once the speaker has been silent for its endpoint
silence; upstream's server once the text repeated ``same_output_threshold``
times) or ``finalize_timeout`` passes. Then it sends END_OF_AUDIO and reads
until the server closes. ``finalized_by`` says who ended the transcript:
``server`` (completed before END_OF_AUDIO, or by the launcher's flush after
it: ``flushed``), ``stable`` (never completed, but the last partial came back
with the same words ``stable_messages`` times in a row while reaching to
within STABLE_END_SLACK_S of the end of the speech: a client-side guess), or
None. ``require_final`` (default ``server``) fails the check on anything
less. The transcript is the completed segments in time order, each once,
plus the last partial when the server never completed it
(``include_partial``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import select
import socket
import ssl
import threading
import time
import uuid

try:
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
    from websockets.sync.client import ClientConnection
    from websockets.sync.client import connect as _websockets_connect
except ImportError as exc:  # reported by the module with missing_required_lib
    ClientConnection = object
    _websockets_connect = None
    WEBSOCKETS_IMPORT_ERROR = exc
else:
    WEBSOCKETS_IMPORT_ERROR = None

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import audio as audio_utils
from . import wer as wer_utils
from .errors import (
    CheckTimeout,
    ConfigurationError,
    ConnectError,
    ConnectionRefused,
    HttpStatusError,
    NameResolutionError,
    NoSegments,
    NotFinal,
    ProtocolError,
    ServerBusy,
    ServerDisconnect,
    ServerError,
    StreamClosed,
    TlsError,
    TranscriptionCheckError,
    WerTooHigh,
)


class SerialisedTLSSocket(object):
    """An ``ssl.SSLSocket`` whose reads and writes never run at the same time.

    websockets' sync connection reads on a background thread while the
    caller's thread writes. One OpenSSL connection is not safe for a
    concurrent SSL_read and SSL_write, and with TLS 1.3 the server's
    session tickets arrive just as the client writes its upgrade request:
    through Caddy, 17 opening handshakes in about 10 000 lost that request and
    timed out (the edge sat waiting for the rest of it). Here a read takes
    the lock only to try a non-blocking read, and waits for bytes without it.
    """

    def __init__(self, sock):
        self._sock = sock
        self._lock = threading.Lock()
        self._timeout = sock.gettimeout()

    def recv(self, bufsize):
        while True:
            with self._lock:
                self._sock.settimeout(0.0)
                try:
                    return self._sock.recv(bufsize)
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
                finally:
                    self._sock.settimeout(self._timeout)
            select.select([self._sock], [], [], 1.0)

    def sendall(self, data):
        with self._lock:
            return self._sock.sendall(data)

    def settimeout(self, timeout):
        with self._lock:
            self._timeout = timeout
            self._sock.settimeout(timeout)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class SerialisedTLSConnection(ClientConnection):
    """websockets' ClientConnection over a SerialisedTLSSocket when TLS is on."""

    def __init__(self, sock, protocol, **kwargs):
        if isinstance(sock, ssl.SSLSocket):
            sock = SerialisedTLSSocket(sock)
        super(SerialisedTLSConnection, self).__init__(sock, protocol, **kwargs)


def connect(url, **kwargs):
    """websockets.sync.client.connect, safe over TLS (SerialisedTLSSocket)."""
    kwargs.setdefault("create_connection", SerialisedTLSConnection)
    return _websockets_connect(url, **kwargs)


SERVER_READY = "SERVER_READY"
DISCONNECT = "DISCONNECT"
END_OF_AUDIO = b"END_OF_AUDIO"
STATUS_WAIT = "WAIT"
STATUS_ERROR = "ERROR"
STATUS_WARNING = "WARNING"

# How long to wait for the server to close after END_OF_AUDIO.
CLOSE_WAIT_S = 2.0
# A partial counts toward "stable" only once it reaches this close to the
# end of the speech in the audio (Whisper's segment ends are approximate).
STABLE_END_SLACK_S = 1.0
# Pause between two tries while the server answers WAIT.
SLOT_RETRY_S = 2.0


def redact_url(url):
    """The URL without the value of a ``token`` query parameter."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, "REDACTED" if k == "token" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def make_ssl_context(url, validate_certs=True, ca_path=None):
    """The TLS context for a wss:// URL (None for ws://).

    With ``ca_path`` only that CA bundle is trusted (e.g. Caddy's internal
    root); without it the system's trust store.
    """
    scheme = urlsplit(url).scheme
    if scheme not in ("ws", "wss"):
        raise ConfigurationError("url must start with ws:// or wss://, got %r" % redact_url(url))
    if scheme == "ws":
        return None
    try:
        context = ssl.create_default_context(cafile=ca_path or None)
    except (IOError, OSError, ssl.SSLError) as exc:
        raise ConfigurationError("cannot load CA bundle %s: %s" % (ca_path, exc))
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Transcript(object):
    """Segments as the server re-sends them, kept once each, in time order.

    The server repeats the last N completed segments in every message and
    appends at most one partial; a completed segment never changes, so its
    start time identifies it.
    """

    def __init__(self):
        self._completed = {}
        self.partial = None
        self.last_message_final = False
        self.messages = 0

    @staticmethod
    def _clean(segment):
        try:
            return {
                "start": float(segment["start"]),
                "end": float(segment["end"]),
                "text": str(segment["text"]).strip(),
                "completed": bool(segment.get("completed", False)),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError("malformed segment %r: %s" % (segment, exc))

    def update(self, segments):
        """Take one ``segments`` message; return True when the text changed."""
        if not isinstance(segments, list):
            raise ProtocolError("segments must be a list, got %r" % (segments,))
        before = self.text(include_partial=True)
        self.messages += 1
        partial = None
        for raw in segments:
            seg = self._clean(raw)
            if seg["completed"]:
                self._completed[seg["start"]] = seg
            else:
                partial = seg
        # A partial that a completed segment now covers is not pending any more.
        if partial is not None and partial["start"] in self._completed:
            partial = None
        self.partial = partial
        self.last_message_final = bool(segments) and partial is None and bool(self._completed)
        return self.text(include_partial=True) != before

    @property
    def completed(self):
        return [self._completed[k] for k in sorted(self._completed)]

    def segments(self, include_partial=True):
        result = list(self.completed)
        if include_partial and self.partial is not None and self.partial["text"]:
            result.append(dict(self.partial))
        return result

    def text(self, include_partial=True):
        return " ".join(s["text"] for s in self.segments(include_partial) if s["text"]).strip()

    @property
    def empty(self):
        return not self._completed and self.partial is None


class StreamSession(object):
    """One connection: open, handshake, stream, finalize, END_OF_AUDIO."""

    def __init__(self, url, clip, options, on_event=None):
        self.url = url
        self.clip = clip
        self.opt = options
        self.on_event = on_event
        self.t0 = time.monotonic()
        self.deadline = self.t0 + options["timeout"]
        self.transcript = Transcript()
        self.backend = None
        self.language = None
        self.language_prob = None
        self.warnings = []
        self.marks = {}
        self.uid = options.get("uid") or str(uuid.uuid4())
        self.closed_by_server = False
        self.finalized_by = None
        self.stable = False
        self._stable_words = None
        self._stable_count = 0

    # -- bookkeeping ---------------------------------------------------
    def _now(self):
        return time.monotonic()

    def _mark(self, name):
        self.marks.setdefault(name, self._now())

    def _emit(self, name, payload=None):
        if self.on_event is not None:
            self.on_event(name, self._now() - self.t0, payload)

    def _remaining(self):
        return self.deadline - self._now()

    def _check_deadline(self, doing):
        if self._remaining() <= 0:
            raise CheckTimeout(
                "timeout of %ss reached while %s" % (self.opt["timeout"], doing), self.details())

    def details(self):
        """What was measured so far (also attached to every failure)."""
        m = self.marks

        def span(a, b):
            if a in m and b in m:
                return round(m[b] - m[a], 3)
            return None

        audio_seconds = round(self.clip.seconds, 3)
        stream_end = m.get("final") or m.get("end_of_audio")
        rtf = None
        if "first_frame" in m and stream_end and audio_seconds:
            rtf = round((stream_end - m["first_frame"]) / audio_seconds, 3)
        return {
            "url": redact_url(self.url),
            "uid": self.uid,
            "backend": self.backend,
            "language": self.language,
            "language_prob": self.language_prob,
            "warnings": list(self.warnings),
            "transcript": self.transcript.text(self.opt["include_partial"]),
            "segments": self.transcript.segments(self.opt["include_partial"]),
            "finalized": "final" in m,
            "finalized_by": self.finalized_by or ("stable" if self.stable else None),
            "flushed": "final" in m and "end_of_audio" in m and m["final"] >= m["end_of_audio"],
            "audio_seconds": audio_seconds,
            "realtime_factor": rtf,
            "latency": {
                "connect": span("start", "connected"),
                "server_ready": span("connected", "server_ready"),
                "first_segment": span("first_frame", "first_segment"),
                "final": span("audio_end", "final"),
                "close": span("end_of_audio", "closed"),
                "total": round(self._now() - self.t0, 3),
            },
        }

    # -- connection ----------------------------------------------------
    def _open(self):
        open_timeout = max(0.1, self._remaining())
        headers = dict(self.opt.get("headers") or {})
        if self.opt.get("token"):
            headers["Authorization"] = "Bearer %s" % self.opt["token"]
        where = redact_url(self.url)
        try:
            return connect(
                self.url,
                ssl=self.opt["ssl_context"],
                additional_headers=headers or None,
                subprotocols=self.opt.get("subprotocols") or None,
                open_timeout=open_timeout,
                close_timeout=CLOSE_WAIT_S,
                compression=None,
                max_size=2 ** 22,
                user_agent_header="realtime_asr.whisperlive transcription_check",
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = (exc.response.body or b"")[:200].decode("utf-8", "replace").strip()
            raise HttpStatusError(
                "%s answered HTTP %d instead of 101 Switching Protocols%s" % (
                    where, status, (": %s" % body) if body else ""),
                status, self.details())
        except InvalidURI as exc:
            raise ConfigurationError("invalid url %s: %s" % (where, exc))
        except ssl.SSLCertVerificationError as exc:
            raise TlsError(
                "TLS certificate of %s not trusted: %s (give ca_path with the CA that signed it, "
                "e.g. Caddy's pki/authorities/local/root.crt)" % (where, exc.verify_message or exc),
                self.details())
        except ssl.SSLError as exc:
            raise TlsError("TLS handshake with %s failed: %s" % (where, exc), self.details())
        except socket.gaierror as exc:
            raise NameResolutionError("cannot resolve the host of %s: %s" % (where, exc), self.details())
        except ConnectionRefusedError as exc:
            raise ConnectionRefused(
                "connection to %s refused: nothing listens there (%s)" % (where, exc), self.details())
        except TimeoutError:
            raise CheckTimeout(
                "opening the WebSocket to %s took longer than %.1fs" % (where, open_timeout), self.details())
        except InvalidHandshake as exc:
            raise ConnectError("WebSocket handshake with %s failed: %s" % (where, exc), self.details())
        except OSError as exc:
            raise ConnectError("cannot connect to %s: %s" % (where, exc), self.details())

    def _first_message(self):
        message = {
            "uid": self.uid,
            "language": self.opt["language"],
            "task": self.opt["task"],
            "model": self.opt["model"],
            "use_vad": self.opt["use_vad"],
        }
        if self.opt["same_output_threshold"] is not None:
            message["same_output_threshold"] = self.opt["same_output_threshold"]
        return message

    # -- receiving -----------------------------------------------------
    def _check_final(self):
        """After the audio: did the server complete the transcript, or has the partial stopped changing?

        Only the server's completion ends the wait, unless ``require_final``
        accepts a stable partial (``stable`` or ``none``).
        """
        if self.transcript.last_message_final:
            self.finalized_by = "server"
        elif (self.transcript.partial is not None and self.opt["stable_messages"] and self.opt["include_partial"]
              and self.transcript.partial["end"] >= self.clip.speech_end - STABLE_END_SLACK_S):
            words = wer_utils.normalise(self.transcript.partial["text"])
            if words and words == self._stable_words:
                self._stable_count += 1
            else:
                self._stable_words, self._stable_count = words, 1
            self.stable = self._stable_count >= self.opt["stable_messages"]
            if not self.stable or self.opt["require_final"] == "server":
                return
            self.finalized_by = "stable"
        else:
            return
        self._mark("final")
        self._emit("final", self.finalized_by)

    def _handle(self, raw):
        if not isinstance(raw, str):
            raise ProtocolError("server sent a binary frame; WhisperLive only sends JSON text", self.details())
        try:
            msg = json.loads(raw)
        except ValueError:
            raise ProtocolError("server sent non-JSON text: %r" % raw[:200], self.details())
        if not isinstance(msg, dict):
            raise ProtocolError("server sent JSON that is not an object: %r" % raw[:200], self.details())
        status = msg.get("status")
        message = msg.get("message")
        if status == STATUS_WAIT:
            return ("wait", message)
        if status == STATUS_ERROR:
            raise ServerError("server answered ERROR: %s" % message, self.details())
        if status == STATUS_WARNING:
            self.warnings.append(str(message))
            self._emit("warning", message)
            return ("warning", message)
        if message == SERVER_READY:
            self.backend = msg.get("backend")
            self._mark("server_ready")
            self._emit("server_ready", msg.get("backend"))
            return ("ready", msg)
        if message == DISCONNECT:
            raise ServerDisconnect(
                "server sent DISCONNECT (its max_connection_time ended the stream)", self.details())
        if "segments" in msg:
            changed = self.transcript.update(msg["segments"])
            if not self.transcript.empty:
                self._mark("first_segment")
            if changed:
                self._emit("segments", self.transcript.segments(include_partial=True))
            if "audio_end" in self.marks and "final" not in self.marks:
                self._check_final()
            return ("segments", msg)
        if "language" in msg:
            self.language = msg.get("language")
            self.language_prob = msg.get("language_prob")
            self._emit("language", msg)
            return ("language", msg)
        return ("other", msg)

    def _pump(self, ws, until, doing):
        """Handle incoming messages until monotonic time ``until``."""
        while True:
            self._check_deadline(doing)
            wait = max(0.0, min(until, self.deadline) - self._now())
            try:
                raw = ws.recv(timeout=wait)
            except TimeoutError:
                if self._now() >= until:
                    return
                continue
            kind, value = self._handle(raw)
            if kind == "wait":
                raise ServerBusy("server sent WAIT in the middle of a stream (%s minutes)" % value, self.details())

    # -- the whole exchange ----------------------------------------------
    def _handshake(self, ws):
        """Send the options; return None when ready, or the WAIT minutes."""
        ws.send(json.dumps(self._first_message()))
        while True:
            self._check_deadline("waiting for SERVER_READY")
            try:
                raw = ws.recv(timeout=max(0.0, self._remaining()))
            except TimeoutError:
                continue  # the deadline check above turns this into CheckTimeout
            kind, value = self._handle(raw)
            if kind == "wait":
                return value if value is not None else 0
            if kind == "ready":
                return None

    def _stream(self, ws):
        chunk_s = self.opt["chunk_ms"] / 1000.0
        pace = self.opt["pace"]
        start = self._now()
        for index, frame in enumerate(audio_utils.frames(self.clip.samples, self.opt["chunk_ms"])):
            due = start + index * chunk_s / pace if pace > 0 else self._now()
            self._pump(ws, due, "streaming audio")
            ws.send(frame)
            self._mark("first_frame")
        self._mark("audio_end")
        self._emit("audio_sent", round(self.clip.seconds, 3))
        # The server may have completed everything while the audio still played
        # (the launcher's endpointing) and then have nothing more to send.
        completed = self.transcript.completed
        if (self.transcript.last_message_final and completed
                and completed[-1]["end"] >= self.clip.speech_end - STABLE_END_SLACK_S):
            self._check_final()
        # Keep the microphone open: silence in real time (or at pace, when faster).
        silence_pace = max(pace, 1.0)
        silence_frame = audio_utils.silence(chunk_s).astype(audio_utils.WIRE_DTYPE).tobytes()
        # Leave time for END_OF_AUDIO and the close inside the overall timeout.
        until = min(self.deadline - CLOSE_WAIT_S, self._now() + self.opt["finalize_timeout"])
        due = self._now()
        while "final" not in self.marks and self._now() < until:
            self._pump(ws, min(due, until), "waiting for the final segment")
            if "final" in self.marks or self._now() >= until:
                break
            ws.send(silence_frame)
            due += chunk_s / silence_pace

    def _finish(self, ws):
        ws.send(END_OF_AUDIO)
        self._mark("end_of_audio")
        self._emit("end_of_audio")
        close_by = min(self.deadline, self._now() + CLOSE_WAIT_S)
        try:
            while self._now() < close_by:
                raw = ws.recv(timeout=max(0.0, close_by - self._now()))
                self._handle(raw)
        except TimeoutError:
            pass
        except ConnectionClosed:
            self.closed_by_server = True
            self._mark("closed")
            self._emit("closed")

    def _drain(self, ws):
        """Handle the messages that arrived before the socket closed."""
        while True:
            try:
                raw = ws.recv(timeout=0)
            except (ConnectionClosed, TimeoutError):
                return
            self._handle(raw)

    def run(self):
        wait_until = self.t0 + self.opt["wait_for_slot"]
        while True:
            self._mark("start")
            self._emit("connecting", redact_url(self.url))
            ws = self._open()
            self._mark("connected")
            self._emit("connected")
            try:
                with ws:
                    try:
                        minutes = self._handshake(ws)
                        if minutes is None:
                            self._stream(ws)
                            self._finish(ws)
                            return self.details()
                    except ConnectionClosed:
                        self._drain(ws)  # a DISCONNECT or ERROR sent before the close explains it
                        raise
            except ConnectionClosed as exc:
                phase = "before SERVER_READY" if "server_ready" not in self.marks else "while streaming"
                raise StreamClosed(
                    "server closed the WebSocket %s (code %s%s)" % (
                        phase, exc.rcvd.code if exc.rcvd else "none",
                        ", %s" % exc.rcvd.reason if exc.rcvd and exc.rcvd.reason else ""),
                    self.details())
            # WAIT: the server closes this socket; try again while allowed.
            self._emit("wait", minutes)
            if self._now() + SLOT_RETRY_S > min(wait_until, self.deadline):
                raise ServerBusy(
                    "server is full (WAIT, a slot frees in about %.1f minutes) and wait_for_slot=%ss "
                    "is over" % (float(minutes), self.opt["wait_for_slot"]), self.details())
            time.sleep(SLOT_RETRY_S)
            for name in ("start", "connected"):
                self.marks.pop(name, None)


DEFAULTS = {
    "language": "en",
    "task": "transcribe",
    "model": "tiny.en",
    "use_vad": True,
    "chunk_ms": 100,
    "pace": 1.0,
    "timeout": 60.0,
    "validate_certs": True,
    "ca_path": None,
    "headers": None,
    "token": None,
    "subprotocols": None,
    "wait_for_slot": 0.0,
    "same_output_threshold": None,
    "finalize_timeout": 10.0,
    "stable_messages": 3,
    "include_partial": True,
    "require_final": "server",
    "require_segments": True,
    "uid": None,
}


# require_final: what counts as a final transcript, strictest first.
REQUIRE_FINAL = ("server", "stable", "none")


def _final_enough(result, require_final):
    if require_final == "none":
        return True
    if require_final == "stable":
        return result["finalized_by"] in ("server", "stable")
    return result["finalized_by"] == "server"


def check_transcription(url, clip, expected_text=None, max_wer=None, on_event=None, **options):
    """Stream ``clip`` (an audio.Clip) to ``url`` and return the result dict.

    Raises a TranscriptionCheckError subclass when the check fails; its
    ``details`` carries the figures measured until then.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ConfigurationError("unknown options: %s" % ", ".join(sorted(unknown)))
    opt = dict(DEFAULTS)
    opt.update((k, v) for k, v in options.items() if v is not None)
    if opt["chunk_ms"] <= 0 or opt["chunk_ms"] > 2000:
        raise ConfigurationError("chunk_ms must be between 1 and 2000, got %s" % opt["chunk_ms"])
    if opt["pace"] < 0:
        raise ConfigurationError("pace must be 0 (as fast as possible) or a positive speed factor")
    if opt["timeout"] <= 0:
        raise ConfigurationError("timeout must be positive")
    if max_wer is not None and not expected_text:
        raise ConfigurationError("max_wer needs expected_text")
    if opt["require_final"] not in REQUIRE_FINAL:
        raise ConfigurationError("require_final must be one of %s, got %r"
                                 % (", ".join(REQUIRE_FINAL), opt["require_final"]))
    opt["ssl_context"] = make_ssl_context(url, opt["validate_certs"], opt["ca_path"])

    session = StreamSession(url, clip, opt, on_event=on_event)
    result = session.run()
    if not result["segments"] and (opt["require_segments"] or expected_text):
        raise NoSegments(
            "the server accepted %.1fs of audio but sent no transcript segment "
            "(is the audio speech? is use_vad dropping it?)" % clip.seconds, result)
    if result["segments"] and not _final_enough(result, opt["require_final"]):
        raise NotFinal(
            "the server did not complete the segment holding the last word within finalize_timeout=%ss "
            "(finalized_by: %s; the partial %r stayed grey); require_final=%s%s" % (
                opt["finalize_timeout"], result["finalized_by"],
                result["segments"][-1]["text"] if not result["segments"][-1].get("completed", True) else "",
                opt["require_final"],
                "; set require_final: stable to accept a partial that stopped changing"
                if result["finalized_by"] == "stable" and opt["require_final"] == "server" else ""), result)
    result["expected_text"] = expected_text
    result["wer"] = None
    result["max_wer"] = max_wer
    if expected_text:
        result["wer"] = round(wer_utils.word_error_rate(expected_text, result["transcript"]), 4)
        result["normalised"] = {
            "expected": wer_utils.normalise(expected_text),
            "transcript": wer_utils.normalise(result["transcript"]),
        }
        if max_wer is not None and result["wer"] > max_wer:
            raise WerTooHigh(
                "word error rate %.3f is above max_wer %.3f: expected %r, got %r" % (
                    result["wer"], max_wer, result["normalised"]["expected"],
                    result["normalised"]["transcript"]), result)
    return result


__all__ = [
    "Transcript", "StreamSession", "check_transcription", "make_ssl_context", "redact_url",
    "TranscriptionCheckError",
]
