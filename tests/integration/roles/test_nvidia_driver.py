"""Role nvidia_driver on this machine (connection local): detection paths.

The machine has no NVIDIA GPU, so the real sysfs gives the skip and the
required-but-absent failure. A sysfs tree made in tmp_path gives detection
of a display controller versus an NVIDIA HDMI audio function; with
nvidia_driver_install false the role changes nothing on this machine.
"""

import json
import os
import re
import sys

import pytest

from support.playbook import ansible_playbook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK = """
- hosts: localhost
  gather_facts: true
  roles:
    - realtime_asr.whisperlive.nvidia_driver
  post_tasks:
    - name: Hand the fact to the test
      ansible.builtin.debug:
        msg: "NVFACT {{ nvidia_driver__gpu | to_json }}"
"""

pytestmark = pytest.mark.integration


def run_role(tmp_path, extra):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    variables = {"ansible_python_interpreter": sys.executable}
    variables.update(extra)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    proc = ansible_playbook(["-i", "localhost,", "-c", "local", "-e", json.dumps(variables), playbook],
                            env=env, json_output=False, timeout=300)
    match = re.search(r'"msg": ("NVFACT .*")', proc.stdout)
    fact = json.loads(json.loads(match.group(1))[len("NVFACT "):]) if match else None
    return proc, fact


def fake_sysfs(tmp_path, functions):
    root = tmp_path / "pci"
    for address, (vendor, pci_class) in functions.items():
        device = root / address
        device.mkdir(parents=True)
        (device / "vendor").write_text(vendor + "\n")
        (device / "class").write_text(pci_class + "\n")
    return str(root)


def test_no_gpu_skips_with_message(tmp_path):
    proc, fact = run_role(tmp_path, {})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "No NVIDIA GPU on localhost" in proc.stdout
    assert fact == {"present": False, "count": 0, "usable": False, "names": [],
                    "driver_version": "", "reboot_pending": False}
    assert "changed=0" in proc.stdout


def test_no_gpu_but_required_fails_clearly(tmp_path):
    proc, fact = run_role(tmp_path, {"nvidia_driver_required": True})
    assert proc.returncode != 0
    assert "has no NVIDIA GPU" in proc.stdout
    assert "nvidia_driver_required is true" in proc.stdout
    assert fact is None


def test_hdmi_audio_function_is_not_a_gpu(tmp_path):
    sysfs = fake_sysfs(tmp_path, {"0000:00:1e.1": ("0x10de", "0x040300"), "0000:00:03.0": ("0x1af4", "0x020000")})
    proc, fact = run_role(tmp_path, {"nvidia_driver_sysfs_pci_path": sysfs})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert fact["present"] is False


def test_gpu_without_driver_and_no_install_fails_when_required(tmp_path):
    sysfs = fake_sysfs(tmp_path, {"0000:00:1e.0": ("0x10de", "0x030200"), "0000:00:1e.1": ("0x10de", "0x040300")})
    proc, fact = run_role(tmp_path, {"nvidia_driver_sysfs_pci_path": sysfs, "nvidia_driver_install": False,
                                     "nvidia_driver_required": True})
    assert proc.returncode != 0
    assert "has 1 NVIDIA GPU(s) but nvidia-smi fails" in proc.stdout


def test_gpu_without_driver_reports_unusable_when_optional(tmp_path):
    sysfs = fake_sysfs(tmp_path, {"0000:00:1e.0": ("0x10de", "0x030000")})
    proc, fact = run_role(tmp_path, {"nvidia_driver_sysfs_pci_path": sysfs, "nvidia_driver_install": False})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert fact["present"] is True and fact["count"] == 1 and fact["usable"] is False
