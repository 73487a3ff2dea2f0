#!/usr/bin/env bash
# Creates the benchmark's virtualenv once, outside the clone, keyed by
# benchmarks/requirements-peers.txt and the Python version, and prints its path.
# It holds the peers (the ansible package with kubernetes.core) and matplotlib,
# never the project's own virtualenv.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${GITOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-kubernetes}
python=${PYTHON:-python3}
py_version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
key=$(cat "$here/requirements-peers.txt" <(echo "$py_version") | sha256sum | cut -c1-16)
venv="$cache/bench-venv/$key"
if [ ! -f "$venv/.complete" ]; then
  echo "benchmarks/venv.sh: creating $venv (first run only)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-peers.txt"
  touch "$venv/.complete"
fi
echo "$venv"
