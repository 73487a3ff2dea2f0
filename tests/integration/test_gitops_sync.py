"""gitops_sync against a real control plane, through the real ansible-playbook.

kubectl is the independent observer: what the module says it did is checked
against what the cluster holds (objects, resourceVersions, timestamps,
the ApplySet parent), never against a mock.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    ID_LABEL,
    PART_OF_LABEL,
    application_applyset_id,
)

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]},
}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config"}, "data": {"mode": "blue"}}


def sync_task(register: str, manifests: list[dict[str, Any]], namespace: str, app: str = "shop", **options: Any) -> dict[str, Any]:
    return {
        "name": f"sync {register}",
        "gitops.kubernetes.gitops_sync": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}",
            "name": app,
            "destination": {"namespace": namespace},
            "manifests": manifests,
            **options,
        },
        "register": register,
        "ignore_errors": True,
    }


def tasks(*task_list: dict[str, Any]) -> str:
    return yaml.safe_dump(list(task_list), sort_keys=False)


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['kind']}/{r['name']}": r for r in result["resources"]}


def parent_document(kubectl: Any, namespace: str, app: str = "shop") -> dict[str, Any]:
    parent = kubectl.get("configmap", f"applyset-{app}", "-n", namespace)
    return {"parent": parent, **json.loads(parent["data"]["inventory"])}


def resource_versions(kubectl: Any, namespace: str) -> dict[str, str]:
    listing = kubectl.get("deployments,services,configmaps,jobs", "-n", namespace)
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in listing["items"]}


def test_first_sync_creates_everything_healthy_and_second_run_writes_nothing(kubectl, namespace, ansible_playbook):
    desired = [DEPLOYMENT, SERVICE, CONFIG]
    run = ansible_playbook(tasks(sync_task("first", desired, namespace, revision="c0ffee")))
    first = run["first"]
    assert run.rc == 0 and not first.get("failed"), first.get("msg")
    assert first["changed"] is True
    assert first["sync_status"] == "Synced" and first["health_status"] == "Healthy"
    assert first["counts"]["created"] == 3 and first["counts"]["failed"] == 0
    resources = by_name(first)
    assert resources["Deployment/web"]["action"] == "created" and resources["Deployment/web"]["result"] == "Succeeded"
    assert resources["Deployment/web"]["health"]["status"] == "Healthy"
    # the cluster holds them, healthy, labelled as members, owned by our field manager
    deployment = kubectl.get("deployment/web", "-n", namespace, "--show-managed-fields")
    assert deployment["status"]["availableReplicas"] == 2
    set_id = application_applyset_id("shop", namespace)
    assert deployment["metadata"]["labels"][PART_OF_LABEL] == set_id
    assert any(m["manager"] == "gitops.kubernetes" and m["operation"] == "Apply" for m in deployment["metadata"]["managedFields"])
    # the ApplySet parent records the exact inventory and the sync
    document = parent_document(kubectl, namespace)
    assert document["parent"]["metadata"]["labels"][ID_LABEL] == set_id
    assert document["parent"]["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap,Deployment.apps,Service"
    assert {(m["kind"], m["name"]) for m in document["members"]} == {("Deployment", "web"), ("Service", "web"), ("ConfigMap", "web-config")}
    assert document["revision"] == "c0ffee"
    assert len(document["history"]) == 1
    assert document["history"][0]["result"] == "Succeeded" and document["history"][0]["counts"]["created"] == 3
    assert document["history"][0]["revision"] == "c0ffee"
    # no Lease left behind
    assert not kubectl.exists("lease", "gitops-sync-shop", "-n", namespace)

    before = resource_versions(kubectl, namespace)
    run = ansible_playbook(tasks(sync_task("second", desired, namespace, revision="c0ffee")))
    second = run["second"]
    assert run.rc == 0 and not second.get("failed"), second.get("msg")
    assert second["changed"] is False
    assert second["stats"]["writes"] == 0, second["stats"]
    assert set(second["stats"]["by_verb"]) <= {"GET", "PATCH"}  # PATCH: the compare's dry-runs only
    assert second["counts"]["unchanged"] == 3
    assert second["sync_status"] == "Synced" and second["health_status"] == "Healthy"
    assert resource_versions(kubectl, namespace) == before
    assert len(parent_document(kubectl, namespace)["history"]) == 1
