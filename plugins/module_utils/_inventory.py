# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The application's inventory: an ApplySet (KEP-3659) parent per application.

The parent of application NAME is the ConfigMap ``applyset-NAME`` in the
application's destination namespace (KEP-3659 allows ConfigMap and Secret
parents; a ConfigMap needs no CRD and its contents are not secret).
It carries what the KEP specifies, so ``kubectl apply --prune --applyset``
can read it:

- label ``applyset.kubernetes.io/id`` = ``applyset-`` + base64url(sha256(
  "<name>.<namespace>.ConfigMap."), no padding) + ``-v1``;
- annotations ``applyset.kubernetes.io/tooling`` (``gitops.kubernetes/<version>``),
  ``applyset.kubernetes.io/contains-group-kinds`` (``Kind.group`` list) and
  ``applyset.kubernetes.io/additional-namespaces`` (members' namespaces other
  than the parent's);
- members labelled ``applyset.kubernetes.io/part-of=<id>``.

Beyond the KEP, ``data["inventory"]`` holds the exact member list (group,
kind, namespace, name) and the recent sync history as JSON, so prune never
depends on a bare label scan. gitops_sync writes the parent (build_parent
renders it); gitops_diff only reads it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import CompareError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
    from ansible_collections.gitops.kubernetes.plugins.module_utils._live import LiveReads

TOOLING = "gitops.kubernetes/0.1.0"
PARENT_KIND = "ConfigMap"
PARENT_GROUP = ""
PARENT_PREFIX = "applyset-"
ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
INVENTORY_KEY = "inventory"
INVENTORY_FORMAT = 1


def parent_name(app_name: str) -> str:
    """Name of the parent ConfigMap of an application."""
    return f"{PARENT_PREFIX}{app_name}"


def applyset_id(name: str, namespace: str, kind: str = PARENT_KIND, group: str = PARENT_GROUP) -> str:
    """The KEP-3659 ApplySet id of a parent object (the same value kubectl computes)."""
    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode("utf-8")).digest()
    return "applyset-" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=") + "-v1"


def application_applyset_id(app_name: str, namespace: str) -> str:
    """The ApplySet id of application app_name whose parent lives in namespace."""
    return applyset_id(parent_name(app_name), namespace)


def part_of_selector(set_id: str) -> str:
    """Label selector matching the members of an ApplySet."""
    return f"{PART_OF_LABEL}={set_id}"


def group_kind(ref: ObjectRef) -> str:
    """'Deployment.apps' / 'Service' as the KEP writes group-kinds."""
    return ref.group_kind


def parse_group_kind(text: str) -> tuple[str, str]:
    """'Deployment.apps' -> ('apps', 'Deployment'); 'Service' -> ('', 'Service')."""
    kind, dot, group = text.partition(".")
    return (group if dot else ""), kind


@dataclass
class Inventory:
    """What the application owned after its last sync."""

    app_name: str
    namespace: str
    set_id: str
    members: set[ObjectRef] = field(default_factory=set)
    history: list[dict[str, Any]] = field(default_factory=list)
    revision: str | None = None
    parent: dict[str, Any] | None = None

    @property
    def exists(self) -> bool:
        """True when the parent object is in the cluster."""
        return self.parent is not None

    @property
    def group_kinds(self) -> set[tuple[str, str]]:
        return {(ref.group, ref.kind) for ref in self.members}


def _ref_from_json(entry: Any, app_name: str) -> ObjectRef:
    if not isinstance(entry, dict) or not entry.get("kind") or not entry.get("name"):
        raise CompareError(f"inventory entry {entry!r} needs kind and name", application=app_name)
    return ObjectRef(entry.get("group") or "", entry["kind"], entry.get("namespace") or "", entry["name"])


def parse_parent(parent: dict[str, Any], app_name: str, namespace: str) -> Inventory:
    """The Inventory stored in a parent ConfigMap (members from data['inventory'])."""
    set_id = application_applyset_id(app_name, namespace)
    labels = (parent.get("metadata") or {}).get("labels") or {}
    if labels.get(ID_LABEL) != set_id:
        raise CompareError(
            f"ConfigMap {namespace}/{parent_name(app_name)} is not this application's ApplySet parent "
            f"(label {ID_LABEL} is {labels.get(ID_LABEL)!r}, expected {set_id!r}); rename one of them",
            application=app_name,
        )
    inventory = Inventory(app_name, namespace, set_id, parent=parent)
    raw = (parent.get("data") or {}).get(INVENTORY_KEY)
    if raw is None:
        return inventory
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise CompareError(
            f"ConfigMap {namespace}/{parent_name(app_name)} data.{INVENTORY_KEY} is not JSON: {exc}",
            application=app_name,
        ) from None
    inventory.members = {_ref_from_json(entry, app_name) for entry in document.get("members") or []}
    inventory.history = [h for h in document.get("history") or [] if isinstance(h, dict)]
    inventory.revision = document.get("revision")
    return inventory


def read_inventory(client: "KubeClient", app_name: str, namespace: str, reads: "LiveReads | None" = None) -> Inventory:
    """The application's inventory from its parent ConfigMap (empty if none exists yet).

    reads: where the parent comes from (a batch's shared LIST); by default a GET.

    A parent written by another ApplySet tool (for example kubectl, which
    keeps no member list) has its members found the KEP way: LIST of every
    contains-group-kinds kind in the parent's and additional namespaces by
    the part-of label.
    """
    resource = client.resource_for("v1", PARENT_KIND)
    if resource is None:
        raise CompareError("the cluster does not serve v1 ConfigMap", application=app_name)
    name = parent_name(app_name)
    parent = reads.parent(resource, namespace, name) if reads is not None else client.get(resource, namespace, name)
    if parent is None:
        return Inventory(app_name, namespace, application_applyset_id(app_name, namespace))
    inventory = parse_parent(parent, app_name, namespace)
    if (parent.get("data") or {}).get(INVENTORY_KEY) is None:
        inventory.members = _members_by_label(client, inventory)
    return inventory


def _members_by_label(client: "KubeClient", inventory: Inventory) -> set[ObjectRef]:
    annotations = (inventory.parent or {}).get("metadata", {}).get("annotations") or {}
    kinds = [parse_group_kind(t.strip()) for t in (annotations.get(GROUP_KINDS_ANNOTATION) or "").split(",") if t.strip()]
    namespaces = [inventory.namespace] + [
        ns.strip() for ns in (annotations.get(NAMESPACES_ANNOTATION) or "").split(",") if ns.strip()
    ]
    discovery = client.discovery()
    jobs = []
    for group, kind in kinds:
        resource = discovery.preferred(group, kind)
        if resource is None:
            continue  # the kind is gone from the cluster, and so are its objects
        for ns in namespaces if resource.namespaced else [None]:
            jobs.append((resource, ns))
    selector = part_of_selector(inventory.set_id)
    found: set[ObjectRef] = set()
    for items in client.map(lambda job: client.list_objects(job[0], job[1], label_selector=selector), jobs):
        found.update(ObjectRef.from_manifest(item) for item in items)
    return found


def build_parent(
    app_name: str,
    namespace: str,
    members: Iterable[ObjectRef],
    *,
    revision: str | None = None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The parent ConfigMap manifest recording members (for gitops_sync to apply)."""
    refs = sorted(set(members))
    set_id = application_applyset_id(app_name, namespace)
    extra_namespaces = sorted({ref.namespace for ref in refs if ref.namespace and ref.namespace != namespace})
    document = {
        "format": INVENTORY_FORMAT,
        "revision": revision,
        "members": [ref.to_dict() for ref in refs],
        "history": history or [],
    }
    return {
        "apiVersion": "v1",
        "kind": PARENT_KIND,
        "metadata": {
            "name": parent_name(app_name),
            "namespace": namespace,
            "labels": {ID_LABEL: set_id},
            "annotations": {
                TOOLING_ANNOTATION: TOOLING,
                GROUP_KINDS_ANNOTATION: ",".join(sorted({group_kind(ref) for ref in refs})),
                NAMESPACES_ANNOTATION: ",".join(extra_namespaces),
            },
        },
        "data": {INVENTORY_KEY: json.dumps(document, sort_keys=True, separators=(",", ":"))},
    }
