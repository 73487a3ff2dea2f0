#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/gitops/
# kubernetes; it runs on a copy of the files git knows (tracked or new, not
# ignored), with its own virtualenvs (kept in ~/.ansible/test between runs).
# examples/repo/ is left out: it is the content of the demo's Git repository
# (Helm templates and multi-document manifests), not collection content, and
# galaxy.yml leaves it out of the built collection for the same reason.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tree="$repo/tests/output/sanity/ansible_collections/gitops/kubernetes"
rm -rf "$repo/tests/output/sanity" && mkdir -p "$tree"
cd "$repo"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  case "$file" in examples/repo/*) continue ;; esac
  if [ -e "$file" ]; then cp --parents -P "$file" "$tree/"; fi
done
cd "$tree"
# a git repository lets ansible-test list files exactly as above
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
# ansible-test bootstraps pip in its virtualenvs with a get-pip.py it downloads
# from a host outside the package registries; this stand-in installs the
# interpreter's bundled pip and then the requested pip from the package index.
pip_version=$(grep -o "pip='[0-9.]*'" "$repo"/.venv/lib/python*/site-packages/ansible_test/_internal/python_requirements.py | head -1 | grep -o "[0-9.]*[0-9]")
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! grep -q "gitops.kubernetes" "$get_pip" 2>/dev/null || ! grep -q PIP_CONFIG_FILE "$get_pip"; then
  mkdir -p "$(dirname "$get_pip")"
  cat > "$get_pip" <<'PY'
"""Stand-in for get-pip.py written by gitops.kubernetes hack/sanity.sh."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap()
# ensurepip points PIP_CONFIG_FILE at /dev/null; the real install needs the pip config
os.environ.pop("PIP_CONFIG_FILE", None)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
PY
fi
python_version=$("$repo/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec "$repo/.venv/bin/ansible-test" sanity --venv --requirements --python "$python_version" --color no "$@"
