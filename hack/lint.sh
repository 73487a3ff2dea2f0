#!/usr/bin/env bash
# ansible-lint (production profile) over the collection, and a byte-compile of
# every Python file so a syntax error fails fast, before the slower tests.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# the playbooks use this collection by its name: make it resolvable from the checkout
mkdir -p .tools/collections/ansible_collections/gitops
ln -sfn "$repo" .tools/collections/ansible_collections/gitops/kubernetes
export ANSIBLE_COLLECTIONS_PATH="$repo/.tools/collections"
# ansible-lint expects its own virtualenv first on PATH
venv_bin="$(readlink -f "$repo/.venv")/bin"
export PATH="$venv_bin:$PATH"
"$repo/.venv/bin/python" -m compileall -q plugins tests hack benchmarks >/dev/null
"$repo/.venv/bin/ansible-lint" --nocolor
