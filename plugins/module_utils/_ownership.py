# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who owns a live object, and how an object passes between applications without being deleted.

Every object an application applies carries its ApplySet part-of label, and
an application only ever prunes objects that still carry its own label. When
Git moves an object from application A to application B:

- in one module run (the role syncs all applications of a cluster in one
  task), B takes the object over (its apply relabels it) and A drops it from
  its inventory instead of pruning it, whichever of the two runs first;
- in separate runs, B's sync refuses the object while A owns it and marks it
  claimed (annotation ``gitops.kubernetes/claimed-by``: B's ApplySet id);
  A's next sync, whose render no longer has it, hands it over (relabels it
  for B, drops it from A's inventory, deletes nothing) and B's next sync
  takes it. A sync of A before B's claim prunes it, as Git says.

While both applications want the object it is a conflict: B fails naming it
and A keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import is_hook_manifest
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient

CLAIM_ANNOTATION = "gitops.kubernetes/claimed-by"


def owner_of(live: dict[str, Any] | None) -> str:
    """The ApplySet id a live object belongs to ('' when it carries no part-of label)."""
    return (((live or {}).get("metadata") or {}).get("labels") or {}).get(PART_OF_LABEL) or ""


def claimant_of(live: dict[str, Any] | None) -> str:
    """The ApplySet id of the application that claimed a live object ('' when none did)."""
    return (((live or {}).get("metadata") or {}).get("annotations") or {}).get(CLAIM_ANNOTATION) or ""


def desired_refs(client: "KubeClient", objects: Iterable[DesiredObject], namespace: str) -> set[ObjectRef]:
    """The refs an application's rendered objects will have (namespaced kinds defaulted to namespace; hooks left out)."""
    refs: set[ObjectRef] = set()
    for obj in objects:
        manifest = obj.manifest
        if not isinstance(manifest, dict) or is_hook_manifest(manifest):
            continue
        metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
        resource = client.resource_for(obj.api_version, obj.kind) if obj.api_version and obj.kind else None
        if resource is None or not metadata.get("name"):
            continue  # compare reports these; they cannot move between applications
        ns = (metadata.get("namespace") or namespace) if resource.namespaced else ""
        refs.add(ObjectRef(resource.group, obj.kind, ns, metadata["name"]))
    return refs


@dataclass
class RunOwnership:
    """The applications of one module run (by ApplySet id) and the objects each of them wants."""

    names: dict[str, str] = field(default_factory=dict)  # set id -> application name
    wanted_by: dict[ObjectRef, set[str]] = field(default_factory=dict)  # ref -> set ids of applications wanting it

    def add(self, set_id: str, name: str, refs: Iterable[ObjectRef]) -> None:
        """Record one application of the run and the objects it wants."""
        self.names[set_id] = name
        for ref in refs:
            self.wanted_by.setdefault(ref, set()).add(set_id)

    def in_run(self, set_id: str) -> bool:
        return set_id in self.names

    def others_wanting(self, ref: ObjectRef, set_id: str) -> list[str]:
        """Names of the other applications of the run that want ref."""
        return sorted(self.names[other] for other in self.wanted_by.get(ref, set()) if other != set_id)


def claim(client: "KubeClient", resource: "ApiResource", live: dict[str, Any], set_id: str) -> None:
    """Mark a live object owned by another application as wanted by set_id (only this annotation changes)."""
    metadata = live.get("metadata") or {}
    patch = {"metadata": {"resourceVersion": metadata.get("resourceVersion"), "annotations": {CLAIM_ANNOTATION: set_id}}}
    client.request("PATCH", resource.path(metadata.get("namespace") if resource.namespaced else None, metadata.get("name") or ""),
                   body=patch, content_type="application/merge-patch+json", what=f"claim {ObjectRef.from_manifest(live)}")


def hand_over(client: "KubeClient", resource: "ApiResource", live: dict[str, Any], new_owner: str) -> None:
    """Relabel a live object for the application that claimed it (and drop the claim); fails with 409 if it changed
    since it was read, so an object edited meanwhile is never handed over blindly."""
    metadata = live.get("metadata") or {}
    patch = {"metadata": {"resourceVersion": metadata.get("resourceVersion"), "labels": {PART_OF_LABEL: new_owner},
                          "annotations": {CLAIM_ANNOTATION: None}}}
    client.request("PATCH", resource.path(metadata.get("namespace") if resource.namespaced else None, metadata.get("name") or ""),
                   body=patch, content_type="application/merge-patch+json",
                   what=f"hand over {ObjectRef.from_manifest(live)}")
