"""rasr-gpu-sleep (roles/gpu_sleep/files/rasr_gpu_sleep.py) and its forced command, as plain modules."""

import importlib.util
import json
import os
import struct

import boto3
import pytest
from moto import mock_aws
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import unix_connect

FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     "roles", "gpu_sleep", "files")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(FILES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gs = load("rasr_gpu_sleep")
power = load("rasr_power")


def config(tmp_path, **overrides):
    cfg = {
        "backend": "ssh", "idle_minutes": 1, "stay_awake": False, "poll_s": 1, "wake_estimate_s": 30,
        "wake_max_per_hour": 3, "hourly_price": 0.5, "upstreams": [],
        "caddy_admin_socket": "/run/caddy/admin.sock", "socket_group": "",
        "listen_socket": str(tmp_path / "http.sock"), "state_file": str(tmp_path / "state.json"),
        "aws": {"region": "us-east-1", "endpoint_url": "", "project": "realtime-asr", "stack": "s1", "hold_tag": "PowerHold"},
        "ssh": {"user": "rasr-power", "key": "/k", "known_hosts": "/kh", "timeout_s": 5,
                "hosts": [{"name": "gpu1", "address": "127.0.0.1", "port": 2222}]},
    }
    cfg.update(overrides)
    return gs.validate_config(cfg)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeCaddy:
    def __init__(self):
        self.reads = []     # answers to give, in order; the last one repeats
        self.seen = ["127.0.0.1:9090"]

    def open_streams(self):
        return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]


class FakeWorkers:
    def __init__(self, state="running", held=False):
        self.workers = [gs.Worker("gpu1", state, held)]
        self.calls = []

    def describe(self):
        return [gs.Worker(w.name, w.state, w.held, w.kind) for w in self.workers]

    def stop(self, names):
        self.calls.append(("stop", list(names)))
        for w in self.workers:
            w.state = "stopped"

    def start(self, names):
        self.calls.append(("start", list(names)))
        for w in self.workers:
            w.state = "running"


def controller(tmp_path, state="running", held=False, streams=0, **overrides):
    clock, wall = Clock(), Clock()
    caddy = FakeCaddy()
    caddy.reads = [streams]
    workers = FakeWorkers(state, held)
    ctl = gs.Controller(config(tmp_path, **overrides), workers, caddy, gs.Ledger(str(tmp_path / "state.json"), wall=wall),
                        clock=clock, wall=wall, probe=lambda upstreams: True)
    return ctl, clock, wall, caddy, workers


def advance(clocks, seconds):
    for clock in clocks:
        clock.now += seconds


# -- configuration -------------------------------------------------------------
@pytest.mark.parametrize("change, named", [
    ({"backend": "gce"}, "'backend' must be one of aws, ssh"),
    ({"idle_minutes": 0}, "'idle_minutes' must be positive"),
    ({"idle_minutes": "5"}, "'idle_minutes' must be int/float"),
    ({"stay_awake": "no"}, "'stay_awake' must be bool"),
    ({"wake_max_per_hour": 0}, "'wake_max_per_hour' must be at least 1"),
    ({"state_file": "state.json"}, "'state_file' must be an absolute path"),
    ({"upstreams": ["unix//run/x.sock"]}, "'upstreams' must list GPU upstreams"),
    ({"prices": {"g4dn.xlarge": "0.5"}}, "'prices' must map instance types to USD per hour"),
    ({"ssh": {"user": "u", "key": "/k", "known_hosts": "/kh", "timeout_s": 5, "hosts": []}}, "'hosts' must name at least one"),
    ({"ssh": {"user": "u", "key": "/k", "known_hosts": "/kh", "timeout_s": 5, "hosts": [{"name": "g", "address": "a"}]}},
     "missing key 'port'"),
])
def test_a_bad_configuration_names_the_key(tmp_path, change, named):
    with pytest.raises(gs.ConfigError, match=named.replace("(", r"\(").replace("/", "/")):
        config(tmp_path, **change)


def test_the_aws_backend_needs_its_stack(tmp_path):
    with pytest.raises(gs.ConfigError, match=r"config\['aws'\]: 'stack' must not be empty"):
        config(tmp_path, backend="aws", aws={"region": "r", "endpoint_url": "", "project": "p", "stack": "", "hold_tag": "h"})


@pytest.mark.parametrize("states, reachable, expected", [
    ([("running", False)], True, "awake"),
    ([("running", False)], False, "starting"),
    ([("pending", False)], True, "starting"),
    ([("running", False), ("stopped", False)], True, "starting"),
    ([("stopped", False)], True, "asleep"),
    ([("stopping", False)], True, "stopping"),
    ([("stopped", True)], True, "held"),
    ([("stopped", False), ("stopping", True)], True, "held"),
    ([("unknown", False)], True, "unknown"),
    ([], True, "unknown"),
])
def test_overall_state(states, reachable, expected):
    workers = [gs.Worker("w%d" % i, s, h) for i, (s, h) in enumerate(states)]
    assert gs.overall_state(workers, reachable) == expected


# -- idle stop -----------------------------------------------------------------
def test_no_stream_for_idle_minutes_stops_the_workers_once(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path)
    assert ctl.tick() == "awake"
    advance((clock, wall), 59)
    ctl.tick()
    assert workers.calls == []
    advance((clock, wall), 2)
    ctl.tick()
    assert workers.calls == [("stop", ["gpu1"])]
    assert ctl.tick() == "asleep"
    advance((clock, wall), 600)
    ctl.tick()
    assert workers.calls == [("stop", ["gpu1"])]
    assert ctl.snapshot()["slept_today_s"] == pytest.approx(600, abs=1)
    assert ctl.snapshot()["saved_today"] == pytest.approx(600 / 3600 * 0.5, abs=0.001)


def test_sleep_is_priced_by_instance_type(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, state="stopped", prices={"g4dn.xlarge": 0.526})
    workers.workers = [gs.Worker("i-1", "stopped", kind="g4dn.xlarge"), gs.Worker("i-2", "stopped", kind="x9.huge")]
    ctl.tick()
    advance((clock, wall), 3600)
    state = ctl.snapshot()
    assert state["gpu_hourly_usd"] == pytest.approx(0.526 + 0.5), "a type without a price counts hourly_price"
    assert state["saved_today"] == pytest.approx(1.026, abs=0.001)
    assert [w["type"] for w in state["workers"]] == ["g4dn.xlarge", "x9.huge"]


def test_an_open_stream_at_the_deadline_keeps_the_workers_up(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, streams=1)
    ctl.tick()
    for _step in range(10):
        advance((clock, wall), 30)
        ctl.tick()
    assert workers.calls == []
    caddy.reads = [0]
    advance((clock, wall), 59)
    ctl.tick()
    assert workers.calls == [], "the idle time counts from the last stream"


def test_the_drain_check_calls_a_stop_off(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path)
    ctl.tick()
    advance((clock, wall), 61)
    caddy.reads = [0, 1, 1]     # the poll sees none, the drain check one
    ctl.tick()
    assert workers.calls == []
    assert ctl.snapshot()["idle_s"] == 0


@pytest.mark.parametrize("settings", [
    {"streams": None},          # Caddy cannot be read: what cannot be seen is never stopped
    {"stay_awake": True},       # the manual switch
], ids=["caddy-unreadable", "stay-awake"])
def test_never_stopped(tmp_path, settings):
    ctl, clock, wall, caddy, workers = controller(tmp_path, **settings)
    for _step in range(5):
        advance((clock, wall), 60)
        ctl.tick()
    assert workers.calls == []


# -- wake ----------------------------------------------------------------------
def test_a_wake_starts_sleeping_workers_and_measures_the_start(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, state="stopped")
    assert ctl.tick() == "asleep"
    status, answer = ctl.wake("test")
    assert (status, answer["state"]) == (202, "starting")
    assert answer["message"] == "Starting the transcription server, about 30 s."
    assert workers.calls == [("start", ["gpu1"])]
    assert ctl.wake("again")[0] == 202
    assert workers.calls == [("start", ["gpu1"])], "a start under way is not repeated"
    ctl.probe = lambda upstreams: False
    advance((clock, wall), 12)
    assert ctl.tick() == "starting"
    assert ctl.snapshot()["elapsed_s"] == 12
    ctl.probe = lambda upstreams: True
    advance((clock, wall), 3)
    assert ctl.tick() == "awake"
    assert ctl.eta_s() == 15, "the next page announces the measured start"
    assert ctl.wake("awake")[0] == 200


def test_a_held_worker_is_never_started(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, state="stopped", held=True)
    assert ctl.tick() == "held"
    status, answer = ctl.wake("test")
    assert status == 409 and "playbook 220" in answer["message"]
    assert workers.calls == []


def test_wakes_are_rate_limited(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, state="stopped")
    for _round in range(3):
        ctl.tick()
        assert ctl.wake("test")[0] == 202
        for w in workers.workers:
            w.state = "stopped"
        advance((clock, wall), 100)
    ctl.tick()
    status, answer = ctl.wake("test")
    assert status == 429 and answer["retry_after_s"] == 3600 - 300 + 1
    assert "gpu_sleep_wake_max_per_hour" in answer["message"]
    assert len(workers.calls) == 3


def test_a_wake_while_stopping_starts_once_stopped(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, state="stopping")
    assert ctl.tick() == "stopping"
    assert ctl.wake("test")[0] == 202
    assert workers.calls == []
    workers.workers[0].state = "stopped"
    ctl.tick()
    assert workers.calls == [("start", ["gpu1"])]


def test_the_ledger_survives_a_restart(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, state="stopped")
    ctl.tick()
    advance((clock, wall), 100)
    again = gs.Ledger(str(tmp_path / "state.json"), wall=wall)
    assert again.slept_today() == pytest.approx(100, abs=1)


# -- backends ------------------------------------------------------------------
class Proc:
    def __init__(self, stdout, returncode=0, stderr=""):
        self.stdout, self.returncode, self.stderr = stdout, returncode, stderr


def test_the_ssh_backend_reads_and_refuses(tmp_path):
    cfg = config(tmp_path)
    answers = {"status": Proc('{"service": "inactive", "held": true, "streams": 0}'),
               "start": Proc('{"refused": "held by the operator"}')}
    seen = []

    def run(argv, **kwargs):
        seen.append(argv)
        return answers[argv[-1]]

    workers = gs.SshWorkers(cfg["ssh"], run=run)
    [worker] = workers.describe()
    assert (worker.name, worker.state, worker.held) == ("gpu1", "stopped", True)
    assert "rasr-power@127.0.0.1" in seen[0] and "2222" in seen[0] and "StrictHostKeyChecking=yes" in seen[0]
    with pytest.raises(OSError, match="gpu1 refused start: held by the operator"):
        workers.start(["gpu1"])
    answers["status"] = Proc("", returncode=255, stderr="Connection refused")
    assert workers.describe()[0].state == "unknown"


@mock_aws
def test_the_aws_backend_finds_its_stack_by_tag():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ami = ec2.describe_images()["Images"][0]["ImageId"]

    def launch(stack, role, extra=()):
        tags = [{"Key": "Project", "Value": "realtime-asr"}, {"Key": "Stack", "Value": stack}, {"Key": "Role", "Value": role}]
        tags += [{"Key": k, "Value": v} for k, v in extra]
        return ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, TagSpecifications=[
            {"ResourceType": "instance", "Tags": tags}])["Instances"][0]["InstanceId"]

    mine = launch("s1", "gpu")
    launch("s1", "edge")
    launch("s2", "gpu")
    workers = gs.AwsWorkers({"region": "us-east-1", "endpoint_url": "", "project": "realtime-asr", "stack": "s1",
                             "hold_tag": "PowerHold"}, client=ec2)
    assert [(w.name, w.state, w.held) for w in workers.describe()] == [(mine, "running", False)]
    workers.stop([mine])
    assert workers.describe()[0].state in ("stopping", "stopped")
    ec2.create_tags(Resources=[mine], Tags=[{"Key": "PowerHold", "Value": "210"}])
    assert workers.describe()[0].held


# -- the HTTP side -------------------------------------------------------------
@pytest.fixture
def served(tmp_path):
    ctl, clock, wall, caddy, workers = controller(tmp_path, state="stopped")
    ctl.tick()
    server = gs.serve(ctl.cfg, ctl)
    yield ctl, workers, ctl.cfg["listen_socket"]
    server.shutdown()
    server.server_close()


def http(socket_path, method, path, headers=None):
    import http.client
    import socket
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(socket_path)
    conn = http.client.HTTPConnection("localhost")
    conn.sock = sock
    conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), json.loads(response.read())


def test_state_then_wake_over_the_socket(served):
    ctl, workers, path = served
    assert oct(os.stat(path).st_mode & 0o777) == "0o660"
    status, headers, answer = http(path, "GET", "/gpu/state")
    assert status == 200 and answer["state"] == "asleep" and headers["Cache-Control"] == "no-store"
    assert workers.calls == [], "reading the state starts nothing"
    status, headers, answer = http(path, "POST", "/gpu/wake", {"X-Forwarded-For": "203.0.113.7"})
    assert (status, answer["state"]) == (202, "starting")
    assert workers.calls == [("start", ["gpu1"])]
    assert http(path, "GET", "/elsewhere")[0] == 404


def test_a_websocket_client_gets_wait_and_wakes_the_workers(served):
    ctl, workers, path = served
    with unix_connect(path, uri="ws://localhost/") as ws:
        ws.send(json.dumps({"uid": "u-1", "language": "en", "task": "transcribe", "model": "tiny.en"}))
        message = json.loads(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert message["uid"] == "u-1" and message["status"] == "WAIT" and message["reason"] == "gpu_starting"
    assert message["message"] == pytest.approx(0.5, abs=0.02), "minutes, as upstream's clients print them"
    assert closed.value.rcvd.code == 1013
    assert workers.calls == [("start", ["gpu1"])]


def test_a_websocket_without_options_wakes_nothing(served):
    ctl, workers, path = served
    with unix_connect(path, uri="ws://localhost/") as ws:
        ws.send(b"\x00" * 16)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 1008
    assert workers.calls == []


def test_frames_round_trip():
    import io
    payload = json.dumps({"uid": "x" * 300}).encode()
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    raw = struct.pack("!BBH", 0x81, 0x80 | 126, len(payload)) + mask + masked
    assert gs.read_frame(io.BytesIO(raw)) == (1, payload)
    assert gs.frame(1, b"hi") == b"\x81\x02hi"
    with pytest.raises(ValueError, match="first message of 70000 bytes"):
        gs.read_frame(io.BytesIO(struct.pack("!BBQ", 0x81, 0xFF, 70000)))


# -- the forced command on the worker ----------------------------------------
def run_power(monkeypatch, tmp_path, verb, services="inactive", established=0, hold=False):
    hold_file = tmp_path / "hold"
    if hold:
        hold_file.write_text("210")
    calls = []

    def run(argv):
        calls.append(argv)
        if argv[0] == "ss":
            return Proc("".join("ESTAB 0 0 127.0.0.1:9090 127.0.0.1:5%04d\n" % i for i in range(established)))
        if argv[:2] == ["systemctl", "is-active"]:
            return Proc(services + "\n")
        return Proc("")

    monkeypatch.setattr(power, "run", run)
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", verb)
    out = []
    monkeypatch.setattr("builtins.print", lambda text, **kw: out.append(text))
    rc = power.main(["--service", "whisperlive.service", "--port", "9090", "--hold-file", str(hold_file)])
    return rc, json.loads(out[0]), calls


def test_the_worker_refuses_to_stop_a_serving_service(monkeypatch, tmp_path):
    rc, answer, calls = run_power(monkeypatch, tmp_path, "stop", services="active", established=1)
    assert rc == 0 and answer == {"refused": "1 client(s) connected to port 9090"}
    assert not any("stop" in argv for argv in calls)


def test_the_worker_stops_and_starts_through_sudo_only(monkeypatch, tmp_path):
    rc, answer, calls = run_power(monkeypatch, tmp_path, "stop", services="active")
    assert ["sudo", "-n", "/usr/bin/systemctl", "stop", "whisperlive.service"] in calls
    rc, answer, calls = run_power(monkeypatch, tmp_path, "start")
    assert ["sudo", "-n", "/usr/bin/systemctl", "start", "--no-block", "whisperlive.service"] in calls


def test_the_worker_keeps_the_operators_hold(monkeypatch, tmp_path):
    rc, answer, calls = run_power(monkeypatch, tmp_path, "start", hold=True)
    assert "playbook 220" in answer["refused"]
    assert not any(argv[0] == "sudo" for argv in calls)


def test_the_worker_answers_nothing_else(monkeypatch, tmp_path):
    rc, answer, calls = run_power(monkeypatch, tmp_path, "bash -i")
    assert rc == 2 and "unknown request" in answer["refused"] and calls == []
