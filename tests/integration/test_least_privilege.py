"""The modules with a least-privilege ServiceAccount: rights in two namespaces, nothing cluster-wide.

The ServiceAccount's Roles allow exactly what a sync of ConfigMaps,
Services and Deployments needs in two namespaces (the objects, the
inventory ConfigMap, the Lease); its token comes from the TokenRequest API
(kubectl create token) and reaches the modules as host/api_key/ca_cert.
Sync, drift and prune work there; a third namespace fails clearly and gets
nothing, also when only one object of an application points at it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml
from service_accounts import namespaced_deployer

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "blue"}}
RULES = [
    {"apiGroups": [""], "resources": ["configmaps", "services"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "delete"]},
    # the sync records itself as Events on the inventory ConfigMap (best effort: without this right it only warns)
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]


@pytest.fixture
def deployer(cluster, kubectl, tmp_path):
    """Three namespaces; a ServiceAccount with Roles in the first two only; its token and the CA file."""
    suffix = uuid.uuid4().hex[:6]
    allowed = [f"lp-a-{suffix}", f"lp-b-{suffix}"]
    forbidden = f"lp-c-{suffix}"
    for namespace in (*allowed, forbidden):
        kubectl.run("create", "namespace", namespace)
    account = namespaced_deployer(cluster, kubectl, allowed, RULES, tmp_path)
    yield {**account, "forbidden": forbidden}
    kubectl.run("delete", "namespace", *allowed, forbidden, "--wait=false", "--ignore-not-found", check=False)


def sync(register: str, deployer: dict[str, Any], app: str, namespace: str, manifests: list[dict[str, Any]],
         module: str = "gitops_sync", **options: Any) -> dict[str, Any]:
    args = {"host": deployer["server"], "api_key": deployer["token"], "ca_cert": deployer["ca_cert"], "name": app,
            "destination": {"namespace": namespace}, "manifests": manifests, **options}
    if module == "gitops_sync":
        args.setdefault("sync_policy", {"prune": True})
        args.setdefault("wait_timeout", 120)
    return {"name": register, f"gitops.kubernetes.{module}": args, "register": register, "ignore_errors": True}


def test_sync_works_where_the_service_account_may_write_and_fails_clearly_elsewhere(deployer, kubectl, ansible_playbook):
    ns_a, ns_b = deployer["allowed"]
    ns_c = deployer["forbidden"]
    elsewhere = {**CONFIG, "metadata": {"name": "elsewhere", "namespace": ns_c}}
    run = ansible_playbook(yaml.safe_dump([
        sync("first_a", deployer, "shop", ns_a, [DEPLOYMENT, SERVICE, CONFIG]),
        sync("first_b", deployer, "shop", ns_b, [SERVICE, CONFIG]),
        sync("drift_a", deployer, "shop", ns_a, [DEPLOYMENT, SERVICE], module="gitops_diff"),
        sync("prune_a", deployer, "shop", ns_a, [DEPLOYMENT, SERVICE]),
        sync("again_a", deployer, "shop", ns_a, [DEPLOYMENT, SERVICE]),
        sync("forbidden_c", deployer, "shop", ns_c, [CONFIG]),
        sync("one_object_elsewhere", deployer, "mixed", ns_a, [{**CONFIG, "metadata": {"name": "mixed"}}, elsewhere]),
    ]))
    for name in ("first_a", "first_b", "drift_a", "prune_a", "again_a"):
        assert not run[name].get("failed"), f"{name}: {run[name].get('msg')}"
    assert run["first_a"]["counts"]["created"] == 3 and run["first_b"]["counts"]["created"] == 2
    assert run["drift_a"]["summary"]["Extraneous"] == 1
    assert run["prune_a"]["counts"]["pruned"] == 1 and not run["again_a"]["changed"]
    assert kubectl.get("deployment", "web", "-n", ns_a)["metadata"]["labels"][PART_OF_LABEL]
    assert not kubectl.exists("configmap", "settings", "-n", ns_a)
    assert kubectl.exists("configmap", "settings", "-n", ns_b)

    forbidden = run["forbidden_c"]
    assert forbidden["failed"]
    assert "403 Forbidden" in forbidden["msg"] and "the host/api_key options" in forbidden["msg"]
    assert f"system:serviceaccount:{ns_a}:deployer" in forbidden["msg"]
    assert f'in the namespace "{ns_c}"' in forbidden["msg"]
    assert deployer["token"] not in str(forbidden)

    mixed = run["one_object_elsewhere"]
    assert mixed["failed"] and mixed["stats"]["writes"] == 0  # failed while reading the cluster, before any write
    assert f"get ConfigMap {ns_c}/elsewhere: access denied (403 Forbidden)" in mixed["msg"]
    assert not kubectl.exists("configmap", "mixed", "-n", ns_a)
    assert not kubectl.exists("configmap", "applyset-mixed", "-n", ns_a)
    assert kubectl.get("configmaps", "-n", ns_c)["items"] == [
        item for item in kubectl.get("configmaps", "-n", ns_c)["items"] if item["metadata"]["name"] == "kube-root-ca.crt"]
