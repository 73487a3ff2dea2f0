# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""applicationsSync create-only and create-delete: an application is created as first generated, never updated.

Argo CD's ApplicationSet controller creates such an Application the first time
it is generated and never modifies it afterwards: a later change of the
template or of the generator's parameters does not reach it, and Argo CD keeps
syncing it as it was created. Here there is no Application object, so the
generated Application manifest is recorded, the first time the application's
inventory parent exists after a sync, in that parent's data["application"]
(written by a field manager of its own, so the sync's own writes of the parent
keep it, and removed with the parent). Later runs sync the recorded
application instead of the newly generated one and report where the generated
one differs (paths only, never values). A manifest whose URLs carry
credentials is refused rather than recorded. The parent is labelled
gitops.kubernetes/applicationset-created (by the same field manager), so the
records are found with one LIST by label; once the set allows updates again
(create-update, sync), its records are removed, as Argo CD then updates the
Application to what is generated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import APPLICATIONSET_CLUSTER_LABEL, APPLICATIONSET_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    PARENT_PREFIX,
    application_label_value,
    parent_name,
)

# the policies whose generated applications are never updated (Argo CD's ApplicationsSyncPolicy.AllowUpdate false)
KEEPS_CREATED = ("create-only", "create-delete")
RECORD_KEY = "application"
RECORD_FIELD_MANAGER = "gitops.kubernetes-applicationset"
RECORD_LABEL = "gitops.kubernetes/applicationset-created"
# user:password@, or any userinfo of an http(s) URL (a token alone is a credential); ssh://git@host is not one
_URL_SECRET = re.compile(r"(?i)\b(?:https?://[^/@\s]+@|[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@)")
DIFFERENCES_SHOWN = 20


@dataclass
class KeptApplication:
    """A generated application of a set that never updates its applications, as this run treats it."""

    applicationset: str
    applications_sync: str
    recorded: dict[str, Any] | None = None  # the application as created, None when this run creates it
    differences: list[str] = field(default_factory=list)  # paths where the generated application differs

    def to_result(self) -> dict[str, Any]:
        return {"applicationset": self.applicationset, "applications_sync": self.applications_sync,
                "created_now": self.recorded is None, "generated_differs": bool(self.differences),
                "differences": list(self.differences)}

    def warning(self, name: str) -> str | None:
        if not self.differences:
            return None
        return (f"application {name}: ApplicationSet {self.applicationset} has applicationsSync {self.applications_sync}: "
                f"the generated application differs from the one created ({', '.join(self.differences)}) and was not applied")


def differing_paths(recorded: Any, generated: Any, prefix: str = "") -> list[str]:
    """Dotted paths (lists compared whole) where two Application manifests differ; values never shown."""
    if isinstance(recorded, dict) and isinstance(generated, dict):
        found: list[str] = []
        for key in sorted(set(recorded) | set(generated), key=str):
            found += differing_paths(recorded.get(key), generated.get(key), f"{prefix}.{key}" if prefix else str(key))
        return found
    return [] if recorded == generated else [prefix or "(whole)"]


def _credentials_in(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_credentials_in(item) for item in value.values())
    if isinstance(value, list):
        return any(_credentials_in(item) for item in value)
    return isinstance(value, str) and bool(_URL_SECRET.search(value))


def record_text(manifest: dict[str, Any], name: str, applicationset: str) -> str:
    """The JSON recorded on the inventory parent; SpecError when the manifest carries URL credentials."""
    if _credentials_in(manifest):
        raise SpecError(f"ApplicationSet {applicationset} has applicationsSync create-only or create-delete: the "
                        f"application is recorded in its inventory ConfigMap, and its manifest has a URL with "
                        f"credentials; give them in repositories instead", application=name)
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"))


def _recorded_parents(client: Any, applicationsets: list[str], cluster: str | None) -> dict[str, list[dict[str, Any]]]:
    """The inventory parents, in any namespace, that hold a record of one of these sets (and this cluster), by set
    name: one LIST for them all."""
    resource = client.resource_for("v1", "ConfigMap")
    wanted = {application_label_value(name): name for name in applicationsets}
    if resource is None or not wanted:
        return {}
    sets = f"={next(iter(wanted))}" if len(wanted) == 1 else f" in ({','.join(sorted(wanted))})"
    selector = f"{APPLICATIONSET_LABEL}{sets},{RECORD_LABEL}" + (
        f",{APPLICATIONSET_CLUSTER_LABEL}={application_label_value(cluster)}" if cluster else f",!{APPLICATIONSET_CLUSTER_LABEL}")
    found: dict[str, list[dict[str, Any]]] = {}
    for parent in client.list_objects(resource, None, label_selector=selector):
        label = ((parent.get("metadata") or {}).get("labels") or {}).get(APPLICATIONSET_LABEL)
        if label in wanted:
            found.setdefault(wanted[label], []).append(parent)
    return found


def _recorded_applications(parents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{application name: recorded manifest} from the parents of one set that hold one."""
    found: dict[str, dict[str, Any]] = {}
    for parent in sorted(parents, key=lambda p: str((p.get("metadata") or {}).get("namespace") or "")):
        app_name = str((parent.get("metadata") or {}).get("name") or "")[len(PARENT_PREFIX):]
        text = (parent.get("data") or {}).get(RECORD_KEY)
        if not app_name or not text or app_name in found:
            continue
        try:
            recorded = json.loads(text)
        except ValueError:
            continue  # not ours to trust: the application is generated again and recorded anew
        if isinstance(recorded, dict):
            found[app_name] = recorded
    return found


def keep_created(client: Any, inputs: list[Any], applicationsets: dict[str, dict[str, Any]],
                 cluster: str | None) -> dict[str, KeptApplication]:
    """Replace, in inputs, each generated application of a set that never updates them by the one recorded when it
    was created; {application name: KeptApplication} for every such application of the run. Only reads."""
    from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import ApplicationInput

    kept: dict[str, KeptApplication] = {}
    positions_of: dict[str, list[int]] = {}
    for set_name, generated in sorted(applicationsets.items()):
        names = set(generated["generated"])
        positions = [i for i, one in enumerate(inputs) if one.name in names and one.app is not None and one.parent is None]
        if generated["applications_sync"] in KEEPS_CREATED and positions:
            positions_of[set_name] = positions
    records = _recorded_parents(client, list(positions_of), cluster)
    for set_name, positions in positions_of.items():
        policy = applicationsets[set_name]["applications_sync"]
        recorded = _recorded_applications(records.get(set_name, []))
        for position in positions:
            one = inputs[position]
            record_text(one.raw, one.name, set_name)  # refused before any cluster write
            before = recorded.get(one.name)
            entry = KeptApplication(set_name, policy, before)
            if before is not None:
                entry.differences = differing_paths(before, json.loads(json.dumps(one.raw)))[:DIFFERENCES_SHOWN]
                if entry.differences:
                    try:
                        replacement = ApplicationInput(before, one.cache_dir, one.guard, one.projects, one.repositories)
                    except SpecError as err:
                        raise SpecError(f"the application ApplicationSet {set_name} created, recorded in ConfigMap "
                                        f"{parent_name(one.name)} (data.{RECORD_KEY}), is not valid: {err.message}; remove "
                                        f"that key to create it anew from what is generated", application=one.name) from None
                    replacement.selected = one.selected
                    inputs[position] = replacement
            kept[one.name] = entry
    return kept


def record_created(client: Any, inputs: list[Any], outcomes: list[Any], kept: dict[str, KeptApplication]) -> list[str]:
    """Record the applications this run created on their parents; warnings for those that could not be.

    An application is created by its first sync that ran (not skipped, not failed before writing): one whose sync
    wrote no parent, or was not run, is created at a later run from what is generated then.
    """
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import SyncResult

    warnings: list[str] = []
    resource = client.resource_for("v1", "ConfigMap")
    if resource is None:
        return warnings
    for one, outcome in zip(inputs, outcomes):
        entry = kept.get(one.name)
        if entry is None or entry.recorded is not None or one.app is None or not one.selected:
            continue
        synced = outcome if isinstance(outcome, SyncResult) else getattr(outcome, "result", None)
        if not isinstance(synced, SyncResult) or synced.check_mode or synced.skipped or synced.sync_skipped:
            continue
        namespace = one.namespace or client.default_namespace
        try:
            parent = client.get(resource, namespace, parent_name(one.name))
            if parent is None:
                continue
            metadata = parent.get("metadata") or {}
            client.apply(resource, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": metadata.get("name"), "namespace": namespace, "uid": metadata.get("uid"),
                                                 "labels": {RECORD_LABEL: "true"}},
                                    "data": {RECORD_KEY: record_text(one.raw, one.name, entry.applicationset)}},
                         force_conflicts=True, field_manager=RECORD_FIELD_MANAGER)
        except KubeApiError as exc:
            warnings.append(f"application {one.name}: could not record it as created by ApplicationSet "
                            f"{entry.applicationset} in ConfigMap {namespace}/{parent_name(one.name)}: {exc.message}; "
                            f"the next run generates it again")
    return warnings


def forget_records(client: Any, applicationsets: dict[str, dict[str, Any]], cluster: str | None) -> list[str]:
    """Remove the records of the sets that allow updates now (their applications follow what is generated), so a
    later switch back to create-only keeps the application as last synced, not a stale one; warnings for failures."""
    warnings: list[str] = []
    resource = client.resource_for("v1", "ConfigMap")
    if resource is None:
        return warnings
    updating = sorted(name for name, generated in applicationsets.items() if generated["applications_sync"] not in KEEPS_CREATED)
    for set_name, parents in sorted(_recorded_parents(client, updating, cluster).items()):
        for parent in parents:
            metadata = parent.get("metadata") or {}
            try:
                # applying nothing as the record's field manager removes the fields it owns: the record and its label
                client.apply(resource, {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": metadata.get("name"), "namespace": metadata.get("namespace"),
                                                     "uid": metadata.get("uid")}},
                             force_conflicts=True, field_manager=RECORD_FIELD_MANAGER)
            except KubeApiError as exc:
                warnings.append(f"could not remove the create-only record of ApplicationSet {set_name} from ConfigMap "
                                f"{metadata.get('namespace')}/{metadata.get('name')}: {exc.message}")
    return warnings
