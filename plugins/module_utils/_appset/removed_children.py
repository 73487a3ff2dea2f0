# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""App of apps children a parent no longer renders, pruned as Argo CD's parent prunes a child Application.

The record: every sync of a child writes on its inventory parent the name of
the application that rendered it (CHILD_OF_LABEL, with CHILD_CLUSTER_LABEL,
since two inventory hosts may share one API server, and CHILD_PRUNE_LABEL,
the child Application's own Prune= sync option); a parent that rendered
children is marked HAS_CHILDREN_LABEL. A later run whose parent synced
looks the labelled inventories up (one LIST, only when an app of apps is in
play) and finds the children it renders no more.

As in Argo CD, the parent prunes such a child only when it prunes: its sync
ran (not skipped by a window, not a manual application in a scheduled run),
its sync policy prunes, and neither the child's Prune=false (or an
unconfirmed Prune=confirm; the parent is confirmed, as for its other
objects) nor the parent's syncOptions keep it. Pruning the child is deleting
it through _delete.delete_application with cascade ``finalizer``, the path
the role's gitops_owner uses: with the resources finalizer recorded at its
last sync its objects go wave by wave (Delete=false kept, Delete=confirm
waiting for the child's confirmation); without it they stay and only its
inventory goes. A child left in place is reported and keeps its parent
OutOfSync (Argo CD: an Application that requires pruning). Children of an
ApplicationSet the run still evaluates are that set's (_appset.disappeared).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import APPLICATIONSET_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    CHILD_CLUSTER_LABEL,
    CHILD_OF_LABEL,
    CHILD_PRUNE_LABEL,
    HAS_CHILDREN_LABEL,
    PARENT_PREFIX,
    application_label_value,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import parse_sync_options
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy

PRUNED = "pruned"
PRUNE_SKIPPED = "prune skipped"


def prune_option(manifest: Any) -> str:
    """The child Application's own Prune= sync option ('' when it has none); SpecError when malformed."""
    if not isinstance(manifest, dict):
        return ""
    return str(dict(parse_sync_options(manifest).raw).get("Prune") or "").lower()


def child_labels(parent: str, cluster: str | None, manifest: Any) -> dict[str, str]:
    """The labels a child's inventory parent carries: who rendered it, for which cluster, its Prune= option."""
    labels = {CHILD_OF_LABEL: application_label_value(parent)}
    if cluster:
        labels[CHILD_CLUSTER_LABEL] = application_label_value(cluster)
    option = prune_option(manifest)
    if option in ("false", "confirm"):
        labels[CHILD_PRUNE_LABEL] = option
    return labels


PARENT_LABELS = {HAS_CHILDREN_LABEL: "true"}


@dataclass
class ParentSync:
    """What one parent's sync in this run decides for the children it no longer renders."""

    name: str
    policy: SyncPolicy
    children: list[str]  # rendered in this run
    own_objects: int  # its objects other than children
    skipped: str = ""  # why its sync wrote nothing (a sync window, a manual application, no self-heal)


@dataclass
class RemovedChild:
    name: str
    namespace: str
    parent: str
    prune_option: str = ""  # the child Application's Prune= at its last sync ('' none, false, confirm)


def prune_verdict(parent: ParentSync, child: RemovedChild, manual: bool, confirmed: bool) -> str:
    """'' when the parent prunes the child in this run, else why the child stays (reported, nothing deleted)."""
    option = child.prune_option or parent.policy.object_prune
    if parent.skipped:
        return f"not pruned: the sync of {parent.name} wrote nothing ({parent.skipped})"
    if not parent.policy.automated and not manual:
        return (f"not pruned: {parent.name} is a manual application (no automated sync policy); select it by name "
                f"(gitops_only) to sync and prune it")
    if option == "false":
        return ("not pruned: annotated argocd.argoproj.io/sync-options: Prune=false" if child.prune_option else
                f"not pruned: the syncOptions Prune=false of {parent.name}")
    if option == "confirm" and not confirmed:
        return f"not pruned: Prune=confirm needs a confirmation: run again with {parent.name} in confirm (gitops_confirm)"
    if not parent.policy.prune:
        return f"not pruned: pruning is off for {parent.name} (syncPolicy.automated.prune)"
    if not parent.children and not parent.own_objects and not parent.policy.allow_empty:
        return f"not pruned: {parent.name} rendered nothing, and pruning everything it owns needs allowEmpty"
    return ""


def find_removed_children(client: Any, parents: list[ParentSync], in_run: set[str], cluster: str | None,
                          applicationsets: set[str]) -> list[RemovedChild]:
    """Inventories recorded as children of one of these parents (on this cluster) whose application is no longer
    an application of this run; those of an ApplicationSet the run evaluated are left to that set."""
    resource = client.resource_for("v1", "ConfigMap")
    if resource is None or not parents:
        return []
    by_label = {application_label_value(parent.name): parent.name for parent in parents}
    sets = {application_label_value(name) for name in applicationsets}
    selector = CHILD_OF_LABEL + (f",{CHILD_CLUSTER_LABEL}={application_label_value(cluster)}" if cluster
                                 else f",!{CHILD_CLUSTER_LABEL}")
    found = []
    for item in client.list_objects(resource, None, label_selector=selector):
        metadata = item.get("metadata") or {}
        labels = metadata.get("labels") or {}
        parent = by_label.get(str(labels.get(CHILD_OF_LABEL) or ""))
        name = str(metadata.get("name") or "")[len(PARENT_PREFIX):]
        if parent is None or not name or name in in_run or labels.get(APPLICATIONSET_LABEL) in sets:
            continue
        found.append(RemovedChild(name, str(metadata.get("namespace") or ""), parent, str(labels.get(CHILD_PRUNE_LABEL) or "")))
    return sorted(found, key=lambda child: (child.parent, child.name, child.namespace))


def searched(parents: list[ParentSync], recorded: list[dict[str, str]]) -> bool:
    """Whether this run can have removed children: an app of apps in it now, a parent marked at its last sync, or
    a parent that renders nothing at all and may prune everything (allowEmpty)."""
    return any(parent.children or (not parent.own_objects and parent.policy.allow_empty) for parent in parents) or \
        any(labels.get(HAS_CHILDREN_LABEL) for labels in recorded)


def remove_children(client: Any, parents: list[ParentSync], found: list[RemovedChild], *, manual: bool,
                    confirmed: set[str], check_mode: bool, wait_timeout: float) -> list[dict[str, Any]]:
    """One entry per removed child: pruned (deleted as its finalizer says; in check mode what would go), or left in
    place with the reason."""
    from ansible_collections.gitops.kubernetes.plugins.module_utils._delete import (
        FINALIZER,
        DeletionSettings,
        DeletionTarget,
        delete_application,
    )

    by_name = {parent.name: parent for parent in parents}
    entries = []
    for child in found:
        entry: dict[str, Any] = {"name": child.name, "namespace": child.namespace, "parent": child.parent}
        reason = prune_verdict(by_name[child.parent], child, manual, child.parent in confirmed)
        if reason:
            entries.append({**entry, "action": PRUNE_SKIPPED, "changed": False, "message": reason})
            continue
        settings = DeletionSettings(cascade=FINALIZER, confirm=child.name in confirmed, check_mode=check_mode,
                                    wait_timeout=wait_timeout)
        try:
            deleted = delete_application(client, DeletionTarget(child.name, child.namespace), settings).to_result()
        except GitopsError as exc:
            partial = getattr(exc, "result", None)
            deleted = {**(partial.to_result() if partial is not None else {"changed": False}), "error": str(exc)}
        entry.update({key: deleted[key] for key in ("cascade", "changed", "counts", "resources", "message", "error")
                      if key in deleted})
        entries.append({**entry, "action": PRUNED})
    return entries


def prune_removed_children(client: Any, inputs: list[Any], states: list[Any], outcomes: list[Any], *, cluster: str | None,
                           applicationsets: set[str], manual: bool, confirmed: set[str], check_mode: bool,
                           wait_timeout: float) -> dict[str, list[dict[str, Any]]]:
    """The removed children of every parent whose render and sync succeeded in this run, by parent name.

    inputs are the run's ApplicationInputs, states their DesiredStates (or errors), outcomes their SyncResults
    (or errors); a parent that failed prunes nothing, as a failed sync prunes nothing.
    """
    children: dict[str, list[str]] = {}
    for one in inputs:
        if one.parent:
            children.setdefault(one.parent, []).append(one.name)
    parents, recorded = [], []
    for one, state, outcome in zip(inputs, states, outcomes):
        if isinstance(state, GitopsError) or isinstance(outcome, GitopsError):
            continue
        skipped = getattr(outcome, "sync_skipped", "") or getattr(outcome, "skipped", "")
        parents.append(ParentSync(one.name, one.sync_policy, children.get(one.name, []), len(state.objects), skipped))
        recorded.append(getattr(outcome, "recorded_labels", None) or {})
    if not searched(parents, recorded):
        return {}
    found = find_removed_children(client, parents, {one.name for one in inputs}, cluster, applicationsets)
    removed: dict[str, list[dict[str, Any]]] = {}
    for entry in remove_children(client, parents, found, manual=manual, confirmed=confirmed, check_mode=check_mode,
                                 wait_timeout=wait_timeout):
        removed.setdefault(entry["parent"], []).append(entry)
    return removed
