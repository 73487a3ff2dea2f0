# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applications an ApplicationSet generated before and no longer does (its directory removed, a cluster gone).

They are found by their inventory parents, which gitops_sync labels with the
ApplicationSet and the cluster they were generated for (parent_labels). Argo CD
deletes such an Application, and with it its resources unless the set says
syncPolicy.preserveResourcesOnDeletion: here the objects of its inventory are
pruned (deleted) and the inventory removed; preserved, only the inventory is
removed and the objects stay, no longer tracked. applicationsSync create-update
keeps them altogether, as Argo CD does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import APPLICATIONSET_CLUSTER_LABEL, APPLICATIONSET_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    PARENT_PREFIX,
    application_label_value,
)


def parent_labels(raw: Any) -> dict[str, str]:
    """The labels an application's inventory parent carries for its ApplicationSet (none for other applications)."""
    if not isinstance(raw, dict) or raw.get("kind") != "Application":
        return {}
    labels = (raw.get("metadata") or {}).get("labels") or {}
    return {key: application_label_value(str(labels[key])) for key in (APPLICATIONSET_LABEL, APPLICATIONSET_CLUSTER_LABEL)
            if labels.get(key)}


@dataclass
class Disappeared:
    name: str
    namespace: str
    applicationset: str
    preserve: bool  # keep the objects, forget the inventory


def find_disappeared(client: Any, applicationsets: dict[str, dict[str, Any]], cluster: str | None) -> list[Disappeared]:
    """Inventories labelled with one of these ApplicationSets (and this cluster) whose application it no longer
    generates here; sets whose applicationsSync keeps removed applications are skipped."""
    found: list[Disappeared] = []
    resource = client.resource_for("v1", "ConfigMap")
    if resource is None:
        return found
    for name, generated in sorted(applicationsets.items()):
        if generated["applications_sync"] not in ("create-delete", "sync"):
            continue
        selector = f"{APPLICATIONSET_LABEL}={application_label_value(name)}"
        selector += f",{APPLICATIONSET_CLUSTER_LABEL}={application_label_value(cluster)}" if cluster else \
            f",!{APPLICATIONSET_CLUSTER_LABEL}"
        current = set(generated["generated"])
        for parent in client.list_objects(resource, None, label_selector=selector):
            metadata = parent.get("metadata") or {}
            app_name = str(metadata.get("name") or "")[len(PARENT_PREFIX):]
            if app_name and app_name not in current:
                found.append(Disappeared(app_name, str(metadata.get("namespace") or ""), name,
                                         bool(generated["preserve_resources_on_deletion"])))
    return sorted(found, key=lambda one: (one.applicationset, one.name, one.namespace))


def remove_disappeared(client: Any, found: list[Disappeared], settings: Any) -> list[dict[str, Any]]:
    """Delete what each disappeared application left (or only its inventory when preserved); one entry each.

    Deleting is pruning every member of the inventory (the prune stage's own
    order, guards and propagation), then removing the parent. In check mode
    nothing is written and the entries say what would go.
    """
    from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
    from ansible_collections.gitops.kubernetes.plugins.module_utils._record import delete_parent
    from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import sync_application

    entries = []
    for one in found:
        entry: dict[str, Any] = {"name": one.name, "namespace": one.namespace, "applicationset": one.applicationset,
                                 "resources": "preserved" if one.preserve else "deleted", "changed": True}
        try:
            if not one.preserve:
                pruned = sync_application(client, one.name, [], namespace=one.namespace,
                                          policy=SyncPolicy(prune=True, allow_empty=True), settings=settings)
                entry["pruned"] = [str(r.ref) for r in pruned.resources]
            if not settings.check_mode:
                resource = client.resource_for("v1", "ConfigMap")
                parent = client.get(resource, one.namespace, f"{PARENT_PREFIX}{one.name}") if resource else None
                if parent is not None:
                    delete_parent(client, one.name, one.namespace, (parent.get("metadata") or {}).get("uid"))
        except GitopsError as exc:
            entry.update({"error": str(exc), "changed": False})
        entries.append(entry)
    return entries
