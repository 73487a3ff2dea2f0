#!/usr/bin/env bash
# Creates the project's virtualenv once, outside the clone, keyed by the
# requirement files and the Python version, and links it as .venv.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${GITOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-kubernetes}
python=${PYTHON:-python3}
py_version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
key=$(cat "$repo/requirements.txt" "$repo/test-requirements.txt" <(echo "$py_version") | sha256sum | cut -c1-16)
venv="$cache/venv/$key"
if [ ! -f "$venv/.complete" ]; then
  echo "venv.sh: creating $venv (first run only)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/test-requirements.txt"
  touch "$venv/.complete"
fi
ln -sfn "$venv" "$repo/.venv"
echo "$repo/.venv"
