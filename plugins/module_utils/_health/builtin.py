# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Built-in health checks: the kinds Argo CD judges in code (gitops-engine's health package) and those it ships
as Lua in its resource_customizations (CronJob, PodDisruptionBudget, the Application health snippet of its docs),
written here in Python with the same verdicts. Where Argo CD gives no message, a short one says why.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ansible_collections.gitops.kubernetes.plugins.module_utils._health.model import (
    DEGRADED,
    HEALTH_ORDER,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    Health,
    condition,
    integer,
    spec_of,
    status_of,
)

# argocd.argoproj.io/ignore-restart-policy: "true" judges a Pod that never restarts as a long-running one
IGNORE_RESTART_POLICY = "argocd.argoproj.io/ignore-restart-policy"
HOOK_ANNOTATIONS = ("argocd.argoproj.io/hook", "helm.sh/hook")


def _generation(obj: dict[str, Any]) -> int:
    return integer((obj.get("metadata") or {}).get("generation"))


def _observed(obj: dict[str, Any]) -> int:
    return integer(status_of(obj).get("observedGeneration"))


def deployment(obj: dict[str, Any]) -> Health:
    spec, status = spec_of(obj), status_of(obj)
    if spec.get("paused"):
        return Health(SUSPENDED, "Deployment is paused")
    if _generation(obj) > _observed(obj):
        return Health(PROGRESSING, "Waiting for rollout to finish: observed deployment generation less than desired generation")
    progressing = condition(obj, "Progressing")
    name = (obj.get("metadata") or {}).get("name") or ""
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        detail = progressing.get("message") or ""
        return Health(DEGRADED, f'Deployment "{name}" exceeded its progress deadline' + (f": {detail}" if detail else ""))
    replicas = spec.get("replicas")
    updated = integer(status.get("updatedReplicas"))
    if replicas is not None and updated < integer(replicas):
        return Health(PROGRESSING, f"Waiting for rollout to finish: {updated} out of {integer(replicas)} new replicas have been updated...")
    total = integer(status.get("replicas"))
    if total > updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {total - updated} old replicas are pending termination...")
    available = integer(status.get("availableReplicas"))
    if available < updated:
        return Health(PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available...")
    return Health(HEALTHY, f"{available} of {integer(replicas, total)} replicas available")


def statefulset(obj: dict[str, Any]) -> Health:
    spec, status = spec_of(obj), status_of(obj)
    if _observed(obj) == 0 or _generation(obj) > _observed(obj):
        return Health(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    replicas = spec.get("replicas")
    ready = integer(status.get("readyReplicas"))
    if replicas is not None and ready < integer(replicas):
        return Health(PROGRESSING, f"Waiting for {integer(replicas) - ready} pods to be ready...")
    strategy = spec.get("updateStrategy") or {}
    updated = integer(status.get("updatedReplicas"))
    # as gitops-engine: a RollingUpdate strategy with rollingUpdate set (the API server defaults it) ends here
    if strategy.get("type") == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        partition = strategy["rollingUpdate"].get("partition")
        if replicas is not None and partition is not None and updated < integer(replicas) - integer(partition):
            return Health(PROGRESSING, f"Waiting for partitioned roll out to finish: {updated} out of "
                                       f"{integer(replicas) - integer(partition)} new pods have been updated...")
        return Health(HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY, f"statefulset has {ready} ready pods")
    if (status.get("updateRevision") or "") != (status.get("currentRevision") or ""):
        return Health(PROGRESSING, f"waiting for statefulset rolling update to complete {updated} pods at revision "
                                   f"{status.get('updateRevision') or ''}...")
    return Health(HEALTHY, f"statefulset rolling update complete {integer(status.get('currentReplicas'))} pods at revision "
                           f"{status.get('currentRevision') or ''}...")


def daemonset(obj: dict[str, Any]) -> Health:
    status = status_of(obj)
    name = (obj.get("metadata") or {}).get("name") or ""
    if _generation(obj) > _observed(obj):
        return Health(PROGRESSING, "Waiting for rollout to finish: observed daemon set generation less than desired generation")
    desired = integer(status.get("desiredNumberScheduled"))
    updated = integer(status.get("updatedNumberScheduled"))
    if (spec_of(obj).get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    if updated < desired:
        return Health(PROGRESSING, f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods have been updated...')
    available = integer(status.get("numberAvailable"))
    if available < desired:
        return Health(PROGRESSING, f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods are available...')
    return Health(HEALTHY, f"{available} of {desired} pods available")


def replicaset(obj: dict[str, Any]) -> Health:
    if _generation(obj) > _observed(obj):
        return Health(PROGRESSING, "Waiting for rollout to finish: observed replica set generation less than desired generation")
    failure = condition(obj, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return Health(DEGRADED, failure.get("message") or "")
    replicas = spec_of(obj).get("replicas")
    available = integer(status_of(obj).get("availableReplicas"))
    if replicas is not None and available < integer(replicas):
        return Health(PROGRESSING, f"Waiting for rollout to finish: {available} out of {integer(replicas)} new replicas are available...")
    return Health(HEALTHY, f"{available} replicas available")


def job(obj: dict[str, Any]) -> Health:
    failed = complete = suspended = False
    message = fail_message = ""
    for item in status_of(obj).get("conditions") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Failed":
            failed = complete = True
            fail_message = item.get("message") or ""
        elif item.get("type") == "Complete":
            complete, message = True, item.get("message") or ""
        elif item.get("type") == "Suspended":
            complete, message = True, item.get("message") or ""
            suspended = suspended or item.get("status") == "True"
    if not complete:
        status = status_of(obj)
        return Health(PROGRESSING, message or f"Job running: {integer(status.get('active'))} active, "
                                              f"{integer(status.get('succeeded'))} succeeded")
    if failed:
        return Health(DEGRADED, fail_message or "Job failed")
    if suspended:
        return Health(SUSPENDED, message or "Job is suspended")
    return Health(HEALTHY, message or "Job completed")


def _is_hook(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(key) for key in HOOK_ANNOTATIONS)


def _bad_waiting(reason: str) -> bool:
    # gitops-engine's rule: ErrImagePull, CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError, ...
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _fail_message(container: dict[str, Any]) -> str:
    terminated = (container.get("state") or {}).get("terminated")
    if not isinstance(terminated, dict):
        return ""
    if terminated.get("message"):
        return str(terminated["message"])
    if terminated.get("reason") == "OOMKilled":
        return "OOMKilled"
    if integer(terminated.get("exitCode")):
        return f'container "{container.get("name")}" failed with exit code {integer(terminated.get("exitCode"))}'
    return ""


def pod(obj: dict[str, Any]) -> Health:
    spec, status = spec_of(obj), status_of(obj)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    policy = spec.get("restartPolicy") or "Always"
    # never-restarting Pods are hooks as a rule: judging their waits Degraded would fail a hook that may still run
    long_running = policy == "Always" or (annotations.get(IGNORE_RESTART_POLICY) == "true" and not _is_hook(obj))
    message = status.get("message") or ""
    containers = [c for c in status.get("containerStatuses") or [] if isinstance(c, dict)]
    if long_running:
        waits = [((c.get("state") or {}).get("waiting") or {}) for c in containers]
        bad = [w for w in waits if isinstance(w, dict) and _bad_waiting(str(w.get("reason") or ""))]
        if bad:
            return Health(DEGRADED, ", ".join(str(w.get("message") or w.get("reason")) for w in bad))
    phase = status.get("phase")
    if phase == "Pending":
        return Health(PROGRESSING, message or "Pod is pending")
    if phase == "Succeeded":
        return Health(HEALTHY, message or "Pod completed")
    if phase == "Failed":
        if message:
            return Health(DEGRADED, message)
        init = [c for c in status.get("initContainerStatuses") or [] if isinstance(c, dict)]
        for container in init + containers:
            reason = _fail_message(container)
            if reason:
                return Health(DEGRADED, reason)
        return Health(DEGRADED, "Pod failed")
    if phase == "Running":
        if long_running:
            ready = condition(obj, "Ready")
            if ready and ready.get("status") == "True":
                return Health(HEALTHY, message or "Pod is running and ready")
            if any(isinstance((c.get("lastState") or {}).get("terminated"), dict) for c in containers):
                return Health(DEGRADED, message or "Pod is not ready and a container has terminated")
            return Health(PROGRESSING, message or "Pod is running, waiting for it to be ready")
        if policy in ("OnFailure", "Never"):
            return Health(PROGRESSING, message or "Pod is running")
    return Health(UNKNOWN, message or f"Pod phase is {phase or 'not reported'}")


def pvc(obj: dict[str, Any]) -> Health:
    phase = status_of(obj).get("phase")
    if phase == "Bound":
        return Health(HEALTHY, "claim is bound")
    if phase == "Pending":
        return Health(PROGRESSING, "claim is pending")
    if phase == "Lost":
        return Health(DEGRADED, "claim lost its volume")
    return Health(UNKNOWN, f"claim phase is {phase or 'not reported'}")


def _addresses(obj: dict[str, Any]) -> list[Any]:
    return list((status_of(obj).get("loadBalancer") or {}).get("ingress") or [])


def service(obj: dict[str, Any]) -> Health:
    if spec_of(obj).get("type") != "LoadBalancer":
        return Health(HEALTHY)
    if _addresses(obj):
        return Health(HEALTHY, "load balancer has an address")
    return Health(PROGRESSING, "Waiting for the load balancer to get an address")


def ingress(obj: dict[str, Any]) -> Health:
    if _addresses(obj):
        return Health(HEALTHY, "ingress has an address")
    return Health(PROGRESSING, "Waiting for the ingress to get an address")


def apiservice(obj: dict[str, Any]) -> Health:
    available = condition(obj, "Available")
    if available is None:
        return Health(PROGRESSING, "Waiting to be processed")
    text = f"{available.get('reason') or ''}: {available.get('message') or ''}"
    return Health(HEALTHY if available.get("status") == "True" else PROGRESSING, text)


_HPA_DEGRADED = {("AbleToScale", "FailedGetScale"), ("AbleToScale", "FailedUpdateScale"),
                 ("ScalingActive", "FailedGetResourceMetric"), ("ScalingActive", "FailedGetObjectMetric"),
                 ("ScalingActive", "FailedGetPodsMetric"), ("ScalingActive", "FailedGetExternalMetric"),
                 ("ScalingActive", "FailedComputeMetricsReplicas"), ("ScalingActive", "InvalidSelector")}
_HPA_WAITING = Health(PROGRESSING, "Waiting to Autoscale")


def hpa(obj: dict[str, Any]) -> Health:
    """autoscaling/v1 keeps its conditions in an annotation, v2 (and v2beta*) in status.conditions."""
    version = (obj.get("apiVersion") or "").rpartition("/")[2]
    if version == "v1":
        raw = ((obj.get("metadata") or {}).get("annotations") or {}).get("autoscaling.alpha.kubernetes.io/conditions")
        if raw is None:
            return _HPA_WAITING
        try:
            conditions = json.loads(raw)
        except ValueError as exc:
            return Health(UNKNOWN, f"failed to convert conditions annotation to typed: {exc}")
    else:
        conditions = status_of(obj).get("conditions")
    items = [item for item in conditions if isinstance(item, dict)] if isinstance(conditions, list) else []
    # a failure anywhere outweighs a healthy AbleToScale before it
    for item in items:
        if (item.get("type"), item.get("reason")) in _HPA_DEGRADED:
            return Health(DEGRADED, item.get("message") or "")
    for item in items:
        if item.get("type") in ("AbleToScale", "ScalingLimited") and item.get("status") == "True":
            return Health(HEALTHY, item.get("message") or "")
    return _HPA_WAITING


def cronjob(obj: dict[str, Any]) -> Health:
    """As Argo CD's CronJob health.lua: a suspended CronJob is Healthy (Argo CD issue 24428), a failed last run
    Degraded."""
    if spec_of(obj).get("suspend") is True:
        return Health(HEALTHY, "CronJob is Suspended")
    status = obj.get("status")
    if not isinstance(status, dict):
        return Health(PROGRESSING, "Waiting for CronJob")
    scheduled, succeeded = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    if scheduled is None:
        return Health(HEALTHY, "CronJob has not been scheduled yet")
    if succeeded is None:
        return Health(HEALTHY, "The CronJob never completed successfully. It may not be healthy")
    if status.get("active"):
        return Health(HEALTHY, "The job is running. Its last execution may not have been successful")
    if str(succeeded) < str(scheduled):  # RFC 3339 times in UTC compare as text, as the Lua script does
        return Health(DEGRADED, "CronJob has not completed its last execution successfully")
    return Health(HEALTHY, "CronJob has completed its last execution successfully")


def pod_disruption_budget(obj: dict[str, Any]) -> Health:
    """As Argo CD's PodDisruptionBudget health.lua: the last condition decides; InsufficientPods is not a fault."""
    result = Health(PROGRESSING, "Waiting for status")
    for item in status_of(obj).get("conditions") or []:
        if not isinstance(item, dict):
            continue
        reason = item.get("reason") or ""
        if item.get("status") == "False" and reason != "InsufficientPods":
            return Health(DEGRADED, f"PodDisruptionBudget has {reason}")
        result = Health(HEALTHY, f"PodDisruptionBudget has {reason}")
    return result


def argocd_application(obj: dict[str, Any]) -> Health:
    """A child Application (app-of-apps) is as healthy as its status.health says (Argo CD's documented snippet)."""
    health = status_of(obj).get("health")
    if not isinstance(health, dict) or not health.get("status"):
        return Health(PROGRESSING, "Waiting for the Application to report its health")
    status = str(health["status"])
    if status not in HEALTH_ORDER:
        return Health(UNKNOWN, f"the Application reports an unknown health {status!r}")
    return Health(status, str(health.get("message") or ""))


def argo_workflow(obj: dict[str, Any]) -> Health:
    status = status_of(obj)
    phase, message = status.get("phase") or "", str(status.get("message") or "")
    if phase in ("", "Pending", "Running"):
        return Health(PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HEALTHY, message)
    if phase in ("Failed", "Error"):
        return Health(DEGRADED, message)
    return Health(UNKNOWN, message)


def crd(obj: dict[str, Any]) -> Health:
    """Our own (Argo CD has none built in): the sync waits for a CRD to be Established before its custom resources."""
    names = condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return Health(DEGRADED, names.get("message") or "names not accepted")
    non_structural = condition(obj, "NonStructuralSchema")
    if non_structural and non_structural.get("status") == "True":
        return Health(DEGRADED, non_structural.get("message") or "schema is not structural")
    established = condition(obj, "Established")
    if established and established.get("status") == "True":
        return Health(HEALTHY, "CustomResourceDefinition is established")
    return Health(PROGRESSING, "Waiting for the CustomResourceDefinition to be established")


# (group, kind) -> check; "extensions" Ingress is the old API group of the same kind
CHECKS: dict[tuple[str, str], Callable[[dict[str, Any]], Health]] = {
    ("apps", "Deployment"): deployment,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("apps", "ReplicaSet"): replicaset,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cronjob,
    ("", "Pod"): pod,
    ("", "PersistentVolumeClaim"): pvc,
    ("", "Service"): service,
    ("networking.k8s.io", "Ingress"): ingress,
    ("extensions", "Ingress"): ingress,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa,
    ("policy", "PodDisruptionBudget"): pod_disruption_budget,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd,
    ("apiregistration.k8s.io", "APIService"): apiservice,
    ("argoproj.io", "Application"): argocd_application,
    ("argoproj.io", "Workflow"): argo_workflow,
}
