# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of a kind no check knows: judged from what controllers commonly write in status.

Argo CD gives such an object no health at all, so it never holds a wave
back. Here the evidence is read the way most controllers write it, the first
that says something deciding:

1. spec.paused / status.paused: Suspended;
2. the observed generation (of the status, or of its conditions) behind metadata.generation: Progressing;
3. conditions, including those of Gateway API parents, ancestors and listeners: failure types
   (Failed, Error, Invalid, Stalled, Degraded, ...) True and Synced False are Degraded; any other
   condition False is Degraded when its reason or severity says failure; a False Ready / Available /
   Accepted / ... is otherwise Progressing; Reconciling or in-progress types True are Progressing; Ready-like True is Healthy;
   an empty conditions list is Progressing (the controller has not judged yet);
4. failureMessage / errorMessage, healthy (true/false), health (green, yellow, red, or {status});
5. words of status.phase, .state, .status and other *Status / *State fields (failed, error ->
   Degraded; pending, creating, updating, in progress -> Progressing; running, ready, active,
   succeeded, bound -> Healthy; paused, suspended -> Suspended);
6. replica counts: fewer ready (or available) than desired is Progressing.

Where nothing says anything, the object is Healthy, as Argo CD treats a kind
without a check, and the message says that no health information was found.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._health.model import (
    DEGRADED,
    HEALTHY,
    MISSING,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    Health,
    integer,
    spec_of,
    status_of,
)

# words of status.phase / state / status, lowercased without spaces, '-' and '_'
PHASE_WORDS = {
    DEGRADED: frozenset({"failed", "failure", "error", "errored", "degraded", "crashloopbackoff", "unhealthy", "invalid",
                         "rejected", "lost", "configerror", "updatefailed", "createfailed", "syncfailed", "aborted",
                         "terminatedwitherror", "warning", "canceled", "cancelled", "crashed", "unschedulable"}),
    PROGRESSING: frozenset({"pending", "provisioning", "creating", "progressing", "initializing", "initialising",
                            "updating", "deploying", "reconciling", "waiting", "starting", "inprogress", "scaling",
                            "scalingup", "scalingdown", "upgrading", "installing", "deleting", "terminating",
                            "restarting", "applyingchanges", "migratingdata", "deployednotready", "running_update",
                            "promoting", "finalising", "finalizing", "new", "queued", "rollingupdate", "building",
                            "processing", "syncing", "notready", "unavailable"}),
    HEALTHY: frozenset({"running", "ready", "active", "succeeded", "success", "successful", "bound", "available",
                        "healthy", "complete", "completed", "deployed", "established", "synced", "issued", "online",
                        "ok", "up", "done", "finished", "released", "created", "green", "stable", "initialized",
                        "valid", "reconciled", "provisioned", "uptodate", "inservice", "accepted"}),
    SUSPENDED: frozenset({"suspended", "paused", "stopped", "disabled", "hibernated", "hibernating", "halted"}),
    UNKNOWN: frozenset({"unknown"}),
    MISSING: frozenset({"notfound"}),
}
# condition types that report a failure when True
FAILURE_TYPES = frozenset({"failed", "failure", "error", "erroroccurred", "invalid", "orphan", "specerror",
                           "submissionerror", "stalled", "degraded", "reconcileerror", "unhealthy", "notready",
                           "partiallyready", "configerror", "fatal"})
# condition types that report work still going on when True
PROGRESS_TYPES = frozenset({"reconciling", "inprogress", "progressing_", "pending", "deploying", "updating", "scaling"})
# condition types that report health when True and trouble when False
READY_TYPES = ("ready", "available", "healthy", "succeeded", "complete", "completed", "established", "programmed",
               "accepted", "resolvedrefs", "synced", "valid", "active", "reconciled", "running")
# a False ready-like condition with such a reason is a failure, not a wait
FAILURE_WORDS = ("fail", "error", "invalid", "backoff", "denied", "forbidden", "notfound", "unauthorized", "refused",
                 "conflict", "unsupported", "notallowed", "rejected", "timeout", "exceeded")
_NOT_WORD = re.compile(r"[\s_\-]")


def _word(value: Any) -> str:
    return _NOT_WORD.sub("", str(value)).lower()


def _text(item: dict[str, Any]) -> str:
    return str(item.get("message") or item.get("reason") or "")


def _with(prefix: str, item: dict[str, Any]) -> str:
    text = _text(item)
    return f"{prefix}: {text}" if text else prefix


def _all_conditions(status: dict[str, Any]) -> list[dict[str, Any]] | None:
    """status.conditions and those nested per parent, ancestor or listener (Gateway API); None when there are none."""
    found: list[dict[str, Any]] | None = None
    if isinstance(status.get("conditions"), list):
        found = [c for c in status["conditions"] if isinstance(c, dict)]
    for key in ("parents", "ancestors", "listeners"):
        for holder in status.get(key) or []:
            if isinstance(holder, dict) and isinstance(holder.get("conditions"), list):
                found = (found or []) + [c for c in holder["conditions"] if isinstance(c, dict)]
    return found


def _failed(item: dict[str, Any]) -> bool:
    reason = _word(item.get("reason") or "")
    return any(word in reason for word in FAILURE_WORDS) or str(item.get("severity") or "").lower() == "error"


def _by_conditions(status: dict[str, Any], generation: int) -> Health | None:
    conditions = _all_conditions(status)
    if conditions is None:
        return None
    if not conditions:
        return Health(PROGRESSING, "Waiting for the controller to report conditions")
    stale = [c for c in conditions if "observedGeneration" in c and 0 < integer(c.get("observedGeneration"), generation) < generation]
    if stale:
        return Health(PROGRESSING, f"Waiting for the controller to observe generation {generation} (condition "
                                   f"{stale[0].get('type')} is of generation {integer(stale[0].get('observedGeneration'))})")
    ready: list[dict[str, Any]] = []
    waiting: Health | None = None
    for item in conditions:
        kind, state = _word(item.get("type") or ""), item.get("status")
        if state == "True" and kind in FAILURE_TYPES:
            return Health(DEGRADED, _with(f"{item.get('type')} is True", item))
        if kind == "synced" and state == "False":
            if _word(item.get("reason") or "") == "reconcilepaused":  # Crossplane's pause annotation
                return Health(SUSPENDED, _with("Synced is False", item))
            return Health(DEGRADED, _with("Synced is False", item))
        # a positive condition (any type but the failure ones) False for a reason that says failure
        if state == "False" and kind not in FAILURE_TYPES and _failed(item):
            return Health(DEGRADED, _with(f"{item.get('type')} is False", item))
        if kind in READY_TYPES:
            ready.append(item)
        elif state == "True" and (kind in PROGRESS_TYPES or kind.startswith("inprogress")) and waiting is None:
            waiting = Health(PROGRESSING, _with(f"{item.get('type')} is True", item))
    not_ready = [c for c in ready if c.get("status") != "True"]
    if not_ready:
        item = not_ready[0]
        return Health(PROGRESSING, _with(f"{item.get('type')} is {item.get('status') or 'not reported'}", item))
    if waiting is not None:
        return waiting
    if ready:
        item = next((c for c in ready if _word(c.get("type") or "") == "ready"), ready[0])
        return Health(HEALTHY, _with(f"{item.get('type')} is True", item))
    return None


def _by_fields(status: dict[str, Any]) -> Health | None:
    for key in ("failureMessage", "errorMessage", "failureReason"):
        if status.get(key):
            return Health(DEGRADED, f"status.{key}: {status[key]}")
    error = status.get("error")
    if isinstance(error, dict) and error.get("message") or isinstance(error, str) and error:
        return Health(DEGRADED, f"status.error: {error.get('message') if isinstance(error, dict) else error}")
    if isinstance(status.get("healthy"), bool):
        return Health(HEALTHY, "status.healthy is true") if status["healthy"] else Health(DEGRADED, "status.healthy is false")
    health = status.get("health")
    if isinstance(health, dict) and isinstance(health.get("status"), str):
        word = _word(health["status"])
        verdict = next((v for v, words in PHASE_WORDS.items() if word in words), None)
        if verdict:
            return Health(verdict, _with(f"status.health is {health['status']}", health))
    if isinstance(health, str):
        color = {"green": HEALTHY, "yellow": PROGRESSING, "red": DEGRADED}.get(health.lower())
        if color:
            return Health(color, f"status.health is {health}")
    return None


def _word_fields(status: dict[str, Any], prefix: str = "", depth: int = 0) -> Iterable[tuple[str, str]]:
    """(path, word) of phase / state / status and *Status / *State fields, then one level into nested objects."""
    for key in ("phase", "state", "status"):
        if isinstance(status.get(key), str) and status[key]:
            yield prefix + key, status[key]
    for key, value in status.items():
        if isinstance(value, str) and value and key not in ("phase", "state", "status") \
                and (key.lower().endswith("status") or key.lower().endswith("state")) and key != "desiredState":
            yield prefix + key, value
    if depth == 0:
        for key, value in status.items():
            if isinstance(value, dict) and key not in ("conditions", "health"):
                yield from _word_fields(value, f"{prefix}{key}.", 1)


def _by_words(status: dict[str, Any]) -> Health | None:
    message = str(status.get("message") or status.get("reason") or "")
    for key, value in _word_fields(status):
        word = _word(value)
        for verdict, words in PHASE_WORDS.items():
            if word in words:
                return Health(verdict, f"status.{key} is {value}" + (f": {message}" if message else ""))
    return None


def _by_replicas(obj: dict[str, Any], status: dict[str, Any]) -> Health | None:
    desired = spec_of(obj).get("replicas", status.get("replicas"))
    if not isinstance(desired, int):
        return None
    for key in ("readyReplicas", "availableReplicas", "updatedReplicas"):
        if key in status and integer(status[key]) < desired:
            return Health(PROGRESSING, f"Waiting for replicas: {integer(status[key])} of {desired} {key[:-8]}")
    return None


def generic(obj: dict[str, Any]) -> Health:
    """The judgment for a kind with neither a built-in check nor a Lua script."""
    kind = obj.get("kind") or "object"
    if spec_of(obj).get("paused") is True or status_of(obj).get("paused") is True:
        return Health(SUSPENDED, f"the {kind} is paused")
    status = obj.get("status")
    if not isinstance(status, dict) or not status:
        return Health(HEALTHY, f"no health information found: the {kind} has no status")
    generation = integer((obj.get("metadata") or {}).get("generation"))
    observed = status.get("observedGeneration")
    # some controllers write a hash here: only a number says which generation was seen
    if isinstance(observed, int) or (isinstance(observed, str) and observed.isdigit()):
        if integer(observed) < generation:
            return Health(PROGRESSING, f"Waiting for the controller to observe generation {generation} (observed {integer(observed)})")
    verdict = _by_conditions(status, generation) or _by_fields(status) or _by_words(status) or _by_replicas(obj, status)
    if verdict is not None:
        return verdict
    return Health(HEALTHY, f"no health information found: the {kind}'s status has no condition, phase or state "
                           "this collection knows")
