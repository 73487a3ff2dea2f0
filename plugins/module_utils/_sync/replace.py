# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replace=true and Force=true as Argo CD means them: the write an object out of sync gets, and its checks.

gitops-engine (sync_context.go applyObject) writes an object
- with Replace=true: `kubectl replace`, a PUT of the whole manifest, so what another manager added and Git does
  not have is dropped (`kubectl create` when it does not exist);
- with Force=true and Replace=true: `kubectl replace --force`, deleted and created again;
- with Force=true alone: `kubectl apply --force`, applied, and deleted and created again only when the change
  cannot be made in place;
- a CustomResourceDefinition or a Namespace with Replace=true: updated (a PUT), never deleted, even with Force=true
  (its custom resources, or everything in it, would go with it).

As everywhere in this collection, only objects the compare finds out of sync are written (Argo CD's
ApplyOutOfSyncOnly): a field another manager added is not drift (Argo CD's diff ignores it too), so it is
dropped the next time the object changes in Git, and an unchanged application writes nothing.
Every deletion is validated first (a dry-run create of the new version) and every PUT with a dry-run PUT, so a
refusal comes before anything is written.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import ComparedObject, immutable_fields
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import SyncOptions
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.results import CONFIGURED, RECREATED, REPLACED

FORCE_HINT = ("annotate it argocd.argoproj.io/sync-options: Force=true (applied, and deleted and recreated when a "
              "change needs it) or Force=true,Replace=true, or set sync_policy.force")


@dataclass(frozen=True)
class WriteDecision:
    """How an object that exists and is out of sync is written: an action, or why it cannot be."""

    action: str = CONFIGURED  # CONFIGURED (server-side apply), REPLACED (PUT) or RECREATED; '' when refused
    message: str = ""
    refusal: str = ""


def never_recreated(ref: ObjectRef) -> bool:
    """CustomResourceDefinitions and Namespaces: deleting them deletes their custom resources or their contents."""
    return (ref.group, ref.kind) in (("apiextensions.k8s.io", "CustomResourceDefinition"), ("", "Namespace"))


def _named(replace: bool, force: bool) -> str:
    return ",".join(name for name, on in (("Force=true", force), ("Replace=true", replace)) if on)


def decide_write(ref: ObjectRef, immutable: list[str], refused_because: str, options: SyncOptions,
                 policy: SyncPolicy) -> WriteDecision:
    """The write of an object whose live version differs from Git.

    `immutable` lists the fields the compare's dry-run apply was refused for (they cannot change in place),
    `refused_because` is that refusal; the object's sync options and the application's (Replace=true in its
    syncOptions, our spec's sync_policy.replace and sync_policy.force) both count, as in gitops-engine.
    """
    replace = options.replace or policy.replace
    force = options.force or policy.force
    if never_recreated(ref):
        if immutable:
            return WriteDecision("", refusal=(
                f"{refused_because}. A {ref.kind} is never deleted and recreated (Argo CD does not either: "
                f"{'its custom resources' if ref.kind != 'Namespace' else 'everything in it'} would be deleted with "
                "it), so this change cannot be synced: make it another way"))
        if replace:
            return WriteDecision(REPLACED, message=(
                f"updated with a PUT of its whole manifest ({_named(replace, force)}); a {ref.kind} is never "
                "deleted and recreated"))
        return WriteDecision(CONFIGURED)
    if immutable:
        if force:
            return WriteDecision(RECREATED, message=(
                f"an immutable field changed ({', '.join(immutable)}): deleted and recreated ({_named(replace, force)})"))
        if replace:
            return WriteDecision("", refusal=(
                f"{refused_because}. Replace=true writes it with a PUT (kubectl replace), which cannot change an "
                "immutable field: annotate it argocd.argoproj.io/sync-options: Force=true,Replace=true to delete and "
                "recreate it"))
        return WriteDecision("", refusal=f"{refused_because}. The change needs the object deleted and recreated: {FORCE_HINT}")
    if replace and force:
        return WriteDecision(RECREATED, message="deleted and recreated (Force=true,Replace=true, kubectl replace --force)")
    if replace:
        return WriteDecision(REPLACED, message=("written with a PUT of its whole manifest (Replace=true, kubectl "
                                                "replace): fields Git does not have are dropped"))
    return WriteDecision(CONFIGURED)


def recreation_problem(client: KubeClient, compared: ComparedObject) -> str:
    """Why the new version cannot replace the live object ('' if it can), asked before anything is deleted.

    A dry-run create with the real name: the API server defaults, validates
    and admits the object before it looks for the name, so a valid object
    answers 409 AlreadyExists and an invalid one 422 (a generated name would
    fail objects whose name is checked, such as CustomResourceDefinitions).
    """
    try:
        client.create(compared.resource, compared.desired or {}, dry_run=True)  # type: ignore[arg-type]
    except KubeApiError as exc:
        if exc.status == 409 and exc.reason == "AlreadyExists":
            return ""
        secrets = secret_values([compared.desired])
        return scrub_text(f"its new version is invalid, so the live object was not deleted: {exc.message}", secrets)
    return ""


def put_body(manifest: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
    """The manifest as a PUT sends it: with the resourceVersion it replaces, so a write in between is refused."""
    body = copy.deepcopy(manifest)
    if resource_version:
        body.setdefault("metadata", {})["resourceVersion"] = resource_version
    return body


def replace_problem(client: KubeClient, compared: ComparedObject, manifest: dict[str, Any]) -> str:
    """Why a PUT of the manifest over the live object would be refused ('' if it would not), by a dry-run PUT.

    The server-side apply the compare dry-ran keeps what other managers set; a PUT does not, so a field only the
    API server or a controller fills in (a Job's selector, a bound claim's volumeName) can make it fail where the
    apply would not, as kubectl replace would.
    """
    live_version = ((compared.live or {}).get("metadata") or {}).get("resourceVersion")
    try:
        client.replace(compared.resource, put_body(manifest, live_version), dry_run=True)  # type: ignore[arg-type]
    except KubeApiError as exc:
        secrets = secret_values([compared.desired, compared.live])
        hint = ("; a PUT cannot change these fields: annotate it argocd.argoproj.io/sync-options: Force=true,Replace=true "
                "to delete and recreate it" if immutable_fields(exc) else "")
        return scrub_text(f"Replace=true: the API server refuses its PUT (kubectl replace), nothing was written: "
                          f"{exc.message}{hint}", secrets)
    return ""
