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

Beyond the KEP, the parent says which application it belongs to, so that
two applications never share (and prune) one inventory and a moved
application still finds what it left behind:

- label ``gitops.kubernetes/application`` (the name, or a digest of a name
  longer than a label value may be) finds an application's parents in every
  namespace, for example after its destination namespace changed;
- annotation ``gitops.kubernetes/source`` records where the application comes
  from (repository URL and path; none for rendered manifests); another
  source claiming the parent is a clash, not a takeover;
- ``data["inventory"]`` may list ``previous_namespaces``: parents the
  application left behind when its destination changed and that still hold
  members it did not prune;
- label ``gitops.kubernetes/owner`` names the set of applications (a role
  run's ``gitops_owner``) that manages it, so an application removed from
  that set is found in the cluster and deleted;
- annotation ``gitops.kubernetes/finalizer`` records the Argo CD deletion
  finalizer the application carried at its last sync (foreground or
  background cascade), since the application is gone from the list when it
  is deleted;
- labels ``gitops.kubernetes/app-of-apps-parent`` (with
  ``gitops.kubernetes/app-of-apps-cluster`` and the child Application's own
  ``Prune=`` sync option in ``gitops.kubernetes/app-of-apps-prune``) name the
  application whose render listed this one (app of apps), and
  ``gitops.kubernetes/app-of-apps`` marks a parent that rendered children at
  its last sync, so a child a parent no longer renders is found and pruned;
- ``data["application"]`` (field manager ``gitops.kubernetes-applicationset``,
  see _appset.created): the generated Application of an ApplicationSet with
  applicationsSync create-only or create-delete, as it was created.

Beyond the KEP, ``data["inventory"]`` holds the exact member list (group,
kind, namespace, name) and the recent sync history as JSON, so prune never
depends on a bare label scan. gitops_sync writes the parent (build_parent
renders it); gitops_diff only reads it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import CompareError, KubeApiError
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
APPLICATION_LABEL = "gitops.kubernetes/application"
OWNER_LABEL = "gitops.kubernetes/owner"
FINALIZER_ANNOTATION = "gitops.kubernetes/finalizer"
SOURCE_ANNOTATION = "gitops.kubernetes/source"
# app of apps (see _appset.removed_children): the child's record of its parent, the parent's mark
CHILD_OF_LABEL = "gitops.kubernetes/app-of-apps-parent"
CHILD_CLUSTER_LABEL = "gitops.kubernetes/app-of-apps-cluster"
CHILD_PRUNE_LABEL = "gitops.kubernetes/app-of-apps-prune"
HAS_CHILDREN_LABEL = "gitops.kubernetes/app-of-apps"
# rewritten at every sync: one the run no longer gives is removed from the parent
APP_OF_APPS_LABELS = (CHILD_OF_LABEL, CHILD_CLUSTER_LABEL, CHILD_PRUNE_LABEL, HAS_CHILDREN_LABEL)
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
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


def application_label_value(app_name: str) -> str:
    """The value of the parent's application label: the name, or a digest when the name is no valid label value."""
    if LABEL_VALUE.match(app_name):
        return app_name
    return "sha256-" + hashlib.sha256(app_name.encode("utf-8")).hexdigest()[:52]


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
    source: str | None = None  # where the application that wrote the parent comes from, if recorded
    previous_namespaces: list[str] = field(default_factory=list)
    # the last sync attempted: what was synced (digest of revision and spec) and how it ended, whatever the history keeps
    last_sync: dict[str, Any] | None = None
    owner: str | None = None  # the set of applications (gitops_owner) that manages it, if recorded
    finalizer: str | None = None  # the Argo CD deletion finalizer recorded at the last sync, if any

    @property
    def exists(self) -> bool:
        """True when the parent object is in the cluster."""
        return self.parent is not None

    @property
    def tooling(self) -> str:
        """The ApplySet tooling annotation of the parent ('' when absent)."""
        return ((self.parent or {}).get("metadata") or {}).get("annotations", {}).get(TOOLING_ANNOTATION) or ""

    @property
    def ours(self) -> bool:
        """Whether this collection wrote the parent (KEP-3659: a tool leaves another tool's ApplySet alone)."""
        return not self.exists or self.tooling.split("/", 1)[0] == TOOLING.split("/", 1)[0]

    def tool_problem(self) -> str:
        """Why a sync may not write this parent ('' when it may): KEP-3659 tools leave each other's ApplySets alone."""
        if self.ours:
            return ""
        return (f"ConfigMap {self.namespace}/{parent_name(self.app_name)} is an ApplySet of another tool "
                f"({TOOLING_ANNOTATION}: {self.tooling}); this collection does not take it over: rename the application "
                "or remove that ApplySet")

    def source_problem(self, source: str | None) -> str:
        """Why an application from source is not the one this parent belongs to ('' when it is, or cannot tell)."""
        where = f"ConfigMap {self.namespace}/{parent_name(self.app_name)}"
        if source and self.source and source != self.source:
            return (f"{where} belongs to another application named {self.app_name} (source {self.source}, this one "
                    f"comes from {source}); two applications of one name in one namespace would prune each other's "
                    f"objects. Rename one of them; if this application really moved to the new source, remove "
                    f"the parent's {SOURCE_ANNOTATION} annotation and sync again")
        return ""

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
    annotations = (parent.get("metadata") or {}).get("annotations") or {}
    inventory = Inventory(app_name, namespace, set_id, parent=parent, source=annotations.get(SOURCE_ANNOTATION) or None,
                          owner=labels.get(OWNER_LABEL) or None, finalizer=annotations.get(FINALIZER_ANNOTATION) or None)
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
    inventory.previous_namespaces = [ns for ns in document.get("previous_namespaces") or [] if isinstance(ns, str) and ns]
    inventory.last_sync = document.get("last_sync") if isinstance(document.get("last_sync"), dict) else None
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


def find_previous_inventories(client: "KubeClient", current: Inventory, source: str | None) -> list[Inventory]:
    """The parents this application left in other namespaces when its destination changed.

    Only a parent recorded with the same source is the same application (a
    same-named application from elsewhere is another one, left alone), and
    an application without a source (rendered manifests) has no identity
    beyond its name and namespace. The parent lists the namespaces it left
    objects in; a new parent (first sync in this namespace) looks for them
    with one cluster-wide LIST by the application label, skipped without the
    right to list ConfigMaps everywhere.
    """
    if not source:
        return []
    resource = client.resource_for("v1", PARENT_KIND)
    if resource is None:
        return []
    name = parent_name(current.app_name)
    if current.exists:
        parents = [p for p in client.map(lambda ns: client.get(resource, ns, name), current.previous_namespaces) if p]
    else:
        try:
            parents = client.list_objects(resource, None, label_selector=f"{APPLICATION_LABEL}={application_label_value(current.app_name)}")
        except KubeApiError as exc:
            if exc.status == 403:
                return []
            raise
    found: list[Inventory] = []
    for parent in parents:
        metadata = parent.get("metadata") or {}
        namespace = metadata.get("namespace") or ""
        labels = metadata.get("labels") or {}
        if namespace == current.namespace or metadata.get("name") != name or \
                labels.get(ID_LABEL) != application_applyset_id(current.app_name, namespace):
            continue
        previous = parse_parent(parent, current.app_name, namespace)
        if previous.ours and previous.source == source:
            found.append(previous)
    return sorted(found, key=lambda inv: inv.namespace)


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
    source: str | None = None,
    previous_namespaces: Iterable[str] = (),
    last_sync: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    owner: str | None = None,
    finalizer: str | None = None,
) -> dict[str, Any]:
    """The parent ConfigMap manifest recording members (for gitops_sync to apply).

    labels: more labels for the parent (which ApplicationSet generated the application); the ApplySet ones win.

    source: where the application comes from (recorded so another application of the same name is recognised);
    previous_namespaces: namespaces whose parents of this application still hold members;
    last_sync: the last sync attempted (digest, revision, result), kept even when the history keeps nothing.
    owner: the set of applications managing it (label); finalizer: its Argo CD deletion finalizer (annotation).
    """
    refs = sorted(set(members))
    set_id = application_applyset_id(app_name, namespace)
    extra_namespaces = sorted({ref.namespace for ref in refs if ref.namespace and ref.namespace != namespace})
    document = {
        "format": INVENTORY_FORMAT,
        "revision": revision,
        "members": [ref.to_dict() for ref in refs],
        "history": history or [],
    }
    previous = sorted(set(previous_namespaces) - {namespace})
    if previous:
        document["previous_namespaces"] = previous
    if last_sync:
        document["last_sync"] = last_sync
    annotations = {
        TOOLING_ANNOTATION: TOOLING,
        GROUP_KINDS_ANNOTATION: ",".join(sorted({group_kind(ref) for ref in refs})),
        NAMESPACES_ANNOTATION: ",".join(extra_namespaces),
    }
    if source:
        annotations[SOURCE_ANNOTATION] = source
    if finalizer:
        annotations[FINALIZER_ANNOTATION] = finalizer
    parent_labels = {**(labels or {}), ID_LABEL: set_id, APPLICATION_LABEL: application_label_value(app_name)}
    if owner:
        parent_labels[OWNER_LABEL] = owner
    return {
        "apiVersion": "v1",
        "kind": PARENT_KIND,
        "metadata": {
            "name": parent_name(app_name),
            "namespace": namespace,
            "labels": parent_labels,
            "annotations": annotations,
        },
        "data": {INVENTORY_KEY: json.dumps(document, sort_keys=True, separators=(",", ":"))},
    }
