"""module_utils/apt_sources: components added to the host's own archive entries."""

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import apt_sources

NONFREE = ["contrib", "non-free", "non-free-firmware"]

# What debootstrap writes.
DEBOOTSTRAP = "deb http://deb.debian.org/debian bookworm main\n"

# AWS's Debian 12 AMIs (deb822, cdn-aws mirror, deb-src too).
AWS_DEB822 = """\
Types: deb deb-src
URIs: http://cdn-aws.deb.debian.org/debian
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://cdn-aws.deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def rewrite(files, release="bookworm", **kwargs):
    return apt_sources.add_components(files, NONFREE, release, **kwargs)


def test_one_line_gets_the_components():
    result = rewrite([("/etc/apt/sources.list", DEBOOTSTRAP)])
    assert result["files"][0]["after"] == (
        "deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware\n")
    assert result["files"][0]["changed"] is True
    assert result["entries"][0]["added"] == NONFREE
    assert result["entries"][0]["line"] == 1


def test_deb822_keeps_the_mirror_and_every_other_field():
    result = rewrite([("/etc/apt/sources.list.d/debian.sources", AWS_DEB822)])
    after = result["files"][0]["after"]
    assert after == AWS_DEB822.replace("Components: main\n", "Components: main contrib non-free non-free-firmware\n")
    assert after.count("http://cdn-aws.deb.debian.org/debian") == 2
    assert [entry["line"] for entry in result["entries"]] == [4, 10]
    assert result["entries"][0]["suites"] == ["bookworm", "bookworm-updates", "bookworm-backports"]


@pytest.mark.parametrize("path,text", [
    ("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware\n"),
    ("/etc/apt/sources.list.d/debian.sources",
     AWS_DEB822.replace("Components: main\n", "Components: main non-free-firmware contrib non-free\n")),
])
def test_components_already_present_leave_the_file_unchanged(path, text):
    result = rewrite([(path, text)])
    assert result["files"][0] == {"path": path, "before": text, "after": text, "changed": False}
    assert all(entry["added"] == [] for entry in result["entries"])
    assert result["entries"]


def test_rewriting_twice_is_idempotent():
    once = rewrite([("/etc/apt/sources.list.d/debian.sources", AWS_DEB822)])["files"][0]["after"]
    twice = rewrite([("/etc/apt/sources.list.d/debian.sources", once)])["files"][0]
    assert twice["changed"] is False


def test_several_mirrors_security_and_third_party_lines():
    text = (
        "deb http://ftp.de.debian.org/debian/ bookworm main\n"
        "deb-src http://ftp.de.debian.org/debian/ bookworm main\n"
        "deb http://security.debian.org/debian-security bookworm-security main contrib\n"
        "deb http://deb.debian.org/debian bookworm-updates main\n"
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable\n"
        "deb https://packages.microsoft.com/debian/12/prod bookworm main\n"
        "deb http://deb.debian.org/debian bullseye main\n"
    )
    after = rewrite([("/etc/apt/sources.list", text)])["files"][0]["after"].splitlines()
    assert after[0] == "deb http://ftp.de.debian.org/debian/ bookworm main contrib non-free non-free-firmware"
    assert after[1] == "deb-src http://ftp.de.debian.org/debian/ bookworm main contrib non-free non-free-firmware"
    assert after[2] == ("deb http://security.debian.org/debian-security bookworm-security main contrib "
                        "non-free non-free-firmware")
    assert after[3] == "deb http://deb.debian.org/debian bookworm-updates main contrib non-free non-free-firmware"
    # Another vendor's repository, even with suite bookworm and component main, and another release: untouched.
    assert after[4:] == text.splitlines()[4:]


def test_comments_options_and_disabled_entries_stay_as_they_are():
    text = (
        "# Debian 12\n"
        "#deb http://deb.debian.org/debian bookworm main\n"
        "\n"
        "deb [ signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://deb.debian.org/debian bookworm main  # primary\r\n"
    )
    after = rewrite([("/etc/apt/sources.list", text)])["files"][0]["after"]
    assert after == (
        "# Debian 12\n"
        "#deb http://deb.debian.org/debian bookworm main\n"
        "\n"
        "deb [ signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://deb.debian.org/debian bookworm main"
        " contrib non-free non-free-firmware  # primary\r\n"
    )


def test_deb822_comments_disabled_stanza_and_continuation_lines():
    text = (
        "# Written by the installer\n"
        "Types: deb\n"
        "# mirror chosen at install time\n"
        "URIs: http://mirror.example.org/debian\n"
        "Suites: trixie trixie-updates\n"
        "Components: main\n"
        "Signed-By:\n"
        " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
        " .\n"
        " -----END PGP PUBLIC KEY BLOCK-----\n"
        "\n"
        "Enabled: no\n"
        "Types: deb\n"
        "URIs: http://deb.debian.org/debian\n"
        "Suites: trixie-backports\n"
        "Components: main\n"
    )
    result = rewrite([("/etc/apt/sources.list.d/debian.sources", text)], release="trixie")
    assert result["files"][0]["after"] == text.replace(
        "Components: main\nSigned-By", "Components: main contrib non-free non-free-firmware\nSigned-By")
    assert len(result["entries"]) == 1


def test_component_provided_by_another_entry_is_not_added_again():
    files = [
        ("/etc/apt/sources.list", DEBOOTSTRAP + "deb http://deb.debian.org/debian bookworm main\n"),
        ("/etc/apt/sources.list.d/firmware.list", "deb http://deb.debian.org/debian/ bookworm non-free-firmware\n"),
    ]
    result = rewrite(files)
    assert result["files"][0]["after"] == (
        "deb http://deb.debian.org/debian bookworm main contrib non-free\n"
        "deb http://deb.debian.org/debian bookworm main\n"
    )
    assert result["files"][1]["changed"] is False


def test_release_filter_and_any_release():
    text = "deb http://deb.debian.org/debian trixie main\n"
    assert rewrite([("/etc/apt/sources.list", text)])["files"][0]["changed"] is False
    assert rewrite([("/etc/apt/sources.list", text)], release="")["files"][0]["changed"] is True


def test_no_matching_entry_raises_when_required():
    files = [("/etc/apt/sources.list", "deb https://download.docker.com/linux/debian bookworm stable\n")]
    assert rewrite(files)["entries"] == []
    with pytest.raises(apt_sources.NoMatchingEntry, match="bookworm") as info:
        rewrite(files, require_match=True)
    assert info.value.kind == "no_matching_entry"


def test_bad_pattern_is_a_typed_error():
    with pytest.raises(apt_sources.BadPattern):
        rewrite([("/etc/apt/sources.list", DEBOOTSTRAP)], uri_pattern="(")


def test_custom_mirror_pattern():
    text = "deb http://apt.internal.example/mirrors/deb bookworm main\n"
    assert rewrite([("/etc/apt/sources.list", text)])["entries"] == []
    result = rewrite([("/etc/apt/sources.list", text)], uri_pattern=r"apt\.internal\.example/mirrors/deb$")
    assert result["files"][0]["after"].endswith("main contrib non-free non-free-firmware\n")
