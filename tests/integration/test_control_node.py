"""Playbook 010 on the control node: the optional self-signed TLS material."""

import os
import sys

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from support.playbook import ansible_playbook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.integration


def run_010(artifacts, *extra):
    return ansible_playbook(["-i", "localhost,", "-c", "local", "playbooks/010_control_node.yml",
                             "-e", "ansible_python_interpreter=%s" % sys.executable,
                             "-e", "realtime_asr_artifacts_dir=%s" % artifacts] + list(extra),
                            env=dict(os.environ), json_output=False, timeout=300)


def test_self_signed_ca_and_edge_certificate_are_made_once(tmp_path):
    names = '{"realtime_asr_self_signed_tls": true, "realtime_asr_self_signed_names": ["edge.example.com", "203.0.113.7"]}'
    first = run_010(tmp_path, "-e", names)
    assert first.returncode == 0, first.stdout[-3000:]
    second = run_010(tmp_path, "-e", names)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]

    tls = tmp_path / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.crt").read_bytes())
    edge = x509.load_pem_x509_certificate((tls / "edge.crt").read_bytes())
    assert edge.issuer == ca.subject
    edge.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
    san = edge.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert san.get_values_for_type(x509.DNSName) == ["edge.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["203.0.113.7"]
    assert oct((tls / "edge.key").stat().st_mode)[-3:] == "600"
    assert "edge_caddy_tls_mode=custom" in first.stdout


def test_no_tls_material_unless_asked(tmp_path):
    run = run_010(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    assert not (tmp_path / "tls").exists()
