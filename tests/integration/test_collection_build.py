"""The collection builds with ansible-galaxy, installs, and documents its modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_build_install_and_document_every_module(tmp_path: Path) -> None:
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO))
    tarball = tmp_path / "gitops-kubernetes-0.1.0.tar.gz"
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "plugins/modules/gitops_render.py" in names
    assert not [name for name in names if name.startswith((".tools", ".cluster", "tests/output", "hack/"))]

    installed = tmp_path / "collections"
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--force", "-p", str(installed), str(tarball))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(installed)}
    modules = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("gitops_*.py"))
    listing = json.loads(run(str(BIN / "ansible-doc"), "--list", "--json", "gitops.kubernetes", env=env).stdout)
    assert sorted(name.split(".")[-1] for name in listing) == modules
    for module in modules:
        doc = json.loads(run(str(BIN / "ansible-doc"), "--json", f"gitops.kubernetes.{module}", env=env).stdout)
        entry = doc[f"gitops.kubernetes.{module}"]
        assert entry["doc"]["short_description"] and entry["examples"] and entry["return"]
        # the shared options come from the collection's own doc fragments
        assert "application" in entry["doc"]["options"] or module not in ("gitops_render", "gitops_diff", "gitops_sync")
