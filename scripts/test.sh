#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then
# runs each stage, prints its wall time, and ends with a summary line.
#   scripts/test.sh                 every stage
#   scripts/test.sh lint unit       only the named stages
# Stages: setup lint sanity unit integration molecule
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-0} PY_COLORS=${PY_COLORS:-0}
mkdir -p artifacts/test
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(setup lint sanity unit integration molecule)
# Molecule scenarios: one, `default`, deploys site.yml whole (molecule/default/molecule.yml).
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

stage_unit() { stage_pytest unit tests/unit; }

stage_integration() { stage_pytest integration tests/integration; }

stage_molecule() {
  local rc=0 s
  for s in $scenarios; do
    [ -d "molecule/$s" ] || continue
    echo "--- molecule scenario $s"
    local t0=$SECONDS
    local r=ok log=artifacts/test/molecule-$s.log
    molecule test -s "$s" 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { rc=1; r=FAILED; }
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
for stage in "${stages[@]}"; do
  printf '\n\033[1m=== stage %s\033[0m\n' "$stage"
  t0=$SECONDS
  if "stage_$stage"; then
    result=ok passed=$((passed + 1))
  else
    result=FAILED failed=$((failed + 1))
  fi
  summary+=("$(printf '%-12s %-7s %5d s' "$stage" "$result" $((SECONDS - t0)))")
  # Per-scenario lines go under their stage, so a CI log's tail names the culprit.
  [ ${#details[@]} -gt 0 ] && summary+=("${details[@]}")
  details=()
done
printf '\n%-12s %-7s %7s\n' stage result time
printf '%s\n' "${summary[@]}"
printf 'total        %13d s\n' "$SECONDS"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
