"""Unit tests for health assessment (_health), with statuses as the API server reports them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._health import (
    DEGRADED,
    HEALTHY,
    MISSING,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    Health,
    assess,
    counts_for_application,
    hook_finished,
    worst,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.generic import NO_STATUS_GRACE, generic


def deployment(generation: int = 2, observed: int = 2, desired: int = 3, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": desired},
        "status": {"observedGeneration": observed, **status},
    }


def test_missing_object():
    assert assess(None) == Health(MISSING, "object does not exist")


@pytest.mark.parametrize(
    "obj, status, words",
    [
        (deployment(observed=1), PROGRESSING, "observed deployment generation less than desired"),
        (deployment(updatedReplicas=1, replicas=1), PROGRESSING, "1 out of 3 new replicas have been updated"),
        (deployment(updatedReplicas=3, replicas=4), PROGRESSING, "1 old replicas are pending termination"),
        (deployment(updatedReplicas=3, replicas=3, availableReplicas=2), PROGRESSING, "2 of 3 updated replicas are available"),
        (deployment(updatedReplicas=3, replicas=3, availableReplicas=3), HEALTHY, "3 of 3 replicas available"),
        (deployment(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                 "message": "ReplicaSet web-1 has timed out progressing."}]),
         DEGRADED, "exceeded its progress deadline: ReplicaSet web-1 has timed out"),
    ],
)
def test_deployment(obj: dict[str, Any], status: str, words: str):
    health = assess(obj)
    assert health.status == status and words in health.message


def test_paused_deployment_is_suspended():
    obj = deployment(updatedReplicas=0)
    obj["spec"]["paused"] = True
    assert assess(obj).status == SUSPENDED


def test_statefulset_daemonset_replicaset():
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1},
           "spec": {"replicas": 2}, "status": {"observedGeneration": 1, "readyReplicas": 1}}
    assert assess(sts) == Health(PROGRESSING, "Waiting for 1 pods to be ready...")
    sts["status"].update(readyReplicas=2, currentRevision="a", updateRevision="b", updatedReplicas=1)
    assert assess(sts).status == PROGRESSING and "revision b" in assess(sts).message
    sts["status"]["currentRevision"] = "b"
    assert assess(sts).status == HEALTHY
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1},
          "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 1}}
    assert assess(ds).status == PROGRESSING
    ds["status"]["numberAvailable"] = 2
    assert assess(ds).status == HEALTHY
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota exceeded"}]}}
    assert assess(rs) == Health(DEGRADED, "quota exceeded")


def test_job():
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "status": {"active": 1}}
    assert assess(job).status == PROGRESSING
    job["status"]["conditions"] = [{"type": "Complete", "status": "True"}]
    assert assess(job).status == HEALTHY and hook_finished(assess(job)) is True
    job["status"]["conditions"] = [{"type": "Failed", "status": "True", "message": "Job has reached the specified backoff limit"}]
    assert assess(job) == Health(DEGRADED, "Job has reached the specified backoff limit")
    assert hook_finished(assess(job)) is False


def pod(phase: str, policy: str = "Always", annotations: dict[str, str] | None = None, **status: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": annotations or {}},
            "spec": {"restartPolicy": policy}, "status": {"phase": phase, **status}}


READY = [{"type": "Ready", "status": "True"}]
NOT_READY = [{"type": "Ready", "status": "False"}]


def waiting(reason: str, message: str) -> list[dict[str, Any]]:
    return [{"name": "app", "state": {"waiting": {"reason": reason, "message": message}}}]


@pytest.mark.parametrize(
    "obj, expected",
    [
        (pod("Pending", message="0/1 nodes are available"), Health(PROGRESSING, "0/1 nodes are available")),
        (pod("Running", conditions=READY), Health(HEALTHY, "Pod is running and ready")),
        (pod("Running", conditions=NOT_READY), Health(PROGRESSING, "Pod is running, waiting for it to be ready")),
        (pod("Running", conditions=NOT_READY, containerStatuses=waiting("CrashLoopBackOff", "back-off 5m0s restarting")),
         Health(DEGRADED, "back-off 5m0s restarting")),
        (pod("Pending", containerStatuses=waiting("ImagePullBackOff", "Back-off pulling image")), Health(DEGRADED, "Back-off pulling image")),
        (pod("Pending", containerStatuses=waiting("ErrImagePull", "not found")), Health(DEGRADED, "not found")),
        (pod("Pending", containerStatuses=waiting("ContainerCreating", "")), Health(PROGRESSING, "Pod is pending")),
        # a container that terminated while the Pod is not ready: Argo CD's pod-error case
        (pod("Running", conditions=NOT_READY, containerStatuses=[{"name": "app", "lastState": {"terminated": {"exitCode": 1}},
                                                                 "state": {"running": {}}}]),
         Health(DEGRADED, "Pod is not ready and a container has terminated")),
        (pod("Failed", containerStatuses=[{"name": "app", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]),
         Health(DEGRADED, 'container "app" failed with exit code 2')),
        (pod("Failed", containerStatuses=[{"name": "app", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]),
         Health(DEGRADED, "OOMKilled")),
        (pod("Failed", message="The node was low on resource"), Health(DEGRADED, "The node was low on resource")),
        (pod("Succeeded", "Never"), Health(HEALTHY, "Pod completed")),
        # never-restarting Pods are hooks as a rule: running is Progressing, a wait is no failure yet
        (pod("Running", "Never", conditions=READY), Health(PROGRESSING, "Pod is running")),
        (pod("Running", "OnFailure", containerStatuses=waiting("CrashLoopBackOff", "back-off")), Health(PROGRESSING, "Pod is running")),
        (pod("Running", "Never", {"argocd.argoproj.io/ignore-restart-policy": "true"}, conditions=READY),
         Health(HEALTHY, "Pod is running and ready")),
        (pod("Running", "Never", {"argocd.argoproj.io/ignore-restart-policy": "true"},
             containerStatuses=waiting("CrashLoopBackOff", "back-off")), Health(DEGRADED, "back-off")),
        # the annotation is not honoured on hooks
        (pod("Running", "Never", {"argocd.argoproj.io/ignore-restart-policy": "true", "argocd.argoproj.io/hook": "PreSync"},
             conditions=READY), Health(PROGRESSING, "Pod is running")),
        (pod("Unknown"), Health(UNKNOWN, "Pod phase is Unknown")),
    ],
)
def test_pod_as_argo_cd_judges_it(obj: dict[str, Any], expected: Health):
    assert assess(obj) == expected


def test_pod_being_deleted_is_progressing():
    obj = pod("Running", conditions=READY)
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert assess(obj) == Health(PROGRESSING, "Pending deletion")
    obj["metadata"]["finalizers"] = ["argocd.argoproj.io/hook-finalizer"]
    assert assess(obj).status == HEALTHY


def test_pvc_service_ingress():
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}
    assert assess(pvc).status == PROGRESSING
    pvc["status"]["phase"] = "Bound"
    assert assess(pvc).status == HEALTHY
    pvc["status"]["phase"] = "Lost"
    assert assess(pvc).status == DEGRADED
    svc = {"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}, "status": {"loadBalancer": {}}}
    assert assess(svc).status == HEALTHY
    svc["spec"]["type"] = "LoadBalancer"
    assert assess(svc).status == PROGRESSING
    svc["status"]["loadBalancer"] = {"ingress": [{"ip": "10.0.0.9"}]}
    assert assess(svc).status == HEALTHY
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "status": {"loadBalancer": {}}}
    assert assess(ing).status == PROGRESSING
    ing["status"]["loadBalancer"] = {"ingress": [{"hostname": "lb.example"}]}
    assert assess(ing).status == HEALTHY
    ing["apiVersion"] = "extensions/v1beta1"
    assert assess(ing).status == HEALTHY


def test_crd_and_apiservice():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {},
           "status": {"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "False"}]}}
    assert assess(crd).status == PROGRESSING
    crd["status"]["conditions"][1]["status"] = "True"
    assert assess(crd).status == HEALTHY
    crd["status"]["conditions"][0] = {"type": "NamesAccepted", "status": "False", "message": "plural clashes"}
    assert assess(crd) == Health(DEGRADED, "plural clashes")
    api = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
           "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints",
                                      "message": "endpoints missing"}]}}
    assert assess(api) == Health(PROGRESSING, "MissingEndpoints: endpoints missing")
    api["status"]["conditions"][0].update(status="True", reason="Passed", message="all checks passed")
    assert assess(api) == Health(HEALTHY, "Passed: all checks passed")
    assert assess({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService"}) == Health(PROGRESSING, "Waiting to be processed")


def hpa_v2(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "status": {"conditions": list(conditions)}}


def hpa_v1(conditions: list[dict[str, str]] | None) -> dict[str, Any]:
    annotations = {} if conditions is None else {"autoscaling.alpha.kubernetes.io/conditions": json.dumps(conditions)}
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"annotations": annotations}}


ABLE = {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "the HPA controller was able to get the target's current scale"}
FAILED_METRIC = {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                 "message": "the HPA was unable to compute the replica count: missing request for cpu"}


@pytest.mark.parametrize(
    "obj, expected",
    [
        (hpa_v2(ABLE), Health(HEALTHY, ABLE["message"])),
        (hpa_v2(FAILED_METRIC, ABLE), Health(DEGRADED, FAILED_METRIC["message"])),
        (hpa_v2({"type": "AbleToScale", "status": "False", "reason": "FailedGetScale", "message": "no scale"}), Health(DEGRADED, "no scale")),
        (hpa_v2({"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas", "message": "too few"}), Health(HEALTHY, "too few")),
        (hpa_v2(), Health(PROGRESSING, "Waiting to Autoscale")),
        (hpa_v1([ABLE]), Health(HEALTHY, ABLE["message"])),
        (hpa_v1([FAILED_METRIC]), Health(DEGRADED, FAILED_METRIC["message"])),
        (hpa_v1([]), Health(PROGRESSING, "Waiting to Autoscale")),
        (hpa_v1(None), Health(PROGRESSING, "Waiting to Autoscale")),
    ],
)
def test_horizontal_pod_autoscaler_v1_annotations_and_v2_conditions(obj: dict[str, Any], expected: Health):
    assert assess(obj) == expected


def test_hpa_v1_with_a_broken_annotation_is_unknown():
    obj = hpa_v1([])
    obj["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"] = "{not json"
    assert assess(obj).status == UNKNOWN


def cronjob(suspend: bool = False, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"suspend": suspend}}
    if status:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    "obj, expected",
    [
        (cronjob(), Health(PROGRESSING, "Waiting for CronJob")),
        (cronjob(True), Health(HEALTHY, "CronJob is Suspended")),
        (cronjob(active=[]), Health(HEALTHY, "CronJob has not been scheduled yet")),
        (cronjob(lastScheduleTime="2026-01-02T00:00:00Z"), Health(HEALTHY, "The CronJob never completed successfully. It may not be healthy")),
        (cronjob(lastScheduleTime="2026-01-02T00:00:00Z", lastSuccessfulTime="2026-01-01T00:00:10Z", active=[{"name": "j"}]),
         Health(HEALTHY, "The job is running. Its last execution may not have been successful")),
        (cronjob(lastScheduleTime="2026-01-02T00:00:00Z", lastSuccessfulTime="2026-01-01T00:00:10Z"),
         Health(DEGRADED, "CronJob has not completed its last execution successfully")),
        (cronjob(lastScheduleTime="2026-01-02T00:00:00Z", lastSuccessfulTime="2026-01-02T00:00:10Z"),
         Health(HEALTHY, "CronJob has completed its last execution successfully")),
    ],
)
def test_cronjob(obj: dict[str, Any], expected: Health):
    assert assess(obj) == expected


def pdb(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "status": {"conditions": list(conditions)}}


def test_pod_disruption_budget():
    assert assess(pdb()) == Health(PROGRESSING, "Waiting for status")
    assert assess(pdb({"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"})) == \
        Health(HEALTHY, "PodDisruptionBudget has SufficientPods")
    assert assess(pdb({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods"})) == \
        Health(HEALTHY, "PodDisruptionBudget has InsufficientPods")
    assert assess(pdb({"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed"})) == \
        Health(DEGRADED, "PodDisruptionBudget has SyncFailed")


def test_child_argo_cd_application_reports_its_own_health():
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "child"}}
    assert assess(app).status == PROGRESSING
    app["status"] = {"health": {"status": "Degraded", "message": "Deployment web exceeded its progress deadline"}}
    assert assess(app) == Health(DEGRADED, "Deployment web exceeded its progress deadline")
    app["status"]["health"] = {"status": "Healthy"}
    assert assess(app) == Health(HEALTHY, "")


def custom(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w", "generation": generation}}
    if status is not None:
        obj["status"] = status
    return obj


def cond(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


@pytest.mark.parametrize(
    "obj, status, words",
    [
        (custom(None), HEALTHY, "no health information found"),
        (custom({}), HEALTHY, "no health information found"),
        (custom({"observedGeneration": 1, "replicas": 3}), HEALTHY, "no health information found"),
        (custom({"observedGeneration": 1}, generation=2), PROGRESSING, "observe generation 2"),
        (custom({"conditions": [cond("Ready", "True", message="certificate is up to date")]}), HEALTHY, "up to date"),
        (custom({"conditions": [cond("Ready", "False", "Issuing", "issuing")]}), PROGRESSING, "issuing"),
        (custom({"conditions": [cond("Ready", "False", "ReconcileFailed", "bad credentials")]}), DEGRADED, "bad credentials"),
        (custom({"conditions": [cond("Available", "True")]}), HEALTHY, "Available is True"),
        # Crossplane: Synced and Ready
        (custom({"conditions": [cond("Synced", "True", "ReconcileSuccess"), cond("Ready", "False", "Creating")]}), PROGRESSING, "Creating"),
        (custom({"conditions": [cond("Synced", "True", "ReconcileSuccess"), cond("Ready", "True", "Available")]}), HEALTHY, "Available"),
        (custom({"conditions": [cond("Synced", "False", "ReconcileError", "cannot get credentials"), cond("Ready", "False", "Creating")]}),
         DEGRADED, "cannot get credentials"),
        (custom({"conditions": [cond("Synced", "True", "ReconcileSuccess")]}), HEALTHY, "Synced is True"),
        # kstatus
        (custom({"conditions": [cond("Stalled", "True", "Invalid", "bad spec")]}), DEGRADED, "bad spec"),
        (custom({"conditions": [cond("Reconciling", "True", "Progressing", "rolling out")]}), PROGRESSING, "rolling out"),
        (custom({"conditions": [cond("Ready", "True"), cond("Reconciling", "True", message="new generation")]}), PROGRESSING, "new generation"),
        (custom({"conditions": [cond("Degraded", "True", "OperatorFailing", "operand unavailable")]}), DEGRADED, "operand unavailable"),
        # phase and state words
        (custom({"phase": "Failed", "message": "quota"}), DEGRADED, "status.phase is Failed: quota"),
        (custom({"phase": "Provisioning"}), PROGRESSING, "status.phase is Provisioning"),
        (custom({"phase": "Bound"}), HEALTHY, "status.phase is Bound"),
        (custom({"state": "error"}), DEGRADED, "status.state is error"),
        (custom({"state": "creating"}), PROGRESSING, "status.state is creating"),
        (custom({"state": "active"}), HEALTHY, "status.state is active"),
        (custom({"phase": "Paused"}), SUSPENDED, "status.phase is Paused"),
        (custom({"phase": "Whatever"}), HEALTHY, "no health information found"),
        # an empty list: the controller has not judged yet
        (custom({"conditions": []}), PROGRESSING, "Waiting for the controller to report conditions"),
        (custom({"conditions": [cond("ErrorOccurred", "True", "GeneratorError", "found less than two generators")]}),
         DEGRADED, "found less than two generators"),
        (custom({"conditions": [cond("Synced", "False", "ReconcilePaused")]}), SUSPENDED, "ReconcilePaused"),
        (custom({"conditions": [cond("Ready", "Unknown", "Pending", "Waiting for controller")]}), PROGRESSING, "Waiting for controller"),
        # Gateway API: conditions per parent route
        (custom({"parents": [{"conditions": [cond("Accepted", "False", "NotAllowedByListeners", "not allowed")]}]}),
         DEGRADED, "not allowed"),
        (custom({"parents": [{"conditions": [cond("Accepted", "True", "Accepted"), cond("Programmed", "False", "Pending")]}]}),
         PROGRESSING, "Programmed is False"),
        (custom({"conditions": [{**cond("Ready", "True"), "observedGeneration": 1}]}, generation=2), PROGRESSING, "generation 2"),
        (custom({"conditions": [cond("ResourcesApplied", "False", "RemoteClusterClientFailed", "apply failed")]}),
         DEGRADED, "apply failed"),
        (custom({"conditions": [cond("Degraded", "False", "NoFailure"), cond("Available", "True")]}), HEALTHY, "Available is True"),
        (custom({"healthy": False, "observedGeneration": 1}), DEGRADED, "status.healthy is false"),
        (custom({"health": "red"}), DEGRADED, "status.health is red"),
        (custom({"health": "yellow", "phase": "Ready"}), PROGRESSING, "status.health is yellow"),
        (custom({"failureMessage": "EKS cluster in unexpected FAILED state", "ready": False}), DEGRADED, "unexpected FAILED"),
        (custom({"error": {"message": "content is not pre-provisioned"}, "readyToUse": False}), DEGRADED, "not pre-provisioned"),
        (custom({"applicationState": {"state": "FAILED"}}), DEGRADED, "status.applicationState.state is FAILED"),
        (custom({"PostgresClusterStatus": "UpdateFailed"}), DEGRADED, "status.PostgresClusterStatus is UpdateFailed"),
        (custom({"jobManagerDeploymentStatus": "DEPLOYED_NOT_READY"}), PROGRESSING, "DEPLOYED_NOT_READY"),
        (custom({"state": "Warning", "reason": "a listener conflicts"}), DEGRADED, "a listener conflicts"),
        (custom({"replicas": 3, "readyReplicas": 2}), PROGRESSING, "2 of 3 ready"),
        # a hash in observedGeneration says nothing about the generation seen
        (custom({"observedGeneration": "7d9f8c", "phase": "Healthy"}, generation=3), HEALTHY, "status.phase is Healthy"),
    ],
)
def test_generic_judgment_of_kinds_without_a_check(obj: dict[str, Any], status: str, words: str):
    health = assess(obj)
    assert health.status == status and words in health.message, health


def test_paused_custom_resource_is_suspended():
    obj = custom({"phase": "Running"})
    obj["spec"] = {"paused": True}
    assert assess(obj) == Health(SUSPENDED, "the Widget is paused")


def test_config_map_without_status_is_healthy_with_a_message_saying_so():
    assert assess({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}) == \
        Health(HEALTHY, "no health information found: the ConfigMap has no status")


def test_malformed_status_is_never_a_crash():
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 1},
              "status": {"observedGeneration": 1, "conditions": "not-a-list", "updatedReplicas": 1, "replicas": 1}}
    assert assess(broken).status in (UNKNOWN, PROGRESSING, HEALTHY)
    # as Argo CD: a ReplicaSet without spec.replicas asks for nothing
    assert assess({"apiVersion": "apps/v1", "kind": "ReplicaSet", "status": {"conditions": [None]}, "spec": None}).status == HEALTHY


def test_worst_follows_argo_cd_order():
    assert worst([]) == HEALTHY
    assert worst([HEALTHY, PROGRESSING, SUSPENDED]) == PROGRESSING
    assert worst([PROGRESSING, DEGRADED, MISSING]) == DEGRADED


def test_ignore_healthcheck_annotation_leaves_an_object_out_of_its_applications_health():
    annotated = {"metadata": {"annotations": {"argocd.argoproj.io/ignore-healthcheck": "true"}}}
    assert not counts_for_application(annotated)
    assert counts_for_application({"metadata": {"annotations": {"argocd.argoproj.io/ignore-healthcheck": "false"}}})
    assert counts_for_application(None)


# ---------------------------------------------------------------- generic judgment: rules of issue 16's follow-up

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def created(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def test_new_custom_resource_without_status_is_progressing_only_within_the_grace_period():
    obj = custom(None)
    obj["metadata"]["creationTimestamp"] = created(2)
    assert generic(obj, now=NOW).status == PROGRESSING
    assert "Waiting for the controller to write the Widget's status" in generic(obj, now=NOW).message
    obj["metadata"]["creationTimestamp"] = created(NO_STATUS_GRACE + 1)
    assert generic(obj, now=NOW) == Health(HEALTHY, "no health information found: the Widget has no status")


def test_object_without_status_of_a_built_in_kind_or_without_generation_is_healthy_at_once():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"generation": 1, "creationTimestamp": created(1)}}
    assert generic(role, now=NOW).status == HEALTHY
    no_generation = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"creationTimestamp": created(1)}}
    assert generic(no_generation, now=NOW).status == HEALTHY


@pytest.mark.parametrize(
    "spec, status",
    [
        ({"updateStrategy": {"paused": True}}, {"replicas": 2}),
        ({"updateStrategy": {"rollingUpdate": {"paused": True}}}, {"replicas": 3}),
        ({"suspend": True}, {"conditions": [cond("Ready", "True")]}),
        ({}, {"controllerPause": True, "replicas": 5, "updatedReplicas": 1}),
    ],
)
def test_paused_strategy_suspend_and_controller_pause_are_suspended(spec: dict[str, Any], status: dict[str, Any]):
    obj = custom(status)
    obj["spec"] = spec
    assert generic(obj).status == SUSPENDED


@pytest.mark.parametrize(
    "conditions, status, words",
    [
        # failure types by their words, True
        ([cond("CatalogSourcesUnhealthy", "True")], DEGRADED, "CatalogSourcesUnhealthy is True"),
        ([cond("InstallPlanFailed", "True", message="install failed")], DEGRADED, "install failed"),
        ([cond("HasErrors", "True", message="pod crashing"), cond("Ready", "False")], DEGRADED, "pod crashing"),
        ([cond("InvalidSpec", "True", message="bad strategy"), cond("Available", "True")], DEGRADED, "bad strategy"),
        ([cond("ACK.Terminal", "True", message="already exists")], DEGRADED, "already exists"),
        # the same types False say nothing wrong; Installed is not Stalled
        ([cond("CatalogSourcesUnhealthy", "False"), cond("Installed", "True"), cond("Healthy", "True")], HEALTHY, "Healthy is True"),
        # Ready-like by suffix
        ([cond("ControlPlaneReady", "True"), cond("InfrastructureReady", "False", "Provisioning")], PROGRESSING, "InfrastructureReady"),
        ([cond("PodsHealthy", "True")], HEALTHY, "PodsHealthy is True"),
        ([cond("PodsUnavailable", "False")], HEALTHY, "no health information found"),
        # a Ready condition sums up the others
        ([cond("Ready", "True"), cond("CronJobAvailable", "False", "NotUsed")], HEALTHY, "Ready is True"),
        # a boolean status (YAML true) as the string the API defines
        ([{"type": "Ready", "status": True}], HEALTHY, "Ready is True"),
        # paused reasons
        ([cond("Progressing", "Unknown", "RolloutPaused", "Rollout is paused")], SUSPENDED, "Rollout is paused"),
        ([cond("PipelinePausingOrPaused", "False", "Unpaused"), cond("Ready", "True")], HEALTHY, "Ready is True"),
        # pending types True
        ([cond("InstallPlanPending", "True", "Installing")], PROGRESSING, "InstallPlanPending is True"),
        # failure reasons of a False ready-like condition: Err*, unhealthy, unreachable, missing; a reason-less "Failed to ..."
        ([cond("Ready", "False", "ErrRegisterACMEAccount", "acme: 404")], DEGRADED, "acme: 404"),
        ([cond("Healthy", "False", "UnhealthyPackageRevision")], DEGRADED, "UnhealthyPackageRevision"),
        ([cond("Available", "False", "MissingWatchedSecrets")], DEGRADED, "MissingWatchedSecrets"),
        ([cond("Ready", "False", message="Failed to synchronize with the API")], DEGRADED, "Failed to synchronize"),
        ([cond("Ready", "False", message="Waiting for more replicas")], PROGRESSING, "Waiting for more replicas"),
        # a Running condition is not health: once its reason says the run succeeded, it says nothing
        ([cond("Running", "True", "Successful")], HEALTHY, "no health information found"),
    ],
)
def test_generic_conditions_by_their_words(conditions: list[dict[str, Any]], status: str, words: str):
    health = generic(custom({"conditions": conditions}))
    assert health.status == status and words in health.message, health


def test_conditions_one_level_down_count():
    route = custom({"ingress": [{"host": "a.example", "conditions": [cond("Admitted", "True"), cond("Ready", "False", "Pending")]}]})
    assert generic(route).status == PROGRESSING
    nested = custom({"conditionedStatus": {"conditions": [cond("Ready", "False", "Creating"), cond("Synced", "True")]}})
    assert generic(nested) == Health(PROGRESSING, "Ready is False: Creating")


@pytest.mark.parametrize(
    "obj, status, words",
    [
        # per reporter (Gloo's statuses map)
        (custom({"statuses": {"gloo-system": {"state": "Rejected", "reason": "bad route"}}}), DEGRADED, "statuses.gloo-system.state is Rejected"),
        (custom({"statuses": {"gloo-system": {"state": "Accepted"}}}), HEALTHY, "Accepted"),
        # the first word of a sentence
        (custom({"currentState": "Provisioning MinIO Cluster IP Service"}), PROGRESSING, "Provisioning MinIO"),
        (custom({"status": "ERROR, the secret was not found"}), DEGRADED, "ERROR, the secret"),
        (custom({"currentState": "Another tenant exists"}), HEALTHY, "no health information found"),
        # err* / failure* fields
        (custom({"errMsg": "dial tcp: no such host"}), DEGRADED, "status.errMsg: dial tcp"),
        (custom({"errorDescription": "role limit reached"}), DEGRADED, "role limit reached"),
        # per target health
        (custom({"aggregatedStatus": [{"clusterName": "member1", "health": "Unhealthy"}]}), DEGRADED, "Unhealthy on member1"),
        (custom({"aggregatedStatus": [{"clusterName": "member1", "health": "Unknown"}]}), HEALTHY, "no health information found"),
        # a phase saying the work goes on outweighs health green or Ready True; a failed phase outweighs a wait
        (custom({"health": "green", "phase": "ApplyingChanges"}), PROGRESSING, "ApplyingChanges"),
        (custom({"phase": "Provisioning", "conditions": [cond("Ready", "True")]}), PROGRESSING, "Provisioning"),
        (custom({"phase": "Failed", "conditions": [cond("ChildHealthy", "Unknown")]}), DEGRADED, "status.phase is Failed"),
        # replica counts hold back a Healthy condition
        ({**custom({"replicas": 4, "updatedReplicas": 3, "availableReplicas": 4, "conditions": [cond("Available", "True")]}),
          "spec": {"replicas": 3}}, PROGRESSING, "1 old replicas to be replaced"),
        (custom({"replicas": 3, "updatedReplicas": 2, "conditions": [cond("Available", "True")]}), PROGRESSING, "2 of 3 updated"),
    ],
)
def test_generic_fields_words_and_their_weight(obj: dict[str, Any], status: str, words: str):
    health = generic(obj)
    assert health.status == status and words in health.message, health


@pytest.mark.parametrize("kind, status", [("AnalysisRun", PROGRESSING), ("BroadcastJob", PROGRESSING), ("Database", HEALTHY)])
def test_running_is_progressing_for_kinds_that_run_to_completion(kind: str, status: str):
    obj = custom({"phase": "Running"})
    obj["kind"] = kind
    assert generic(obj).status == status
