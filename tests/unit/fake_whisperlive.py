"""FakeWhisperLive: a protocol-faithful stand-in for the WhisperLive 0.10 server.

For unit tests only: it produces, on demand, the answers a real server gives
rarely or never on demand (WAIT, ERROR, DISCONNECT, a close mid-stream, HTTP
statuses, a TLS certificate nobody trusts). Messages follow
whisper_live/server.py and backend/base.py of 0.10.0: the same keys, times
as strings with three decimals, completed segments repeated, at most one
partial last, an immediate close on END_OF_AUDIO.

It "transcribes" by counting: non-silent audio makes the partial text grow
word by word from ``words``; once silence follows speech for
``silence_to_complete`` seconds, the partial becomes completed.
"""

import json
import threading
from http import HTTPStatus

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

RATE = 16000


def _seg(start, end, text, completed):
    return {"start": "%.3f" % start, "end": "%.3f" % end, "text": text, "completed": completed}


class FakeWhisperLive(object):
    """Modes: ok, wait, wait_then_ok, error, warning_then_ok, disconnect, close_mid_stream,
    no_segments, silent, never_final, flicker, two_sentences, garbage, binary."""

    def __init__(self, mode="ok", words=("hello", "world"), http_status=None, ssl_context=None,
                 token=None, silence_to_complete=0.3, waits=1, segment_end=None):
        self.mode = mode
        self.words = list(words)
        self.http_status = http_status
        self.ssl_context = ssl_context
        self.token = token
        self.silence_to_complete = silence_to_complete
        self.waits = waits
        self.segment_end = segment_end  # cap on reported end times (a server that lags behind)
        self.connections = 0
        self.options = []
        self.requests = []
        self.frames_received = 0
        self.end_of_audio = threading.Event()
        self._server = None
        self._thread = None

    # -- lifecycle -------------------------------------------------------
    def __enter__(self):
        self._server = serve(self._handler, "127.0.0.1", 0, process_request=self._process_request,
                             ssl=self.ssl_context, compression=None, close_timeout=1)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(5)

    @property
    def url(self):
        return "%s://127.0.0.1:%d/" % ("wss" if self.ssl_context else "ws", self.port)

    # -- HTTP stage ------------------------------------------------------
    def _process_request(self, connection, request):
        self.requests.append(dict(request.headers.raw_items()))
        if self.http_status:
            return connection.respond(HTTPStatus(self.http_status), "fake refusal %d\n" % self.http_status)
        if self.token and request.headers.get("Authorization") != "Bearer %s" % self.token:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    # -- WebSocket stage ---------------------------------------------------
    def _send(self, ws, **message):
        ws.send(json.dumps(message))

    def _handler(self, ws):
        self.connections += 1
        try:
            options = json.loads(ws.recv())
        except ConnectionClosed:
            return
        self.options.append(options)
        uid = options["uid"]
        mode = self.mode
        if mode == "silent":
            try:
                ws.recv()  # hold the socket without answering until the client leaves
            except ConnectionClosed:
                pass
            return
        if mode == "wait" or (mode == "wait_then_ok" and self.connections <= self.waits):
            self._send(ws, uid=uid, status="WAIT", message=4.5)
            ws.close()
            return
        if mode == "error":
            self._send(ws, uid=uid, status="ERROR", message="Failed to load model: %s" % options["model"])
            ws.close()
            return
        if mode == "warning_then_ok":
            self._send(ws, uid=uid, status="WARNING",
                       message="TensorRT-LLM not supported on Server yet. Reverting to available backend: 'faster_whisper'")
        self._send(ws, uid=uid, message="SERVER_READY", backend="faster_whisper")
        self._stream(ws, uid)

    def _stream(self, ws, uid):
        mode = self.mode
        speech = 0.0
        silence_after_speech = 0.0
        sent_words = 0
        completed = []
        total = 0.0
        try:
            while True:
                frame = ws.recv()
                if frame == b"END_OF_AUDIO":
                    self.end_of_audio.set()
                    if mode == "flush" and speech:
                        # the role's launcher: what is left, completed, before the close
                        text = " " + " ".join(self.words[:min(len(self.words), 1 + int(speech / 0.2))])
                        self._send(ws, uid=uid, segments=completed + [_seg(0.0, total, text, True)])
                    return  # upstream's server closes at once
                samples = np.frombuffer(frame, dtype="<f4")
                self.frames_received += 1
                seconds = len(samples) / float(RATE)
                total += seconds
                if mode == "garbage":
                    ws.send("this is not json")
                    continue
                if mode == "binary":
                    ws.send(b"\x00\x01")
                    continue
                if mode == "disconnect" and self.frames_received >= 3:
                    self._send(ws, uid=uid, message="DISCONNECT")
                    ws.close()
                    return
                if mode == "close_mid_stream" and self.frames_received >= 3:
                    ws.close(1011, "fake internal error")
                    return
                if mode == "no_segments":
                    continue
                loud = bool(np.any(np.abs(samples) > 1e-4))
                if loud:
                    speech += seconds
                    silence_after_speech = 0.0
                elif speech:
                    silence_after_speech += seconds
                words = min(len(self.words), 1 + int(speech / 0.2)) if speech else 0
                if not words:
                    continue
                text = " " + " ".join(self.words[:words])
                if (silence_after_speech >= self.silence_to_complete and mode not in ("never_final", "flicker", "flush")
                        and (not completed or completed[-1]["text"] != text)):
                    completed.append(_seg(0.0 if not completed else float(completed[-1]["end"]),
                                          total - silence_after_speech, text, True))
                    if mode == "two_sentences" and len(completed) == 1:
                        completed.append(_seg(total - silence_after_speech, total, " second sentence", True))
                    self._send(ws, uid=uid, segments=completed)
                    continue
                if mode == "flicker" and not loud and speech:
                    # the real server's punctuation comes and goes; it never completes then
                    sent_words += 1
                    flick = text + ("," if sent_words % 2 else "")
                    end = total if self.segment_end is None else min(total, self.segment_end)
                    self._send(ws, uid=uid, segments=[_seg(0.0, end, flick, False)])
                    continue
                if completed and not loud:
                    self._send(ws, uid=uid, segments=completed)  # repeats, as the server does
                    continue
                if words != sent_words or mode == "two_sentences":
                    sent_words = words
                    self._send(ws, uid=uid, segments=completed + [_seg(0.0, total, text, False)])
        except ConnectionClosed:
            return
