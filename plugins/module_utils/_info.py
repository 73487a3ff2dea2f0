# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``argocd app list/get/history`` show, read from the cluster alone.

Applications are found through their inventory parents (ConfigMaps labelled
``gitops.kubernetes/application``, see _inventory): by name, by owner, in
some namespaces or in the whole cluster. For each: the revision of its last
successful sync, the last sync (operation state), its sync history, the
resources of its inventory with their live health, and the deletion its
finalizer asks for. Without the desired state (the application spec) the
sync status is only what the cluster tells: OutOfSync when a resource is
missing, otherwise Unknown; gitops_info compares with the spec when it is
given (gitops_diff's comparison). Everything here only reads (GET and LIST).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import CompareError, KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import MISSING, assess, worst
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    APPLICATION_LABEL,
    ID_LABEL,
    OWNER_LABEL,
    PARENT_KIND,
    PARENT_PREFIX,
    PART_OF_LABEL,
    Inventory,
    application_applyset_id,
    application_label_value,
    parse_parent,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import deletion_cascade

OUT_OF_SYNC = "OutOfSync"
UNKNOWN = "Unknown"


def _selector(names: list[str] | None, owner: str | None) -> str:
    parts = [APPLICATION_LABEL]
    if names:
        parts = [f"{APPLICATION_LABEL} in ({','.join(sorted({application_label_value(n) for n in names}))})"]
    if owner:
        parts.append(f"{OWNER_LABEL}={owner}")
    return ",".join(parts)


def find_applications(client: KubeClient, *, names: list[str] | None = None, namespaces: list[str] | None = None,
                      owner: str | None = None) -> list[Inventory]:
    """The inventories of the applications found (sorted by name, namespace); only parents this collection wrote.

    Without namespaces one cluster-wide LIST; with them one LIST per namespace (what a namespaced ServiceAccount may
    do). A parent whose labels do not match its name (another ConfigMap of that name) is left out.
    """
    resource = client.resource_for("v1", PARENT_KIND)
    if resource is None:
        raise CompareError("the cluster does not serve v1 ConfigMap, where inventories are kept")
    selector = _selector(names, owner)
    try:
        if namespaces:
            parents = [p for found in client.map(lambda ns: client.list_objects(resource, ns, label_selector=selector),
                                                 sorted(set(namespaces))) for p in found]
        else:
            parents = client.list_objects(resource, None, label_selector=selector)
    except KubeApiError as exc:
        if exc.status == 403 and not namespaces:
            raise CompareError(f"listing inventories in every namespace is forbidden ({exc.message}); give the "
                               "namespaces to look in") from None
        raise
    found = []
    for parent in parents:
        metadata = parent.get("metadata") or {}
        parent_name, namespace = metadata.get("name") or "", metadata.get("namespace") or ""
        app_name = parent_name[len(PARENT_PREFIX):] if parent_name.startswith(PARENT_PREFIX) else ""
        if not app_name or (metadata.get("labels") or {}).get(ID_LABEL) != application_applyset_id(app_name, namespace):
            continue
        if names and app_name not in names:
            continue
        inventory = parse_parent(parent, app_name, namespace)
        if inventory.ours:
            found.append(inventory)
    return sorted(found, key=lambda inv: (inv.app_name, inv.namespace))


@dataclass
class ResourceInfo:
    """One inventory member as it is live."""

    ref: ObjectRef
    api_version: str = ""
    exists: bool = False
    owned: bool = False  # still carries this application's part-of label
    health: dict[str, str] = field(default_factory=dict)
    status: str = UNKNOWN  # Missing without a spec; the comparison's status with one

    def to_result(self) -> dict[str, Any]:
        entry: dict[str, Any] = {**self.ref.to_dict(), "status": self.status, "health": self.health,
                                 "exists": self.exists, "owned": self.owned}
        if self.api_version:
            entry["version"] = self.api_version.rpartition("/")[2]
        return entry


def live_resources(client: KubeClient, inventory: Inventory) -> list[ResourceInfo]:
    """The inventory's members with their live health (one GET each, in the client's pool)."""
    discovery = client.discovery()

    def read(ref: ObjectRef) -> ResourceInfo:
        info = ResourceInfo(ref)
        resource = discovery.preferred(ref.group, ref.kind)
        live = client.get(resource, ref.namespace or None, ref.name) if resource is not None else None
        if resource is not None:
            info.api_version = resource.api_version
        info.exists = live is not None
        info.owned = (((live or {}).get("metadata") or {}).get("labels") or {}).get(PART_OF_LABEL) == inventory.set_id
        info.health = assess(live).to_dict() if live is not None else {"status": MISSING, "message": ""}
        info.status = UNKNOWN if live is not None else "Missing"
        return info

    return client.map(read, sorted(inventory.members))


def application_info(inventory: Inventory, resources: list[ResourceInfo], *, history: bool = True,
                     with_resources: bool = True) -> dict[str, Any]:
    """One application's entry (pure): last synced revision, last sync, health, resources, history."""
    last = inventory.history[-1] if inventory.history else None
    missing = any(not r.exists for r in resources)
    entry: dict[str, Any] = {
        "name": inventory.app_name,
        "namespace": inventory.namespace,
        "revision": inventory.revision,
        "sync_status": OUT_OF_SYNC if missing else UNKNOWN,
        "health_status": worst(r.health.get("status", "") for r in resources),
        "last_sync": dict(last) if last else None,
        "source": inventory.source,
        "owner": inventory.owner,
        "finalizer": inventory.finalizer,
        "on_delete": deletion_cascade(inventory.finalizer),
        "resource_count": len(resources),
    }
    if with_resources:
        entry["resources"] = [r.to_result() for r in resources]
    if history:
        entry["history"] = [dict(h) for h in inventory.history]
    return entry
