"""Every role's README: the section between <!-- BEGIN_ANSIBLE_DOCS --> and
<!-- END_ANSIBLE_DOCS --> is what aar-doc (pinned in requirements/test.txt,
configured by .aar_doc.yml) writes from meta/argument_specs.yml now.

The generator runs once per session, on a copy of each README, from the
repository root exactly as `make docs` runs it; a difference is drift: run
`make docs` and commit the READMEs.
"""

import difflib
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = os.path.join(REPO, "roles")
ALL_ROLES = sorted(name for name in os.listdir(ROLES) if os.path.isfile(os.path.join(ROLES, name, "meta", "argument_specs.yml")))
BEGIN = "<!-- BEGIN_ANSIBLE_DOCS -->\n"
END = "<!-- END_ANSIBLE_DOCS -->\n"


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """{role: README text as aar-doc makes it from the current spec}."""
    tool = os.path.join(os.path.dirname(sys.executable), "aar-doc")
    if not os.path.exists(tool):
        tool = shutil.which("aar-doc")
    assert tool, "aar-doc is missing: scripts/setup.sh --test installs requirements/test.txt"
    out = tmp_path_factory.mktemp("readmes")
    result = {}
    for role in ALL_ROLES:
        copy = out / f"{role}.md"
        shutil.copyfile(os.path.join(ROLES, role, "README.md"), copy)
        run = subprocess.run([tool, "--output-file", str(copy), os.path.join("roles", role), "markdown"],
                             cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, f"aar-doc failed on role {role}:\n{run.stdout}{run.stderr}"
        result[role] = copy.read_text()
    return result


@pytest.mark.parametrize("role", ALL_ROLES)
def test_readme_has_one_generated_section(role):
    with open(os.path.join(ROLES, role, "README.md")) as handle:
        lines = handle.readlines()
    assert lines.count(BEGIN) == 1 and lines.count(END) == 1, f"roles/{role}/README.md needs one {BEGIN.strip()} ... {END.strip()} pair"
    assert lines.index(BEGIN) < lines.index(END)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_readme_matches_argument_specs(role, generated):
    with open(os.path.join(ROLES, role, "README.md")) as handle:
        current = handle.read()
    assert "## Variables" in generated[role], "the generated section lost its heading: is .aar_doc.yml read?"
    if current != generated[role]:
        diff = "".join(difflib.unified_diff(current.splitlines(True), generated[role].splitlines(True),
                                            f"roles/{role}/README.md", "generated", n=1))
        pytest.fail(f"roles/{role}/README.md drifted from meta/argument_specs.yml; run `make docs`:\n{diff[:4000]}")
