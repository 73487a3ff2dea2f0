# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting an application, as Argo CD deletes an Application.

With a cascade (Argo CD's ``resources-finalizer.argocd.argoproj.io``, or its
``/background`` form) the application's resources are deleted wave by wave,
highest ``argocd.argoproj.io/sync-wave`` first, each wave gone before the
next starts (Argo CD's controller does the same), then its inventory parent
and with it the sync history. Without a cascade (``orphan``, Argo CD's
deletion without the finalizer) the objects stay and only the inventory
goes.

What is deleted is the application's inventory (and the parents it left in
other namespaces), never a label scan, and only objects that still carry
this application's ApplySet part-of label. Kept, as Argo CD keeps them:
objects annotated ``argocd.argoproj.io/sync-options: Delete=false``,
``helm.sh/resource-policy: keep``, and CustomResourceDefinitions (deleting
one deletes every custom resource of its kind). ``Delete=confirm`` objects
need the run's confirmation; without it nothing at all is deleted (Argo CD
holds the whole deletion until it is confirmed). Hook Jobs and Pods that
earlier syncs left (labelled ``gitops.kubernetes/hook-of``) go with a
cascade, as Argo CD deletes them; hook objects of other kinds stay.

An object left in place loses this application's part-of label (and a
claim on it): Argo CD leaves its tracking label, which nothing else reads,
while here the label would make every other application refuse the object
as owned by an application that no longer exists. Without it any
application (this one re-created, too) can take the object over.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, KubeApiError, SpecError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._hooks import HOOK_OF_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    PART_OF_LABEL,
    Inventory,
    find_previous_inventories,
    read_inventory,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import CLAIM_ANNOTATION, owner_of
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import SYNC_OPTIONS_ANNOTATION, kind_rank, sync_wave
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import SyncLease, delete_parent
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import deletion_cascade, parse_application

# the name becomes the inventory ConfigMap's name (as in _inputs)
APPLICATION_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

FOREGROUND = "foreground"
BACKGROUND = "background"
ORPHAN = "orphan"
FINALIZER = "finalizer"  # as the application's Argo CD finalizer says (from its spec, else recorded at its last sync)
CASCADES = (FOREGROUND, BACKGROUND, ORPHAN, FINALIZER)
HELM_RESOURCE_POLICY = "helm.sh/resource-policy"
# the kinds of hook objects a deletion looks for (what hooks are in practice); hooks of other kinds stay
HOOK_KINDS = (("batch", "Job"), ("", "Pod"))

# what happens to one object of a deleted application
DELETED = "deleted"
ORPHANED = "orphaned"  # left in place, no longer this application's
KEPT = "kept"  # left in place, untouched: not ours any more
GONE = "gone"  # already absent from the cluster

SUCCEEDED = "Succeeded"
FAILED = "Failed"
PLANNED = "Planned"
NOT_RUN = "NotRun"
POLL_MAX = 2.0


@dataclass
class DeletionSettings:
    """How to delete: cascade (foreground, background, orphan), confirmation, time bounds, check mode."""

    cascade: str = FOREGROUND
    confirm: bool = False
    check_mode: bool = False
    wait_timeout: float = 300.0
    poll_interval: float = 0.5


@dataclass
class DeletionTarget:
    """An application to delete: its name and namespace, and its finalizer when its spec was given."""

    name: str
    namespace: str | None
    from_spec: bool = False
    finalizer: str | None = None  # meaningful only from a spec: None there means "no finalizer"


def deletion_targets(raws: list[Any]) -> list[DeletionTarget]:
    """Targets from application specs, or from dicts with just name and destination.namespace (or manifests)."""
    targets = []
    for index, raw in enumerate(raws):
        if not isinstance(raw, dict):
            raise SpecError(f"applications[{index}] must be a mapping, got {type(raw).__name__}")
        is_spec = "source" in raw or "apiVersion" in raw or "kind" in raw
        if is_spec:
            app = parse_application(raw)
            targets.append(DeletionTarget(app.name, app.destination.namespace or None, True, app.finalizer))
            continue
        unknown = sorted(set(raw) - {"name", "destination", "manifests", "revision", "sync_policy", "ignore_differences"})
        if unknown:
            raise SpecError(f"applications[{index}]: unknown key(s) {', '.join(unknown)} (to delete an application give "
                            "its spec, or its name and destination.namespace)")
        name = raw.get("name")
        if not isinstance(name, str) or not APPLICATION_NAME.match(name):
            raise SpecError(f"applications[{index}]: name {name!r} is not a valid application name")
        destination = raw.get("destination") or {}
        if not isinstance(destination, dict):
            raise SpecError(f"applications[{index}].destination must be a mapping", application=name)
        targets.append(DeletionTarget(name, destination.get("namespace") or None))
    return targets


@dataclass
class DeletedObject:
    """One inventory member of a deleted application and what happens to it."""

    ref: ObjectRef
    set_id: str  # the inventory that lists it
    live: dict[str, Any] | None = None
    resource: ApiResource | None = None
    wave: int = 0
    action: str = GONE
    result: str = NOT_RUN
    message: str = ""
    hook: bool = False  # a hook object an earlier sync left (found by its hook-of label, not in the inventory)

    @property
    def uid(self) -> str | None:
        return ((self.live or {}).get("metadata") or {}).get("uid")

    def to_result(self) -> dict[str, Any]:
        entry: dict[str, Any] = {**self.ref.to_dict(), "wave": self.wave, "action": self.action, "result": self.result}
        if self.message:
            entry["message"] = self.message
        return entry


@dataclass
class DeletionResult:
    """The outcome of deleting one application."""

    name: str
    namespace: str
    cascade: str
    check_mode: bool = False
    resources: list[DeletedObject] = field(default_factory=list)
    inventory_found: bool = False
    changed: bool = False
    failed: bool = False
    message: str = ""

    @property
    def counts(self) -> dict[str, int]:
        counts = {DELETED: 0, ORPHANED: 0, KEPT: 0, GONE: 0, "failed": 0}
        for entry in self.resources:
            counts[entry.action] += 1
            counts["failed"] += entry.result == FAILED
        return counts

    def to_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name, "namespace": self.namespace, "state": "absent", "cascade": self.cascade,
            "changed": self.changed, "inventory_found": self.inventory_found, "counts": self.counts,
            "resources": [entry.to_result() for entry in self.resources],
            # what is left of the application is no longer compared with anything
            "sync_status": "Unknown" if self.failed else "Synced",
        }
        if self.message:
            result["message"] = self.message
        return result


class DeletionFailure(SyncError):
    """The deletion started and stopped; `result` says what was done. The inventory stays: a retry resumes."""

    def __init__(self, message: str, result: DeletionResult, **kwargs: Any) -> None:
        self.result = result
        super().__init__(message, **kwargs)


def _annotations(live: dict[str, Any] | None) -> dict[str, str]:
    return ((live or {}).get("metadata") or {}).get("annotations") or {}


def delete_option(live: dict[str, Any] | None) -> str:
    """The Delete= value of the object's sync-options ('' when absent), read leniently from the live object."""
    for item in str(_annotations(live).get(SYNC_OPTIONS_ANNOTATION) or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip() == "Delete":
            return value.strip().lower()
    return ""


def live_wave(live: dict[str, Any] | None) -> int:
    """The object's sync wave as recorded on it; a malformed one counts as 0, as in Argo CD."""
    try:
        return sync_wave(live or {})
    except SpecError:
        return 0


def decide(entry: DeletedObject, cascade: str) -> None:
    """What happens to one member (pure): deleted, left in place (orphaned), kept (not ours) or already gone."""
    live = entry.live
    if live is None:
        entry.action, entry.message = GONE, "already gone"
        return
    if entry.hook:
        hook_of = (((live.get("metadata") or {}).get("labels") or {}).get(HOOK_OF_LABEL)) or ""
        entry.wave = live_wave(live)
        entry.action, entry.message = (DELETED, "a hook left by an earlier sync") if hook_of == entry.set_id and \
            cascade in (FOREGROUND, BACKGROUND) else (KEPT, "not deleted: not a hook of this application")
        return
    if owner_of(live) != entry.set_id:
        entry.action = KEPT
        entry.message = ("not deleted: it now belongs to ApplySet " + owner_of(live)) if owner_of(live) else \
            "not deleted: it no longer carries this application's applyset.kubernetes.io/part-of label"
        return
    entry.wave = live_wave(live)
    entry.action = ORPHANED
    option = delete_option(live)
    if cascade == ORPHAN:
        entry.message = "left in place: the application is deleted without cascade (no resources finalizer)"
    elif entry.ref.kind == "CustomResourceDefinition" and entry.ref.group == "apiextensions.k8s.io":
        entry.message = "left in place: a CustomResourceDefinition is never deleted with an application (Argo CD's rule)"
    elif _annotations(live).get(HELM_RESOURCE_POLICY) == "keep":
        entry.message = f"left in place: annotated {HELM_RESOURCE_POLICY}: keep"
    elif option == "false":
        entry.message = f"left in place: annotated {SYNC_OPTIONS_ANNOTATION}: Delete=false"
    else:
        entry.action = DELETED
        entry.message = "deleted after confirmation (Delete=confirm)" if option == "confirm" else ""


def needs_confirmation(entries: list[DeletedObject]) -> list[DeletedObject]:
    """The objects to delete that are annotated Delete=confirm."""
    return [e for e in entries if e.action == DELETED and delete_option(e.live) == "confirm"]


def waves_to_delete(entries: list[DeletedObject]) -> list[list[list[DeletedObject]]]:
    """Objects to delete by wave, highest first; inside a wave by kind rank, reverse apply order (workloads before
    the configuration and namespaces they use)."""
    waves: dict[int, dict[int, list[DeletedObject]]] = {}
    for entry in entries:
        if entry.action == DELETED:
            waves.setdefault(entry.wave, {}).setdefault(kind_rank(entry.ref.kind), []).append(entry)
    return [[sorted(ranks[rank], key=lambda e: e.ref) for rank in sorted(ranks, reverse=True)]
            for _wave, ranks in sorted(waves.items(), reverse=True)]


class _Deletion:
    """One application's deletion: read, decide, then (not in check mode) delete under the Lease."""

    def __init__(self, client: KubeClient, target: DeletionTarget, settings: DeletionSettings) -> None:
        self.client = client
        self.target = target
        self.name = target.name
        self.namespace = target.namespace or client.default_namespace
        self.settings = settings
        self.cascade = settings.cascade
        self.result = DeletionResult(self.name, self.namespace, settings.cascade, check_mode=settings.check_mode)
        self.lease: SyncLease | None = None

    def _fail(self, message: str) -> None:
        self.result.failed = True
        self.result.message = message
        raise DeletionFailure(message, self.result, application=self.name)

    def read(self) -> list[Inventory]:
        inventory = read_inventory(self.client, self.name, self.namespace)
        if not inventory.exists:
            return []
        problem = inventory.tool_problem()
        if problem:
            raise SyncError("nothing was deleted: " + problem, application=self.name)
        return [inventory] + find_previous_inventories(self.client, inventory, inventory.source)

    def members(self, inventories: list[Inventory]) -> list[DeletedObject]:
        discovery = self.client.discovery()
        entries = [DeletedObject(ref, inv.set_id, resource=discovery.preferred(ref.group, ref.kind))
                   for inv in inventories for ref in sorted(inv.members)]

        def fetch(entry: DeletedObject) -> None:
            if entry.resource is not None:  # a kind no longer served has no objects left
                entry.live = self.client.get(entry.resource, entry.ref.namespace or None, entry.ref.name)
            decide(entry, self.cascade)

        self.client.map(fetch, entries)
        if self.cascade in (FOREGROUND, BACKGROUND):
            entries += self.hooks(inventories, entries)
        return entries

    def hooks(self, inventories: list[Inventory], members: list[DeletedObject]) -> list[DeletedObject]:
        """Hook Jobs and Pods that earlier syncs left (BeforeHookCreation keeps the last run), by their hook-of label
        in the application's namespaces: Argo CD deletes them with the application."""
        discovery = self.client.discovery()
        namespaces = sorted({inv.namespace for inv in inventories} | {e.ref.namespace for e in members if e.ref.namespace})
        jobs = [(resource, namespace, inventory.set_id) for group, kind in HOOK_KINDS
                for resource in [discovery.preferred(group, kind)] if resource is not None
                for namespace in namespaces for inventory in inventories]
        found = self.client.map(lambda job: (job, self.client.list_objects(
            job[0], job[1], label_selector=f"{HOOK_OF_LABEL}={job[2]}")), jobs)
        hooks = []
        for (resource, _namespace, set_id), items in found:
            for item in items:
                entry = DeletedObject(ObjectRef.from_manifest(item), set_id, live=item, resource=resource, hook=True)
                decide(entry, self.cascade)
                hooks.append(entry)
        return hooks

    def _guard(self, before: str) -> None:
        if self.lease is not None:
            self.lease.check(before)

    def _delete_one(self, entry: DeletedObject) -> None:
        if entry.resource is None:  # objects without a served resource are never chosen for deletion
            return
        propagation = "Background" if self.cascade == BACKGROUND else "Foreground"
        try:
            self.client.delete(entry.resource, entry.ref.namespace or None, entry.ref.name, propagation_policy=propagation,
                               uid=entry.uid)
        except KubeApiError as exc:
            if exc.status == 409 and entry.uid:
                entry.action, entry.result = KEPT, SUCCEEDED
                entry.message = "not deleted: the name now holds another object than the one read"
                return
            entry.result, entry.message = FAILED, f"could not be deleted: {exc.message}"

    def _still_there(self, entry: DeletedObject) -> bool:
        if entry.resource is None:
            return False
        live = self.client.get(entry.resource, entry.ref.namespace or None, entry.ref.name)
        return live is not None and (live.get("metadata") or {}).get("uid") == entry.uid

    def _wait_gone(self, entries: list[DeletedObject], wave: int) -> None:
        """Until every object of the wave is gone (foreground: with its dependents), bounded by wait_timeout."""
        deadline = time.monotonic() + self.settings.wait_timeout
        delay = self.settings.poll_interval
        pending = [e for e in entries if e.result != FAILED and e.action == DELETED]
        while True:
            pending = [e for e, there in zip(pending, self.client.map(self._still_there, pending)) if there]
            if not pending:
                return
            if time.monotonic() >= deadline:
                for entry in pending:
                    entry.result, entry.message = FAILED, f"still being deleted after {self.settings.wait_timeout:.0f}s"
                self._fail(f"wave {wave}: not deleted after {self.settings.wait_timeout:.0f}s (finalizers or "
                           f"dependents?): " + ", ".join(str(e.ref) for e in pending[:10]) +
                           "; the inventory is kept, deleting the application again resumes")
            time.sleep(delay)
            delay = min(POLL_MAX, delay * 1.5)

    def _orphan(self, entry: DeletedObject) -> None:
        if entry.resource is None or entry.live is None:
            return
        metadata = entry.live.get("metadata") or {}
        patch: dict[str, Any] = {"metadata": {"resourceVersion": metadata.get("resourceVersion"),
                                              "labels": {PART_OF_LABEL: None}}}
        if CLAIM_ANNOTATION in _annotations(entry.live):
            patch["metadata"]["annotations"] = {CLAIM_ANNOTATION: None}
        try:
            self.client.request("PATCH", entry.resource.path(entry.ref.namespace or None, entry.ref.name), body=patch,
                                content_type="application/merge-patch+json", not_found_ok=True,
                                what=f"release {entry.ref} from application {self.name}")
            entry.result = SUCCEEDED
        except KubeApiError as exc:
            entry.result = FAILED
            entry.message += f"; its part-of label could not be removed: {exc.message}"

    def run(self) -> DeletionResult:
        inventories = self.read()
        self.result.inventory_found = bool(inventories)
        if not inventories:
            self.result.message = "nothing to delete: the application has no inventory in this namespace"
            return self.result
        if self.cascade == FINALIZER:
            self.cascade = deletion_cascade(self.target.finalizer if self.target.from_spec else inventories[0].finalizer)
            self.result.cascade = self.cascade
        entries = self.members(inventories)
        self.result.resources = sorted(entries, key=lambda e: (-e.wave, -kind_rank(e.ref.kind), e.ref))
        waiting = needs_confirmation(entries)
        if waiting and not self.settings.confirm:
            raise SyncError(
                "nothing was deleted: deleting " + ", ".join(str(e.ref) for e in waiting[:10]) +
                f" needs confirmation ({SYNC_OPTIONS_ANNOTATION}: Delete=confirm); run again with confirm "
                "(gitops_confirm for the role) to delete the application", application=self.name)
        self.result.changed = True
        if self.settings.check_mode:
            for entry in entries:
                entry.result = PLANNED if entry.action in (DELETED, ORPHANED) else SUCCEEDED
            return self.result
        with SyncLease(self.client, self.name, self.namespace, wait_timeout=self.settings.wait_timeout) as lease:
            self.lease = lease
            for entry in entries:
                if entry.action in (KEPT, GONE):
                    entry.result = SUCCEEDED
            for groups in waves_to_delete(entries):
                wave = groups[0][0].wave
                for group in groups:
                    self._guard(f"wave {wave} of the deletion ({len(group)} object(s) from {group[0].ref})")
                    self.client.map(self._delete_one, group)
                failed = [e for group in groups for e in group if e.result == FAILED]
                if failed:
                    self._fail(f"wave {wave}: " + "; ".join(f"{e.ref} {e.message}" for e in failed[:10]) +
                               "; the inventory is kept, deleting the application again resumes")
                self._wait_gone([e for group in groups for e in group], wave)
                if any(e.ref == ObjectRef("", "Namespace", "", self.namespace) for group in groups for e in group):
                    self.lease = None  # the Lease went with the namespace, and so did every writer of this application
                for group in groups:
                    for entry in group:
                        entry.result = SUCCEEDED if entry.result == NOT_RUN else entry.result
            orphans = [e for e in entries if e.action == ORPHANED]
            if orphans:
                self._guard(f"releasing {len(orphans)} object(s) left in place")
                self.client.map(self._orphan, orphans)
            failed = [e for e in orphans if e.result == FAILED]
            if failed:
                self._fail("; ".join(f"{e.ref}{e.message}" for e in failed[:10]) +
                           "; the inventory is kept, deleting the application again resumes")
            self._guard("the deletion of the inventory and the sync history")
            for inventory in reversed(inventories):  # the application's own parent last: it names the others
                try:
                    delete_parent(self.client, self.name, inventory.namespace,
                                  ((inventory.parent or {}).get("metadata") or {}).get("uid"))
                except KubeApiError as exc:
                    if exc.status != 409:  # 409: recreated meanwhile by a new sync of the application
                        self._fail(f"could not delete the inventory in namespace {inventory.namespace}: {exc.message}")
        return self.result


def delete_application(client: KubeClient, target: DeletionTarget, settings: DeletionSettings) -> DeletionResult:
    """Delete one application (see the module docstring); in check mode, say what would happen.

    Raises GitopsError (nothing deleted) when the deletion cannot start (Delete=confirm without confirmation,
    another tool's inventory) and DeletionFailure (with the partial result) when it started and stopped.
    """
    if settings.cascade not in CASCADES:
        raise SyncError(f"cascade {settings.cascade!r} must be one of {', '.join(CASCADES)}", application=target.name)
    try:
        return _Deletion(client, target, settings).run()
    except DeletionFailure:
        raise
    except GitopsError as exc:
        raise exc.with_application(target.name)
