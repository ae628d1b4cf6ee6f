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
# Molecule scenarios, in dependency order; `stack` deploys site.yml whole.
scenarios=${MOLECULE_SCENARIOS:-"harness whisperlive edge stack"}

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

stage_unit() { pytest -q tests/unit --junitxml=artifacts/test/unit.xml; }

stage_integration() { pytest -q tests/integration --junitxml=artifacts/test/integration.xml; }

stage_molecule() {
  local rc=0 s
  for s in $scenarios; do
    [ -d "molecule/$s" ] || continue
    echo "--- molecule scenario $s"
    local t0=$SECONDS
    molecule test -s "$s" || rc=1
    echo "--- molecule scenario $s: $((SECONDS - t0)) s"
  done
  return $rc
}

declare -a summary
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
done
printf '\n%-12s %-7s %7s\n' stage result time
printf '%s\n' "${summary[@]}"
printf 'total        %13d s\n' "$SECONDS"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
