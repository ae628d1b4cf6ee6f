#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: transcription_check
short_description: Stream a WAV file to a WhisperLive server and prove it transcribes
version_added: "0.1.0"
description:
  - Opens a WebSocket (C(ws://) or C(wss://)) to a WhisperLive 0.10 server, directly or through
    the edge proxy, streams a WAV file as mono little-endian Float32 PCM at 16 kHz, and returns
    the transcript, the word error rate against an expected text, and latency figures.
  - Any WAV file works (16/24/32-bit integer or float samples, mono or stereo, 8 to 48 kHz); it
    is downmixed and resampled with libsoxr. Other formats and empty files are refused.
  - After the audio, the module keeps the stream open and sends silence in real time, like an
    open microphone, until the server marks the last segment completed or O(finalize_timeout)
    passes; then it sends C(END_OF_AUDIO) and reads until the server closes (the role
    P(realtime_asr.whisperlive.whisperlive#role)'s server sends what is left, completed, before it
    closes; upstream's closes at once).
  - By default the check fails with C(not_final) unless the server itself completed the segment
    holding the last word (RV(finalized_by) C(server)); a partial whose words stopped changing is
    reported as C(stable), a client-side guess that passes only with O(require_final=stable).
  - The transcript is the completed segments in time order, each once, plus the last partial
    segment when the server never completed it (O(include_partial)).
  - Every failure names its class in RV(failure), for example C(connection_refused), C(dns),
    C(tls), C(http_status), C(server_busy), C(server_error), C(stream_closed), C(timeout),
    C(no_segments), C(not_final), C(wer_too_high); the check never runs longer than O(timeout).
  - The check changes nothing, so it runs in check mode too and always reports C(changed=false).
author:
  - realtime_asr maintainers (@realtime-asr)
requirements:
  - websockets >= 14 (sync client)
  - numpy
  - soundfile (libsndfile)
  - soxr
  - jiwer
options:
  url:
    description:
      - WebSocket URL of the server, C(ws://host:port/) for WhisperLive itself or
        C(wss://edge/ws) through the edge proxy.
      - A C(token) query parameter is redacted in the results.
    type: str
    required: true
  audio:
    description:
      - Path on the managed node (usually C(localhost)) of the WAV file to stream.
    type: path
    required: true
  expected_text:
    description:
      - What the audio says. With it the module computes the word error rate (case and
        punctuation ignored).
    type: str
  max_wer:
    description:
      - Fail with C(wer_too_high) when the word error rate is above this value (0.0 to 1.0 and beyond).
    type: float
  language:
    description:
      - Language code sent to the server. English-only models (C(*.en)) ignore it.
    type: str
    default: en
  model:
    description:
      - Model name sent to the server. A server that pins its model (the role
        P(realtime_asr.whisperlive.whisperlive#role) does) ignores it; an unpinned server loads it.
    type: str
    default: tiny.en
  task:
    description:
      - C(transcribe) keeps the spoken language; C(translate) translates into English.
    type: str
    default: transcribe
    choices: [transcribe, translate]
  use_vad:
    description:
      - Ask the server to drop non-speech with its voice activity detector, as upstream's clients
        and the browser page do.
    type: bool
    default: true
  same_output_threshold:
    description:
      - How many times the server must see the same text before it marks a segment completed
        (upstream's rule; the role's server also completes a segment once the speaker stops).
      - Not sent by default, so the check sees what the server does with its own defaults, as every
        client that sends no options does (upstream's default is 10).
    type: int
  chunk_ms:
    description:
      - Length of each binary frame in milliseconds (browsers send about 128 ms).
    type: int
    default: 100
  pace:
    description:
      - Streaming speed as a factor of real time. C(1.0) sends audio as fast as it plays
        (what a microphone does), C(2.0) twice as fast, C(0) as fast as the network allows.
    type: float
    default: 1.0
  timeout:
    description:
      - Upper bound in seconds for the whole check, connection and waiting for a slot included.
    type: float
    default: 60
  finalize_timeout:
    description:
      - Seconds to keep streaming silence after the audio while waiting for the last segment to
        be completed. When it passes, the transcript includes the last partial segment,
        RV(finalized) is false and the check fails with C(not_final) (see O(require_final)).
    type: float
    default: 10
  stable_messages:
    description:
      - Report the transcript as C(stable) once the last partial segment has come back with the same
        words (case and punctuation ignored) this many times in a row, reaching to within a second of the
        end of the speech in the audio; with O(require_final=stable) that also ends the wait. C(0) turns
        the guess off.
    type: int
    default: 3
  require_final:
    description:
      - What the check accepts as a final transcript. C(server) (the default) only the server's own
        completion of the segment holding the last word, before the close; C(stable) also a partial
        whose words stopped changing (O(stable_messages)); C(none) anything, as a plain smoke test.
    type: str
    default: server
    choices: [server, stable, none]
  include_partial:
    description:
      - Append the last, never completed, segment to the transcript.
    type: bool
    default: true
  require_segments:
    description:
      - Fail when the server sends no transcript segment. C(false) makes a readiness probe of the check
        (SERVER_READY, the audio accepted, a clean close), e.g. with a second of silence; it cannot be
        combined with O(expected_text), which always needs segments.
    type: bool
    default: true
  validate_certs:
    description:
      - Verify the server's TLS certificate and host name for C(wss://). Turn off only to debug.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA to trust for C(wss://) instead of the system store, for example the
        root of Caddy's internal CA (C(pki/authorities/local/root.crt) in Caddy's data directory).
    type: path
  headers:
    description:
      - Extra HTTP headers for the WebSocket upgrade request.
    type: dict
    default: {}
  token:
    description:
      - "Bearer token for a server started with an API key; sent as C(Authorization: Bearer <token>)."
    type: str
  wait_for_slot:
    description:
      - Seconds to keep retrying while the server answers C(WAIT) (all its slots are taken).
        C(0) fails at the first C(WAIT) with C(server_busy).
    type: float
    default: 0
notes:
  - "Runs on the managed node; use it with C(delegate_to: localhost) or in a play on C(localhost)."
  - The WebSocket client honours the C(https_proxy)/C(no_proxy) environment variables.
seealso:
  - name: WhisperLive
    description: The server this module talks to.
    link: https://github.com/collabora/WhisperLive
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The check only reads; it runs in check mode exactly as without it.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Prove the edge proxy and the GPU host transcribe a sentence
  realtime_asr.whisperlive.transcription_check:
    url: "{{ edge_caddy__endpoint.ws_url }}"
    ca_path: "{{ edge_caddy__endpoint.ca_path | default(omit, true) }}"
    audio: /tmp/hello.wav
    expected_text: The quick brown fox jumps over the lazy dog.
    max_wer: 0.35
  register: __check

- name: Talk to WhisperLive directly, as fast as possible, with a token
  realtime_asr.whisperlive.transcription_check:
    url: ws://10.0.1.20:9090/
    audio: /srv/samples/meeting-48k-stereo.wav
    pace: 0
    token: "{{ vault_whisperlive_api_key }}"
    wait_for_slot: 60
    timeout: 120

- name: Show the latency figures
  ansible.builtin.debug:
    msg: "{{ __check.latency }} WER {{ __check.wer }}"
"""

RETURN = r"""
transcript:
  description: Text of the completed segments, in order, plus the last partial one (see O(include_partial)).
  returned: success
  type: str
  sample: The quick brown fox jump over the lazy dog.
segments:
  description: The segments behind RV(transcript), each once.
  returned: success
  type: list
  elements: dict
  sample: [{"start": 0.0, "end": 3.2, "text": "The quick brown fox jump over the lazy dog.", "completed": true}]
  contains:
    start:
      description: Start time in seconds from the beginning of the stream.
      type: float
    end:
      description: End time in seconds.
      type: float
    text:
      description: Text of the segment.
      type: str
    completed:
      description: False only for a last segment the server never completed.
      type: bool
finalized:
  description: True when the server completed the transcript before it closed (or, with
    O(require_final=stable), the partial stopped changing); see RV(finalized_by).
  returned: success
  type: bool
  sample: true
finalized_by:
  description:
    - C(server) when the server marked the last segment completed, C(stable) when it did not but the
      words of the last partial stopped changing (O(stable_messages)), null when neither happened.
  returned: success
  type: str
  sample: server
flushed:
  description:
    - True when the server completed the last segment only after C(END_OF_AUDIO), while closing
      (the role's server flushes what is left); false when it did so while the stream was open.
  returned: success
  type: bool
  sample: false
wer:
  description: Word error rate against O(expected_text), after lower-casing and removing punctuation; null without it.
  returned: success
  type: float
  sample: 0.0556
max_wer:
  description: The threshold that was applied, or null.
  returned: success
  type: float
  sample: 0.35
normalised:
  description: The two texts as compared for RV(wer).
  returned: when O(expected_text) is set
  type: dict
  sample: {"expected": "the quick brown fox jumps", "transcript": "the quick brown fox jump"}
latency:
  description: Seconds measured by the client; null where a step did not happen.
  returned: always
  type: dict
  sample: {"connect": 0.011, "server_ready": 0.007, "first_segment": 1.35, "final": 2.02, "close": 0.002, "total": 9.43}
  contains:
    connect:
      description: TCP, TLS and WebSocket handshake.
      type: float
    server_ready:
      description: From the open socket to C(SERVER_READY) (model loading on an unpinned server).
      type: float
    first_segment:
      description: From the first audio frame to the first segment.
      type: float
    final:
      description: From the last frame of the audio to the completed last segment; null when not finalized.
      type: float
    close:
      description: From C(END_OF_AUDIO) to the server closing the socket.
      type: float
    total:
      description: The whole check.
      type: float
audio_seconds:
  description: Length of the audio streamed (after resampling), in seconds.
  returned: always
  type: float
  sample: 7.314
realtime_factor:
  description: Wall time from the first frame to the final transcript (or C(END_OF_AUDIO)) divided by RV(audio_seconds).
  returned: always
  type: float
  sample: 1.274
backend:
  description: Inference backend the server reported in C(SERVER_READY).
  returned: always
  type: str
  sample: faster_whisper
language:
  description: Language the server detected, when it reported one.
  returned: always
  type: str
  sample: en
warnings_from_server:
  description: Messages of C(WARNING) statuses (e.g. a backend fallback).
  returned: always
  type: list
  elements: str
  sample: []
audio:
  description: What the input file was.
  returned: success
  type: dict
  sample: {"path": "/tmp/hello.wav", "seconds": 7.314, "source_rate": 22050, "source_channels": 1, "source_subtype": "PCM_16"}
url:
  description: The URL used, with a C(token) query parameter redacted.
  returned: always
  type: str
  sample: wss://edge.example.com/ws
failure:
  description: Class of failure.
  returned: failure
  type: str
  sample: http_status
http_status:
  description: HTTP status of a refused upgrade.
  returned: when RV(failure) is C(http_status)
  type: int
  sample: 403
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import audio as audio_utils
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import wer as wer_utils
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import whisperlive_client
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.errors import (
    HttpStatusError,
    TranscriptionCheckError,
)

LIBRARIES = (
    ("websockets", whisperlive_client.WEBSOCKETS_IMPORT_ERROR),
    ("numpy, soundfile and soxr", audio_utils.AUDIO_IMPORT_ERROR),
    ("jiwer", wer_utils.WER_IMPORT_ERROR),
)

CLIENT_OPTIONS = (
    "language", "model", "task", "use_vad", "same_output_threshold", "chunk_ms", "pace",
    "timeout", "finalize_timeout", "stable_messages", "require_final", "include_partial", "validate_certs", "ca_path", "headers",
    "token", "wait_for_slot", "require_segments",
)


def _public(result):
    """Rename keys that Ansible reserves in module results."""
    out = dict(result)
    out["warnings_from_server"] = out.pop("warnings", [])
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            audio=dict(type="path", required=True),
            expected_text=dict(type="str"),
            max_wer=dict(type="float"),
            language=dict(type="str", default="en"),
            model=dict(type="str", default="tiny.en"),
            task=dict(type="str", default="transcribe", choices=["transcribe", "translate"]),
            use_vad=dict(type="bool", default=True),
            same_output_threshold=dict(type="int"),
            chunk_ms=dict(type="int", default=100),
            pace=dict(type="float", default=1.0),
            timeout=dict(type="float", default=60),
            finalize_timeout=dict(type="float", default=10),
            stable_messages=dict(type="int", default=3),
            require_final=dict(type="str", default="server", choices=["server", "stable", "none"]),
            include_partial=dict(type="bool", default=True),
            require_segments=dict(type="bool", default=True),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            headers=dict(type="dict", default={}),
            token=dict(type="str", no_log=True),
            wait_for_slot=dict(type="float", default=0),
        ),
        required_by={"max_wer": ["expected_text"]},
        supports_check_mode=True,
    )

    for name, error in LIBRARIES:
        if error is not None:
            module.fail_json(msg=missing_required_lib(name), exception="".join(traceback.format_exception_only(type(error), error)))

    params = module.params
    try:
        clip = audio_utils.load_wav(params["audio"])
        result = whisperlive_client.check_transcription(
            params["url"],
            clip,
            expected_text=params["expected_text"],
            max_wer=params["max_wer"],
            **dict((name, params[name]) for name in CLIENT_OPTIONS)
        )
    except TranscriptionCheckError as exc:
        extra = _public(exc.details)
        if isinstance(exc, HttpStatusError):
            extra["http_status"] = exc.status
        module.fail_json(msg=exc.message, failure=exc.kind, **extra)

    result = _public(result)
    result["audio"] = clip.describe()
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
