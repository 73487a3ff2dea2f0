"""Unit tests for health assessment (_health), with statuses as the API server reports them."""

from __future__ import annotations

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
    hook_finished,
    worst,
)


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


def test_pod():
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": {}, "status": {"phase": "Pending"}}
    assert assess(pod).status == PROGRESSING and hook_finished(assess(pod)) is None
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert assess(pod).status == HEALTHY
    pod["status"]["containerStatuses"] = [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    assert assess(pod) == Health(DEGRADED, "container app: CrashLoopBackOff")
    never = {"apiVersion": "v1", "kind": "Pod", "spec": {"restartPolicy": "Never"}, "status": {"phase": "Running"}}
    assert assess(never).status == PROGRESSING
    never["status"]["phase"] = "Succeeded"
    assert assess(never).status == HEALTHY
    never["status"] = {"phase": "Failed", "message": "exit code 1"}
    assert assess(never) == Health(DEGRADED, "exit code 1")


def test_pvc_service_ingress():
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}
    assert assess(pvc).status == PROGRESSING
    pvc["status"]["phase"] = "Bound"
    assert assess(pvc).status == HEALTHY
    svc = {"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}, "status": {"loadBalancer": {}}}
    assert assess(svc).status == HEALTHY
    svc["spec"]["type"] = "LoadBalancer"
    assert assess(svc).status == PROGRESSING
    svc["status"]["loadBalancer"] = {"ingress": [{"ip": "10.0.0.9"}]}
    assert assess(svc) == Health(HEALTHY, "load balancer has address 10.0.0.9")
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "status": {"loadBalancer": {}}}
    assert assess(ing).status == PROGRESSING


def test_crd_and_apiservice():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {},
           "status": {"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "False"}]}}
    assert assess(crd).status == PROGRESSING
    crd["status"]["conditions"][1]["status"] = "True"
    assert assess(crd).status == HEALTHY
    crd["status"]["conditions"][0] = {"type": "NamesAccepted", "status": "False", "message": "plural clashes"}
    assert assess(crd) == Health(DEGRADED, "plural clashes")
    api = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
           "status": {"conditions": [{"type": "Available", "status": "False", "message": "endpoints missing"}]}}
    assert assess(api) == Health(PROGRESSING, "endpoints missing")


def test_generic_conditions_and_objects_without_status():
    assert assess({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}).status == HEALTHY
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"generation": 2},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False", "message": "issuing"}]}}
    assert assess(cert) == Health(PROGRESSING, "issuing")
    cert["status"]["conditions"][0].update(status="True", message="certificate is up to date")
    assert assess(cert).status == HEALTHY
    cert["status"]["observedGeneration"] = 1
    assert assess(cert).status == PROGRESSING
    stalled = {"apiVersion": "x.io/v1", "kind": "Thing", "status": {"conditions": [{"type": "Stalled", "status": "True", "message": "bad spec"}]}}
    assert assess(stalled) == Health(DEGRADED, "bad spec")


def test_malformed_status_is_unknown_not_a_crash():
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 1},
              "status": {"observedGeneration": 1, "conditions": "not-a-list", "updatedReplicas": 1, "replicas": 1}}
    assert assess(broken).status in (UNKNOWN, PROGRESSING, HEALTHY)
    assert assess({"apiVersion": "apps/v1", "kind": "ReplicaSet", "status": {"conditions": [None]}, "spec": None}).status == PROGRESSING


def test_worst_follows_argo_cd_order():
    assert worst([]) == HEALTHY
    assert worst([HEALTHY, PROGRESSING, SUSPENDED]) == PROGRESSING
    assert worst([PROGRESSING, DEGRADED, MISSING]) == DEGRADED
