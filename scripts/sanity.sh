#!/usr/bin/env bash
# ansible-test sanity on the collection. ansible-test needs the checkout at
# .../ansible_collections/realtime_asr/whisperlive: copy the files git tracks
# (and new ones it does not ignore) into a temporary tree of that shape.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH=$root/.venv/bin:$PATH
work=$(mktemp -d /tmp/rasr-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/realtime_asr/whisperlive
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard \
  | grep -zv '^collections/' \
  | xargs -0 -I{} cp --parents -P {} "$dest"/ 2>/dev/null || true

# ansible-test bootstraps pip in its virtual environments with get-pip.py from
# a host that may be unreachable (it is on our CI machines); seed its cache
# with an equivalent that uses the interpreter's own ensurepip.
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
for f in get_pip_24_2.py get_pip_24_0.py get_pip_23_1_2.py; do
  cat >"$cache/$f" <<'PY'
"""Stand-in for get-pip.py: bootstrap pip from ensurepip, then run pip install."""
import os
import subprocess
import sys

os.environ.pop("PIP_CONFIG_FILE", None)
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if not a.startswith("--no-")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
done

# Collections the plugins build on (amazon.aws's doc fragments and
# module_utils for module ec2_placement_info) sit beside it, as installed.
for dep in amazon/aws; do
  src=$(python3 -c 'import sys, ansible_collections, os; print(os.path.join(list(ansible_collections.__path__)[-1], sys.argv[1]))' "$dep")
  mkdir -p "$work/ansible_collections/$(dirname "$dep")"
  ln -s "$src" "$work/ansible_collections/$dep"
done

cd "$dest"
ansible-test sanity --venv --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" "$@"
