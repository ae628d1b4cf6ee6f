#!/usr/bin/env bash
# One-command setup of a fresh Debian/Ubuntu control node for the local
# deployment and the tests. Idempotent: fast when everything is in place.
#   scripts/setup.sh          control node (.venv with requirements/control.txt)
#   scripts/setup.sh --test   also the test tools (requirements/test.txt)
# Needs root (or sudo) for apt and the Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[ "${1:-}" = "--test" ] && want_test=true
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Host packages: the Docker engine and debootstrap for the local hosts;
# espeak-ng and sox make test speech; chromium is the test browser.
# The tests add chromium (the real browser), openssl (test certificates),
# nftables and the OpenSSH client (the AWS twin's security groups and SSH) and
# Node.js (the page's JavaScript unit tests) where no node is on PATH yet.
packages=(docker.io debootstrap espeak-ng sox make)
$want_test && packages+=(chromium openssl nftables openssh-client)
$want_test && ! command -v node >/dev/null && packages+=(nodejs)
# A venv needs ensurepip, which Debian and Ubuntu ship apart (python3-venv).
python=${PYTHON:-python3}
"$python" -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Docker engine: start it if it does not answer (no systemd as PID 1 on
# some CI machines and containers, so fall back to running dockerd directly).
if ! $SUDO docker info >/dev/null 2>&1; then
  log "starting the Docker engine"
  if [ "$(ps -o comm= -p 1)" = "systemd" ]; then
    $SUDO systemctl start docker
  else
    $SUDO sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do
    $SUDO docker info >/dev/null 2>&1 && break
    sleep 1
  done
  $SUDO docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi

# The control node's Python environment.
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "Python 3.11 or newer is needed on the control node ($python is $("$python" -V 2>&1))" >&2
  exit 1
}
req=requirements/control.txt
$want_test && req=requirements/test.txt
hash=$(cat requirements/*.txt | sha256sum | cut -c1-16)
stamp=.venv/.installed-$(basename "$req" .txt)-$hash
# The test set includes the control set.
if [ ! -f "$stamp" ] && [ ! -f ".venv/.installed-test-$hash" ]; then
  log "python: installing $req into .venv"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q -r "$req"
  touch "$stamp"
fi
log "control node ready: $(.venv/bin/ansible --version | head -1), Docker $($SUDO docker version -f '{{.Server.Version}}')"
