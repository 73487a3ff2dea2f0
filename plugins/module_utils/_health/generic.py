# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of a kind no check knows: judged from what controllers commonly write in status.

Argo CD gives such an object no health at all, so it never holds a wave
back. Here the evidence is read the way most controllers write it: the
observed generation; conditions (Ready, Available, Crossplane's Synced,
kstatus's Stalled / Reconciling, operators' Degraded); then status.phase or
status.state words. Where nothing says anything, the object is Healthy, as
Argo CD treats it, and the message says that no health information was found.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._health.model import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    Health,
    condition,
    integer,
    status_of,
)

# words of status.phase / status.state, lowercased
PHASE_WORDS = {
    DEGRADED: frozenset({"failed", "failure", "error", "errored", "degraded", "crashloopbackoff", "unhealthy", "invalid",
                         "rejected", "lost"}),
    PROGRESSING: frozenset({"pending", "provisioning", "creating", "progressing", "initializing", "initialising",
                            "updating", "deploying", "reconciling", "waiting", "starting", "inprogress", "in progress",
                            "in_progress", "running_update", "scaling", "upgrading", "installing", "deleting",
                            "terminating"}),
    HEALTHY: frozenset({"running", "ready", "active", "succeeded", "success", "successful", "bound", "available",
                        "healthy", "complete", "completed", "deployed", "established", "synced", "issued", "online",
                        "ok", "up", "done", "finished", "released"}),
    SUSPENDED: frozenset({"suspended", "paused", "stopped", "disabled", "hibernated", "hibernating"}),
}
# a False Ready / Available condition with such a reason is a failure, not a wait
FAILURE_REASON_WORDS = ("fail", "error", "invalid", "backoff", "denied", "forbidden", "notfound", "unauthorized")


def _text(item: dict[str, Any]) -> str:
    return str(item.get("message") or item.get("reason") or "")


def _failed(item: dict[str, Any]) -> bool:
    reason = str(item.get("reason") or "").lower()
    return any(word in reason for word in FAILURE_REASON_WORDS)


def _by_conditions(obj: dict[str, Any], kind: str) -> Health | None:
    stalled = condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return Health(DEGRADED, f"Stalled: {_text(stalled)}".rstrip(": "))
    degraded = condition(obj, "Degraded")
    if degraded and degraded.get("status") == "True":
        return Health(DEGRADED, f"Degraded: {_text(degraded)}".rstrip(": "))
    synced = condition(obj, "Synced")
    if synced and synced.get("status") == "False":
        # Crossplane: the provider cannot reconcile the managed resource (ReconcileError)
        return Health(DEGRADED, f"Synced is False: {_text(synced)}".rstrip(": "))
    for name in ("Ready", "Available"):
        found = condition(obj, name)
        if found is None:
            continue
        if found.get("status") == "True":
            reconciling = condition(obj, "Reconciling")
            if reconciling and reconciling.get("status") == "True":
                return Health(PROGRESSING, f"Reconciling: {_text(reconciling)}".rstrip(": "))
            return Health(HEALTHY, _text(found) or f"{name} is True")
        if found.get("status") == "False" and _failed(found):
            return Health(DEGRADED, f"{name} is False: {_text(found)}".rstrip(": "))
        return Health(PROGRESSING, f"{name} is {found.get('status') or 'not reported'}: {_text(found)}".rstrip(": "))
    reconciling = condition(obj, "Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return Health(PROGRESSING, f"Reconciling: {_text(reconciling)}".rstrip(": "))
    if synced and synced.get("status") == "True":
        return Health(HEALTHY, f"Synced is True{': ' + _text(synced) if _text(synced) else ''}")
    return None


def _by_phase(obj: dict[str, Any], kind: str) -> Health | None:
    status = status_of(obj)
    for key in ("phase", "state"):
        word = status.get(key)
        if not isinstance(word, str) or not word:
            continue
        lowered = word.strip().lower()
        message = str(status.get("message") or status.get("reason") or "")
        for verdict, words in PHASE_WORDS.items():
            if lowered in words:
                return Health(verdict, f"status.{key} is {word}" + (f": {message}" if message else ""))
    return None


def generic(obj: dict[str, Any]) -> Health:
    """The judgment for a kind with neither a built-in check nor a Lua script."""
    kind = obj.get("kind") or "object"
    status = obj.get("status")
    if not isinstance(status, dict) or not status:
        return Health(HEALTHY, f"no health information found: the {kind} has no status")
    generation = integer((obj.get("metadata") or {}).get("generation"))
    if "observedGeneration" in status and integer(status.get("observedGeneration")) < generation:
        return Health(PROGRESSING, f"Waiting for the controller to observe generation {generation} "
                                   f"(observed {integer(status.get('observedGeneration'))})")
    verdict = _by_conditions(obj, kind) or _by_phase(obj, kind)
    if verdict is not None:
        return verdict
    return Health(HEALTHY, f"no health information found: the {kind}'s status has no condition, phase or state "
                           "this collection knows")
