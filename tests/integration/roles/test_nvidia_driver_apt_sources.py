"""Role nvidia_driver's sources rewriting against Debian 12's real archive.

The sources of a debootstrap host (one-line) and of an AWS Debian 12 AMI
(deb822; with deb.debian.org, since cdn-aws.deb.debian.org does not resolve
outside AWS) are rewritten by module_utils/apt_sources, then this machine's own
apt-get (Debian 12) refreshes private package lists from them and simulates
installing the driver: it resolves only with the components the rewrite adds.
Nothing on this machine changes (private lists, cache and sources; --simulate).
About 5 s a case; needs deb.debian.org (or the mirror of the case).
"""

import shutil
import subprocess

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.apt_sources import add_components

pytestmark = pytest.mark.integration

NONFREE = ["contrib", "non-free", "non-free-firmware"]
PACKAGES = ["nvidia-driver", "firmware-misc-nonfree", "nvidia-smi", "linux-headers-amd64"]

DEBOOTSTRAP = (
    "sources.list",
    "deb http://deb.debian.org/debian bookworm main\n"
    "deb http://deb.debian.org/debian-security bookworm-security main\n",
)
AWS_DEB822 = (
    "debian.sources",
    "Types: deb\n"
    "URIs: http://deb.debian.org/debian\n"
    "Suites: bookworm bookworm-updates\n"
    "Components: main\n"
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    "\n"
    "Types: deb\n"
    "URIs: http://deb.debian.org/debian-security\n"
    "Suites: bookworm-security\n"
    "Components: main\n"
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
)


def _debian_12():
    try:
        with open("/etc/debian_version") as handle:
            return handle.read().startswith("12.")
    except OSError:
        return False


needs_apt = pytest.mark.skipif(not (shutil.which("apt-get") and _debian_12()),
                               reason="needs a Debian 12 machine with apt-get")


def simulate(tmp_path, name, text):
    """apt-get update + install --simulate with only this sources file; (rc, output)."""
    parts = tmp_path / "parts"
    for folder in (parts, tmp_path / "lists" / "partial", tmp_path / "cache" / "archives" / "partial"):
        folder.mkdir(parents=True, exist_ok=True)
    (parts / (name if name.endswith(".sources") else name.replace("sources.list", "host.list"))).write_text(text)
    options = [
        "-o", "Dir::Etc::SourceList=/dev/null", "-o", "Dir::Etc::SourceParts=%s" % parts,
        "-o", "Dir::State::Lists=%s" % (tmp_path / "lists"), "-o", "Dir::Cache=%s" % (tmp_path / "cache"),
        "-o", "Acquire::Languages=none", "-q",
    ]
    update = subprocess.run(["apt-get"] + options + ["update"], capture_output=True, text=True, timeout=300,
                            check=False)
    # apt-get update exits 0 when a mirror cannot be reached; its warnings say so.
    assert update.returncode == 0 and "Failed to fetch" not in update.stderr, update.stdout[-2000:] + update.stderr[-2000:]
    install = subprocess.run(["apt-get"] + options + ["install", "--simulate"] + PACKAGES, capture_output=True,
                             text=True, timeout=120, check=False)
    return install.returncode, install.stdout + install.stderr


@needs_apt
@pytest.mark.parametrize("case", [DEBOOTSTRAP, AWS_DEB822], ids=["debootstrap-one-line", "aws-deb822"])
def test_rewritten_sources_resolve_the_driver(tmp_path, case):
    name, text = case
    result = add_components([("/etc/apt/" + name, text)], NONFREE, "bookworm", require_match=True)
    after = result["files"][0]["after"]
    assert result["files"][0]["changed"]
    rc, output = simulate(tmp_path, name, after)
    assert rc == 0, output[-3000:]
    installed = [line.split()[1] for line in output.splitlines() if line.startswith("Inst ")]
    for package in ["nvidia-driver", "nvidia-kernel-dkms", "firmware-misc-nonfree", "nvidia-smi"]:
        assert package in installed, output[-3000:]


@needs_apt
def test_main_alone_does_not_resolve_the_driver(tmp_path):
    name, text = DEBOOTSTRAP
    rc, output = simulate(tmp_path, name, text)
    assert rc != 0
    assert "nvidia-driver" in output
