"""Unit tests for the ApplySet inventory (_inventory): ids, the parent format, reading."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import CompareError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    APPLICATION_LABEL,
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    NAMESPACES_ANNOTATION,
    TOOLING_ANNOTATION,
    applyset_id,
    application_applyset_id,
    build_parent,
    parse_group_kind,
    parse_parent,
    read_inventory,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, Discovery
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef

CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True)
DEPLOYMENTS = ApiResource("apps", "v1", "Deployment", "deployments", True)
CLUSTERROLES = ApiResource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False)


def test_applyset_id_follows_kep_3659() -> None:
    digest = hashlib.sha256(b"applyset-shop.prod.ConfigMap.").digest()
    expected = "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"
    assert applyset_id("applyset-shop", "prod") == expected == application_applyset_id("shop", "prod")
    assert "=" not in expected and "+" not in expected and "/" not in expected
    # a value kubectl 1.34 computed for `--applyset=configmaps/applyset-kapp -n exp2`
    assert application_applyset_id("kapp", "exp2") == "applyset-zLLl3DMZ9DpZYtMiEcQrql7CsIf0NBLS9sHIEZt_EN8-v1"


def test_build_parent_records_members_and_kep_annotations() -> None:
    members = [
        ObjectRef("apps", "Deployment", "prod", "web"),
        ObjectRef("", "Service", "prod", "web"),
        ObjectRef("", "ConfigMap", "monitoring", "dash"),
        ObjectRef("rbac.authorization.k8s.io", "ClusterRole", "", "reader"),
    ]
    parent = build_parent("shop", "prod", members, revision="abc", history=[{"revision": "abc", "result": "Succeeded"}])
    metadata = parent["metadata"]
    assert metadata["name"] == "applyset-shop" and metadata["namespace"] == "prod"
    assert metadata["labels"] == {ID_LABEL: application_applyset_id("shop", "prod"), APPLICATION_LABEL: "shop"}
    assert metadata["annotations"][TOOLING_ANNOTATION] == "gitops.kubernetes/0.1.0"
    assert metadata["annotations"][GROUP_KINDS_ANNOTATION] == "ClusterRole.rbac.authorization.k8s.io,ConfigMap,Deployment.apps,Service"
    assert metadata["annotations"][NAMESPACES_ANNOTATION] == "monitoring"
    inventory = parse_parent(parent, "shop", "prod")
    assert inventory.members == set(members)
    assert inventory.revision == "abc" and inventory.history[0]["result"] == "Succeeded"
    assert inventory.exists


def test_parse_group_kind() -> None:
    assert parse_group_kind("Deployment.apps") == ("apps", "Deployment")
    assert parse_group_kind("ClusterRole.rbac.authorization.k8s.io") == ("rbac.authorization.k8s.io", "ClusterRole")
    assert parse_group_kind("Service") == ("", "Service")


def test_a_configmap_with_someone_elses_id_is_refused() -> None:
    parent = build_parent("shop", "prod", [])
    parent["metadata"]["labels"][ID_LABEL] = "applyset-other-v1"
    with pytest.raises(CompareError, match="is not this application's ApplySet parent"):
        parse_parent(parent, "shop", "prod")


def test_corrupt_inventory_data_is_a_clear_error() -> None:
    parent = build_parent("shop", "prod", [])
    parent["data"]["inventory"] = "{not json"
    with pytest.raises(CompareError, match="is not JSON"):
        parse_parent(parent, "shop", "prod")


class Cluster:
    """The KubeClient calls read_inventory makes, over fixed answers."""

    def __init__(self, parent: dict[str, Any] | None, labelled: dict[tuple[str, str | None], list[dict]] | None = None) -> None:
        self.parent = parent
        self.labelled = labelled or {}
        self.lists: list[tuple[str, str | None, str | None]] = []

    def resource_for(self, api_version: str, kind: str) -> ApiResource | None:
        return CONFIGMAPS if (api_version, kind) == ("v1", "ConfigMap") else None

    def discovery(self) -> Discovery:
        return Discovery([CONFIGMAPS, DEPLOYMENTS, CLUSTERROLES], 0.0)

    def get(self, resource: ApiResource, namespace: str, name: str) -> dict | None:
        return self.parent

    def list_objects(self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None) -> list[dict]:
        self.lists.append((resource.plural, namespace, label_selector))
        return self.labelled.get((resource.plural, namespace), [])

    def map(self, fn: Any, items: Any) -> list:
        return [fn(item) for item in items]


def test_no_parent_is_an_empty_inventory() -> None:
    inventory = read_inventory(Cluster(None), "shop", "prod")
    assert not inventory.exists and inventory.members == set()
    assert inventory.set_id == application_applyset_id("shop", "prod")


def test_a_parent_without_our_data_is_read_the_kep_way() -> None:
    """kubectl keeps no member list: members are found by label in the parent's and additional namespaces."""
    set_id = application_applyset_id("shop", "prod")
    parent = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "applyset-shop", "namespace": "prod", "labels": {ID_LABEL: set_id},
        "annotations": {GROUP_KINDS_ANNOTATION: "Deployment.apps,ClusterRole.rbac.authorization.k8s.io,Gone.example.org",
                        NAMESPACES_ANNOTATION: "extra"}}}
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "extra"}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}}
    cluster = Cluster(parent, {("deployments", "extra"): [web], ("clusterroles", None): [role]})
    inventory = read_inventory(cluster, "shop", "prod")
    assert inventory.members == {ObjectRef("apps", "Deployment", "extra", "web"), ObjectRef("rbac.authorization.k8s.io", "ClusterRole", "", "reader")}
    selector = f"applyset.kubernetes.io/part-of={set_id}"
    assert sorted(cluster.lists, key=str) == sorted([
        ("deployments", "prod", selector), ("deployments", "extra", selector), ("clusterroles", None, selector)], key=str)


def test_inventory_json_is_compact_and_sorted() -> None:
    parent = build_parent("shop", "prod", [ObjectRef("", "Service", "prod", "b"), ObjectRef("", "Service", "prod", "a")])
    document = json.loads(parent["data"]["inventory"])
    assert [m["name"] for m in document["members"]] == ["a", "b"]
    assert document["format"] == 1
