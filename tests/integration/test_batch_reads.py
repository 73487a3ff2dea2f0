"""Batches of applications (the applications: option) read the cluster with one LIST per kind.

gitops_sync and gitops_diff given several applications share their live reads
(BatchLiveReads): one LIST of the ApplySet parents and one LIST per kind with
a set-based selector over every application's id, cluster-wide when the batch
spans namespaces. The request counts the modules return prove the sharing;
kubectl, under another field manager, makes the drift the batch must report
for exactly one application. A ServiceAccount allowed in two namespaces only
is refused the cluster-wide LIST and must fall back to per-namespace LISTs.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from module_tasks import resources_by_kind_name, tasks
from service_accounts import namespaced_deployer

CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "blue"}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}
RULES = [
    {"apiGroups": [""], "resources": ["configmaps", "services"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "delete"]},
]


def batch(apps: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The applications option: each application a ConfigMap and a Service in its own namespace."""
    return [{"name": app, "destination": {"namespace": namespace}, "manifests": [CONFIG, SERVICE]} for app, namespace in apps]


def batch_task(module: str, register: str, apps: list[tuple[str, str]], connection: dict[str, Any],
               **options: Any) -> dict[str, Any]:
    # dry_run_cache off: every object is dry-run, so PATCH counts the objects and GET counts the reads alone
    args = {**connection, "applications": batch(apps), "dry_run_cache": False, **options}
    if module == "gitops_sync":
        args.setdefault("wait_timeout", 120)
    return {"name": f"{module} {register}", f"gitops.kubernetes.{module}": args, "register": register, "ignore_errors": True}


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in result["applications"]}


@pytest.fixture
def namespaces(kubectl):
    """Factory: namespaces(n) -> n fresh namespaces, deleted afterwards (without waiting)."""
    made: list[str] = []

    def make(count: int, prefix: str = "br") -> list[str]:
        suffix = uuid.uuid4().hex[:6]
        names = [f"{prefix}-{chr(ord('a') + i)}-{suffix}" for i in range(count)]
        for name in names:
            kubectl.run("create", "namespace", name)
            made.append(name)
        return names

    yield make
    if made:
        kubectl.run("delete", "namespace", *made, "--wait=false", "--ignore-not-found", check=False)


def test_a_batch_across_namespaces_costs_one_list_per_kind_and_reports_drift_per_application(
        cluster, kubectl, namespaces, ansible_playbook, tmp_path):
    ns = namespaces(3)
    apps = [("shop", ns[0]), ("cart", ns[1]), ("blog", ns[2])]
    # one cache_dir: the sync fetches discovery, the later calls read it from there (no discovery requests)
    connection = {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(tmp_path / "cache")}
    run = ansible_playbook(tasks(
        batch_task("gitops_sync", "first", apps, connection),
        batch_task("gitops_diff", "synced", apps, connection),
        batch_task("gitops_sync", "again", apps, connection),
    ))
    for name in ("first", "synced", "again"):
        assert not run[name].get("failed"), f"{name}: {run[name].get('msg')}"
    first = run["first"]
    assert first["changed"] is True and first["counts"]["created"] == 6
    for app, namespace in apps:
        assert kubectl.get("configmap", "settings", "-n", namespace)["data"] == {"mode": "blue"}
        assert kubectl.exists("configmap", f"applyset-{app}", "-n", namespace)

    synced = run["synced"]
    assert synced["sync_status"] == "Synced" and synced["out_of_sync"] is False
    assert {name: entry["sync_status"] for name, entry in by_name(synced).items()} == {app: "Synced" for app, dummy in apps}
    assert synced["summary"]["Synced"] == 6
    # 1 LIST of the parents + 1 LIST per kind (ConfigMap, Service) for all three applications; 1 dry-run per object
    assert synced["stats"]["by_verb"] == {"GET": 3, "PATCH": 6}, synced["stats"]

    again = run["again"]
    assert again["changed"] is False and again["stats"]["writes"] == 0, again["stats"]
    assert again["stats"]["by_verb"] == {"GET": 3, "PATCH": 6}, again["stats"]  # the compare only: no Lease, no record
    assert {entry["name"]: entry["sync_status"] for entry in again["applications"]} == {app: "Synced" for app, dummy in apps}

    # another field manager changes cart's ConfigMap: cart, and only cart, drifted
    kubectl.run("patch", "configmap", "settings", "-n", ns[1], "--type=merge", "-p", '{"data":{"mode":"green"}}',
                "--field-manager=hand-edit")
    drift = ansible_playbook(tasks(batch_task("gitops_diff", "drift", apps, connection)))["drift"]
    assert not drift.get("failed"), drift.get("msg")
    assert drift["sync_status"] == "OutOfSync" and drift["out_of_sync"] is True and drift["changed"] is False
    entries = by_name(drift)
    assert {name: entry["sync_status"] for name, entry in entries.items()} == {
        "shop": "Synced", "cart": "OutOfSync", "blog": "Synced"}
    cart = resources_by_kind_name(entries["cart"])
    assert cart["ConfigMap/settings"]["status"] == "OutOfSync" and cart["ConfigMap/settings"]["namespace"] == ns[1]
    assert cart["ConfigMap/settings"]["patch"] == [{"op": "replace", "path": "/data/mode", "value": "blue"}]
    assert cart["Service/web"]["status"] == "Synced"
    assert drift["summary"] == {"Synced": 5, "OutOfSync": 1, "Missing": 0, "Extraneous": 0, "Unknown": 0}
    assert drift["stats"]["by_verb"] == {"GET": 3, "PATCH": 6}, drift["stats"]
    # the diff wrote nothing: the live value is still the one the other manager set
    assert kubectl.get("configmap", "settings", "-n", ns[1])["data"] == {"mode": "green"}


@pytest.fixture
def deployer(cluster, kubectl, namespaces, tmp_path):
    """Two namespaces; a ServiceAccount with Roles there only (no cluster-wide LIST); its token and the CA file."""
    return namespaced_deployer(cluster, kubectl, namespaces(2, prefix="br-lp"), RULES, tmp_path)


def test_a_batch_without_cluster_wide_list_rights_falls_back_to_per_namespace_lists(deployer, kubectl, ansible_playbook, tmp_path):
    ns_a, ns_b = deployer["allowed"]
    # the ServiceAccount really may not LIST cluster-wide, only in its two namespaces
    subject = f"--as=system:serviceaccount:{ns_a}:deployer"
    assert kubectl.run("auth", "can-i", "list", "configmaps", "--all-namespaces", subject, check=False).stdout.strip() == "no"
    assert kubectl.run("auth", "can-i", "list", "configmaps", "-n", ns_b, subject, check=False).stdout.strip() == "yes"
    apps = [("shop", ns_a), ("cart", ns_b)]
    connection = {"host": deployer["server"], "api_key": deployer["token"], "ca_cert": deployer["ca_cert"],
                  "cache_dir": str(tmp_path / "cache")}
    run = ansible_playbook(tasks(
        batch_task("gitops_sync", "first", apps, connection),
        batch_task("gitops_diff", "synced", apps, connection),
    ))
    for name in ("first", "synced"):
        assert not run[name].get("failed"), f"{name}: {run[name].get('msg')} {run[name].get('applications')}"
        assert deployer["token"] not in str(run[name])
    assert deployer["token"] not in run.stdout + run.stderr
    assert run["first"]["changed"] is True and run["first"]["counts"]["created"] == 4
    assert {entry["name"]: entry["sync_status"] for entry in run["first"]["applications"]} == {"shop": "Synced", "cart": "Synced"}
    for dummy, namespace in apps:
        assert kubectl.get("service", "web", "-n", namespace)["metadata"]["labels"]
        assert kubectl.get("configmap", "settings", "-n", namespace)["data"] == {"mode": "blue"}

    synced = run["synced"]
    assert synced["sync_status"] == "Synced" and synced["summary"]["Synced"] == 4
    assert {name: entry["sync_status"] for name, entry in by_name(synced).items()} == {"shop": "Synced", "cart": "Synced"}
    # cluster-wide: 1 LIST of parents + 2 kinds = 3 GETs. Without the rights: one refused cluster-wide LIST per kind
    # (ConfigMaps: parents and members share the refusal), then one LIST per namespace for parents, ConfigMaps and
    # Services: 2 + 3 * 2 = 8
    # Services: 2 + 3 * 2 = 8. More means the refused cluster-wide LIST was sent again by another application
    # waiting for the same kind (see test_live.py::test_a_forbidden_cluster_wide_list_is_attempted_once_by_concurrent_callers)
    assert synced["stats"]["by_verb"] == {"GET": 8, "PATCH": 4}, synced["stats"]
