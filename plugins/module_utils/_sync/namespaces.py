# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Namespaces a sync needs before it writes: the destination and those of new objects, created, validated in, and removed again when validation fails."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.prepare import _Prepared
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.results import SUCCEEDED, ObjectResult, SyncResult, SyncSettings


def _ensure_namespace(client: KubeClient, prepared: _Prepared, policy: SyncPolicy, settings: SyncSettings,
                      result: SyncResult) -> list[dict[str, Any]]:
    """The destination namespace must exist before the Lease and the inventory can live in it; so must the
    namespaces of objects the compare could not validate because theirs did not exist yet. A real run creates
    them and returns what it created (for _validate_in_new_namespaces); check mode only reports."""
    destination = prepared.diff.namespace
    resource = client.resource_for("v1", "Namespace")
    if resource is None:
        return []
    waiting = {e.compared.unvalidated_namespace for e in prepared.resources if e.compared and e.compared.unvalidated_namespace}
    created: list[dict[str, Any]] = []
    for namespace in [destination] + sorted(waiting - {destination}):
        try:
            if client.get(resource, None, namespace) is not None:
                continue
        except KubeApiError as exc:
            if exc.status == 403:
                continue  # an identity with namespaced rights only may not read Namespaces; writes into it tell if it is missing
            raise
        own = prepared.desired_namespace_object if namespace == destination else next(
            (e for e in prepared.resources if e.ref.kind == "Namespace" and not e.ref.group and e.ref.name == namespace), None)
        if own is None and namespace != destination:
            objects = ", ".join(str(e.ref) for e in prepared.resources if e.compared and e.compared.unvalidated_namespace == namespace)
            raise SyncError(f"nothing was applied, because namespace {namespace} does not exist and the application does not "
                            f"create it (no Namespace {namespace} in it): {objects}")
        if own is None and not policy.create_namespace:
            raise SyncError(f"the destination namespace {namespace} does not exist; set sync_policy.create_namespace: true "
                            "(CreateNamespace=true) or add the Namespace to the application")
        result.namespace_created = result.namespace_created or namespace == destination
        if settings.check_mode:
            continue
        if own is not None:
            own.live = client.apply(resource, own.manifest or {}, force_conflicts=settings.force_conflicts)
            own.result, own.health = SUCCEEDED, settings.assess(own.live)
            created.append(own.live)
            continue
        # created for the application but not part of it (as Argo CD's CreateNamespace): never pruned
        created.append(client.apply(resource, _managed_namespace(namespace, policy if namespace == destination else None),
                                    force_conflicts=settings.force_conflicts))
    if not settings.check_mode and namespace_metadata_drift(client, prepared, policy):
        # the destination exists: its managedNamespaceMetadata is applied as Argo CD applies it
        client.apply(resource, _managed_namespace(destination, policy), force_conflicts=settings.force_conflicts)
    return created


def _managed_namespace(name: str, policy: SyncPolicy | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if policy is not None and policy.managed_namespace_labels:
        metadata["labels"] = dict(policy.managed_namespace_labels)
    if policy is not None and policy.managed_namespace_annotations:
        metadata["annotations"] = dict(policy.managed_namespace_annotations)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def namespace_metadata_drift(client: KubeClient, prepared: _Prepared, policy: SyncPolicy) -> bool:
    """Whether the existing destination namespace lacks a label or annotation of managedNamespaceMetadata.

    Only with create_namespace (Argo CD ignores the metadata without CreateNamespace=true), and only when the
    application does not hold the Namespace itself (its manifest wins, as in Argo CD).
    """
    wanted_labels, wanted_annotations = policy.managed_namespace_labels, policy.managed_namespace_annotations
    if not policy.create_namespace or not (wanted_labels or wanted_annotations) or prepared.desired_namespace_object:
        return False
    resource = client.resource_for("v1", "Namespace")
    if resource is None:
        return False
    try:
        live = client.get(resource, None, prepared.diff.namespace)
    except KubeApiError as exc:
        if exc.status == 403:
            return False  # not readable with this identity: applied only when the sync creates it
        raise
    if live is None:
        return False  # created with its metadata by _ensure_namespace
    metadata = live.get("metadata") or {}
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    return any(labels.get(k) != v for k, v in wanted_labels.items()) or \
        any(annotations.get(k) != v for k, v in wanted_annotations.items())


def _validate_in_new_namespaces(client: KubeClient, prepared: _Prepared, created: list[dict[str, Any]],
                                settings: SyncSettings) -> None:
    """Dry-run the objects whose namespace did not exist when they were compared, now that it does. If the API
    server rejects one, the namespaces this run just created (empty, ours) are deleted again and the sync fails
    before anything else is written: a new namespace is never left half applied."""
    entries = [e for e in prepared.resources if e.compared and e.compared.unvalidated_namespace and e.resource is not None]

    def validate(entry: ObjectResult) -> str:
        try:
            client.apply(entry.resource, entry.manifest or {}, dry_run=True, force_conflicts=True,  # type: ignore[arg-type]
                         validate=prepared.validate and entry.options.validate)
        except KubeApiError as exc:
            where = f" ({entry.source})" if entry.source else ""
            return scrub_text(f"{entry.ref}{where}: the API server rejected the dry-run apply: {exc.message}",
                              secret_values([entry.manifest]))
        entry.message = ""  # validated now
        return ""

    problems = [found for found in client.map(validate, entries) if found]
    if not problems:
        return
    removed = _remove_namespaces(client, created, settings)
    raise SyncError("nothing was applied, because " + ("these objects cannot be synced: " if len(problems) > 1 else "")
                    + "; ".join(problems) + removed)


def _remove_namespaces(client: KubeClient, created: list[dict[str, Any]], settings: SyncSettings) -> str:
    """Delete the namespaces a failed validation created (by uid: only those very objects); says what became of them."""
    resource = client.resource_for("v1", "Namespace")
    if resource is None or not created:
        return ""
    names = [str((ns.get("metadata") or {}).get("name")) for ns in created]
    try:
        for namespace in created:
            metadata = namespace.get("metadata") or {}
            client.delete(resource, None, metadata.get("name") or "", uid=metadata.get("uid"))
        deadline = time.monotonic() + min(settings.wait_timeout, 60.0)
        while any(client.get(resource, None, name) is not None for name in names) and time.monotonic() < deadline:
            time.sleep(settings.poll_interval)
    except KubeApiError as exc:
        return f" (namespace {', '.join(names)}, created to validate them, could not be deleted again: {exc.message})"
    return f" (namespace {', '.join(names)}, created to validate them, was deleted again)"
