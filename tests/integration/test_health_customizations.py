"""Health as Argo CD judges it, against the real control plane through ansible-playbook: a user's Lua health
script holds a wave back until it says Healthy; a failing (sandboxed) script is Unknown until the timeout; an
argocd-cm ConfigMap given unchanged changes health and ignore rules."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from module_tasks import manifests_task, resources_by_kind_name, tasks

GADGET_SCRIPT = (Path(__file__).parent.parent / "unit" / "plugins" / "module_utils" / "fixtures" / "resource_customizations"
                 / "health.gitops.test" / "Gadget" / "health.lua").read_text()
HEALTH_KEY = "resource.customizations.health.health.gitops.test_Gadget"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.health.gitops.test"},
    "spec": {
        "group": "health.gitops.test",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}
GADGET = {"apiVersion": "health.gitops.test/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 1}}
AFTER_GADGET = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-gadget", "annotations": {
    "argocd.argoproj.io/sync-wave": "1"}}, "data": {"k": "v"}}


@pytest.fixture(scope="module")
def gadget_crd(kubectl: Any) -> None:
    kubectl.apply(CRD)
    kubectl.wait("condition=Established", "crd/gadgets.health.gitops.test")


def argocd_cm(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd",
                                                                  "labels": {"app.kubernetes.io/part-of": "argocd"}},
            "data": {"url": "https://argocd.example.com", **data}}


def test_wave_waits_for_a_custom_resource_until_the_users_lua_script_says_healthy(ansible_playbook, kubectl, namespace, gadget_crd):
    seen: dict[str, Any] = {}

    def controller() -> None:
        # plays the Gadget's controller: once the sync waits on the Gadget, report it Ready (bounded)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not kubectl.exists("gadget", "g1", "-n", namespace):
            time.sleep(0.5)
        time.sleep(3)  # the sync is polling a Progressing Gadget now
        seen["wave 1 before Ready"] = kubectl.exists("configmap", "after-gadget", "-n", namespace)
        kubectl.run("patch", "gadget", "g1", "-n", namespace, "--subresource=status", "--type=merge",
                    "-p", '{"status": {"phase": "Ready"}}')

    patcher = threading.Thread(target=controller, daemon=True)
    patcher.start()
    run = ansible_playbook(tasks(manifests_task("gitops_sync", "synced", [GADGET, AFTER_GADGET], namespace, app="health-wave",
                                                wait_timeout=120,
                                                resource_customizations={HEALTH_KEY: GADGET_SCRIPT})))
    patcher.join(timeout=100)
    assert run.rc == 0, run.stdout
    assert seen == {"wave 1 before Ready": False}
    resources = resources_by_kind_name(run.results["synced"])
    assert resources["Gadget/g1"]["health"] == {"status": "Healthy", "message": "gadget g1 is ready"}
    assert kubectl.exists("configmap", "after-gadget", "-n", namespace)


def test_failing_sandboxed_script_is_unknown_and_fails_the_wave_after_the_timeout(ansible_playbook, kubectl, namespace, gadget_crd):
    reads_a_file = 'local f = io.open("/etc/hostname", "r")\nreturn {status = "Healthy", message = f:read("*a")}'
    started = time.monotonic()
    run = ansible_playbook(tasks({**manifests_task("gitops_sync", "synced", [GADGET, AFTER_GADGET], namespace, app="health-error",
                                                   wait_timeout=6, resource_customizations={HEALTH_KEY: reads_a_file}),
                                  "ignore_errors": True}))
    elapsed = time.monotonic() - started
    result = run.results["synced"]
    assert result["failed"]
    assert "Sync wave 0: not healthy after 6s" in result["msg"]
    assert "is Unknown: argocd-cm resource.customizations.health.health.gitops.test_Gadget: health.lua:1: attempt to index global 'io' " \
           "(a nil value)" in result["msg"]
    assert elapsed >= 6  # it waited for the script to change its mind, as for any Unknown object
    assert kubectl.exists("gadget", "g1", "-n", namespace)
    assert not kubectl.exists("configmap", "after-gadget", "-n", namespace)


def test_argocd_cm_given_unchanged_changes_health_and_ignore_rules(ansible_playbook, kubectl, namespace, gadget_crd):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    first = ansible_playbook(tasks(manifests_task("gitops_sync", "synced", [deployment, GADGET], namespace, app="health-cm", wait=False)))
    assert first.rc == 0, first.stdout
    kubectl.run("scale", "deployment/web", "--replicas=3", "-n", namespace)
    kubectl.run("patch", "gadget", "g1", "-n", namespace, "--subresource=status", "--type=merge",
                "-p", '{"status": {"phase": "Failed", "reason": "OutOfParts"}}')
    config_map = argocd_cm(**{
        HEALTH_KEY: GADGET_SCRIPT,
        "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n",
    })
    run = ansible_playbook(tasks(
        manifests_task("gitops_diff", "plain", [deployment, GADGET], namespace, app="health-cm"),
        manifests_task("gitops_diff", "customized", [deployment, GADGET], namespace, app="health-cm",
                       resource_customizations=config_map),
        {**manifests_task("gitops_sync", "health", [deployment, GADGET], namespace, app="health-cm",
                          resource_customizations=config_map), "check_mode": True},
        {**manifests_task("gitops_sync", "builtin_health", [deployment, GADGET], namespace, app="health-cm"), "check_mode": True},
    ))
    assert run.rc == 0, run.stdout
    assert run.results["plain"]["sync_status"] == "OutOfSync"
    assert run.results["customized"]["sync_status"] == "Synced"
    gadget = resources_by_kind_name(run.results["health"])["Gadget/g1"]["health"]
    assert gadget == {"status": "Degraded", "message": "gadget failed: OutOfParts"}
    assert any(w.endswith("not used by this collection: url") for w in run.results["customized"]["warnings"])
    # without the script, the generic judgment reads the same phase word
    assert resources_by_kind_name(run.results["builtin_health"])["Gadget/g1"]["health"]["status"] == "Degraded"
