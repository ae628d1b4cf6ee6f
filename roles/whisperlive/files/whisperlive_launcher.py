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
* reads the API key from a file (a systemd credential), never from argv.

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
                           ("cpu_threads", 0, 1024)):
        value = conf[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError("%s: %r is not an integer in [%d, %d]" % (key, value, low, high))
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
    parser.add_argument("--cpu-threads", dest="cpu_threads", type=int, help="CTranslate2 CPU threads, 0 = its default")
    parser.add_argument("--max-clients", dest="max_clients", type=int, help="simultaneous streams (default 4)")
    parser.add_argument("--max-connection-time", dest="max_connection_time", type=int,
                        help="seconds a stream may last (default 600)")
    parser.add_argument("--cache-path", dest="cache_path", help="WhisperLive cache folder")
    parser.add_argument("--api-key-file", dest="api_key_file", metavar="FILE",
                        help="file holding the API key clients must present (Bearer header, ?token= or subprotocol)")
    parser.add_argument("--metrics-port", dest="metrics_port", type=int,
                        help="Prometheus metrics port, 0 = off (needs prometheus_client)")
    parser.add_argument("--log-level", dest="log_level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--check-config", action="store_true",
                        help="validate the configuration, print it as JSON (key hidden) and exit")
    return parser


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
        raise ModelNotServed(
            "model %r is not served here; this server serves: %s (default %s)"
            % (requested, ", ".join(self.names), self.default))

    def path(self, name):
        return self._by_name[name]


def _reserving_client_manager(base):
    """A ClientManager whose full-check also reserves the slot (one lock)."""

    class ReservingClientManager(base):
        def __init__(self, max_clients=4, max_connection_time=600):
            super(ReservingClientManager, self).__init__(max_clients, max_connection_time)
            self.pending = set()

        def _wait_minutes(self):
            import time
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


def build_server(registry, compute_type="int8", device="cpu", cpu_threads=0):
    """A TranscriptionServer subclass bound to ``registry``; models not loaded yet."""
    from whisper_live import server as wl_server
    from whisper_live.backend import faster_whisper_backend as fw_backend

    manager_class = _reserving_client_manager(wl_server.ClientManager)
    upstream_client = fw_backend.ServeClientFasterWhisper

    class PinnedServeClient(upstream_client):
        """Takes its transcriber from the registry: never loads, never downloads."""

        def create_model(self, device):
            path = self.model_size_or_path
            if path not in registry.instances:
                raise ModelNotServed("model folder %r is not loaded" % (path,))
            self.transcriber = registry.instances[path]

        def transcribe_audio(self, input_sample):
            with registry.locks[self.model_size_or_path]:
                return super(PinnedServeClient, self).transcribe_audio(input_sample)

    # upstream's initialize_client imports this name from the module at call time
    fw_backend.ServeClientFasterWhisper = PinnedServeClient

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
    server = build_server(registry, compute_type=compute_type, device=device, cpu_threads=conf["cpu_threads"])
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
