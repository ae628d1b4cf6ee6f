# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Typed failures of a transcription check.

Plain Python, no Ansible import: the module, the CLI (site/test_client.py) and
the tests share these classes. Every class carries a short ``kind`` string
that the module returns as ``failure`` so that a playbook or an AWX job can
branch on the class of failure without parsing the message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class TranscriptionCheckError(Exception):
    """Base class: a check that did not prove the stack transcribes.

    ``details`` holds what was measured before the failure (latency figures,
    segments received so far), so a failed check still reports them.
    """

    kind = "error"

    def __init__(self, message, details=None):
        super(TranscriptionCheckError, self).__init__(message)
        self.message = message
        self.details = details or {}


class ConfigurationError(TranscriptionCheckError):
    """The options of the check are wrong (a bad URL, a missing CA file)."""

    kind = "configuration"


class AudioError(TranscriptionCheckError):
    """The input audio is not a readable, non-empty WAV file."""

    kind = "audio"


class ConnectError(TranscriptionCheckError):
    """The WebSocket could not be opened (any network-level reason)."""

    kind = "connect"


class ConnectionRefused(ConnectError):
    """Nothing listens on the address (TCP RST)."""

    kind = "connection_refused"


class NameResolutionError(ConnectError):
    """The host name of the URL does not resolve."""

    kind = "dns"


class TlsError(ConnectError):
    """The TLS handshake failed (certificate not trusted, wrong name, ...)."""

    kind = "tls"


class HttpStatusError(ConnectError):
    """The server answered the upgrade with an HTTP status other than 101."""

    kind = "http_status"

    def __init__(self, message, status, details=None):
        super(HttpStatusError, self).__init__(message, details)
        self.status = status


class CheckTimeout(TranscriptionCheckError):
    """The whole check ran past its ``timeout``."""

    kind = "timeout"


class ServerBusy(TranscriptionCheckError):
    """The server answered WAIT (all slots taken) for longer than allowed."""

    kind = "server_busy"


class ServerError(TranscriptionCheckError):
    """The server answered with status ERROR (e.g. the model did not load)."""

    kind = "server_error"


class ServerDisconnect(TranscriptionCheckError):
    """The server sent DISCONNECT (its max_connection_time was reached)."""

    kind = "server_disconnect"


class StreamClosed(TranscriptionCheckError):
    """The socket closed before the check finished streaming."""

    kind = "stream_closed"


class ProtocolError(TranscriptionCheckError):
    """The server sent something the WhisperLive protocol does not allow."""

    kind = "protocol"


class NoSegments(TranscriptionCheckError):
    """The stream finished but the server sent no transcript segment."""

    kind = "no_segments"


class NotFinal(TranscriptionCheckError):
    """The server never completed the segment holding the last word (require_final)."""

    kind = "not_final"


class WerTooHigh(TranscriptionCheckError):
    """The transcript differs from the expected text by more than max_wer."""

    kind = "wer_too_high"
