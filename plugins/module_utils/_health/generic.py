# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of a kind no check knows: judged from what controllers commonly write in status.

Argo CD gives such an object no health at all, so it never holds a wave
back. Here the evidence is read the way most controllers write it, the first
that says something deciding:

0. no status at all: a custom resource of a kind whose controller reports a status (reporting_kinds.py: Argo CD's
   check for the kind waits for one) is Progressing whatever its age, as in Argo CD; a custom resource of
   another kind (metadata.generation set, group not built in) created less than NO_STATUS_GRACE seconds ago is
   Progressing, its controller has not written a status yet; after that, or for any other object, Healthy with
   "no health information found" (see _no_status for why);
1. paused (spec.paused or a paused strategy under spec, status.paused, status.controllerPause), spec.suspend:
   Suspended;
2. the observed generation (of the status, or of its conditions) behind metadata.generation (when the object has
   one): Progressing; a Gateway API parent's conditions of an older generation are history once the same
   controller (controllerName) has written conditions of this one;
3. conditions, including those of Gateway API parents, ancestors and listeners: failure types
   (Failed, Error, Invalid, Stalled, Degraded, ...) True and Synced False are Degraded; so are Valid False (a
   verdict on the spec), Accepted / Admitted False for any reason but Pending, and a completion type (Complete,
   Finished) True whose reason says it failed; any other condition False is Degraded when its reason or severity
   says failure or its message starts by saying so ("Error: ...", "failed to ...", unless the reason says the
   work goes on: Progressing, Retrying); a False Ready / Available /
   Accepted / ... is otherwise Progressing; Reconciling or in-progress types True are Progressing, and so is a
   Running True (the Operator SDK's reconcile at work) until its reason says Successful; Ready-like True is Healthy;
   an empty conditions list is Progressing (the controller has not judged yet); types are matched by their words
   (CatalogSourcesUnhealthy, InstallPlanFailed, HasErrors, InvalidSpec, ACK.Terminal True are failures;
   ControlPlaneReady, PodsHealthy are Ready-like), a reason ending in Paused, Suspended, Stopped or Hibernated
   (RolloutPaused) is Suspended, conditions under a child object (conditionedStatus) or a list of them (ingress[])
   count too;
4. failureMessage, errorMessage and other err* / failure* fields, healthy (true/false), health (green, yellow,
   red, or {status}) and the health of each entry of aggregatedStatus[];
5. words of status.phase, .state, .status and other *Status / *State / *compliant fields (failed, error,
   noncompliant -> Degraded; pending, creating, updating, in progress -> Progressing; running, ready, active,
   succeeded, bound, compliant -> Healthy; paused, suspended, stopped -> Suspended; inconclusive -> Unknown), also
   per reporter in status.statuses.<name> (Gloo), the first word of a sentence ("Provisioning MinIO ...") or of a
   SNAKE_CASE value (PENDING_RERUN), the last word(s) of a CamelCase one (ClusterReconciling, TopicNotReady); a
   field still at work or failing outweighs a healthy first one (phase Bound, lastOperationStatus Progressing); a
   Stopped or Suspended word explains a Ready False; a kind that runs to completion (*Job, *Run, *Backup,
   *Restore, *Task, *Migration, Experiment) is Progressing while "running";
6. replica counts: fewer ready (or available, updated) than desired, DaemonSet-like node counts, ready / size and
   readyMembers / members pairs up to two levels down, an "N/M" string of a *Replicas / *Ready field, or old
   replicas left, is Progressing; an update that reached its updateStrategy partition is Suspended (the rest waits
   for a person to lower the partition); this also holds back a Healthy verdict of the conditions or fields
   (Available True while a rollout still replaces pods), as does a phase that says the work goes on (health
   green, phase ApplyingChanges).

Where nothing says anything, the object is Healthy, as Argo CD treats a kind
without a check, and the message says that no health information was found.
"""

from __future__ import annotations

import fnmatch
import re
import time
from datetime import datetime
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
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.reporting_kinds import (
    NOT_REPORTING_KINDS,
    REPORTING_KIND_PATTERNS,
    REPORTING_KINDS,
)

# words of status.phase / state / status, lowercased without spaces, '-' and '_'
PHASE_WORDS = {
    DEGRADED: frozenset({"failed", "failure", "error", "errored", "degraded", "crashloopbackoff", "unhealthy", "invalid",
                         "rejected", "lost", "configerror", "updatefailed", "createfailed", "syncfailed", "aborted",
                         "terminatedwitherror", "warning", "canceled", "cancelled", "crashed", "unschedulable",
                         "noncompliant"}),
    PROGRESSING: frozenset({"pending", "provisioning", "creating", "progressing", "initializing", "initialising",
                            "updating", "deploying", "reconciling", "waiting", "starting", "inprogress", "scaling",
                            "scalingup", "scalingdown", "upgrading", "installing", "deleting", "terminating",
                            "restarting", "applyingchanges", "migratingdata", "deployednotready", "running_update",
                            "promoting", "finalising", "finalizing", "new", "queued", "rollingupdate", "building",
                            "processing", "syncing", "notready", "unavailable", "expanding", "shrinking", "retrying"}),
    HEALTHY: frozenset({"running", "ready", "active", "succeeded", "success", "successful", "bound", "available",
                        "healthy", "complete", "completed", "deployed", "established", "synced", "issued", "online",
                        "ok", "up", "done", "finished", "released", "created", "green", "stable", "initialized",
                        "valid", "reconciled", "provisioned", "uptodate", "inservice", "accepted", "compliant"}),
    SUSPENDED: frozenset({"suspended", "paused", "stopped", "disabled", "hibernated", "hibernating", "halted"}),
    UNKNOWN: frozenset({"unknown", "inconclusive"}),
    MISSING: frozenset({"notfound"}),
}
# condition types that report a failure when True (besides those whose words say so, see _failure_type)
FAILURE_TYPES = frozenset({"failed", "failure", "error", "erroroccurred", "invalid", "orphan", "specerror",
                           "submissionerror", "stalled", "degraded", "reconcileerror", "unhealthy", "notready",
                           "partiallyready", "configerror", "fatal"})
# condition types that report work still going on when True
PROGRESS_TYPES = frozenset({"reconciling", "inprogress", "progressing_", "pending", "deploying", "updating", "scaling"})
# condition types whose False is the controller's verdict on the spec, which waiting does not change
VERDICT_TYPES = frozenset({"valid", "validated", "specvalid", "configvalid"})
# condition types that say a run has ended, well or not (its reason tells which)
COMPLETION_TYPES = frozenset({"complete", "completed", "finished", "done"})
# a Running condition True is a reconcile at work (the Operator SDK's Ansible and Helm operators), unless its
# reason says the last one succeeded ("Successful": awaiting the next reconciliation)
SUCCESS_REASONS = frozenset({"successful", "success", "succeeded", "completed", "complete", "reconciled", "ready"})
# condition types that report health when True and trouble when False; also any type ending so (ControlPlaneReady)
READY_TYPES = ("ready", "available", "healthy", "succeeded", "complete", "completed", "established", "programmed",
               "accepted", "resolvedrefs", "synced", "valid", "active", "reconciled", "admitted", "successful")
READY_SUFFIXES = ("ready", "available", "healthy", "synced", "established", "programmed", "reconciled")
# a False ready-like condition with such a reason is a failure, not a wait
FAILURE_WORDS = ("fail", "error", "invalid", "backoff", "denied", "forbidden", "notfound", "unauthorized", "refused",
                 "conflict", "unsupported", "notallowed", "rejected", "timeout", "exceeded", "unhealthy", "unreachable",
                 "missing", "terminal")
# kinds that run to completion: "running" is work going on, not health
RUN_TO_COMPLETION = re.compile(r"(Job|Run|Backup|Restore|Task|Migration|Experiment)$")
# Kubernetes' own API groups: their kinds without a status (ConfigMap, Role, ...) never get one
BUILT_IN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling", "extensions", "networking.k8s.io",
                             "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
                             "apiextensions.k8s.io", "apiregistration.k8s.io", "scheduling.k8s.io",
                             "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "certificates.k8s.io",
                             "flowcontrol.apiserver.k8s.io", "events.k8s.io", "resource.k8s.io",
                             "internal.apiserver.k8s.io", "storagemigration.k8s.io"})
# how long a new custom resource without any status is waited for (see _no_status)
NO_STATUS_GRACE = 30
_NOT_WORD = re.compile(r"[\s_\-.]")
# a reason that says the object was put to rest on purpose (RolloutPaused, Stopped, Hibernated), not Unpaused
_SUSPENSION = re.compile(r"(?<!un)(?<!not)(paused|suspended|stopped|hibernated)$")


def _word(value: Any) -> str:
    return _NOT_WORD.sub("", str(value)).lower()


def _text(item: dict[str, Any]) -> str:
    return str(item.get("message") or item.get("reason") or "")


def _with(prefix: str, item: dict[str, Any]) -> str:
    text = _text(item)
    return f"{prefix}: {text}" if text else prefix


def _state(item: dict[str, Any]) -> str:
    """A condition's status; a YAML boolean (true) is read as the string the API defines ("True")."""
    state = item.get("status")
    if isinstance(state, bool):
        return "True" if state else "False"
    return str(state) if state is not None else ""


def _conditions_in(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, dict) and isinstance(value.get("conditions"), list):
        return [c for c in value["conditions"] if isinstance(c, dict)]
    return None


def _all_conditions(status: dict[str, Any]) -> list[tuple[str, dict[str, Any]]] | None:
    """(writer, condition) of status.conditions and of those one level down: in a child object (conditionedStatus)
    or per entry of a list (Gateway API parents, ancestors, listeners; Route ingress[]), the writer being the
    entry's controllerName ("" when not said); None when there are none."""
    top = _conditions_in(status)
    found = None if top is None else [("", c) for c in top]
    for key, value in status.items():
        holders = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        for holder in holders:
            nested = _conditions_in(holder)
            if nested is not None and key != "conditions":
                writer = str(holder.get("controllerName") or "")
                found = (found or []) + [(writer, c) for c in nested]
    return found


def _current(written: list[tuple[str, dict[str, Any]]], generation: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The conditions that speak for this generation, and the first of an older one still waited for.

    A condition of an older generation (its observedGeneration) is history when the same controller has written
    one of this generation (a Gateway API parent no longer referenced); otherwise it has not caught up yet.
    """
    def stale(item: dict[str, Any]) -> bool:
        return "observedGeneration" in item and 0 < integer(item.get("observedGeneration"), generation) < generation

    # only a named writer (controllerName) is known to be one controller; conditions of status.conditions stay
    # waited for one by one, as a controller may write them in separate updates
    caught_up = {writer for writer, c in written if writer and integer(c.get("observedGeneration")) >= generation > 0}
    behind = next((c for writer, c in written if stale(c) and writer not in caught_up), None)
    return [c for writer, c in written if not stale(c)], behind


def _failure_type(kind: str) -> bool:
    return kind in FAILURE_TYPES or any(word in kind for word in ("error", "failed", "failure", "unhealthy")) \
        or kind.startswith("invalid") or kind.endswith(("terminal", "degraded"))


def _ready_type(kind: str) -> bool:
    # NotReady, PodsUnavailable, CatalogSourcesUnhealthy end like a ready type but say the opposite
    return kind in READY_TYPES or (kind.endswith(READY_SUFFIXES) and not _failure_type(kind)
                                   and not re.search(r"(not|un)(" + "|".join(READY_SUFFIXES) + ")$", kind))


def _failed(item: dict[str, Any]) -> bool:
    reason = _word(item.get("reason") or "")
    if any(word in reason for word in FAILURE_WORDS) or reason.startswith("err") \
            or str(item.get("severity") or "").lower() == "error":
        return True
    # a message that starts by saying failure ("Failed to ...", "Error: ..."), unless the reason says the
    # controller is still at it (Progressing, Retrying: a transient error it reports on its way)
    if reason and _verdict_of(str(item.get("reason"))) in (PROGRESSING, SUSPENDED):
        return False
    return str(item.get("message") or "").lstrip().lower().startswith(("fail", "error"))


def _by_conditions(status: dict[str, Any], generation: int) -> Health | None:
    written = _all_conditions(status)
    if written is None:
        return None
    if not written:
        return Health(PROGRESSING, "Waiting for the controller to report conditions")
    conditions, behind = _current(written, generation)
    if behind is not None:
        return Health(PROGRESSING, f"Waiting for the controller to observe generation {generation} (condition "
                                   f"{behind.get('type')} is of generation {integer(behind.get('observedGeneration'))})")
    ready: list[dict[str, Any]] = []
    waiting: Health | None = None
    for item in conditions:
        kind, state = _word(item.get("type") or ""), _state(item)
        if state == "True" and _failure_type(kind):
            return Health(DEGRADED, _with(f"{item.get('type')} is True", item))
        reason = _word(item.get("reason") or "")
        # Paused True; or not ready, synced, progressing because paused (RolloutPaused, Crossplane's ReconcilePaused)
        if (state == "True" and kind in ("paused", "suspended")) or (state != "True" and _SUSPENSION.search(reason)):
            return Health(SUSPENDED, _with(f"{item.get('type')} is {state}", item))
        if kind == "synced" and state == "False":
            return Health(DEGRADED, _with("Synced is False", item))
        # a verdict on the spec, not a wait: the controller found it invalid (Valid False) or turned it down
        # (Gateway API's Accepted False; Pending is the one reason that means not looked at yet)
        if state == "False" and (kind in VERDICT_TYPES or (kind in ("accepted", "admitted") and reason not in ("pending", "notreconciled"))):
            return Health(DEGRADED, _with(f"{item.get('type')} is False", item))
        # a run that completed, and says it failed (Complete True, reason Failed)
        if state == "True" and kind in COMPLETION_TYPES and _failed(item):
            return Health(DEGRADED, _with(f"{item.get('type')} is True", item))
        # a positive condition (any type but the failure ones) False for a reason that says failure
        if state == "False" and not _failure_type(kind) and _failed(item):
            return Health(DEGRADED, _with(f"{item.get('type')} is False", item))
        if _ready_type(kind):
            ready.append(item)
        elif state == "True" and waiting is None and (kind in PROGRESS_TYPES or kind.startswith("inprogress") or kind.endswith("pending")
                                                      or (kind == "running" and reason not in SUCCESS_REASONS)):
            waiting = Health(PROGRESSING, _with(f"{item.get('type')} is True", item))
    # a Ready condition sums up the others (a CronJobAvailable False does not matter to a Ready Integration)
    ready = [c for c in ready if _word(c.get("type") or "") == "ready"] or ready
    not_ready = [c for c in ready if _state(c) != "True"]
    if not_ready:
        item = not_ready[0]
        return Health(PROGRESSING, _with(f"{item.get('type')} is {_state(item) or 'not reported'}", item))
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
    for key, value in status.items():  # errMsg, errorDescription, ...
        if isinstance(value, str) and value and key.lower().startswith(("err", "failure")):
            return Health(DEGRADED, f"status.{key}: {value}")
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
    # per target (Karmada's aggregatedStatus): the worst reported health that is not Healthy
    for entry in status.get("aggregatedStatus") or []:
        if isinstance(entry, dict) and _word(entry.get("health") or "") == "unhealthy":
            where = entry.get("clusterName") or entry.get("name") or "a target"
            return Health(DEGRADED, f"status.aggregatedStatus: {entry['health']} on {where}")
    return None


def _word_fields(status: dict[str, Any], prefix: str = "", depth: int = 0) -> Iterable[tuple[str, str]]:
    """(path, word) of phase / state / status and *Status / *State fields, then one level into nested objects
    (and into each reporter of a `statuses` map)."""
    for key in ("phase", "state", "status"):
        if isinstance(status.get(key), str) and status[key]:
            yield prefix + key, status[key]
    for key, value in status.items():
        if isinstance(value, str) and value and key not in ("phase", "state", "status") \
                and key.lower().endswith(("status", "state", "compliant")) and key != "desiredState":
            yield prefix + key, value
    if depth == 0:
        for key, value in status.items():
            if key == "statuses" and isinstance(value, dict):
                for name, reporter in value.items():
                    if isinstance(reporter, dict):
                        yield from _word_fields(reporter, f"{prefix}statuses.{name}.", 1)
            elif isinstance(value, dict) and key not in ("conditions", "health"):
                yield from _word_fields(value, f"{prefix}{key}.", 1)


_CAMEL_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


# each word of PHASE_WORDS and what it says, for one lookup per candidate
_VERDICT_OF_WORD = {word: verdict for verdict, words in PHASE_WORDS.items() for word in words}


def _candidates(value: str) -> Iterable[str]:
    """The words a phase/state value may be known by: whole; a sentence or SNAKE_CASE by its first word
    ("Provisioning MinIO ...", PENDING_RERUN); a CamelCase compound by its last one or two (ClusterReconciling,
    CruiseControlTopicNotReady)."""
    yield _word(value)
    first = re.split(r"[\s_]+", value.strip(), maxsplit=1)
    if len(first) > 1:
        yield _word(first[0].rstrip(",:;"))
    parts = _CAMEL_WORDS.findall(value) if " " not in value.strip() else []
    if len(parts) > 2:
        yield _word("".join(parts[-2:]))
    if len(parts) > 1:
        yield _word(parts[-1])


def _verdict_of(value: str) -> str | None:
    """The status a phase/state word says (see _candidates for how a longer value is read)."""
    for candidate in _candidates(value):  # a generator: the compounds are split only when the whole is unknown
        verdict = _VERDICT_OF_WORD.get(candidate)
        if verdict is not None:
            return verdict
    return None


def _by_words(obj: dict[str, Any], status: dict[str, Any]) -> Health | None:
    message = str(status.get("message") or status.get("reason") or "")
    found: Health | None = None
    for key, value in _word_fields(status):
        verdict = _verdict_of(value)
        if verdict is None:
            continue
        if verdict == HEALTHY and _word(value) == "running" and RUN_TO_COMPLETION.search(str(obj.get("kind") or "")):
            verdict = PROGRESSING  # a run still running has not succeeded yet
        if found is None:
            found = Health(verdict, f"status.{key} is {value}" + (f": {message}" if message else ""))
        elif verdict in (PROGRESSING, DEGRADED):
            # a part still at work or failing outweighs a whole that says healthy (phase Bound, lastOperationStatus
            # Progressing); it is named as well
            return Health(verdict, f"{found.message}, but status.{key} is {value}")
        if found.status != HEALTHY:
            return found
    return found


# (ready, desired) count pairs controllers write besides readyReplicas/replicas
COUNT_PAIRS = (("ready", "size"), ("readyMembers", "members"), ("readyNodes", "nodes"), ("readyInstances", "instances"))
_FRACTION = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def _by_counts(status: dict[str, Any], prefix: str = "", depth: int = 0) -> Health | None:
    """Fewer ready than wanted, in the pairs of COUNT_PAIRS or an "N/M" string of a *Replicas or *Ready field,
    in status or up to two levels down (a Percona replica set, a Cassandra rack): Progressing."""
    for ready_key, size_key in COUNT_PAIRS:
        ready, size = status.get(ready_key), status.get(size_key)
        if isinstance(ready, int) and isinstance(size, int) and not isinstance(ready, bool) and ready < size:
            return Health(PROGRESSING, f"Waiting for {prefix}{ready_key}: {ready} of {size}")
    for key, value in status.items():
        if isinstance(value, str) and key.lower().endswith(("replicas", "ready")):
            fraction = _FRACTION.match(value)
            if fraction and int(fraction.group(1)) < int(fraction.group(2)):
                return Health(PROGRESSING, f"Waiting for {prefix}{key}: {value}")
        elif isinstance(value, dict) and depth < 2 and key not in ("conditions", "health"):
            found = _by_counts(value, f"{prefix}{key}.", depth + 1)
            if found is not None:
                return found
    return None


def _partition(spec: dict[str, Any]) -> int:
    """The partition of an update strategy (updateStrategy.partition or .rollingUpdate.partition), 0 for none."""
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        return 0
    rolling = strategy.get("rollingUpdate")
    value = strategy.get("partition", rolling.get("partition") if isinstance(rolling, dict) else None)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _by_replicas(obj: dict[str, Any], status: dict[str, Any]) -> Health | None:
    spec = spec_of(obj)
    desired = spec.get("replicas", status.get("replicas", status.get("desiredNumberScheduled")))
    if not isinstance(desired, int) or isinstance(desired, bool):
        return None
    # a DaemonSet-like controller counts nodes: numberReady, numberAvailable, updatedNumberScheduled
    counts = [(key, key[:-8]) for key in ("readyReplicas", "availableReplicas") if key in status] \
        + [(key, key[6:].lower()) for key in ("numberReady", "numberAvailable") if key in status]
    for key, what in counts:
        if integer(status[key]) < desired:
            return Health(PROGRESSING, f"Waiting for replicas: {integer(status[key])} of {desired} {what}")
    updated_key = next((k for k in ("updatedReplicas", "updatedNumberScheduled") if k in status), None)
    partition = _partition(spec)
    if updated_key and 0 < partition and desired - partition <= integer(status[updated_key]) < desired:
        # the update went as far as the partition lets it: it goes on when a person lowers the partition
        return Health(SUSPENDED, f"the update is held at partition {partition}: {integer(status[updated_key])} of "
                                 f"{desired} replicas updated, the rest wait for the partition to be lowered")
    for key in ("updatedReplicas", "updatedReadyReplicas", "updatedNumberScheduled"):
        if key in status and integer(status[key]) < desired:
            return Health(PROGRESSING, f"Waiting for replicas: {integer(status[key])} of {desired} {key[:-8] if key.endswith('Replicas') else 'updated'}")
    if "updatedReplicas" in status and integer(status.get("replicas")) > integer(status["updatedReplicas"]):
        return Health(PROGRESSING, f"Waiting for {integer(status.get('replicas')) - integer(status['updatedReplicas'])} "
                                   "old replicas to be replaced")
    return None


def _paused(obj: dict[str, Any]) -> bool:
    """spec.paused, or a paused update strategy up to two levels down (updateStrategy.rollingUpdate.paused)."""
    spec, status = spec_of(obj), status_of(obj)
    if status.get("paused") is True or status.get("controllerPause") is True:
        return True
    levels = [spec]
    for dummy in range(2):
        levels = [v for level in levels for k, v in level.items() if isinstance(v, dict) and k != "template"]
        if any(level.get("paused") is True for level in levels):
            return True
    return spec.get("paused") is True


def _created_seconds_ago(obj: dict[str, Any], now: float) -> float | None:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return now - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def reports_status(group: str, kind: str) -> bool:
    """Whether the controller of a custom resource kind reports a status: Argo CD's health check for the kind
    waits for one (reporting_kinds.py, exact kinds first, then Argo CD's wildcard groups and kinds)."""
    key = f"{group}/{kind}"
    if key in REPORTING_KINDS:
        return True
    return key not in NOT_REPORTING_KINDS and any(fnmatch.fnmatchcase(key, pattern) for pattern in REPORTING_KIND_PATTERNS)


def _no_status(obj: dict[str, Any], now: float | None) -> Health:
    """An object without any status.

    Right after it is created, a custom resource has no status: its controller has not seen it yet, and
    judging it Healthy would let a wave move on before, say, a Certificate is even looked at. For a kind
    whose controller is known to report a status (Argo CD ships a check for it that says Progressing here:
    reporting_kinds.py), the object is Progressing whatever its age, as in Argo CD: a Certificate found
    without a status (cert-manager not running yet, or still at work) holds its wave until the status comes
    or the wave times out. But many custom resources never get a status (ServiceMonitor, Istio's
    VirtualService, Traefik's Middleware: their controllers only read them; Argo CD has no check for them),
    and waiting on them would fail every first sync after wait_timeout. So a custom resource of any other
    kind (metadata.generation is set, its group is not one of Kubernetes' own) without a status is
    Progressing only in its first NO_STATUS_GRACE seconds: a wave waits at most that long for a controller
    that never writes one. Objects of Kubernetes' own kinds without a status (ConfigMap, Role) are Healthy at once.
    """
    kind = obj.get("kind") or "object"
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    if group and reports_status(group, kind):
        return Health(PROGRESSING, f"Waiting for its controller to report a status ({group}/{kind} reports one: "
                                   "Argo CD's health check for the kind waits for it too)")
    if "generation" in (obj.get("metadata") or {}) and group not in BUILT_IN_GROUPS:
        age = _created_seconds_ago(obj, time.time() if now is None else now)
        if age is not None and age < NO_STATUS_GRACE:
            return Health(PROGRESSING, f"Waiting for the controller to write the {kind}'s status (judged Healthy if "
                                       f"none comes within {NO_STATUS_GRACE}s of its creation)")
    return Health(HEALTHY, f"no health information found: the {kind} has no status")


def generic(obj: dict[str, Any], now: float | None = None) -> Health:
    """The judgment for a kind with neither a built-in check nor a Lua script (`now`: epoch seconds, for tests)."""
    kind = obj.get("kind") or "object"
    if _paused(obj):
        return Health(SUSPENDED, f"the {kind} is paused")
    if spec_of(obj).get("suspend") is True:
        return Health(SUSPENDED, f"the {kind} is suspended")
    status = obj.get("status")
    if not isinstance(status, dict) or not status:
        return _no_status(obj, now)
    generation = integer((obj.get("metadata") or {}).get("generation"))
    observed = status.get("observedGeneration")
    # some controllers write a hash here: only a number says which generation was seen
    if isinstance(observed, int) or (isinstance(observed, str) and observed.isdigit()):
        # without metadata.generation there is nothing to lag behind (Flux starts observedGeneration at -1)
        if 0 < generation and integer(observed) < generation:
            return Health(PROGRESSING, f"Waiting for the controller to observe generation {generation} (observed {integer(observed)})")
    verdict = _by_conditions(status, generation)
    fields = _by_fields(status)
    words = _by_words(obj, status)
    if verdict is None:
        verdict = fields
    # Healthy only when no other evidence says otherwise (Ready True or health green while the phase says
    # Provisioning: still at work); a phase that says Failed outweighs a condition still waiting
    # and a phase that says Stopped explains a Ready False (a stopped virtual machine is not waited for)
    if words is not None and (verdict is None or (verdict.status == HEALTHY and words.status != HEALTHY)
                              or (verdict.status == PROGRESSING and words.status in (DEGRADED, SUSPENDED))):
        verdict = words
    if verdict is None or verdict.status == HEALTHY:
        verdict = _by_replicas(obj, status) or _by_counts(status) or verdict
    if verdict is not None:
        return verdict
    return Health(HEALTHY, f"no health information found: the {kind}'s status has no condition, phase or state "
                           "this collection knows")
