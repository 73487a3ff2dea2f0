"""execution-environment.yml: `ansible-builder create` turns it into a build context that installs
requirements.txt, bindep.txt (git) and the helm, kustomize and gitops-gotemplate binaries copied from the build context."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from role_helpers import REPO

BUILDER_TIMEOUT = 300


def test_ansible_builder_create_makes_a_complete_build_context(tmp_path):
    # a copy of what the definition reads, laid out as in the checkout, with the binaries the README says to copy
    project = tmp_path / "project"
    (project / ".tools" / "ee").mkdir(parents=True)
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(REPO / name, project / name)
    for tool in ("helm", "kustomize", "gitops-gotemplate"):
        found = shutil.which(tool)
        assert found, f"{tool} is not on PATH (make tools builds it)"
        shutil.copy(found, project / ".tools" / "ee" / tool)  # follows the .tools/bin symlink
    definition = yaml.safe_load((project / "execution-environment.yml").read_text())
    assert definition["version"] == 3

    context = tmp_path / "context"
    builder = Path(sys.executable).parent / "ansible-builder"
    proc = subprocess.run([str(builder), "create", "-f", "execution-environment.yml", "-c", str(context), "-v", "3"],
                          cwd=project, capture_output=True, text=True, timeout=BUILDER_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No matches" not in proc.stdout + proc.stderr and "does not exist" not in proc.stdout + proc.stderr

    containerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert "COPY _build/requirements.txt requirements.txt" in containerfile
    assert "COPY _build/bindep.txt bindep.txt" in containerfile
    assert "COPY _build/bin/helm _build/bin/kustomize _build/bin/gitops-gotemplate /usr/local/bin/" in containerfile
    assert "RUN helm version --short && kustomize version" in containerfile
    build = context / "_build"
    assert (build / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    assert "git [platform:dpkg platform:rpm]" in (build / "bindep.txt").read_text()
    for tool in ("helm", "kustomize", "gitops-gotemplate"):
        binary = build / "bin" / tool
        # real executables in the context (a symlink would point outside it and break the image build)
        assert binary.is_file() and not binary.is_symlink() and os.access(binary, os.X_OK)
    version = subprocess.run([str(build / "bin" / "helm"), "version", "--short"], capture_output=True, text=True,
                             timeout=60, check=True)
    assert version.stdout.startswith("v3.")
