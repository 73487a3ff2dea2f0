# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Health stage: is a live object healthy, still progressing, or broken?

Built-in checks follow Argo CD's (gitops-engine) for Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job, Pod, PersistentVolumeClaim, Service, Ingress,
CustomResourceDefinition and APIService; any other kind is judged by its
``status.observedGeneration`` and ``status.conditions`` (Ready / Available,
Stalled / Reconciling as kstatus defines them). An object without status is
Healthy: a ConfigMap has nothing to wait for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

HEALTHY = "Healthy"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
SUSPENDED = "Suspended"
MISSING = "Missing"
UNKNOWN = "Unknown"
# Argo CD's order, least to most severe
HEALTH_ORDER = (HEALTHY, SUSPENDED, PROGRESSING, MISSING, DEGRADED, UNKNOWN)
# a wave is done when each object is in one of these
SETTLED = frozenset({HEALTHY, SUSPENDED})


@dataclass(frozen=True)
class Health:
    """Health of one object and the reason, in words a user understands."""

    status: str
    message: str = ""

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "message": self.message}


def worst(statuses: Iterable[str]) -> str:
    """The most severe status (Healthy for none)."""
    found = [s for s in statuses if s in HEALTH_ORDER]
    return max(found, key=HEALTH_ORDER.index) if found else HEALTHY


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in _status(obj).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == kind:
            return condition
    return None


def _generation_observed(obj: dict[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    if generation is None:
        return True
    return observed is not None and int(observed) >= int(generation)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _deployment(obj: dict[str, Any]) -> Health:
    if _spec(obj).get("paused"):
        return Health(SUSPENDED, "Deployment is paused")
    if not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for rollout to finish: observed deployment generation less than desired generation")
    status = _status(obj)
    progressing = _condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(DEGRADED, f"Deployment exceeded its progress deadline: {progressing.get('message', '')}".rstrip(": "))
    replicas = _spec(obj).get("replicas", 1)
    updated = _int(status.get("updatedReplicas"))
    if replicas is not None and updated < _int(replicas):
        return Health(PROGRESSING, f"Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated...")
    total = _int(status.get("replicas"))
    if total > updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {total - updated} old replicas are pending termination...")
    available = _int(status.get("availableReplicas"))
    if available < updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available...")
    return Health(HEALTHY, f"{available} of {replicas} replicas available")


def _statefulset(obj: dict[str, Any]) -> Health:
    status = _status(obj)
    if _int(status.get("observedGeneration")) == 0 or not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    spec = _spec(obj)
    strategy = spec.get("updateStrategy") or {}
    ready = _int(status.get("readyReplicas"))
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY, f"statefulset has {ready} ready pods")
    replicas = _int(spec.get("replicas", 1))
    if ready < replicas:
        return Health(PROGRESSING, f"Waiting for {replicas - ready} pods to be ready...")
    partition = _int((strategy.get("rollingUpdate") or {}).get("partition"))
    if partition:
        updated = _int(status.get("updatedReplicas"))
        if updated < replicas - partition:
            return Health(PROGRESSING, f"Waiting for partitioned roll out to finish: {updated} out of {replicas - partition} new pods have been updated...")
        return Health(HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if status.get("updateRevision") and status.get("updateRevision") != status.get("currentRevision"):
        return Health(PROGRESSING, f"waiting for statefulset rolling update to complete "
                                   f"{_int(status.get('updatedReplicas'))} pods at revision {status.get('updateRevision')}...")
    return Health(HEALTHY, f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods "
                           f"at revision {status.get('currentRevision')}...")


def _daemonset(obj: dict[str, Any]) -> Health:
    if not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for rollout to finish: observed daemon set generation less than desired generation")
    status = _status(obj)
    if (_spec(obj).get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(HEALTHY, f"daemon set {_int(status.get('currentNumberScheduled'))} out of "
                               f"{_int(status.get('desiredNumberScheduled'))} new pods have been updated")
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    if updated < desired:
        return Health(PROGRESSING, f"Waiting for daemon set rollout to finish: {updated} out of {desired} new pods have been updated...")
    available = _int(status.get("numberAvailable"))
    if available < desired:
        return Health(PROGRESSING, f"Waiting for daemon set rollout to finish: {available} of {desired} updated pods are available...")
    return Health(HEALTHY, f"{available} of {desired} pods available")


def _replicaset(obj: dict[str, Any]) -> Health:
    if not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for rollout to finish: observed replica set generation less than desired generation")
    failure = _condition(obj, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return Health(DEGRADED, failure.get("message") or "replica failure")
    replicas = _int(_spec(obj).get("replicas", 1))
    available = _int(_status(obj).get("availableReplicas"))
    if available < replicas:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {available} out of {replicas} new replicas are available...")
    return Health(HEALTHY, f"{available} of {replicas} replicas available")


def _job(obj: dict[str, Any]) -> Health:
    for kind in ("Failed", "FailureTarget"):
        condition = _condition(obj, kind)
        if condition and condition.get("status") == "True":
            return Health(DEGRADED, condition.get("message") or condition.get("reason") or "Job failed")
    complete = _condition(obj, "Complete")
    if complete and complete.get("status") == "True":
        return Health(HEALTHY, complete.get("message") or "Job completed")
    suspended = _condition(obj, "Suspended")
    if (suspended and suspended.get("status") == "True") or _spec(obj).get("suspend"):
        return Health(SUSPENDED, "Job is suspended")
    return Health(PROGRESSING, f"Job running: {_int(_status(obj).get('active'))} active, {_int(_status(obj).get('succeeded'))} succeeded")


_BAD_WAITING = ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError",
                "InvalidImageName", "CreateContainerError", "RunContainerError")


def _pod(obj: dict[str, Any]) -> Health:
    status = _status(obj)
    phase = status.get("phase") or "Pending"
    message = status.get("message") or ""
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _BAD_WAITING:
            return Health(DEGRADED, f"container {container.get('name')}: {waiting.get('reason')} {waiting.get('message') or ''}".strip())
    if phase == "Succeeded":
        return Health(HEALTHY, message or "Pod completed")
    if phase == "Failed":
        return Health(DEGRADED, message or status.get("reason") or "Pod failed")
    if phase == "Running":
        if (_spec(obj).get("restartPolicy") or "Always") == "Always":
            ready = _condition(obj, "Ready")
            if ready and ready.get("status") == "True":
                return Health(HEALTHY, "Pod is running and ready")
            return Health(PROGRESSING, "Pod is running, waiting for it to be ready")
        return Health(PROGRESSING, "Pod is running")
    return Health(PROGRESSING, message or f"Pod is {phase}")


def _pvc(obj: dict[str, Any]) -> Health:
    phase = _status(obj).get("phase")
    if phase == "Bound":
        return Health(HEALTHY, "claim is bound")
    if phase == "Lost":
        return Health(DEGRADED, "claim lost its volume")
    return Health(PROGRESSING, f"claim is {phase or 'Pending'}")


def _load_balancer(obj: dict[str, Any], what: str) -> Health:
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        addresses = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
        return Health(HEALTHY, f"{what} has address {', '.join(a for a in addresses if a)}".rstrip())
    return Health(PROGRESSING, f"Waiting for the {what} to get an address")


def _service(obj: dict[str, Any]) -> Health:
    if _spec(obj).get("type") == "LoadBalancer":
        return _load_balancer(obj, "load balancer")
    return Health(HEALTHY)


def _ingress(obj: dict[str, Any]) -> Health:
    return _load_balancer(obj, "ingress")


def _crd(obj: dict[str, Any]) -> Health:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Health(PROGRESSING, "CustomResourceDefinition is being deleted")
    names = _condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return Health(DEGRADED, names.get("message") or "names not accepted")
    non_structural = _condition(obj, "NonStructuralSchema")
    if non_structural and non_structural.get("status") == "True":
        return Health(DEGRADED, non_structural.get("message") or "schema is not structural")
    established = _condition(obj, "Established")
    if established and established.get("status") == "True":
        return Health(HEALTHY, "CustomResourceDefinition is established")
    return Health(PROGRESSING, "Waiting for the CustomResourceDefinition to be established")


def _apiservice(obj: dict[str, Any]) -> Health:
    available = _condition(obj, "Available")
    if available and available.get("status") == "True":
        return Health(HEALTHY, available.get("message") or "APIService is available")
    reason = (available or {}).get("message") or (available or {}).get("reason") or "waiting for the APIService"
    return Health(PROGRESSING, reason)


def _generic(obj: dict[str, Any]) -> Health:
    status = obj.get("status")
    if not isinstance(status, dict) or not status:
        return Health(HEALTHY)
    if not _generation_observed(obj) and "observedGeneration" in status:
        return Health(PROGRESSING, "Waiting for the controller to observe the latest generation")
    stalled = _condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return Health(DEGRADED, stalled.get("message") or stalled.get("reason") or "stalled")
    for kind in ("Ready", "Available"):
        condition = _condition(obj, kind)
        if condition is None:
            continue
        text = condition.get("message") or condition.get("reason") or ""
        if condition.get("status") == "True":
            return Health(HEALTHY, text)
        return Health(PROGRESSING, text or f"{kind} is {condition.get('status')}")
    reconciling = _condition(obj, "Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return Health(PROGRESSING, reconciling.get("message") or "reconciling")
    return Health(HEALTHY)


_CHECKS: dict[tuple[str, str], Callable[[dict[str, Any]], Health]] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("", "Pod"): _pod,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Service"): _service,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("apiregistration.k8s.io", "APIService"): _apiservice,
}


def assess(obj: dict[str, Any] | None) -> Health:
    """Health of a live object (None: Missing)."""
    if obj is None:
        return Health(MISSING, "object does not exist")
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    check = _CHECKS.get((group, obj.get("kind") or ""), _generic)
    try:
        return check(obj)
    except (TypeError, ValueError, AttributeError) as exc:  # a malformed status must not stop the sync
        return Health(UNKNOWN, f"cannot assess health: {exc}")


def hook_finished(health: Health) -> bool | None:
    """For a hook: True when it succeeded, False when it failed, None while running.

    Jobs and Pods finish; any other kind of hook finishes as soon as it is
    Healthy (a ConfigMap hook succeeds once created).
    """
    if health.status == DEGRADED:
        return False
    if health.status == HEALTHY:
        return True
    return None
