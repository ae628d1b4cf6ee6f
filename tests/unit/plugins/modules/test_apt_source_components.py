"""The apt_source_components module, run by ansible-playbook on files made here.

The rewriting itself is tested in module_utils (test_apt_sources.py); here:
check mode writes nothing, --diff shows each file, a real run writes and
keeps the file's mode, a second run changes nothing, failures are named.
"""

import os
import stat

import pytest

from unit.module_play import run_task

DEB822 = """\
Types: deb deb-src
URIs: http://cdn-aws.deb.debian.org/debian
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
ONE_LINE = "deb http://deb.debian.org/debian bookworm main\n"
OTHER = "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable\n"


@pytest.fixture
def apt_tree(tmp_path):
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text(ONE_LINE)
    (etc / "sources.list.d" / "debian.sources").write_text(DEB822)
    (etc / "sources.list.d" / "docker.list").write_text(OTHER)
    (etc / "sources.list.d" / "ignored.list.disabled").write_text(ONE_LINE)
    os.chmod(str(etc / "sources.list.d" / "debian.sources"), 0o640)
    return etc


@pytest.fixture
def run_module(tmp_path, apt_tree):
    def run(args=None, flags=()):
        args = dict({"components": ["contrib", "non-free", "non-free-firmware"], "release": "bookworm",
                     "paths": [str(apt_tree / "sources.list"), str(apt_tree / "sources.list.d")]}, **(args or {}))
        return run_task(tmp_path, "apt_source_components", args, flags)
    return run


def test_check_mode_and_diff_write_nothing(run_module, apt_tree):
    rc, result = run_module(flags=["--check", "--diff"])
    assert rc == 0, result
    assert result["changed"] is True
    assert sorted(result["files"]) == sorted([str(apt_tree / "sources.list"),
                                              str(apt_tree / "sources.list.d" / "debian.sources")])
    diffs = dict((diff["after_header"], diff) for diff in result["diff"])
    assert diffs[str(apt_tree / "sources.list")]["after"] == (
        "deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware\n")
    assert (apt_tree / "sources.list").read_text() == ONE_LINE
    assert (apt_tree / "sources.list.d" / "debian.sources").read_text() == DEB822


def test_real_run_writes_keeps_mode_and_is_idempotent(run_module, apt_tree):
    rc, result = run_module()
    assert rc == 0, result
    assert result["changed"] is True
    sources = apt_tree / "sources.list.d" / "debian.sources"
    assert sources.read_text() == DEB822.replace("Components: main\n",
                                                 "Components: main contrib non-free non-free-firmware\n")
    assert stat.S_IMODE(os.stat(str(sources)).st_mode) == 0o640
    assert (apt_tree / "sources.list.d" / "docker.list").read_text() == OTHER
    assert (apt_tree / "sources.list.d" / "ignored.list.disabled").read_text() == ONE_LINE
    assert len(result["entries"]) == 2

    rc, again = run_module()
    assert rc == 0, again
    assert again["changed"] is False
    assert again["files"] == []
    assert all(entry["added"] == [] for entry in again["entries"])


def test_excluded_file_is_not_read(run_module, apt_tree):
    rc, result = run_module({"exclude": [str(apt_tree / "sources.list")]}, flags=["--check"])
    assert rc == 0, result
    assert result["files"] == [str(apt_tree / "sources.list.d" / "debian.sources")]


def test_no_entry_of_the_archive_fails_by_name(run_module, apt_tree):
    rc, result = run_module({"paths": [str(apt_tree / "sources.list.d" / "docker.list")]})
    assert rc != 0
    assert result["failure"] == "no_matching_entry"
    rc, result = run_module({"paths": [str(apt_tree / "sources.list.d" / "docker.list")], "require_match": False})
    assert rc == 0 and result["changed"] is False


def test_bad_pattern_fails_by_name(run_module):
    rc, result = run_module({"uri_pattern": "("})
    assert rc != 0
    assert result["failure"] == "bad_pattern"
