"""rasr-gpu-sleep: the GPU workers sleep while nobody streams and wake when the page asks.

Runs on the edge beside Caddy, as a hardened systemd unit (role gpu_sleep).
Python's standard library only, plus Debian's python3-boto3 for the aws
backend: the edge needs no virtualenv.

- Idle stop. Every poll_s it reads Caddy's admin API on its unix socket
  (GET /reverse_proxy/upstreams: requests in flight per upstream, open
  WebSocket streams included) for the GPU upstreams. Once they have carried
  no request for idle_minutes, it reads them once more (the drain check: a
  stream opened since the last poll keeps the workers up) and stops them.
  It never stops what it cannot see: an unreadable Caddy counts as a stream.
- Wake. POST /gpu/wake (the page, on open) or a WebSocket that Caddy hands
  over while no upstream is healthy (upstream's clients: they get a WAIT
  answer) starts the sleeping workers, at most wake_max_per_hour times an
  hour. A worker held by the operator (playbook 210: the hold tag on AWS,
  the hold file locally) is never started: 220 releases it.
- GET /gpu/state tells the page and playbook 230 where things stand: the
  state, since when, the expected start time, the sleep and the money saved
  today: each worker at its instance type's price (prices: the collection's
  table for the region), or hourly_price where there is none.

Backends: `aws` stops and starts the stack's EC2 workers (found by the tags
Project, Stack and Role=gpu) with the edge's instance profile; `ssh` stops
and starts the WhisperLive service of each worker through a forced-command
SSH key (the local stack: no Docker socket, no root on the machine).
"""

import argparse
import base64
import datetime
import grp
import hashlib
import http.client
import http.server
import json
import logging
import os
import shutil
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time

LOG = logging.getLogger("rasr-gpu-sleep")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_OPTIONS_BYTES = 65536
BACKENDS = ("aws", "ssh")
STATES = ("awake", "starting", "stopping", "asleep", "held", "unknown")


class ConfigError(ValueError):
    """The configuration file is wrong; the message names the key."""


def _require(cfg, key, kinds, where="config"):
    if key not in cfg:
        raise ConfigError("%s: missing key %r" % (where, key))
    value = cfg[key]
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError("%s: %r must be %s, got %r" % (where, key, "/".join(k.__name__ for k in kinds), value))
    if not isinstance(value, kinds):
        raise ConfigError("%s: %r must be %s, got %r" % (where, key, "/".join(k.__name__ for k in kinds), value))
    return value


def validate_config(cfg):
    """Check every key the daemon reads; return the config. Raises ConfigError naming the key."""
    if not isinstance(cfg, dict):
        raise ConfigError("config: must be a JSON object")
    backend = _require(cfg, "backend", (str,))
    if backend not in BACKENDS:
        raise ConfigError("config: 'backend' must be one of %s, got %r" % (", ".join(BACKENDS), backend))
    prices = cfg.setdefault("prices", {})
    if not isinstance(prices, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in prices.values()):
        raise ConfigError("config: 'prices' must map instance types to USD per hour, got %r" % (prices,))
    for key in ("idle_minutes", "poll_s", "wake_estimate_s", "hourly_price"):
        value = _require(cfg, key, (int, float))
        if value < 0 or (value == 0 and key != "hourly_price"):
            raise ConfigError("config: %r must be positive, got %r" % (key, value))
    wakes = _require(cfg, "wake_max_per_hour", (int,))
    if wakes < 1:
        raise ConfigError("config: 'wake_max_per_hour' must be at least 1, got %r" % wakes)
    _require(cfg, "stay_awake", (bool,))
    for key in ("caddy_admin_socket", "listen_socket", "state_file"):
        if not _require(cfg, key, (str,)).startswith("/"):
            raise ConfigError("config: %r must be an absolute path, got %r" % (key, cfg[key]))
    _require(cfg, "socket_group", (str,))
    upstreams = _require(cfg, "upstreams", (list,))
    if not all(isinstance(u, str) and ":" in u and not u.startswith("unix/") for u in upstreams):
        raise ConfigError("config: 'upstreams' must list GPU upstreams as host:port (or nothing: all of Caddy's TCP upstreams), got %r"
                          % (upstreams,))
    section = _require(cfg, backend, (dict,))
    where = "config[%r]" % backend
    if backend == "aws":
        for key in ("region", "endpoint_url", "project", "stack", "hold_tag"):
            _require(section, key, (str,), where)
        for key in ("region", "project", "stack", "hold_tag"):
            if not section[key]:
                raise ConfigError("%s: %r must not be empty" % (where, key))
    else:
        for key in ("user", "key", "known_hosts"):
            if not _require(section, key, (str,), where):
                raise ConfigError("%s: %r must not be empty" % (where, key))
        _require(section, "timeout_s", (int, float), where)
        hosts = _require(section, "hosts", (list,), where)
        if not hosts:
            raise ConfigError("%s: 'hosts' must name at least one GPU worker" % where)
        for i, host in enumerate(hosts):
            if not isinstance(host, dict):
                raise ConfigError("%s: hosts[%d] must be an object" % (where, i))
            for key in ("name", "address"):
                if not _require(host, key, (str,), "%s hosts[%d]" % (where, i)):
                    raise ConfigError("%s hosts[%d]: %r must not be empty" % (where, i, key))
            _require(host, "port", (int,), "%s hosts[%d]" % (where, i))
    return cfg


class Worker:
    """One GPU worker as the backend sees it: running, pending, stopping, stopped or unknown.

    ``kind`` is its instance type where the backend knows one (aws).
    """

    __slots__ = ("name", "state", "held", "kind")

    def __init__(self, name, state, held=False, kind=""):
        self.name, self.state, self.held, self.kind = name, state, held, kind

    def __repr__(self):
        return "Worker(%r, %r, held=%r)" % (self.name, self.state, self.held)


def overall_state(workers, reachable):
    """The stack's GPU state from its workers and whether an upstream answers."""
    if not workers or any(w.state == "unknown" for w in workers):
        return "unknown"
    states = {w.state for w in workers}
    if states <= {"stopped", "stopping"}:
        if any(w.held for w in workers):
            return "held"
        return "asleep" if states == {"stopped"} else "stopping"
    if states == {"running"} and reachable:
        return "awake"
    return "starting"


class Caddy:
    """Caddy's admin API on its unix socket: requests in flight to the GPU upstreams.

    The GPU upstreams are the configured ones, or else every TCP upstream
    Caddy knows (this daemon's own socket is a unix one and never counts).
    """

    def __init__(self, socket_path, upstreams, timeout=2.0):
        self.socket_path = socket_path
        self.upstreams = set(upstreams)
        self.timeout = timeout
        self.seen = sorted(self.upstreams)

    def _get(self, path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
            conn = http.client.HTTPConnection("localhost", timeout=self.timeout)
            conn.sock = sock
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise OSError("Caddy admin API %s: HTTP %d" % (path, response.status))
            return json.loads(body)
        finally:
            sock.close()

    def open_streams(self):
        """Requests in flight to the GPU upstreams, or None when Caddy cannot be read."""
        try:
            upstreams = self._get("/reverse_proxy/upstreams")
        except (OSError, ValueError) as err:
            LOG.warning("cannot read Caddy's upstreams (%s): counting it as a stream", err)
            return None
        gpu = [u for u in upstreams if isinstance(u, dict) and isinstance(u.get("address"), str)
               and (u["address"] in self.upstreams if self.upstreams else not u["address"].startswith("unix/"))]
        if not self.upstreams:
            self.seen = sorted(u["address"] for u in gpu)
        return sum(int(u.get("num_requests") or 0) for u in gpu)


def reachable(upstreams, timeout=1.0):
    """Whether at least one GPU upstream accepts a TCP connection."""
    for address in upstreams:
        host, _sep, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return True
        except OSError:
            continue
    return False


class AwsWorkers:
    """The stack's EC2 GPU workers, by tag, with the edge's instance profile."""

    LIVE = ["pending", "running", "stopping", "stopped"]

    def __init__(self, section, client=None):
        if client is None:
            import boto3  # Debian's python3-boto3; only this backend needs it
            client = boto3.client("ec2", region_name=section["region"], endpoint_url=section["endpoint_url"] or None)
        self.ec2 = client
        self.hold_tag = section["hold_tag"]
        self.filters = [
            {"Name": "tag:Project", "Values": [section["project"]]},
            {"Name": "tag:Stack", "Values": [section["stack"]]},
            {"Name": "tag:Role", "Values": ["gpu"]},
            {"Name": "instance-state-name", "Values": self.LIVE},
        ]

    def describe(self):
        workers = []
        for page in self.ec2.get_paginator("describe_instances").paginate(Filters=self.filters):
            for reservation in page["Reservations"]:
                for inst in reservation["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                    state = inst["State"]["Name"]
                    workers.append(Worker(inst["InstanceId"], state if state in self.LIVE else "unknown",
                                          self.hold_tag in tags, inst.get("InstanceType", "")))
        return sorted(workers, key=lambda w: w.name)

    def stop(self, names):
        self.ec2.stop_instances(InstanceIds=list(names))

    def start(self, names):
        self.ec2.start_instances(InstanceIds=list(names))


class SshWorkers:
    """GPU workers whose WhisperLive service is stopped and started over a forced-command SSH key."""

    SERVICE_STATES = {"active": "running", "reloading": "running", "activating": "pending",
                      "deactivating": "stopping", "inactive": "stopped", "failed": "stopped"}

    def __init__(self, section, run=subprocess.run):
        self.section = section
        self.hosts = {h["name"]: h for h in section["hosts"]}
        self.run = run

    def _call(self, name, verb):
        host = self.hosts[name]
        argv = [shutil.which("ssh") or "/usr/bin/ssh", "-F", "none", "-i", self.section["key"],
                "-p", str(host["port"]), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", "UserKnownHostsFile=%s" % self.section["known_hosts"], "-o", "IdentitiesOnly=yes",
                "-o", "ConnectTimeout=%d" % max(1, int(self.section["timeout_s"])),
                "%s@%s" % (self.section["user"], host["address"]), verb]
        proc = self.run(argv, capture_output=True, text=True, timeout=self.section["timeout_s"] + 5, check=False)
        if proc.returncode != 0:
            raise OSError("%s %s: exit %d: %s" % (name, verb, proc.returncode, (proc.stderr or proc.stdout).strip()[-300:]))
        return json.loads(proc.stdout)

    def describe(self):
        workers = []
        for name in sorted(self.hosts):
            try:
                status = self._call(name, "status")
                state = self.SERVICE_STATES.get(status.get("service"), "unknown")
                workers.append(Worker(name, state, bool(status.get("held"))))
            except (OSError, ValueError, subprocess.TimeoutExpired) as err:
                LOG.warning("cannot read worker %s: %s", name, err)
                workers.append(Worker(name, "unknown"))
        return workers

    def _each(self, names, verb):
        for name in names:
            answer = self._call(name, verb)
            if answer.get("refused"):
                raise OSError("%s refused %s: %s" % (name, verb, answer["refused"]))

    def stop(self, names):
        self._each(names, "stop")

    def start(self, names):
        self._each(names, "start")


class Ledger:
    """Sleep time per UTC day and the last start's duration, kept across restarts."""

    def __init__(self, path, wall=time.time):
        self.path = path
        self.wall = wall
        self.data = {"day": "", "slept_s": 0.0, "asleep_since": None, "last_wake_s": None}
        try:
            with open(path, encoding="utf-8") as handle:
                self.data.update(json.load(handle))
        except (OSError, ValueError):
            pass

    @staticmethod
    def _day(ts):
        return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d")

    @staticmethod
    def _midnight(ts):
        day = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        return day.timestamp()

    def _roll(self, now):
        if self.data["day"] != self._day(now):
            self.data["day"] = self._day(now)
            self.data["slept_s"] = 0.0

    def slept_today(self):
        now = self.wall()
        self._roll(now)
        slept = self.data["slept_s"]
        since = self.data["asleep_since"]
        if since is not None:
            slept += now - max(since, self._midnight(now))
        return slept

    def fall_asleep(self):
        if self.data["asleep_since"] is None:
            self.data["asleep_since"] = self.wall()
            self.save()

    def wake_up(self):
        since = self.data["asleep_since"]
        if since is None:
            return
        now = self.wall()
        self._roll(now)
        self.data["slept_s"] += now - max(since, self._midnight(now))
        self.data["asleep_since"] = None
        self.save()

    def record_wake(self, seconds):
        self.data["last_wake_s"] = round(seconds, 1)
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle)
            os.replace(tmp, self.path)
        except OSError as err:
            LOG.warning("cannot write %s: %s", self.path, err)


class Controller:
    """Decides when to stop and start; thread-safe (the HTTP threads call wake and snapshot)."""

    def __init__(self, cfg, backend, caddy, ledger, clock=time.monotonic, wall=time.time, probe=reachable):
        self.cfg = cfg
        self.backend = backend
        self.caddy = caddy
        self.ledger = ledger
        self.clock, self.wall, self.probe = clock, wall, probe
        self.lock = threading.RLock()
        self.idle_s = float(cfg["idle_minutes"]) * 60.0
        self.state = "unknown"
        self.since = wall()
        self.workers = []
        self.last_activity = clock()
        self.start_began = None     # monotonic time of the start under way
        self.wake_after_stop = False
        self.starts = []            # monotonic times of the starts in the last hour
        self.streams = 0

    # -- the poll ---------------------------------------------------------
    def tick(self):
        with self.lock:
            now = self.clock()
            streams = self.caddy.open_streams()
            self.streams = streams
            if streams is None or streams > 0:
                self.last_activity = now
            workers = self.backend.describe()
            running = all(w.state == "running" for w in workers) and bool(workers)
            state = overall_state(workers, running and (self.state == "awake" or self.probe(self.caddy.seen)))
            self.workers = workers
            self._enter(state, now)
            if state == "asleep" and self.wake_after_stop:
                self.wake_after_stop = False
                self._start(now, "a wake asked for while the workers were stopping")
            elif state == "awake" and not self.cfg["stay_awake"] and now - self.last_activity >= self.idle_s:
                self._idle_stop(now)
            return state

    def _enter(self, state, now):
        if state == self.state:
            return
        workers = ", ".join("%s %s%s" % (w.name, w.state, " held" if w.held else "") for w in self.workers)
        LOG.info("GPU %s -> %s (%s)", self.state, state, workers)
        if state in ("asleep", "held"):
            self.ledger.fall_asleep()
        elif state in ("starting", "awake"):
            self.ledger.wake_up()
        if state == "awake":
            # A fresh start counts as activity: the page that asked has time to connect.
            self.last_activity = now
            if self.start_began is not None:
                took = now - self.start_began
                self.ledger.record_wake(took)
                LOG.info("GPU ready %.1f s after the start", took)
        if state != "starting":
            self.start_began = None
        elif self.start_began is None:
            self.start_began = now
        self.state = state
        self.since = self.wall()

    def _idle_stop(self, now):
        # Drain check: a stream opened since the poll keeps the workers up.
        streams = self.caddy.open_streams()
        if streams is None or streams > 0:
            self.last_activity = now
            LOG.info("idle stop called off: %s stream(s) open", "unknown" if streams is None else streams)
            return
        names = [w.name for w in self.workers if w.state == "running"]
        idle_min = (now - self.last_activity) / 60.0
        try:
            self.backend.stop(names)
        except Exception as err:  # noqa: BLE001 (logged, retried at the next poll)
            LOG.error("idle stop of %s failed: %s", ", ".join(names), err)
            return
        LOG.info("stopped %s: no stream for %.1f min (idle_minutes %s)", ", ".join(names), idle_min, self.cfg["idle_minutes"])
        self._enter("stopping", now)

    # -- wake ---------------------------------------------------------------
    def _start(self, now, reason):
        names = [w.name for w in self.workers if w.state == "stopped"]
        self.backend.start(names)
        self.starts.append(now)
        LOG.info("started %s: %s", ", ".join(names), reason)
        self._enter("starting", now)

    def wake(self, reason):
        """Start sleeping workers. Returns (HTTP status, answer)."""
        with self.lock:
            now = self.clock()
            self.last_activity = now
            if self.state == "held":
                return 409, self.snapshot()
            if self.state in ("awake", "starting", "unknown"):
                return (200 if self.state == "awake" else 202), self.snapshot()
            if self.state == "stopping":
                self.wake_after_stop = True
                LOG.info("wake asked for while stopping (%s): starting once stopped", reason)
                return 202, self.snapshot()
            self.starts = [t for t in self.starts if now - t < 3600]
            if len(self.starts) >= self.cfg["wake_max_per_hour"]:
                retry = int(3600 - (now - self.starts[0])) + 1
                LOG.warning("wake refused (%s): %d starts in the last hour", reason, len(self.starts))
                answer = self.snapshot()
                answer["retry_after_s"] = retry
                answer["message"] = ("The transcription server was started %d times in the last hour, the most this edge allows "
                                     "(gpu_sleep_wake_max_per_hour); try again in %d s." % (len(self.starts), retry))
                return 429, answer
            try:
                self._start(now, reason)
            except Exception as err:  # noqa: BLE001 (the caller is told why)
                LOG.error("start failed (%s): %s", reason, err)
                answer = self.snapshot()
                answer["message"] = "Starting the transcription server failed: %s" % err
                return 502, answer
            return 202, self.snapshot()

    # -- what the page and 230 read -----------------------------------------
    def eta_s(self):
        last = self.ledger.data.get("last_wake_s")
        return float(last) if last else float(self.cfg["wake_estimate_s"])

    def snapshot(self):
        with self.lock:
            now = self.clock()
            elapsed = (now - self.start_began) if self.start_began is not None and self.state == "starting" else 0.0
            slept = self.ledger.slept_today()
            hourly = sum(self.cfg["prices"].get(w.kind, self.cfg["hourly_price"]) for w in self.workers)
            messages = {
                "awake": "The transcription server is up.",
                "starting": "Starting the transcription server, about %d s." % max(1, round(self.eta_s() - elapsed)),
                "stopping": "The transcription server is going to sleep.",
                "asleep": "The transcription server is asleep: nobody spoke for %s min. Opening the page wakes it."
                          % self.cfg["idle_minutes"],
                "held": "The transcription server was stopped by the operator (playbook 210); playbook 220 starts it.",
                "unknown": "The state of the transcription server cannot be read right now.",
            }
            return {
                "state": self.state,
                "since": datetime.datetime.fromtimestamp(self.since, datetime.timezone.utc).isoformat(timespec="seconds"),
                "eta_s": round(self.eta_s(), 1),
                "elapsed_s": round(elapsed, 1),
                "message": messages[self.state],
                "stay_awake": self.cfg["stay_awake"],
                "idle_minutes": self.cfg["idle_minutes"],
                "idle_s": round(now - self.last_activity, 1),
                "streams": self.streams,
                "workers": [{"name": w.name, "state": w.state, "held": w.held, "type": w.kind} for w in self.workers],
                "slept_today_s": round(slept, 1),
                "saved_today": round(slept / 3600.0 * hourly, 4),
                "gpu_hourly_usd": round(hourly, 4),
            }


# -- the HTTP side (a unix socket that only Caddy's group may open) -----------
def read_frame(rfile, limit=MAX_OPTIONS_BYTES):
    """One client frame (RFC 6455 5.2): (opcode, payload). Clients always mask."""
    head = rfile.read(2)
    if len(head) < 2:
        raise EOFError("the client closed before its first message")
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", rfile.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", rfile.read(8))[0]
    if length > limit:
        raise ValueError("first message of %d bytes (more than %d)" % (length, limit))
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = rfile.read(length)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def frame(opcode, payload):
    """One unmasked server frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "rasr-gpu-sleep"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    controller = None  # set by serve()

    def address_string(self):
        return self.client()

    def client(self):
        return (self.headers.get("X-Forwarded-For", "") if self.headers else "").split(",")[0].strip() or "local"

    def log_message(self, fmt, *args):
        LOG.debug("%s %s", self.client(), fmt % args)

    def _json(self, status, answer, headers=()):
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        elif self.path.split("?")[0].endswith("/gpu/state"):
            self._json(200, self.controller.snapshot())
        else:
            self._json(404, {"message": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 4096))
        if not self.path.split("?")[0].endswith("/gpu/wake"):
            self._json(404, {"message": "not found"})
            return
        status, answer = self.controller.wake("the page asked, from %s" % self.client())
        headers = [("Retry-After", str(answer["retry_after_s"]))] if status == 429 else []
        self._json(status, answer, headers)

    def _websocket(self):
        """Upstream's protocol while no worker is up: read the options, answer WAIT (or ERROR when held), close."""
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.settimeout(10)
            opcode, payload = read_frame(self.rfile)
            if opcode != 0x1:
                raise ValueError("the first message is not text (opcode %d)" % opcode)
            options = json.loads(payload)
            if not isinstance(options, dict) or not isinstance(options.get("uid"), str):
                raise ValueError("the first message names no uid")
            uid = options["uid"]
        except (OSError, EOFError, ValueError) as err:
            LOG.info("WebSocket from %s sent no usable options (%s): not a wake", self.client(), err)
            self._close(1008, b"send the options first")
            return
        status, answer = self.controller.wake("a WebSocket client connected, from %s" % self.client())
        if status in (200, 202):
            message = {"uid": uid, "status": "WAIT", "message": round(max(answer["eta_s"] - answer["elapsed_s"], 1) / 60.0, 2),
                       "reason": "gpu_starting", "eta_s": answer["eta_s"], "detail": answer["message"]}
        else:
            message = {"uid": uid, "status": "ERROR", "message": answer["message"],
                       "reason": "gpu_held" if status == 409 else "gpu_unavailable"}
        self.wfile.write(frame(0x1, json.dumps(message).encode()))
        self._close(1013, b"GPU starting")

    def _close(self, code, reason):
        """Send a close frame and wait (briefly) for the client's: the closing handshake."""
        self.wfile.write(frame(0x8, struct.pack("!H", code) + reason))
        self.wfile.flush()
        try:
            self.connection.settimeout(2)
            for _frame in range(8):
                if read_frame(self.rfile)[0] == 0x8:
                    break
        except (OSError, EOFError, ValueError):
            pass


class UnixHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_UNIX
    daemon_threads = True

    def server_bind(self):
        try:
            os.unlink(self.server_address)
        except FileNotFoundError:
            pass
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", 0


def serve(cfg, controller):
    """Bind the socket (mode 0660, Caddy's group) and serve in a thread; returns the server."""
    handler = type("BoundHandler", (Handler,), {"controller": controller})
    server = UnixHTTPServer(cfg["listen_socket"], handler)
    # The unit runs the daemon with Caddy's group as its own (chown is a
    # privileged call its system call filter refuses): only chown elsewhere.
    if cfg["socket_group"] and grp.getgrnam(cfg["socket_group"]).gr_gid != os.getegid():
        shutil.chown(cfg["listen_socket"], group=cfg["socket_group"])
    os.chmod(cfg["listen_socket"], 0o660)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def make_backend(cfg):
    if cfg["backend"] == "aws":
        return AwsWorkers(cfg["aws"])
    return SshWorkers(cfg["ssh"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stdout)
    try:
        with open(args.config, encoding="utf-8") as handle:
            cfg = validate_config(json.load(handle))
    except (OSError, ValueError) as err:
        print("rasr-gpu-sleep: %s: %s" % (args.config, err), file=sys.stderr)
        return 2
    if args.check:
        print("rasr-gpu-sleep: %s is valid (backend %s)" % (args.config, cfg["backend"]))
        return 0
    controller = Controller(cfg, make_backend(cfg), Caddy(cfg["caddy_admin_socket"], cfg["upstreams"]),
                            Ledger(cfg["state_file"]))
    server = serve(cfg, controller)
    LOG.info("watching %s; idle stop after %s min%s; %s backend", ", ".join(cfg["upstreams"]) or "Caddy's TCP upstreams", cfg["idle_minutes"],
             " (stay_awake: never)" if cfg["stay_awake"] else "", cfg["backend"])
    try:
        while True:
            try:
                controller.tick()
            except Exception as err:  # noqa: BLE001 (a failed poll must not end the daemon)
                LOG.error("poll failed: %s", err)
            time.sleep(cfg["poll_s"])
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
