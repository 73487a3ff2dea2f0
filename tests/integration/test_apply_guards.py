"""gitops_sync never writes before it knows the write is valid and its own, against a real control plane.

Force=true,Replace=true validates the new version before deleting the live object; the
Lease is judged by its renewals, not by process ids, and a sync that lost it
stops before its next write; objects of a namespace that does not exist yet
are validated before anything else is written. kubectl is the observer.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Any

from module_tasks import resources_by_kind_name, tasks
from test_gitops_sync import DEPLOYMENT, HOOK, SYNC_OPTIONS, configmap, job, parent_document, sync_task, with_annotations

from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import SyncClient, SyncFailure, SyncSettings, sync_application

REPLACE = {SYNC_OPTIONS: "Force=true,Replace=true"}


def uid(kubectl: Any, what: str, namespace: str) -> str:
    return kubectl.get(what, "-n", namespace)["metadata"]["uid"]


def test_replace_never_deletes_an_object_whose_new_version_is_invalid(kubectl, namespace, ansible_playbook):
    migrate = with_annotations(job("migrate"), **REPLACE)
    web = copy.deepcopy(DEPLOYMENT)
    web["metadata"]["name"] = "immutable-web"
    first = ansible_playbook(tasks(sync_task("first", [migrate, web], namespace)))["first"]
    assert not first.get("failed"), first.get("msg")
    job_uid, web_uid = uid(kubectl, "job/migrate", namespace), uid(kubectl, "deployment/immutable-web", namespace)

    # an immutable change (the image) together with an invalid field: the Job is invalid, not "to be replaced"
    broken_job = with_annotations(job("migrate", image="busybox:1.37"), **REPLACE)
    broken_job["spec"]["backoffLimit"] = -1
    # the name says "immutable"; the change (replicas -1) is simply invalid
    broken_web = copy.deepcopy(web)
    broken_web["spec"]["replicas"] = -1
    run = ansible_playbook(tasks(sync_task("broken", [broken_job, broken_web], namespace, sync_policy={"replace": True, "force": True})))
    broken = run["broken"]
    assert broken["failed"] is True
    assert "nothing was applied" in broken["msg"]
    assert f"Job.batch {namespace}/migrate" in broken["msg"] and "spec.backoffLimit" in broken["msg"]
    assert f"Deployment.apps {namespace}/immutable-web" in broken["msg"] and "spec.replicas" in broken["msg"]
    assert uid(kubectl, "job/migrate", namespace) == job_uid
    assert uid(kubectl, "deployment/immutable-web", namespace) == web_uid
    assert kubectl.get("deployment/immutable-web", "-n", namespace)["spec"]["replicas"] == 2

    # a real immutable change with Force=true,Replace=true is still deleted and recreated
    new_image = with_annotations(job("migrate", image="busybox:1.37"), **REPLACE)
    run = ansible_playbook(tasks(sync_task("replaced", [new_image, web], namespace)))
    replaced = run["replaced"]
    assert run.rc == 0 and not replaced.get("failed"), replaced.get("msg")
    entry = resources_by_kind_name(replaced)["Job/migrate"]
    assert entry["action"] == "recreated" and "spec.template" in entry["message"]
    assert uid(kubectl, "job/migrate", namespace) != job_uid
    assert uid(kubectl, "deployment/immutable-web", namespace) == web_uid


def lease_stamp(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unused_pid() -> int:
    """A process id nobody on this host has: as a sync in another PID namespace looks from here."""
    pid = int(open("/proc/sys/kernel/pid_max", encoding="ascii").read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def test_a_lease_renewed_by_a_holder_whose_pid_this_host_cannot_see_is_never_taken_over(kubectl, namespace, ansible_playbook):
    holder = f"{socket.gethostname()}/{unused_pid()}/a1b2c3d4"
    lease = {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "gitops-sync-shop", "namespace": namespace},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30, "acquireTime": lease_stamp(time.time()),
                 "renewTime": lease_stamp(time.time())},
    }
    kubectl.apply(lease)
    run = ansible_playbook(tasks(sync_task("waiting", [configmap("settings")], namespace, wait_timeout=3)))
    waiting = run["waiting"]
    assert waiting["failed"] is True
    assert f"another sync of this application holds Lease {namespace}/gitops-sync-shop (holder {holder}" in waiting["msg"]
    assert "gave up after 3s" in waiting["msg"]
    # it waited: nothing written, the holder's Lease untouched
    assert not kubectl.exists("configmap/settings", "-n", namespace)
    assert not kubectl.exists("configmap/applyset-shop", "-n", namespace)
    assert kubectl.get("lease/gitops-sync-shop", "-n", namespace)["spec"]["holderIdentity"] == holder


def test_a_sync_that_loses_its_lease_stops_before_its_next_write_and_says_so(kubectl, cluster, namespace, tmp_path):
    # the PreSync hook is a suspended Job: the sync waits on it while the Lease is taken over, then it is let go
    gate = job("gate", **{HOOK: "PreSync"})
    gate["spec"]["suspend"] = True
    desired = [DesiredObject(gate), DesiredObject(configmap("settings"))]
    params = {"kubeconfig": cluster.kubeconfig, "cache_dir": str(tmp_path)}
    outcome: dict[str, Any] = {}

    def sync() -> None:
        with SyncClient.from_params(params) as client:
            try:
                outcome["result"] = sync_application(client, "shop", desired, namespace=namespace,
                                                     settings=SyncSettings(wait_timeout=90))
            except SyncFailure as failure:
                outcome["failure"] = failure

    worker = threading.Thread(target=sync)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not kubectl.exists("job/gate", "-n", namespace):
            assert worker.is_alive() and time.monotonic() < deadline, f"the hook never started: {outcome}"
            time.sleep(0.2)
        taker = "other-host/4242/e5f6a7b8"
        patch = {"spec": {"holderIdentity": taker, "renewTime": lease_stamp(time.time())}}
        kubectl.run("patch", "lease/gitops-sync-shop", "-n", namespace, "--type=merge", "-p", json.dumps(patch))
        kubectl.run("patch", "job/gate", "-n", namespace, "--type=merge", "-p", json.dumps({"spec": {"suspend": False}}))
    finally:
        worker.join(timeout=150)
    assert not worker.is_alive()
    failure = outcome.get("failure")
    assert failure is not None, "the sync went on without its Lease and finished"
    assert (f"lost the Lease {namespace}/gitops-sync-shop: another sync ({taker}) took it over; stopped before writing"
            in failure.message)
    assert "and recorded nothing more" in failure.message
    # the hook finished, and nothing was written after the loss: no Sync-phase object, no history entry, the Lease left
    assert kubectl.get("job/gate", "-n", namespace)["metadata"]["name"] == "gate"
    assert not kubectl.exists("configmap/settings", "-n", namespace)
    assert parent_document(kubectl, namespace)["history"] == []
    assert kubectl.get("lease/gitops-sync-shop", "-n", namespace)["spec"]["holderIdentity"] == taker
    assert failure.result.failed and failure.result.sync_status == "OutOfSync"


def test_the_first_sync_into_a_new_namespace_validates_every_object_before_writing_any(kubectl, namespace, ansible_playbook):
    target = f"{namespace}-new"
    desired = [configmap("good"), configmap("Bad_Name")]
    try:
        run = ansible_playbook(tasks(sync_task("check", desired, target, sync_policy={"create_namespace": True})), check=True)
        check = run["check"]
        assert not check.get("failed"), check.get("msg")
        assert resources_by_kind_name(check)["ConfigMap/Bad_Name"]["message"] == \
            f"not validated yet: its namespace {target} does not exist"

        run = ansible_playbook(tasks(sync_task("real", desired, target, sync_policy={"create_namespace": True})))
        real = run["real"]
        assert real["failed"] is True
        assert real["msg"].startswith("application 'shop': nothing was applied, because ConfigMap")
        assert f"ConfigMap {target}/Bad_Name" in real["msg"] and "a lowercase RFC 1123 subdomain" in real["msg"]
        assert f"(namespace {target}, created to validate them, was deleted again)" in real["msg"]
        assert not kubectl.exists("namespace", target)
        assert not any(kubectl.exists(what, "-n", target) for what in ("configmap/good", "configmap/applyset-shop"))

        # fixed in Git: the next sync creates the namespace and everything in it
        run = ansible_playbook(tasks(sync_task("fixed", [configmap("good")], target, sync_policy={"create_namespace": True})))
        assert run.rc == 0 and not run["fixed"].get("failed"), run["fixed"].get("msg")
        assert kubectl.exists("configmap/good", "-n", target)
    finally:
        kubectl.run("delete", "namespace", target, "--wait=false", "--ignore-not-found", check=False)
