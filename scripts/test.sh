#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then
# runs each stage, prints its wall time, and ends with a summary line.
#   scripts/test.sh                 every stage
#   scripts/test.sh lint unit       only the named stages
# Stages: setup lint sanity unit pins venv integration molecule
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-0} PY_COLORS=${PY_COLORS:-0}
mkdir -p artifacts/test
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(setup lint sanity unit pins venv integration molecule)
# Molecule scenarios: one, `default`, deploys site.yml whole on the local deployment's hosts
# (molecule/default/molecule.yml).
scenarios=${MOLECULE_SCENARIOS:-default}

stage_setup() { scripts/setup.sh --test; }

stage_lint() {
  local rc=0
  yamllint -s . || rc=1
  ansible-lint || rc=1
  antsibull-changelog lint || rc=1
  ansible-playbook site.yml --syntax-check >/dev/null || rc=1
  for inv in inventory/local inventory/aws; do
    [ -e "$inv" ] && { ansible-playbook -i "$inv" site.yml --syntax-check >/dev/null || rc=1; }
  done
  # The built artefact carries the collection, not our caches or venvs.
  rm -rf build && mkdir -p build
  ansible-galaxy collection build --force --output-path build >/dev/null || rc=1
  if tar -tzf build/realtime_asr-whisperlive-*.tar.gz | grep -E '(^|/)(\.venv|\.cache|\.ansible|collections|artifacts|__pycache__|tests/output)(/|$)'; then
    echo "the collection artefact carries files it must not (above)" >&2
    rc=1
  fi
  return $rc
}

stage_sanity() { scripts/sanity.sh; }

# The WhisperLive venv the integration and stack tests serve from (built once
# per requirements hash under .cache/, tests/support/whisperlive.py): built
# here, beside the light stages, instead of inside the first test that needs it.
stage_venv() {
  python3 -c 'import sys; sys.path.insert(0, "tests"); from support.whisperlive import ensure_venv, heavy_lock
with heavy_lock():
    print(ensure_venv())'
}

# The failed test ids of a junit file, at most five, one line each: CI logs
# show only their tail, so the summary names what failed.
junit_failures() {
  python3 - "$1" <<'PY' || true
import sys
import xml.etree.ElementTree as ET
try:
    cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
except (OSError, ET.ParseError):
    sys.exit(0)
bad = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
for c in bad[:5]:
    print(f"  failed: {c.get('classname', '')}::{c.get('name', '')}"[:150])
if len(bad) > 5:
    print(f"  ... and {len(bad) - 5} more")
PY
}

# Append each non-empty line of standard input to the stage's summary lines.
# Feed it with < <(...): a pipe would run it in a subshell.
add_details() {
  local line
  while IFS= read -r line; do [ -n "$line" ] && details+=("$line"); done
  return 0
}

stage_pytest() {
  local name=$1 rc=0
  shift
  pytest -q "$@" --junitxml="artifacts/test/$name.xml" || rc=$?
  add_details < <(junit_failures "artifacts/test/$name.xml")
  return $rc
}

# The GPU host's pins resolved by pip for every supported Python (network to
# PyPI; it waits on the network, so it has a stage of its own that runs
# beside the others).
PINS_TEST=tests/unit/roles/test_whisperlive_requirements_resolve.py
stage_unit() { stage_pytest unit tests/unit --ignore="$PINS_TEST"; }
stage_pins() { stage_pytest pins "$PINS_TEST"; }

# The AWS twin's closing figures (tests/integration/test_aws_twin.py writes
# them): printed after the stage and summed up in its summary lines.
TWIN_FIGURES=artifacts/test/aws-twin-figures.txt
stage_integration() {
  local rc=0
  rm -f "$TWIN_FIGURES"
  # The slowest tests, so that the next trim of the suite is chosen by figures.
  stage_pytest integration tests/integration --durations=20 || rc=$?
  if [ -s "$TWIN_FIGURES" ]; then
    cat "$TWIN_FIGURES"
    add_details < <(grep -E '^(wall time of the AWS playbook runs|transcript|wer|rerun_changed):' "$TWIN_FIGURES" | cut -c1-150 | sed 's/^/  aws twin: /')
  fi
  return $rc
}

# One Molecule action of scenario $1, appended to log $2; its own output
# alone is left in $MOLECULE_ACTION_LOG.
molecule_action() {
  MOLECULE_ACTION_LOG=artifacts/test/molecule-$1-$3.log
  echo "--- molecule $3 -s $1"
  molecule "$3" -s "$1" 2>&1 | tee "$MOLECULE_ACTION_LOG" | tee -a "$2"
  return "${PIPESTATUS[0]}"
}

stage_molecule() {
  local rc=0 s
  for s in $scenarios; do
    [ -d "molecule/$s" ] || continue
    echo "--- molecule scenario $s"
    local t0=$SECONDS
    local r=ok log=artifacts/test/molecule-$s.log
    # The scenario's test sequence (create, converge, idempotence,
    # side_effect, verify) one action at a time, never destroy: it runs on
    # the local deployment's own hosts, and a failure leaves them as they
    # are, to look at (make clean removes them). Idempotence is the second
    # run over a converged stack that must change nothing: after `make
    # demo`, converge is that run, so its recap must say changed=0 and
    # Molecule's idempotence action (a third identical run) is left out;
    # where converge changed something (fresh hosts, a stack a failure left
    # half done), Molecule's idempotence action runs as in `molecule test`.
    : > "$log"
    if ! molecule_action "$s" "$log" create || ! molecule_action "$s" "$log" converge; then
      rc=1; r=FAILED
    elif grep -qE ' : ok=[0-9]+ +changed=[1-9]' "$MOLECULE_ACTION_LOG"; then
      echo "--- converge changed something: Molecule's idempotence action follows"
      molecule_action "$s" "$log" idempotence || { rc=1; r=FAILED; }
    else
      echo "--- converge was a second run over the deployed stack and changed nothing: idempotent"
      details+=("    converge changed nothing on the deployed stack: idempotent (no third run)")
    fi
    if [ "$r" = ok ]; then
      molecule_action "$s" "$log" side-effect && molecule_action "$s" "$log" verify || { rc=1; r=FAILED; }
    fi
    echo "--- molecule scenario $s: $r, $((SECONDS - t0)) s"
    details+=("$(printf '  molecule %-12s %-7s %5d s' "$s" "$r" $((SECONDS - t0)))")
    if [ "$r" = FAILED ]; then
      # Which action failed (full log in $log).
      add_details < <(grep -m1 -E 'Executed: Failed|return code was' "$log" | cut -c1-150 | sed 's/^/    /')
      # The last error: verify steps provoke expected failures along the way.
      add_details < <(grep -E '^(fatal|failed):|^E   |FAILED ' "$log" | tail -1 | cut -c1-300 | sed 's/^/    /')
    fi
  done
  return $rc
}

summary=() details=()
passed=0 failed=0

# One summary line per stage (and its detail lines under it).
record() {  # stage rc seconds; details in the array
  local result=ok
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else result=FAILED failed=$((failed + 1)); fi
  summary+=("$(printf '%-12s %-7s %5d s' "$1" "$result" "$3")")
  # Per-scenario lines go under their stage, so a CI log's tail names the culprit.
  [ ${#details[@]} -gt 0 ] && summary+=("${details[@]}")
  details=()
}

run_stage() {  # stage; its output as it comes
  local t0=$SECONDS rc=0
  printf '\n\033[1m=== stage %s\033[0m\n' "$1"
  "stage_$1" || rc=$?
  record "$1" "$rc" $((SECONDS - t0))
}

# Light stages run side by side: single-threaded tools and waits on the
# network, no containers and no WhisperLive, so two cores serve them at once.
# Each one's output goes to artifacts/test/stage-NAME.log and is printed
# whole, stage by stage, when all have ended.
run_side_by_side() {  # stages
  local stage rc secs pids=()
  for stage in "$@"; do
    (
      t0=$SECONDS rc=0
      "stage_$stage" >"artifacts/test/stage-$stage.log" 2>&1 || rc=$?
      { echo "$rc $((SECONDS - t0))"; [ ${#details[@]} -eq 0 ] || printf '%s\n' "${details[@]}"; } \
        >"artifacts/test/stage-$stage.result"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  for stage in "$@"; do
    printf '\n\033[1m=== stage %s (ran beside: %s)\033[0m\n' "$stage" "$*"
    cat "artifacts/test/stage-$stage.log"
    { read -r rc secs; mapfile -t details; } <"artifacts/test/stage-$stage.result"
    record "$stage" "$rc" "$secs"
  done
}

light=" lint sanity unit pins venv "
group=()
run_group() {
  if [ ${#group[@]} -gt 1 ]; then run_side_by_side "${group[@]}"; elif [ ${#group[@]} -eq 1 ]; then run_stage "${group[0]}"; fi
  group=()
}
for stage in "${stages[@]}"; do
  if [[ $light == *" $stage "* ]]; then
    group+=("$stage")
  else
    run_group
    run_stage "$stage"
  fi
done
run_group
printf '\n%-12s %-7s %7s\n' stage result time
printf '%s\n' "${summary[@]}"
printf 'total        %13d s\n' "$SECONDS"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
