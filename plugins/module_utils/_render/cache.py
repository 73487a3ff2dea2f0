# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendered objects cached on disk by everything a render depends on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import tool_stamp
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import Submodule
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, SourceSpec

# bump when the cached payload or anything a renderer does changes shape
# (2: checkouts hold submodules, so renders cached without them are stale)
CACHE_FORMAT = 2


def render_cache_key(app: Application, sha: str, source: SourceSpec | None = None,
                     ref_revisions: dict[str, str] | None = None) -> str:
    """Digest of everything a render of one source depends on: commit, path, render options, tool binaries,
    and the commits of the ref sources whose files it reads ($ref/... value files)."""
    source = source or app.source
    material = {
        "format": CACHE_FORMAT,
        "commit": sha,
        "path": source.path,
        "renderer": source.renderer,
        "directory": dataclasses.asdict(source.directory) if source.directory else None,
        "kustomize": dataclasses.asdict(source.kustomize) if source.kustomize else None,
        "helm": _helm_material(source),
        # the application name is helm's default release name, the namespace its --namespace
        "name": app.name,
        "namespace": app.destination.namespace,
        "tools": {name: tool_stamp(name) for name in ("helm", "kustomize")},
    }
    if ref_revisions:
        material["refs"] = ref_revisions
    if source.directory and (source.directory.jsonnet.tlas or source.directory.jsonnet.ext_vars):
        # Jsonnet variables may name Argo CD's build environment ($ARGOCD_APP_SOURCE_REPO_URL, ...)
        material["source"] = [strip_url_credentials(source.repo_url), source.revision]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _helm_material(source: SourceSpec) -> dict[str, Any] | None:
    """The helm options a render depends on; lookup is left out, since a render with lookup is never cached
    (and leaving it out keeps the keys of renders cached before it existed)."""
    if not source.helm:
        return None
    material = dataclasses.asdict(source.helm)
    material.pop("lookup", None)
    return material


class RenderCache:
    """Rendered objects on disk, one JSON file per key (private to the user: it can hold Secrets)."""

    def __init__(self, cache_dir: str) -> None:
        self.directory = Path(os.path.expanduser(cache_dir)) / "render"

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def load(self, key: str) -> tuple[str, list[DesiredObject], list[Submodule]] | None:
        """(renderer, objects, the submodules the render used) or None."""
        path = self._path(key)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            objects = [DesiredObject(manifest=item["manifest"], source_file=item["file"], source_line=item["line"])
                       for item in payload["objects"]]
            submodules = [Submodule(**item) for item in payload["submodules"]]
            _touch(path)  # last used: cache eviction removes the least recently used renders first
            return payload["renderer"], objects, submodules
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: render again

    def store(self, key: str, renderer: str, objects: list[DesiredObject], submodules: list[Submodule] | None = None) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.directory, 0o700)
            # the submodules, so that a policy can vet their repositories when the render is reused
            payload = {"renderer": renderer, "submodules": [item.to_dict() for item in submodules or []], "objects": [
                {"manifest": obj.manifest, "file": obj.source_file, "line": obj.source_line} for obj in objects]}
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError:
            return  # a cache that cannot be written only costs the next render its speed
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(payload, stream, separators=(",", ":"))
            os.replace(temp, path)  # atomic: a reader sees the old file or the whole new one
        except (OSError, TypeError, ValueError):
            Path(temp).unlink(missing_ok=True)


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass  # removed meanwhile, or a read-only cache: only the order of eviction suffers
