# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shapes every stage passes on: object identities and desired objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def split_api_version(api_version: str) -> tuple[str, str]:
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    group, version = api_version.rpartition("/")[::2]
    return group, version


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identity of a Kubernetes object, independent of its API version.

    `namespace` is '' for cluster-scoped objects (and for namespaced objects
    before namespace defaulting has run).
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> "ObjectRef":
        group = split_api_version(manifest.get("apiVersion") or "")[0]
        metadata = manifest.get("metadata") or {}
        return cls(group, manifest.get("kind") or "", metadata.get("namespace") or "", metadata.get("name") or "")

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.group_kind} {where}{self.name}"

    def to_dict(self) -> dict[str, str]:
        return {"group": self.group, "kind": self.kind, "namespace": self.namespace, "name": self.name}

    def identity(self, api_version: str) -> dict[str, str]:
        """How module results name an object: group, version, kind, namespace, name."""
        return {"group": self.group, "version": split_api_version(api_version)[1], "kind": self.kind,
                "namespace": self.namespace, "name": self.name}


@dataclass
class DesiredObject:
    """One rendered object and the repository-relative file it came from."""

    manifest: dict[str, Any]
    source_file: str = ""
    # position of the YAML document inside source_file (1-based line), if known
    source_line: int | None = None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.from_manifest(self.manifest)

    @property
    def api_version(self) -> str:
        return self.manifest.get("apiVersion") or ""

    @property
    def kind(self) -> str:
        return self.manifest.get("kind") or ""

    @property
    def annotations(self) -> dict[str, str]:
        return (self.manifest.get("metadata") or {}).get("annotations") or {}

    def location(self) -> str:
        """'path/file.yaml:12' for error messages."""
        if not self.source_file:
            return ""
        return f"{self.source_file}:{self.source_line}" if self.source_line else self.source_file
