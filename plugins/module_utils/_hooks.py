# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which live objects a hook may replace or delete, and how it does so safely.

A hook is created anew on every sync that runs hooks, as in Argo CD. A named
hook with the BeforeHookCreation policy (the default) first deletes the object
of its name, and HookSucceeded/HookFailed delete it after it finished. Such a
delete may only ever hit an earlier instance of the same hook of the same
application, never an object someone else owns:

- every hook object a sync creates carries the label
  ``gitops.kubernetes/hook-of=<the application's ApplySet id>`` (an ApplySet
  id is 55 characters, a valid label value, so the hooks of an application can
  be selected by it);
- before a delete, the live object must carry that label with this
  application's id, and the delete names the uid that was checked (a
  DeleteOptions precondition), so an object recreated in between is never hit;
- before anything of a sync is written, every named hook's existing object is
  checked the same way, and the sync fails naming all clashes.

Hooks are not ApplySet members: they carry no ``applyset.kubernetes.io/part-of``
label, so ``kubectl apply --prune --applyset`` never prunes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Protocol

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient

HOOK_OF_LABEL = "gitops.kubernetes/hook-of"
MAX_REPORTED = 10


class HookTarget(Protocol):
    """What the checks need of a planned hook (the sync's ObjectResult has it)."""

    ref: ObjectRef
    resource: "ApiResource | None"
    source: str


def mark_hook(manifest: dict[str, Any], set_id: str) -> None:
    """Label a hook manifest (in place) as a hook of the application whose ApplySet id is set_id."""
    metadata = manifest.setdefault("metadata", {})
    labels = metadata.get("labels")
    if not isinstance(labels, dict):
        labels = metadata["labels"] = {}
    labels[HOOK_OF_LABEL] = set_id


def not_ours(live: dict[str, Any], set_id: str) -> str | None:
    """Why a live object is not an earlier instance of a hook of this application (None when it is)."""
    metadata = live.get("metadata") or {}
    labels = metadata.get("labels") or {}
    hook_of = labels.get(HOOK_OF_LABEL)
    if hook_of == set_id:
        return None
    if hook_of:
        return f"it was created by a hook of another application ({HOOK_OF_LABEL}={hook_of})"
    part_of = labels.get(PART_OF_LABEL)
    if part_of == set_id:
        return "it is an ordinary resource of this application, not a hook"
    if part_of:
        return f"it belongs to another application ({PART_OF_LABEL}={part_of})"
    managers = sorted({m.get("manager") for m in metadata.get("managedFields") or [] if isinstance(m, dict) and m.get("manager")})
    written_by = f"; written by {', '.join(managers[:3])}" if managers else ""
    return f"it carries no {HOOK_OF_LABEL} label of this application, so no hook of it created the object{written_by}"


def clash_message(ref: ObjectRef, source: str, reason: str) -> str:
    """The error for a hook whose name is taken by an object it must not replace."""
    where = f" ({source})" if source else ""
    return (f"hook {ref}{where} would replace the existing {ref}, which is not an earlier run of this hook: {reason}. "
            "Nothing was deleted; rename the hook (or use metadata.generateName), or delete that object yourself "
            "if it may go")


def _namespace(resource: "ApiResource", ref: ObjectRef) -> str | None:
    return (ref.namespace or None) if resource.namespaced else None


def find_hook_clashes(client: "KubeClient", hooks: Iterable[HookTarget], set_id: str) -> list[str]:
    """One message per named hook whose name is taken by an object this application's hooks did not create.

    A GET per distinct named hook (hooks are few); generateName hooks always get a new name, and a hook of a
    kind the cluster does not serve yet (a CRD of the application) cannot clash with anything.
    """
    targets: dict[ObjectRef, tuple["ApiResource", str]] = {}
    for hook in hooks:
        if hook.ref.name and hook.resource is not None:
            targets.setdefault(hook.ref, (hook.resource, hook.source))

    def check(target: tuple[ObjectRef, tuple["ApiResource", str]]) -> str:
        ref, (resource, source) = target
        live = client.get(resource, _namespace(resource, ref), ref.name)
        reason = not_ours(live, set_id) if live is not None else None
        return clash_message(ref, source, reason) if reason else ""

    return [found for found in client.map(check, list(targets.items())) if found]


def refuse_hook_clashes(client: "KubeClient", application: str, hooks: Iterable[HookTarget], set_id: str) -> None:
    """Raise SyncError naming every hook clash, before the sync writes anything."""
    clashes = find_hook_clashes(client, hooks, set_id)
    if clashes:
        more = f"; and {len(clashes) - MAX_REPORTED} more" if len(clashes) > MAX_REPORTED else ""
        raise SyncError("nothing was applied, because " + "; ".join(clashes[:MAX_REPORTED]) + more, application=application)


def delete_own_hook(client: "KubeClient", resource: "ApiResource", ref: ObjectRef, set_id: str, source: str = "") -> bool:
    """Delete the live object of a named hook if an earlier hook of this application created it.

    Returns False when there is none. Raises SyncError (and deletes nothing) when the object is someone
    else's, or when the name came to hold another object between the check and the delete.
    """
    namespace = _namespace(resource, ref)
    live = client.get(resource, namespace, ref.name)
    if live is None:
        return False
    reason = not_ours(live, set_id)
    if reason:
        raise SyncError(clash_message(ref, source, reason), object_ref=str(ref))
    uid = (live.get("metadata") or {}).get("uid")
    try:
        # background: the old hook's name is free at once; its pods go with the garbage collector
        deleted = client.delete(resource, namespace, ref.name, propagation_policy="Background", uid=uid)
    except KubeApiError as exc:
        if exc.status == 409:
            raise SyncError(f"{ref} was replaced by another object while the hook was about to delete it; "
                            "nothing was deleted", object_ref=str(ref)) from None
        raise
    return deleted is not None
