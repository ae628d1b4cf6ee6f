# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run WhisperLive 0.10.0 (faster_whisper backend) with pinned, local models.

Upstream's ``run_server.py`` is not in the wheel and binds 0.0.0.0; without a
pinned model upstream loads a fresh model per connection, of any name the
client sends, downloading it from a model hub. This launcher:

* binds the address and port it is given (no default address);
* serves only the model folders it is given (``--model NAME=PATH``, the first
  is the default), loads them all before it listens, and never downloads
  (``HF_HUB_OFFLINE=1``); a client naming another model gets a clear ERROR;
* honours a client's choice among the served models (one shared instance per
  model, transcriptions on one model serialised by a lock, as upstream's
  single-model mode does);
* reserves a client slot atomically, so a burst of connections cannot exceed
  ``--max-clients`` (upstream checks and admits in two steps);
* reads the API key from a file (a systemd credential), never from argv;
* ends segments where the speaker stops (endpointing, ``--endpoint-silence-ms``):
  upstream completes a segment only once its text has repeated
  ``same_output_threshold`` times (10 unless the client sends another), which
  takes seconds and stalls when voice activity detection filters the trailing
  silence out. Here faster-whisper's bundled Silero VAD scores the audio not
  yet completed; once a decode has covered the end of the speech and the
  speaker has been silent for the endpoint silence, the last segment is sent
  completed at once. Audio without speech is never decoded (no "Thank you."
  on silence or noise), decoding starts as soon as there is speech, and the
  repetition rule stays as a fallback. It holds with the server's defaults,
  so every client gets it without sending options;
* on ``END_OF_AUDIO`` (and at ``max_connection_time``) transcribes what is
  left and sends it completed before the socket closes (upstream closes at
  once and drops it).

``--check-config`` validates a configuration without importing torch or
loading a model (used by the role before a config goes live).
"""

from __future__ import absolute_import, division, print_function

import argparse
import ipaddress
import json
import logging
import os
import sys
import threading
import time

__metaclass__ = type

MODEL_FILES = ("model.bin", "config.json")
DEVICES = ("auto", "cpu", "cuda")
COMPUTE_TYPES = ("auto", "int8", "int8_float16", "int8_float32", "float16", "float32", "bfloat16")
DEFAULTS = {
    "host": None,
    "port": 9090,
    "models": [],
    "device": "auto",
    "compute_type": "auto",
    "cpu_threads": 0,
    "max_clients": 4,
    "max_connection_time": 600,
    "cache_path": "~/.cache/whisper-live/",
    "api_key_file": None,
    "metrics_port": 0,
    "log_level": "INFO",
    "endpoint_silence_ms": 500,
    "partial_window_s": 10,
    "options_timeout_s": 10,
    "max_pending_per_client": 4,
    "max_pending": 64,
    "trusted_proxies": [],
}


class ConfigError(Exception):
    """The configuration cannot be served."""


class ModelNotServed(Exception):
    """A client asked for a model this server does not serve."""


# --------------------------------------------------------------------------
# Configuration (no heavy imports here: --check-config must stay cheap)
# --------------------------------------------------------------------------

def parse_model_spec(spec):
    """'NAME=PATH' -> {'name': NAME, 'path': PATH}."""
    if isinstance(spec, dict):
        name, path = spec.get("name"), spec.get("path")
    else:
        name, sep, path = str(spec).partition("=")
        if not sep:
            raise ConfigError("model %r: expected NAME=PATH" % (spec,))
    if not name or not path:
        raise ConfigError("model %r: both a name and a path are needed" % (spec,))
    return {"name": str(name), "path": str(path)}


def validate_config(config, check_files=True):
    """Return a normalised copy of ``config`` or raise ConfigError."""
    conf = dict(DEFAULTS)
    conf.update({k: v for k, v in config.items() if v is not None})
    unknown = sorted(set(conf) - set(DEFAULTS))
    if unknown:
        raise ConfigError("unknown setting(s): %s" % ", ".join(unknown))

    if not conf["host"]:
        raise ConfigError("host: a bind address is required (0.0.0.0 only if you mean it)")
    try:
        ipaddress.ip_address(conf["host"])
    except ValueError:
        raise ConfigError("host: %r is not an IP address" % (conf["host"],))
    for key, low, high in (("port", 1, 65535), ("metrics_port", 0, 65535),
                           ("max_clients", 1, 10000), ("max_connection_time", 1, 86400 * 7),
                           ("cpu_threads", 0, 1024), ("endpoint_silence_ms", 0, 10000),
                           ("partial_window_s", 1, 30), ("options_timeout_s", 1, 300),
                           ("max_pending_per_client", 1, 10000), ("max_pending", 1, 100000)):
        value = conf[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError("%s: %r is not an integer in [%d, %d]" % (key, value, low, high))
    proxies = conf["trusted_proxies"]
    if not isinstance(proxies, list):
        raise ConfigError("trusted_proxies: expected a list of IP addresses or networks")
    for address in proxies:
        try:
            proxy_networks([address])
        except ValueError:
            raise ConfigError("trusted_proxies: %r is not an IP address or network (CIDR)" % (address,))
    if conf["metrics_port"] and conf["metrics_port"] == conf["port"]:
        raise ConfigError("metrics_port: must differ from port")
    if conf["device"] not in DEVICES:
        raise ConfigError("device: %r is not one of %s" % (conf["device"], ", ".join(DEVICES)))
    if conf["compute_type"] not in COMPUTE_TYPES:
        raise ConfigError("compute_type: %r is not one of %s" % (conf["compute_type"], ", ".join(COMPUTE_TYPES)))

    models = [parse_model_spec(m) for m in conf["models"]]
    if not models:
        raise ConfigError("models: at least one NAME=PATH is required")
    names = [m["name"] for m in models]
    if len(set(names)) != len(names):
        raise ConfigError("models: duplicate names in %s" % ", ".join(names))
    if check_files:
        for model in models:
            missing = [f for f in MODEL_FILES if not os.path.isfile(os.path.join(model["path"], f))]
            if missing:
                raise ConfigError("model %s: %s lacks %s (not a faster-whisper model folder)"
                                  % (model["name"], model["path"], ", ".join(missing)))
        if conf["api_key_file"] and not os.path.isfile(conf["api_key_file"]):
            raise ConfigError("api_key_file: %s does not exist" % conf["api_key_file"])
    conf["models"] = models
    return conf


def load_config(argv=None):
    """Merge --config FILE (JSON) with command-line options."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = {}
    if args.config:
        try:
            with open(args.config) as handle:
                config = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ConfigError("config %s: %s" % (args.config, exc))
        if not isinstance(config, dict):
            raise ConfigError("config %s: expected a JSON object" % args.config)
    overrides = {k: v for k, v in vars(args).items()
                 if k in DEFAULTS and v is not None and v != []}
    config.update(overrides)
    return args, config


def build_parser():
    parser = argparse.ArgumentParser(
        prog="whisperlive_launcher.py",
        description="Serve WhisperLive (faster_whisper backend) with pinned local models. "
                    "Options override the same keys of --config.",
        epilog="Example: whisperlive_launcher.py --host 127.0.0.1 --port 9090 "
               "--model tiny.en=/opt/whisperlive/models/tiny.en --max-clients 2",
    )
    parser.add_argument("--config", metavar="FILE", help="JSON file with the keys below (models: [{name, path}])")
    parser.add_argument("--host", help="bind address (an IP address; required)")
    parser.add_argument("--port", type=int, help="WebSocket port (default 9090)")
    parser.add_argument("--model", dest="models", action="append", default=[], metavar="NAME=PATH",
                        help="a served model folder (CTranslate2 format); repeat for several, the first is the default")
    parser.add_argument("--device", choices=DEVICES, help="auto (CUDA when torch sees a GPU), cpu or cuda (default auto)")
    parser.add_argument("--compute-type", dest="compute_type", choices=COMPUTE_TYPES,
                        help="CTranslate2 compute type; auto = float16 on CUDA, int8 on CPU")
    parser.add_argument("--cpu-threads", dest="cpu_threads", type=int,
                        help="CTranslate2 CPU threads, 0 = the cores this process may run on")
    parser.add_argument("--max-clients", dest="max_clients", type=int, help="simultaneous streams (default 4)")
    parser.add_argument("--max-connection-time", dest="max_connection_time", type=int,
                        help="seconds a stream may last (default 600)")
    parser.add_argument("--cache-path", dest="cache_path", help="WhisperLive cache folder")
    parser.add_argument("--api-key-file", dest="api_key_file", metavar="FILE",
                        help="file holding the API key clients must present (Bearer header, ?token= or subprotocol)")
    parser.add_argument("--metrics-port", dest="metrics_port", type=int,
                        help="Prometheus metrics port, 0 = off (needs prometheus_client)")
    parser.add_argument("--endpoint-silence-ms", dest="endpoint_silence_ms", type=int,
                        help="silence after speech that ends a segment at once (default 500; "
                             "0 = upstream's repetition rule only)")
    parser.add_argument("--partial-window-s", dest="partial_window_s", type=int,
                        help="encoder window of the passes that only show grey words, in seconds "
                             "(default 10; 30 = Whisper's own; the pass that completes a segment always uses 30)")
    parser.add_argument("--options-timeout-s", dest="options_timeout_s", type=int,
                        help="seconds a new socket has to send valid options before it is closed (default 10)")
    parser.add_argument("--max-pending-per-client", dest="max_pending_per_client", type=int,
                        help="sockets one client address may have waiting for their options (default 4)")
    parser.add_argument("--max-pending", dest="max_pending", type=int,
                        help="sockets waiting for their options, all clients together (default 64)")
    parser.add_argument("--trusted-proxy", dest="trusted_proxies", action="append", default=[], metavar="IP|CIDR",
                        help="a proxy (the edge), or a network of them, whose X-Forwarded-For names the client; "
                             "repeat for several")
    parser.add_argument("--log-level", dest="log_level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--check-config", action="store_true",
                        help="validate the configuration, print it as JSON (key hidden) and exit")
    return parser


# --------------------------------------------------------------------------
# Endpointing: where the speech is, and when a segment is over (plain Python,
# no numpy: the unit tests feed it probabilities)
# --------------------------------------------------------------------------

class SpeechSpan:
    """The speech in a chunk of audio, in seconds from the chunk's start."""

    def __init__(self, start=None, end=None, spoken=0.0, length=0.0):
        self.start = start
        self.end = end
        self.spoken = spoken
        self.length = length

    @property
    def has_speech(self):
        return self.start is not None

    @property
    def trailing_silence(self):
        """Seconds from the end of the speech to the end of the chunk."""
        return self.length - self.end if self.has_speech else self.length

    def __repr__(self):
        return "SpeechSpan(start=%r, end=%r, spoken=%r, length=%r)" % (self.start, self.end, self.spoken, self.length)


class Endpointer:
    """Decides, from per-window speech probabilities, what the server does next.

    Probabilities come from Silero (32 ms windows). A run of windows is
    speech from the first at or above ``threshold`` until one falls below
    ``neg_threshold`` (hysteresis, as Silero's own segmenter does); runs
    shorter than ``min_speech_s`` are noise, not speech. A chunk whose speech
    ended ``silence_s`` ago, and whose last decode reached ``margin_s`` past
    that end, is over: its last segment is completed without waiting for
    the text to repeat.
    """

    WINDOW_S = 512 / 16000.0

    def __init__(self, silence_s=0.5, margin_s=0.1, threshold=0.5, neg_threshold=0.35,
                 min_speech_s=0.1, min_chunk_s=0.3, keep_s=0.3):
        self.silence_s = silence_s
        self.margin_s = margin_s
        self.threshold = threshold
        self.neg_threshold = neg_threshold
        self.min_speech_s = min_speech_s
        self.min_chunk_s = min_chunk_s
        self.keep_s = keep_s

    def span(self, probs, length=None):
        """The SpeechSpan of a chunk scored window by window."""
        window = self.WINDOW_S
        runs, start = [], None
        for index, prob in enumerate(probs):
            if start is None and prob >= self.threshold:
                start = index
            elif start is not None and prob < self.neg_threshold:
                runs.append((start, index))
                start = None
        if start is not None:
            runs.append((start, len(probs)))
        runs = [(a, b) for a, b in runs if (b - a) * window >= self.min_speech_s]
        length = len(probs) * window if length is None else length
        if not runs:
            return SpeechSpan(length=length)
        return SpeechSpan(start=runs[0][0] * window, end=min(runs[-1][1] * window, length),
                          spoken=sum(b - a for a, b in runs) * window, length=length)

    def covered(self, span, decoded_to):
        """Did a decode of the chunk's first ``decoded_to`` seconds hear all of its speech?"""
        return span.has_speech and decoded_to >= min(span.end + self.margin_s, span.length)

    def ended(self, span):
        """Has the speaker been silent long enough to end the segment?"""
        return span.has_speech and span.trailing_silence >= self.silence_s

    def cut(self, span):
        """Where the next chunk starts once this one is done with (keeps a short tail for an onset)."""
        return max(0.0, span.length - self.keep_s)


def one_partial(segments, no_speech_thresh):
    """The segments of a pass that cannot be final, as one partial segment.

    Upstream completes every segment of a pass but the last. A greedy pass
    (the speaker still talking) must complete nothing: its words are only
    shown grey until a full-beam pass replaces them. Segments Whisper thinks
    hold no speech are left out; returns [] when none is left.
    """
    kept = [s for s in segments if getattr(s, "no_speech_prob", 0) <= no_speech_thresh and s.text.strip()]
    if len(kept) < 2:
        return kept
    words = [w for s in kept for w in (getattr(s, "words", None) or [])]
    return [PartialSegment(start=kept[0].start, end=kept[-1].end,
                           text="".join(s.text for s in kept),
                           no_speech_prob=min(getattr(s, "no_speech_prob", 0) for s in kept),
                           words=words or None)]


class PartialSegment:
    """A segment as upstream reads one (start, end, text, no_speech_prob, words)."""

    def __init__(self, start, end, text, no_speech_prob=0.0, words=None):
        self.start = start
        self.end = end
        self.text = text
        self.no_speech_prob = no_speech_prob
        self.words = words


class Pending:
    """The last partial sent: its chunk's offset, how far that pass decoded, and whether it was a full-beam pass."""

    def __init__(self, offset, decoded_to, segment, final):
        self.offset = offset
        self.decoded_to = decoded_to
        self.segment = segment
        self.final = final


# --------------------------------------------------------------------------
# Admission: the first message and the sockets still waiting for one (plain
# Python: the unit tests and the fuzzer call these directly)
# --------------------------------------------------------------------------

TASKS = ("transcribe", "translate")
AUDIO_FORMATS = ("float32", "int16", "uint8")
UID_MAX = 128
# name -> (check, what it must be); checked only when the client sends the field.
OPTION_RULES = {
    "use_vad": (lambda v: isinstance(v, bool), "true or false"),
    "audio_format": (lambda v: v in AUDIO_FORMATS, "one of %s" % ", ".join(AUDIO_FORMATS)),
    "same_output_threshold": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1000,
                              "an integer from 1 to 1000"),
    "send_last_n_segments": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1000,
                             "an integer from 1 to 1000"),
    "no_speech_thresh": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
                         "a number from 0 to 1"),
    "clip_audio": (lambda v: isinstance(v, bool), "true or false"),
    "word_timestamps": (lambda v: isinstance(v, bool), "true or false"),
    "initial_prompt": (lambda v: v is None or (isinstance(v, str) and len(v) <= 2000),
                       "text of at most 2000 characters"),
    "hotwords": (lambda v: v is None or (isinstance(v, str) and len(v) <= 2000), "text of at most 2000 characters"),
    "model": (lambda v: v is None or isinstance(v, str), "a model name"),
    "vad_parameters": (lambda v: v is None or isinstance(v, dict), "an object"),
}


class BadFirstMessage(Exception):
    """A stream's first message that cannot be served; ``field`` names the culprit."""

    def __init__(self, field, message, close_code=1008):
        super(BadFirstMessage, self).__init__("%s: %s" % (field, message))
        self.field = field
        self.message = "%s: %s" % (field, message)
        self.close_code = close_code


def parse_first_message(raw):
    """The options of a stream's first message (a dict, defaults filled in) or BadFirstMessage.

    WhisperLive expects one JSON text message with ``uid``, ``language``,
    ``task``, ``model`` and ``use_vad`` before any audio; upstream closes
    without a word (1000) on anything else.
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raise BadFirstMessage("options", "the first message must be JSON text with the stream's options "
                              "(uid, language, task, model, use_vad), not binary audio", close_code=1003)
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise BadFirstMessage("options", "the first message is not JSON (%s)" % exc)
    if not isinstance(options, dict):
        raise BadFirstMessage("options", "the first message must be a JSON object, not %s"
                              % type(options).__name__)
    uid = options.get("uid")
    if not isinstance(uid, str) or not uid.strip() or len(uid) > UID_MAX:
        raise BadFirstMessage("uid", "a non-empty string of at most %d characters is required" % UID_MAX)
    options.setdefault("task", "transcribe")
    if options["task"] not in TASKS:
        raise BadFirstMessage("task", "%s is not one of %s" % (_shown(options["task"]), ", ".join(TASKS)))
    options.setdefault("language", None)
    if options["language"] is not None and not isinstance(options["language"], str):
        raise BadFirstMessage("language", "a language code such as \"en\", or null to detect it")
    for name, (check, wanted) in OPTION_RULES.items():
        if name in options and not check(options[name]):
            raise BadFirstMessage(name, "%s is not %s" % (_shown(options[name]), wanted))
    return options


def check_language(language, model_name, languages, multilingual):
    """BadFirstMessage unless the served model can do ``language`` (None = detect)."""
    if language is None:
        return
    if not multilingual and language != "en":
        raise BadFirstMessage("language", "%s cannot be served by %s, an English-only model; send \"en\" "
                                          "or ask for a multilingual model" % (_shown(language), model_name))
    if multilingual and languages and language not in languages:
        raise BadFirstMessage("language", "%s is not a language %s knows" % (_shown(language), model_name))


def _shown(value, limit=40):
    text = json.dumps(value) if not isinstance(value, str) else '"%s"' % value
    return text if len(text) <= limit else text[:limit] + "..."


def proxy_networks(entries):
    """Trusted proxies as networks: an address is its own /32 (or /128), a CIDR its network.

    Entries are text, as in the configuration: ``ip_network`` would also
    take an integer (7 as 0.0.0.7/32), which no one means as a proxy.
    """
    networks = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ValueError("%r is not text" % (entry,))
        networks.append(ipaddress.ip_network(entry, strict=False))
    return tuple(networks)


def client_address(peer, forwarded_for, trusted_proxies):
    """Whom a socket belongs to: the peer, or the client a trusted proxy names.

    Behind the edge every socket comes from the edge; Caddy puts the
    client's address last in X-Forwarded-For. The header is read only from
    a peer within ``trusted_proxies`` (networks, proxy_networks): anyone
    else could write anything in it.
    """
    try:
        trusted = forwarded_for and any(ipaddress.ip_address(peer) in net for net in trusted_proxies)
    except ValueError:
        trusted = False
    if trusted:
        last = forwarded_for.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return peer
    return peer


class PendingGate:
    """Bounds the sockets that have not sent their options yet: per client and in total.

    Each waiting socket holds a server thread (three with websockets' own);
    without a bound, a client opening sockets and saying nothing exhausts the
    host's threads.
    """

    def __init__(self, per_client, total):
        self.per_client = per_client
        self.total = total
        self.lock = threading.Lock()
        self.by_client = {}

    @property
    def waiting(self):
        with self.lock:
            return sum(self.by_client.values())

    def enter(self, client):
        """None when admitted (call leave later), else why not."""
        with self.lock:
            if sum(self.by_client.values()) >= self.total:
                return "the server has %d sockets waiting for their options already" % self.total
            if self.by_client.get(client, 0) >= self.per_client:
                return "%s has %d sockets waiting for their options already" % (client, self.per_client)
            self.by_client[client] = self.by_client.get(client, 0) + 1
            return None

    def leave(self, client):
        with self.lock:
            count = self.by_client.get(client, 0) - 1
            if count > 0:
                self.by_client[client] = count
            else:
                self.by_client.pop(client, None)


# --------------------------------------------------------------------------
# Serving (imports WhisperLive lazily)
# --------------------------------------------------------------------------

class ModelRegistry:
    """The served models: name -> folder, the first the default."""

    def __init__(self, models):
        self.models = [dict(m) for m in models]
        self.default = self.models[0]["name"]
        self._by_name = {m["name"]: m["path"] for m in self.models}
        self._by_path = {os.path.normpath(m["path"]): m["name"] for m in self.models}
        self.instances = {}
        self.locks = {m["path"]: threading.Lock() for m in self.models}
        self.multilingual = {}
        self.languages = frozenset()

    @property
    def names(self):
        return [m["name"] for m in self.models]

    def resolve(self, requested):
        """The served name for a client's ``model`` field, or ModelNotServed."""
        if requested is None or requested == "":
            return self.default
        if requested in self._by_name:
            return requested
        if isinstance(requested, str) and os.path.normpath(requested) in self._by_path:
            return self._by_path[os.path.normpath(requested)]
        raise ModelNotServed("%s is not served here; this server serves: %s (default %s)"
                             % (_shown(requested), ", ".join(self.names), self.default))

    def path(self, name):
        return self._by_name[name]


def _reserving_client_manager(base):
    """A ClientManager whose full-check also reserves the slot (one lock)."""

    class ReservingClientManager(base):
        def __init__(self, max_clients=4, max_connection_time=600):
            super(ReservingClientManager, self).__init__(max_clients, max_connection_time)
            self.pending = set()

        def _wait_minutes(self):
            remaining = [self.max_connection_time - (time.time() - t) for t in self.start_times.values()]
            return max(min(remaining), 0) / 60 if remaining else 0

        def is_server_full(self, websocket, options):
            with self.lock:
                full = len(self.clients) + len(self.pending) >= self.max_clients
                if not full:
                    self.pending.add(websocket)
                    return False
                wait = self._wait_minutes()
            websocket.send(json.dumps({"uid": options.get("uid"), "status": "WAIT", "message": wait}))
            return True

        def add_client(self, websocket, client):
            with self.lock:
                self.pending.discard(websocket)
            super(ReservingClientManager, self).add_client(websocket, client)

        def release(self, websocket):
            with self.lock:
                self.pending.discard(websocket)

    return ReservingClientManager


def encoder_frames(frames, window_frames, full_frames=3000):
    """How many mel frames the encoder gets for ``frames`` of audio.

    Whisper pads every window to 30 s (3000 frames), and on a CPU the encoder
    is most of a pass: tiny.en on 2 cores took 0.6 s to encode 30 s, 0.1 s
    for 10 s. Audio shorter than ``window_frames`` is padded to that, longer
    audio to the next whole second, never past 30 s.
    """
    if frames >= full_frames or window_frames >= full_frames:
        return full_frames
    return min(full_frames, max(window_frames, -(-frames // 100) * 100))


# The encoder window of the decode running on this thread (frames; unset = 30 s).
ENCODER_WINDOW = threading.local()


def install_encoder_window():
    """Let faster-whisper (as WhisperLive vendors it) pad to ENCODER_WINDOW instead of always 30 s.

    Measured on tiny.en (2 CPU cores, beam 5): a 10 s window makes a pass about
    twice as fast and its text less reliable ("quick brown fox" came out as
    "quick round-fuck stump" in 3 of 8 cuts of one clip, never with 30 s).
    So only the passes that show grey words use it; the pass whose text is
    completed always gets Whisper's own 30 s.
    """
    from whisper_live.transcriber import transcriber_faster_whisper as wl_transcriber
    upstream_pad = wl_transcriber.pad_or_trim

    def pad_or_trim(array, length=3000, *, axis=-1):
        window = getattr(ENCODER_WINDOW, "frames", None)
        if length != 3000 or not window:
            return upstream_pad(array, length, axis=axis)
        return upstream_pad(array, encoder_frames(array.shape[axis], window), axis=axis)

    wl_transcriber.pad_or_trim = pad_or_trim


class Admission:
    """How a new socket is admitted: the options timeout, the pending bounds, the trusted proxies."""

    def __init__(self, timeout=10.0, per_client=4, total=64, trusted_proxies=()):
        self.timeout = timeout
        self.gate = PendingGate(per_client, total)
        self.trusted_proxies = proxy_networks(trusted_proxies)


def build_server(registry, compute_type="int8", device="cpu", cpu_threads=0, endpointer=None, partial_window_s=30,
                 admission=None):
    """A TranscriptionServer subclass bound to ``registry``; models not loaded yet.

    ``endpointer`` (an Endpointer) ends segments where the speaker stops;
    None keeps upstream's repetition rule alone. ``partial_window_s`` under
    30 shortens the encoder's window of passes that only show grey words.
    """
    from whisper_live import server as wl_server
    from whisper_live.backend import faster_whisper_backend as wl_fw_backend

    admission = admission or Admission()

    install_encoder_window()

    manager_class = _reserving_client_manager(wl_server.ClientManager)
    upstream_client = wl_fw_backend.ServeClientFasterWhisper

    def speech_probabilities(samples):
        """Silero speech probability of each 32 ms window (the model bundled in faster-whisper)."""
        import numpy
        from faster_whisper.vad import get_vad_model
        window = 512
        if samples.shape[0] < window:
            return []
        usable = samples[: samples.shape[0] - samples.shape[0] % window]
        return get_vad_model()(usable.reshape(1, -1).astype(numpy.float32)).reshape(-1).tolist()

    class PinnedServeClient(upstream_client):
        """Takes its transcriber from the registry: never loads, never downloads.

        With an endpointer it runs its own transcription loop (speech_to_text):
        decode only audio with speech, complete the last segment once the
        speaker stopped, flush on END_OF_AUDIO. Class attributes below are
        the per-client state's initial values: upstream's __init__ starts
        the loop before a subclass __init__ could set them.
        """

        ENDPOINTER = endpointer
        FLUSH_JOIN_S = 15.0
        POLL_S = 0.05
        _pending = None       # Pending: the partial last sent, and the pass it came from
        _flushing = False
        _last_partial = None
        _decoded_nothing = None  # (chunk offset, speech end) of speech Whisper heard no words in

        def create_model(self, device):
            path = self.model_size_or_path
            if path not in registry.instances:
                raise ModelNotServed("model folder %r is not loaded" % (path,))
            self.transcriber = registry.instances[path]

        def transcribe_audio(self, input_sample, final=True):
            """One decode. Upstream's call plus: one temperature (a fallback
            re-decodes up to five more times, seconds on a CPU, for a partial that
            the next pass replaces anyway) and, for a pass that cannot be the last
            of its segment (``final`` False: the speaker is still talking), a
            greedy search instead of a beam of 5."""
            if self.ENDPOINTER is None:
                with registry.locks[self.model_size_or_path]:
                    return super(PinnedServeClient, self).transcribe_audio(input_sample)
            ENCODER_WINDOW.frames = None if final else partial_window_s * 100
            with registry.locks[self.model_size_or_path]:
                result, info = self.transcriber.transcribe(
                    input_sample,
                    initial_prompt=self.initial_prompt,
                    language=self.language,
                    task=self.task,
                    vad_filter=self.use_vad,
                    vad_parameters=self.vad_parameters if self.use_vad else None,
                    hotwords=self.hotwords,
                    word_timestamps=self.word_timestamps,
                    beam_size=5 if final else 1,
                    temperature=0.0)
            ENCODER_WINDOW.frames = None
            if self.language is None and info is not None:
                self.set_language(info)
            return result

        # -- endpointing -------------------------------------------------
        def handle_transcription_output(self, result, duration, final=True):
            """Upstream's, remembering the partial it sent (upstream's returns nothing).
            The segments of a pass that is not ``final`` are one partial: none completed."""
            segments, self._last_partial = [], None
            if not final:
                result = one_partial(result, self.no_speech_thresh)
            if len(result):
                self.t_start = None
                self._last_partial = self.update_segments(result, duration)
                segments = self.prepare_segments(self._last_partial)
            if len(segments):
                self.send_transcription_to_client(segments)

        def _wait_for_frames(self):
            self.frames_ready.clear()
            self.frames_ready.wait(timeout=self.POLL_S)

        def _advance(self, offset):
            with self.lock:
                if offset > self.timestamp_offset:
                    self.timestamp_offset = offset

        def _complete(self, segment, next_offset):
            """Send ``segment`` (a partial already shown) completed; the next chunk starts at next_offset."""
            done = self.format_segment(float(segment["start"]), float(segment["end"]), segment["text"],
                                       completed=True, words=segment.get("words"))
            with self.lock:
                self.transcript.append(done)
                self.text.append(segment["text"])
            self._advance(next_offset)
            self.current_out, self.prev_out = "", ""
            self.same_output_count, self.end_time_for_same_output = 0, None
            self._pending = None
            self.send_transcription_to_client(self.prepare_segments())
            logging.debug("client %s: segment ended by silence: %r", self.client_uid, segment["text"])

        def speech_to_text(self):
            if self.ENDPOINTER is None:
                return super(PinnedServeClient, self).speech_to_text()
            endpointer = self.ENDPOINTER
            while not (self.exit or self._flushing):
                if self.frames_np is None:
                    self.frames_ready.wait(timeout=self.POLL_S)
                    continue
                if self.clip_audio:
                    self.clip_audio_if_no_valid_segment()
                offset = self.timestamp_offset
                chunk, duration = self.get_audio_chunk_for_processing()
                if duration < endpointer.min_chunk_s:
                    self._wait_for_frames()
                    continue
                try:
                    self._step(endpointer, offset, chunk, duration)
                except Exception as exc:  # upstream's loop logs and carries on too
                    logging.error("client %s: transcription pass failed: %s", self.client_uid, exc)
                    time.sleep(self.ERROR_BACKOFF_S)

        def _step(self, endpointer, offset, chunk, duration):
            span = endpointer.span(speech_probabilities(chunk), duration)
            if not span.has_speech:
                # Nothing to decode: silence and noise never reach Whisper.
                self._pending = None
                self._advance(offset + endpointer.cut(span))
                self._wait_for_frames()
                return
            pending = self._pending
            if pending is not None and pending.offset == offset and endpointer.covered(span, pending.decoded_to):
                # The last decode heard all the speech: wait for more speech or for the endpoint.
                if not endpointer.ended(span):
                    self._wait_for_frames()
                    return
                if pending.final:
                    self._complete(pending.segment, offset + endpointer.cut(span))
                    return
                # Its words came from a greedy pass: the full beam decodes them again below.
            if self._pending is None and self.current_out == "" and endpointer.ended(span) \
                    and self._decoded_nothing == (offset, span.end):
                # Whisper heard no words in this speech and it is over: drop it.
                self._advance(offset + endpointer.cut(span))
                return
            started = time.monotonic()
            # A pass that may hear the end of the speech is the one whose text stays: full beam.
            final = span.trailing_silence >= endpointer.margin_s
            result = self.transcribe_audio(chunk, final=final)
            logging.debug("client %s: decoded %.2f s at %.2f in %.3f s (speech %.2f-%.2f)", self.client_uid,
                          duration, offset, time.monotonic() - started, span.start, span.end)
            if result is None or self.language is None:
                self._decoded_nothing = (offset, span.end)
                self._pending = None
                self._wait_for_frames()
                return
            self.handle_transcription_output(result, duration, final)
            if self._last_partial is not None:
                self._pending = Pending(self.timestamp_offset, offset + duration - self.timestamp_offset,
                                        self._last_partial, final)
            else:
                self._pending = None
                self._decoded_nothing = (offset, span.end)

        # -- END_OF_AUDIO ----------------------------------------------------
        def finalize(self):
            """Transcribe what is left and send it completed, then upstream's finalizer."""
            self._flushing = True
            self.frames_ready.set()
            thread = getattr(self, "trans_thread", None)
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=self.FLUSH_JOIN_S)
            try:
                self._flush()
            except Exception as exc:
                logging.error("client %s: final transcription failed: %s", self.client_uid, exc)
            return super(PinnedServeClient, self).finalize()

        def _flush(self):
            if self.frames_np is None:
                return
            offset = self.timestamp_offset
            chunk, duration = self.get_audio_chunk_for_processing()
            done = []
            if duration >= 0.1 and (self.ENDPOINTER is None
                                    or self.ENDPOINTER.span(speech_probabilities(chunk), duration).has_speech):
                result = self.transcribe_audio(chunk) or []
                for segment in result:
                    text = segment.text
                    if not text.strip() or self.get_segment_no_speech_prob(segment) > self.no_speech_thresh:
                        continue
                    start = offset + self.get_segment_start(segment)
                    end = offset + min(duration, self.get_segment_end(segment))
                    if start < end:
                        done.append(self.format_segment(start, end, text, completed=True))
            partial = self._pending.segment if self._pending is not None else (
                self._last_partial if self.current_out else None)
            if not done and partial is not None:
                done.append(self.format_segment(float(partial["start"]), float(partial["end"]), partial["text"],
                                                completed=True))
            if not done:
                return
            with self.lock:
                self.transcript.extend(done)
                self.text.extend(segment["text"] for segment in done)
                self.timestamp_offset = offset + duration
            self._pending, self.current_out = None, ""
            self.send_transcription_to_client(self.prepare_segments())
            logging.info("client %s: END_OF_AUDIO flushed %d segment(s)", self.client_uid, len(done))

    # upstream's initialize_client imports this name from the module at call time
    wl_fw_backend.ServeClientFasterWhisper = PinnedServeClient

    class PinnedTranscriptionServer(wl_server.TranscriptionServer):
        @property
        def client_manager(self):
            return self.__dict__.get("_client_manager")

        @client_manager.setter
        def client_manager(self, manager):
            if manager is not None and not isinstance(manager, manager_class):
                manager = manager_class(manager.max_clients, manager.max_connection_time)
            self.__dict__["_client_manager"] = manager

        def load_models(self):
            from whisper_live.transcriber.transcriber_faster_whisper import WhisperModel
            for model in registry.models:
                logging.info("loading model %s from %s (%s, %s)", model["name"], model["path"], device, compute_type)
                registry.instances[model["path"]] = WhisperModel(
                    model["path"], device=device, compute_type=compute_type,
                    cpu_threads=cpu_threads, local_files_only=True)
                registry.multilingual[model["name"]] = bool(registry.instances[model["path"]].model.is_multilingual)
            from faster_whisper.tokenizer import _LANGUAGE_CODES
            registry.languages = frozenset(_LANGUAGE_CODES)

        def refuse(self, websocket, uid, error):
            """ERROR naming the field, then a close with the reason (upstream closes without a word)."""
            logging.warning("client %s refused: %s", uid, error.message)
            try:
                websocket.send(json.dumps({"uid": uid, "status": "ERROR", "field": error.field,
                                           "message": error.message}))
                websocket.close(error.close_code, error.message[:120])
            except Exception:  # the client may be gone already
                pass

        def handle_new_connection(self, websocket, faster_whisper_custom_model_path, whisper_tensorrt_path,
                                  trt_multilingual, trt_py_session=False):
            """Upstream's, with the first message checked and the wait for it bounded.

            A socket must send valid options within ``admission.timeout`` seconds;
            sockets still waiting are bounded per client (the address a trusted
            proxy names) and in total, so sockets that say nothing cannot
            exhaust the host. A bad first message gets an ERROR naming the field.
            """
            from whisper_live import metrics as wl_metrics
            from websockets.exceptions import ConnectionClosed
            peer = websocket.remote_address[0] if websocket.remote_address else "unknown"
            client = client_address(peer, websocket.request.headers.get("X-Forwarded-For"),
                                    admission.trusted_proxies)
            why_not = admission.gate.enter(client)
            if why_not:
                logging.warning("socket from %s refused: %s", client, why_not)
                websocket.close(1013, ("busy: " + why_not)[:120])
                return False
            uid = None
            try:
                try:
                    raw = websocket.recv(timeout=admission.timeout)
                except TimeoutError:
                    self.refuse(websocket, None, BadFirstMessage(
                        "options", "none received within %g s of the connection; send the stream's options "
                        "(JSON) first" % admission.timeout))
                    return False
                except ConnectionClosed:
                    return False
                try:
                    options = parse_first_message(raw)
                    uid = options["uid"]
                    try:
                        name = registry.resolve(options.get("model"))
                    except ModelNotServed as exc:
                        raise BadFirstMessage("model", str(exc))
                    check_language(options["language"], name, registry.languages,
                                   registry.multilingual.get(name, True))
                except BadFirstMessage as exc:
                    self.refuse(websocket, uid, exc)
                    return False
            finally:
                admission.gate.leave(client)
            logging.info("client %s (%s) connected", uid, client)
            try:
                if self.client_manager.is_server_full(websocket, options):
                    wl_metrics.track_connection_rejected(reason="full")
                    websocket.close()
                    return False
                self.audio_formats[websocket] = options.get("audio_format", "float32")
                self.initialize_client(websocket, options, faster_whisper_custom_model_path,
                                       whisper_tensorrt_path, trt_multilingual, trt_py_session=trt_py_session)
                wl_metrics.track_connection_opened()
                return True
            except ConnectionClosed:
                return False
            except Exception as exc:  # as upstream: log, and the socket ends
                logging.error("client %s: initialisation failed: %s", uid, exc)
                return False

        def initialize_client(self, websocket, options, faster_whisper_custom_model_path,
                              whisper_tensorrt_path, trt_multilingual, trt_py_session=False,
                              audio_preprocessor=None):
            try:
                name = registry.resolve(options.get("model"))
            except ModelNotServed as exc:
                logging.warning("client %s refused: %s", options.get("uid"), exc)
                websocket.send(json.dumps({"uid": options.get("uid"), "status": "ERROR", "message": str(exc)}))
                websocket.close()
                raise
            logging.info("client %s uses model %s", options.get("uid"), name)
            options["model"] = registry.path(name)
            options["enable_translation"] = False  # would load a second model from the hub
            # Upstream reads use_vad into a server-wide attribute and treats a
            # missing one as off: VAD is this server's default.
            self.use_vad = options.get("use_vad") is not False
            return super(PinnedTranscriptionServer, self).initialize_client(
                websocket, options, None, whisper_tensorrt_path, trt_multilingual,
                trt_py_session=trt_py_session, audio_preprocessor=audio_preprocessor)

        def recv_audio(self, websocket, *args, **kwargs):
            try:
                return super(PinnedTranscriptionServer, self).recv_audio(websocket, *args, **kwargs)
            finally:
                if self.client_manager is not None:
                    self.client_manager.release(websocket)

    return PinnedTranscriptionServer()


def resolve_device(device, compute_type):
    """(device, compute_type) after 'auto'; import torch only here."""
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch
    has_cuda = torch.cuda.is_available()
    if device == "auto":
        device = "cuda" if has_cuda else "cpu"
    elif device == "cuda" and not has_cuda:
        raise ConfigError("device: cuda asked but torch sees no CUDA device")
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def serve(conf):
    os.environ["HF_HUB_OFFLINE"] = "1"  # never fetch a model at run time
    device, compute_type = resolve_device(conf["device"], conf["compute_type"])
    api_key = None
    if conf["api_key_file"]:
        with open(conf["api_key_file"]) as handle:
            api_key = handle.read().strip() or None
    registry = ModelRegistry(conf["models"])
    # CTranslate2's own default is 4 threads (or OMP_NUM_THREADS): on 2 cores
    # that made the encoder 15 % slower than 2 threads. Use the cores we may run on.
    cpu_threads = conf["cpu_threads"] or len(os.sched_getaffinity(0))
    endpointer = None
    if conf["endpoint_silence_ms"]:
        endpointer = Endpointer(silence_s=conf["endpoint_silence_ms"] / 1000.0)
    admission = Admission(timeout=conf["options_timeout_s"], per_client=conf["max_pending_per_client"],
                          total=conf["max_pending"], trusted_proxies=conf["trusted_proxies"])
    server = build_server(registry, compute_type=compute_type, device=device, cpu_threads=cpu_threads,
                          endpointer=endpointer, partial_window_s=conf["partial_window_s"], admission=admission)
    server.load_models()
    logging.info("serving %s on ws://%s:%d (default %s, max_clients %d)",
                 ", ".join(registry.names), conf["host"], conf["port"], registry.default, conf["max_clients"])
    server.run(
        conf["host"],
        port=conf["port"],
        backend="faster_whisper",
        single_model=False,
        max_clients=conf["max_clients"],
        max_connection_time=conf["max_connection_time"],
        cache_path=os.path.expanduser(conf["cache_path"]),
        enable_rest=False,
        metrics_port=conf["metrics_port"],
        api_key=api_key,
        default_model=registry.path(registry.default),
    )


def main(argv=None):
    try:
        args, config = load_config(argv)
        conf = validate_config(config)
    except ConfigError as exc:
        sys.stderr.write("whisperlive_launcher: %s\n" % exc)
        return 2
    if args.check_config:
        shown = dict(conf)
        shown["api_key_file"] = "(set)" if conf["api_key_file"] else None
        sys.stdout.write(json.dumps(shown, indent=2, sort_keys=True) + "\n")
        return 0
    logging.basicConfig(level=getattr(logging, conf["log_level"]))
    logging.getLogger().setLevel(getattr(logging, conf["log_level"]))
    try:
        serve(conf)
    except ConfigError as exc:
        sys.stderr.write("whisperlive_launcher: %s\n" % exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
