"""AWX material, verified offline (no AWX server, no registry, no Galaxy).

- execution-environment.yml: `ansible-builder create` writes a build context
  with the control node's pinned requirements, the collection artefact of this
  checkout, and a Containerfile whose steps we can check; the Containerfile's
  own collection install step is replayed here on the artefact.
- collections/requirements.yml: installed the way an AWX project sync does.
- awx/controller.yml: every survey passes the AWX survey checker, every job
  template's playbook exists and passes `ansible-playbook --syntax-check`.
- playbooks/awx_survey.yml: run with ansible-playbook on localhost; survey
  answers become the roles' variables with the types of their argument specs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import survey_spec_errors
from support.playbook import ansible_playbook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
EE_FILE = os.path.join(ROOT, "execution-environment.yml")
CONTROL_TXT = os.path.join(ROOT, "requirements", "control.txt")
CONTROLLER = os.path.join(ROOT, "awx", "controller.yml")
SURVEY_PLAY = os.path.join(ROOT, "playbooks", "awx_survey.yml")
TIMEOUT = 300


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _tool(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.fail("%s is not installed next to %s: pip install -r requirements/test.txt" % (name, sys.executable))
    return path


def _run(argv, cwd=ROOT, env=None, check=True):
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if check and proc.returncode != 0:
        pytest.fail("%s failed (%d):\n%s\n%s" % (" ".join(argv), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def _playbook(args, cwd=ROOT, env=None, check=True):
    """ansible-playbook ARGS through the suite's one runner (support/playbook.py), plain output."""
    proc = ansible_playbook(args, env=dict(os.environ, **(env or {})), json_output=False, timeout=TIMEOUT, cwd=cwd)
    if check and proc.returncode != 0:
        pytest.fail("ansible-playbook %s failed (%d):\n%s\n%s" % (" ".join(args), proc.returncode,
                                                                  proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def _pins(path):
    pins = {}
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                pins[name.split("[", 1)[0].strip().lower()] = version.strip()
    return pins


GALAXY = _load(os.path.join(ROOT, "galaxy.yml"))
ARTEFACT = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


@pytest.fixture(scope="module")
def ee_context(tmp_path_factory):
    """Build the collection artefact and the EE build context in a temp dir.

    The EE file and the requirements it names are copied there, so the
    checkout's build/ folder is left alone.
    """
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(EE_FILE, str(work / "execution-environment.yml"))
    (work / "requirements").mkdir()
    shutil.copy(CONTROL_TXT, str(work / "requirements" / "control.txt"))
    _run([_tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(work / "build" / "ee"), ROOT])
    context = work / "context"
    _run([_tool("ansible-builder"), "create", "-f", str(work / "execution-environment.yml"),
          "-c", str(context), "--output-filename", "Containerfile"], cwd=str(work))
    return context


def test_ee_definition_is_v3_and_pins_agree_with_the_control_node():
    ee = _load(EE_FILE)
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"]
    deps = ee["dependencies"]
    assert deps["python"] == "requirements/control.txt"
    control = _pins(CONTROL_TXT)
    core = deps["ansible_core"]["package_pip"]
    assert core == "ansible-core==%s" % control["ansible-core"], "ansible_core must match requirements/control.txt"
    assert re.match(r"^ansible-runner==\d+\.\d+\.\d+$", deps["ansible_runner"]["package_pip"])


def test_builder_context_holds_requirements_collection_and_steps(ee_context):
    build = ee_context / "_build"
    # The control node's pins, unchanged.
    assert _pins(str(build / "requirements.txt")) == _pins(CONTROL_TXT)
    # System packages playbook 315 needs on the control node to speak its sentence.
    bindep = (build / "bindep.txt").read_text().split()
    assert "espeak-ng" in bindep and "sox" in bindep
    # The collection artefact of this checkout.
    artefact = build / "collection" / ARTEFACT
    assert artefact.is_file(), sorted(p.name for p in (build / "collection").iterdir())
    with tarfile.open(str(artefact)) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
    for needed in ("plugins/modules/transcription_check.py", "plugins/module_utils/awx_survey.py",
                   "roles/whisperlive/meta/argument_specs.yml", "roles/edge_caddy/tasks/main.yml",
                   "playbooks/awx_survey.yml", "site/index.html"):
        assert needed in names, needed
    # No link loop through collections/, no virtualenv.
    assert not [n for n in names if n.startswith(("collections/", ".venv/"))]

    containerfile = (ee_context / "Containerfile").read_text()
    ee = _load(EE_FILE)
    assert 'ARG EE_BASE_IMAGE="%s"' % ee["images"]["base_image"]["name"] in containerfile
    assert "FROM $EE_BASE_IMAGE" in containerfile
    assert 'ARG PYCMD="%s"' % ee["dependencies"]["python_interpreter"]["python_path"] in containerfile
    assert ee["dependencies"]["ansible_core"]["package_pip"] in containerfile
    assert ee["dependencies"]["ansible_runner"]["package_pip"] in containerfile
    assert "COPY _build/collection/ /tmp/rasr-collection/" in containerfile
    install = [line for line in containerfile.splitlines() if "ansible-galaxy collection install --offline --no-deps" in line]
    assert len(install) == 1
    # The install step comes before the image drops root.
    assert containerfile.index(install[0]) < containerfile.rindex("USER 1000")


def test_containerfile_collection_step_installs_the_artefact(ee_context, tmp_path):
    """Replay the Containerfile's RUN line on the artefact, into a temp path."""
    install = next(line for line in (ee_context / "Containerfile").read_text().splitlines()
                   if "ansible-galaxy collection install --offline --no-deps" in line)
    argv = install[len("RUN "):].split(" && ")[0].split()
    argv[0] = _tool("ansible-galaxy")
    target = tmp_path / "collections"
    argv[argv.index("--collections-path") + 1] = str(target)
    argv[-1] = str(ee_context / "_build" / "collection" / ARTEFACT)
    _run(argv, cwd=str(tmp_path), env={"ANSIBLE_COLLECTIONS_PATH": str(target)})
    installed = target / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert json.loads((installed / "MANIFEST.json").read_text())["collection_info"]["version"] == GALAXY["version"]
    # The installed copy is usable: ansible-doc reads the module from it.
    doc = _run([_tool("ansible-doc"), "-t", "module", "--json", "realtime_asr.whisperlive.transcription_check"],
               cwd=str(tmp_path), env={"ANSIBLE_COLLECTIONS_PATH": str(target)})
    found = json.loads(doc.stdout)["realtime_asr.whisperlive.transcription_check"]
    assert str(installed) in found["doc"]["filename"]


def test_project_requirements_install_this_checkout_like_an_awx_sync(tmp_path):
    """AWX runs `ansible-galaxy collection install -r collections/requirements.yml`
    from the project root with the collection path set to its cache only."""
    target = tmp_path / "requirements_collections"
    _run([_tool("ansible-galaxy"), "collection", "install", "-r", "collections/requirements.yml",
          "--collections-path", str(target)], env={"ANSIBLE_COLLECTIONS_PATH": str(target)})
    installed = target / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    manifest = json.loads((installed / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == GALAXY["version"]
    assert (installed / "roles" / "whisperlive" / "tasks" / "main.yml").is_file()
    assert not (installed / "collections").exists()
    # A team's own inventory repository runs the whole stack by its name, from anywhere.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "hosts.yml").write_text("all:\n  children:\n    gpu:\n      hosts: {}\n    edge:\n      hosts: {}\n")
    (outside / "ansible.cfg").write_text("[defaults]\n")
    check = _playbook(["--syntax-check", "-i", "hosts.yml", "realtime_asr.whisperlive.site"],
                      cwd=str(outside), env={"ANSIBLE_COLLECTIONS_PATH": str(target),
                                             "ANSIBLE_CONFIG": str(outside / "ansible.cfg")})
    assert str(installed / "playbooks" / "site.yml") in check.stdout


CONTROLLER_VARS = _load(CONTROLLER)
TEMPLATES = CONTROLLER_VARS["awx_configure_job_templates"]


def _survey_map():
    """{survey variable: the variable it sets}."""
    plays = _load(SURVEY_PLAY)
    return plays[0]["vars"]["__awx_survey_map"]


def test_the_job_templates_the_issue_asks_for():
    playbooks = {t["playbook"] for t in TEMPLATES.values()}
    assert {"site.yml", "playbooks/315_test_transcription.yml", "playbooks/210_gpu_stop.yml",
            "playbooks/220_gpu_start.yml", "playbooks/230_status.yml", "playbooks/900_teardown.yml"} <= playbooks
    assert [t["job_tags"] for t in TEMPLATES.values() if t["playbook"] == "site.yml"] in (["", "clients"], ["clients", ""])
    names = [t["name"] for t in TEMPLATES.values()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_each_survey_passes_the_awx_survey_rules(key):
    assert survey_spec_errors(TEMPLATES[key]["survey"]) == []


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_each_job_template_references_known_credentials(key):
    assert TEMPLATES[key]["credentials"]
    assert set(TEMPLATES[key]["credentials"]) <= set(CONTROLLER_VARS["awx_configure_credentials"])


def test_survey_variables_and_the_mapping_agree():
    asked = {q["variable"] for t in TEMPLATES.values() for q in t["survey"]["spec"]}
    mapped = set(_survey_map())
    assert asked == mapped, "asked but not mapped: %s; mapped but never asked: %s" % (asked - mapped, mapped - asked)
    assert all(v.startswith("survey_") for v in asked)


def _declared_variables():
    """Role inputs from argument specs (with types) and defaults; project
    variables of the AWS inventory."""
    declared = {}
    roles = os.path.join(ROOT, "roles")
    for role in sorted(os.listdir(roles)):
        spec = os.path.join(roles, role, "meta", "argument_specs.yml")
        if os.path.exists(spec):
            for entry in (_load(spec) or {}).get("argument_specs", {}).values():
                for name, option in entry.get("options", {}).items():
                    declared[name] = option.get("type", "str")
        defaults = os.path.join(roles, role, "defaults", "main.yml")
        if os.path.exists(defaults):
            for name, value in (_load(defaults) or {}).items():
                declared.setdefault(name, type(value).__name__)
    for name, value in (_load(os.path.join(ROOT, "inventory", "aws", "group_vars", "all.yml")) or {}).items():
        declared.setdefault(name, type(value).__name__)
    return declared


def _playbook_text():
    folder = os.path.join(ROOT, "playbooks")
    return "".join(open(os.path.join(folder, n)).read() for n in sorted(os.listdir(folder))
                   if n.endswith(".yml") and n != "awx_survey.yml")


def test_mapping_targets_are_real_variables():
    """A target is a role input (argument spec or defaults), a variable of the
    AWS inventory, or an input a playbook reads. Its type is the one its spec
    declares (tests/unit/plugins/filter/test_awx_survey_vars_filter.py)."""
    declared = _declared_variables()
    playbooks = _playbook_text()
    for survey_var, name in _survey_map().items():
        if name not in declared:
            assert re.search(r"\b%s\b" % re.escape(name), playbooks), (
                "%s maps to %s, which no role, inventory or playbook reads" % (survey_var, name))


def test_teardown_confirmation_is_what_900_reads():
    text = open(os.path.join(ROOT, "playbooks", "900_teardown.yml")).read()
    assert _survey_map()["survey_teardown_confirm"] in text


@pytest.mark.parametrize("playbook", sorted({t["playbook"] for t in TEMPLATES.values()} | {"playbooks/awx_configure.yml"}))
def test_playbooks_exist_and_pass_syntax_check(playbook):
    path = os.path.join(ROOT, playbook)
    assert os.path.isfile(path), "%s does not exist" % playbook
    _playbook(["--syntax-check", "-i", "localhost,", playbook])


@pytest.mark.parametrize("playbook", sorted({t["playbook"] for t in TEMPLATES.values()}))
def test_playbooks_awx_launches_import_the_survey_mapping_first(playbook):
    # The first play imports the survey mapping, itself or through the playbook it
    # imports first (the root site.yml imports playbooks/site.yml).
    path = os.path.join(ROOT, playbook)
    for _hop in range(3):
        first = _load(path)[0].get("ansible.builtin.import_playbook", "")
        path = os.path.normpath(os.path.join(os.path.dirname(path), first)) if first else ""
        if path in (SURVEY_PLAY, ""):
            break
    assert path == SURVEY_PLAY


DUMP_PLAY = """
- name: Survey mapping under test
  ansible.builtin.import_playbook: {survey}
- name: Write what every host sees
  hosts: all:localhost
  gather_facts: false
  tasks:
    - name: Dump
      ansible.builtin.copy:
        dest: "{out}/{{{{ inventory_hostname }}}}.json"
        content: "{{{{ dict(names | zip(names | map('ansible.builtin.extract', hostvars[inventory_hostname]) | map('default', None))) | to_json }}}}"
        mode: "0644"
      vars:
        names: {names}
      delegate_to: localhost
"""


def _map_run(tmp_path, extra, check=True):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    names = sorted(set(_survey_map().values()) | {"awx_survey__applied"})
    play = tmp_path / "dump.yml"
    play.write_text(DUMP_PLAY.format(survey=SURVEY_PLAY, out=out, names=json.dumps(names)))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"gpu": {"hosts": {"gpu-1": {}}}, "edge": {"hosts": {"edge-1": {}}}}}}))
    argv = ["-i", str(inventory), "-c", "local", str(play),
            "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", json.dumps(extra)]
    proc = _playbook(argv, check=check)
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    return proc, results


def test_survey_answers_become_prefixed_variables_on_every_host(tmp_path):
    answers = {
        "survey_gpu_count": 3,                      # AWX sends integers as numbers
        "survey_max_clients": "6",                  # the CLI sends strings
        "survey_client_cidrs": "10.0.0.0/8, 192.0.2.0/24\n198.51.100.0/24\n",
        "survey_admin_cidrs": ["203.0.113.7/32"],   # a list stays a list
        "survey_use_vad": "no",
        "survey_wait_for_hosts": "yes",
        "survey_tls_mode": "internal",
        "survey_server_name": "  asr.example.org ",
        "survey_acme_email": "",                    # blank: keeps the default
        "survey_check_max_wer": "0.25",
        "survey_check_timeout": 90,
    }
    results = _map_run(tmp_path, answers)[1]
    expected = {
        "gpu_host_count": 3,
        "whisperlive_max_clients": 6,
        "security_groups_client_cidrs": ["10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"],
        "security_groups_admin_cidrs": ["203.0.113.7/32"],
        "browser_client_use_vad": False,
        "aws_wait_for_hosts": True,
        "edge_caddy_tls_mode": "internal",
        "edge_caddy_server_name": "asr.example.org",
        "transcription_check_max_wer": 0.25,
        "transcription_check_timeout": 90,
    }
    assert set(results) == {"localhost", "gpu-1", "edge-1"}
    for host, seen in results.items():
        for name, value in expected.items():
            assert seen[name] == value, (host, name, seen[name])
        assert seen["edge_caddy_acme_email"] is None, host
        assert seen["browser_client_language"] is None, host
    assert results["localhost"]["awx_survey__applied"] == expected


def test_no_survey_answers_change_nothing(tmp_path):
    proc, results = _map_run(tmp_path, {})
    assert "skipping: no hosts matched" in proc.stdout  # the mapping play costs nothing
    for seen in results.values():
        assert seen["awx_survey__applied"] is None
        assert all(seen[name] is None for name in _survey_map().values())


def test_blank_answers_only_set_nothing(tmp_path):
    results = _map_run(tmp_path, {"survey_server_name": "", "survey_client_cidrs": []})[1]
    assert results["localhost"]["awx_survey__applied"] == {}
    for seen in results.values():
        assert all(seen[name] is None for name in _survey_map().values())


@pytest.mark.parametrize("answers,words", [
    ({"survey_gpu_cnt": 2}, "Unknown survey variable(s): survey_gpu_cnt"),
    ({"survey_max_clients": "four"}, "survey_max_clients must be an integer, not 'four'"),
    ({"survey_use_vad": "maybe"}, "survey_use_vad must be yes or no, not 'maybe'"),
    ({"survey_check_max_wer": "0,3"}, "survey_check_max_wer must be a number, not '0,3'"),
])
def test_bad_answers_fail_naming_the_variable(tmp_path, answers, words):
    proc, results = _map_run(tmp_path, answers, check=False)
    assert proc.returncode != 0
    assert words in proc.stdout, proc.stdout[-3000:]
    assert results == {}


def test_configure_playbook_refuses_a_broken_survey_before_contacting_awx(tmp_path):
    broken = json.loads(json.dumps(TEMPLATES))
    del broken["site"]["survey"]["spec"][0]["choices"]
    broken["stop"]["survey"]["spec"][0]["default"] = 5
    extra = tmp_path / "broken.json"
    extra.write_text(json.dumps({"awx_configure_job_templates": broken, "awx_configure_ee_image": "registry.invalid/ee:1"}))
    # A controller address nothing listens on: the play must fail before it.
    proc = _playbook(["-i", "localhost,", "playbooks/awx_configure.yml",
                      "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@%s" % extra],
                     env={"CONTROLLER_HOST": "https://127.0.0.1:9"}, check=False)
    assert proc.returncode != 0
    assert "Survey of job template 'site': question 0 (survey_gpu_count) lacks 'choices'" in proc.stdout, proc.stdout[-3000:]
    assert "Survey of job template 'stop': question 0 (survey_wait_timeout): default 5 is outside [60, 3600]" in proc.stdout
    assert "127.0.0.1:9" not in proc.stdout


def test_controller_yml_gives_every_declared_input_with_its_declared_type():
    """awx/controller.yml holds the defaults of the awx_configure_* inputs of playbooks/vars/input_specs.yml."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    spec = _load(os.path.join(ROOT, "playbooks", "vars", "input_specs.yml"))["input_specs"]["awx_configure"]["options"]
    given = {k: v for k, v in CONTROLLER_VARS.items() if k.startswith("awx_configure_")}
    assert set(given) == set(spec)
    assert [str(e) for e in ArgumentSpecValidator(spec).validate(given).errors] == []


@pytest.mark.parametrize("extra, named", [
    ("awx_configure_ee_imag=registry.invalid/ee:1", "awx_configure_ee_imag"),
    ("awx_configure_ee_pull=sometimes", "awx_configure_ee_pull"),
])
def test_configure_playbook_refuses_a_misspelt_or_mistyped_input_before_contacting_awx(extra, named):
    proc = _playbook(["-i", "localhost,", "playbooks/awx_configure.yml",
                      "-e", "ansible_python_interpreter=%s" % sys.executable,
                      "-e", "awx_configure_ee_image=registry.invalid/ee:1", "-e", extra],
                     env={"CONTROLLER_HOST": "https://127.0.0.1:9"}, check=False)
    assert proc.returncode == 2, proc.stdout[-3000:]
    errors = re.search(r"argument_errors.*", proc.stdout)
    assert errors and named in errors.group(0), proc.stdout[-3000:]
    assert "Check the configuration before touching the controller" not in proc.stdout
    assert "127.0.0.1:9" not in proc.stdout


# playbooks/awx_configure.yml against a stand-in for AWX's API on 127.0.0.1
# (tests/unit/fake_awx_controller.py): what it creates, that a second apply
# changes nothing, check mode, and a missing credential.

def _controller(credentials=("realtime-asr AWS", "realtime-asr SSH")):
    from fake_awx_controller import FakeController  # pytest puts this test folder on sys.path

    controller = FakeController()
    org = controller.add("organizations", name="Default")
    for name in credentials:
        controller.add("credentials", name=name, organization=org["id"])
    return controller


def _configure(controller, *extra):
    argv = ["-i", "localhost,", "playbooks/awx_configure.yml",
            "-e", "ansible_python_interpreter=%s" % sys.executable,
            "-e", "awx_configure_ee_image=registry.invalid/realtime-asr-ee:0.1.0"]
    for item in extra:
        argv += ["-e", item] if not item.startswith("--") else [item]
    proc = _playbook(argv, env={"CONTROLLER_HOST": controller.url, "CONTROLLER_OAUTH_TOKEN": "test-token",
                                "CONTROLLER_VERIFY_SSL": "false"}, check=False)
    recap = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    assert recap, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc, int(recap.group(2)), int(recap.group(3))


def _as_dict(value):
    return json.loads(value) if isinstance(value, str) else value


def test_configure_creates_everything_and_a_second_apply_changes_nothing():
    region = ["awx_configure_aws_region=eu-west-1", "awx_configure_aws_stack_name=demo"]
    with _controller() as controller:
        proc, changed, failed = _configure(controller, *region)
        assert failed == 0, proc.stdout[-3000:]
        assert changed > 0 and controller.writes

        prefix = CONTROLLER_VARS["awx_configure_name_prefix"]
        (ee,) = controller.find("execution_environments", prefix + " EE")
        assert ee["image"] == "registry.invalid/realtime-asr-ee:0.1.0"
        (project,) = controller.find("projects", prefix)
        assert project["scm_url"] == GALAXY["repository"] + ".git"
        assert project["default_environment"] == ee["id"]
        (source,) = controller.find("inventory_sources", prefix + " aws_ec2")
        assert (source["source"], source["source_path"], source["source_project"]) == ("scm", "inventory/aws/aws_ec2.yml", project["id"])
        assert _as_dict(source["source_vars"]) == {"AWS_REGION": "eu-west-1", "RASR_AWS_STACK": "demo"}

        credential_ids = {c["name"]: c["id"] for c in controller.objects["credentials"].values()}
        for key, template in TEMPLATES.items():
            (job,) = controller.find("job_templates", "%s %s" % (prefix, template["name"]))
            assert job["playbook"] == template["playbook"]
            assert job["job_tags"] == template["job_tags"]
            assert job["survey_enabled"] is True
            assert controller.surveys[job["id"]] == template["survey"], key
            wanted = {credential_ids[CONTROLLER_VARS["awx_configure_credentials"][c]] for c in template["credentials"]}
            assert set(controller.credentials_of[job["id"]]) == wanted, key
            assert _as_dict(job["extra_vars"]) == {"aws_ssh_public_key_path": "", "aws_region": "eu-west-1", "aws_stack_name": "demo"}

        controller.writes.clear()
        proc, changed, failed = _configure(controller, *region)
        assert (failed, changed) == (0, 0), proc.stdout[-3000:]
        assert controller.writes == []

        # Check mode sees a changed survey and writes nothing.
        edited = json.loads(json.dumps(TEMPLATES))
        edited["clients"]["survey"]["spec"][0]["question_description"] = "Edited."
        proc, changed, failed = _configure(controller, *(region + [json.dumps({"awx_configure_job_templates": edited}), "--check"]))
        assert (failed, changed) == (0, 1), proc.stdout[-3000:]
        assert controller.writes == []


def test_configure_names_missing_credentials_and_writes_nothing():
    with _controller(credentials=("realtime-asr AWS",)) as controller:
        proc, _changed, failed = _configure(controller)
        assert failed == 1
        assert "Create these credentials in AWX first" in proc.stdout and "realtime-asr SSH" in proc.stdout
        assert controller.writes == []


@pytest.mark.parametrize("answer,passes_the_guard", [("not-the-stack", False), ("whisperlive", True)])
def test_teardown_survey_answer_reaches_playbook_900(answer, passes_the_guard):
    """The 900 job template's one answer, through the real playbook and the AWS
    inventory, with every AWS call sent to a closed port on loopback."""
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_REGION": "us-east-1", "RASR_AWS_STACK": "whisperlive", "AWS_MAX_ATTEMPTS": "1"}
    proc = _playbook(["-i", "inventory/aws", "playbooks/900_teardown.yml",
                      "-e", "survey_teardown_confirm=%s" % answer], env=env, check=False)
    assert proc.returncode != 0  # nothing answers on 127.0.0.1:9
    guard_failed = "To confirm, run again with -e aws_teardown_confirm=whisperlive" in proc.stdout
    reached_aws = "Could not connect to the endpoint URL" in proc.stdout.split("TASK [Check the teardown is confirmed]")[-1]
    assert (guard_failed, reached_aws) == (not passes_the_guard, passes_the_guard), proc.stdout[-3000:]
