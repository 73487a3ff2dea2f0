"""Unit tests for the ApplySet inventory (_inventory): ids, the parent format, reading."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import CompareError, KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    APPLICATION_LABEL,
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    NAMESPACES_ANNOTATION,
    SOURCE_ANNOTATION,
    TOOLING_ANNOTATION,
    applyset_id,
    application_applyset_id,
    application_label_value,
    build_parent,
    find_previous_inventories,
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


SOURCE = "https://git.example.org/apps.git#web"


def test_a_parent_from_another_source_or_tool_is_not_taken_over() -> None:
    inventory = parse_parent(build_parent("web", "prod", [], source=SOURCE), "web", "prod")
    assert inventory.source == SOURCE and inventory.ours and inventory.tool_problem() == ""
    assert inventory.source_problem(SOURCE) == ""
    assert inventory.source_problem(None) == ""  # rendered manifests have no identity to compare
    problem = inventory.source_problem("https://git.example.org/other.git#web")
    assert "belongs to another application named web (source " + SOURCE in problem
    assert SOURCE_ANNOTATION in problem  # how to adopt it on purpose
    unrecorded = parse_parent(build_parent("web", "prod", []), "web", "prod")
    assert unrecorded.source_problem(SOURCE) == ""  # written before sources were recorded: adopted
    foreign = build_parent("web", "prod", [])
    foreign["metadata"]["annotations"][TOOLING_ANNOTATION] = "kubectl/v1.34.4"
    assert "another tool (applyset.kubernetes.io/tooling: kubectl/v1.34.4)" in parse_parent(foreign, "web", "prod").tool_problem()


def test_an_application_label_value_is_the_name_or_a_digest() -> None:
    assert application_label_value("web") == "web"
    long_name = "a" * 100
    assert application_label_value(long_name).startswith("sha256-") and len(application_label_value(long_name)) <= 63


class Parents(Cluster):
    """Parents of applications across namespaces, for find_previous_inventories."""

    def __init__(self, parents: list[dict[str, Any]], denied: bool = False) -> None:
        super().__init__(None)
        self.parents = parents
        self.denied = denied

    def get(self, resource: ApiResource, namespace: str, name: str) -> dict | None:
        return next((p for p in self.parents if (p["metadata"]["namespace"], p["metadata"]["name"]) == (namespace, name)), None)

    def list_objects(self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None) -> list[dict]:
        self.lists.append((resource.plural, namespace, label_selector))
        if self.denied:
            raise KubeApiError("forbidden", status=403)
        return [p for p in self.parents if f"{APPLICATION_LABEL}={p['metadata']['labels'][APPLICATION_LABEL]}" == label_selector]


def test_a_moved_application_finds_only_its_own_parents_left_elsewhere() -> None:
    old = build_parent("web", "old", [ObjectRef("", "ConfigMap", "old", "a")], source=SOURCE)
    other_team = build_parent("web", "team-b", [ObjectRef("", "ConfigMap", "team-b", "b")], source="https://elsewhere#web")
    unrecorded = build_parent("web", "legacy", [ObjectRef("", "ConfigMap", "legacy", "c")])
    cluster = Parents([old, other_team, unrecorded])
    current = read_inventory(cluster, "web", "new")
    found = find_previous_inventories(cluster, current, SOURCE)
    assert [(inv.namespace, inv.members) for inv in found] == [("old", {ObjectRef("", "ConfigMap", "old", "a")})]
    assert cluster.lists == [("configmaps", None, f"{APPLICATION_LABEL}=web")]
    assert find_previous_inventories(cluster, current, None) == []  # no identity, no search

    # once the new parent exists, it names the namespaces left behind: read by name, no LIST
    recorded = Parents([old, build_parent("web", "new", [], source=SOURCE, previous_namespaces=["old"])])
    current = read_inventory(recorded, "web", "new")
    assert [inv.namespace for inv in find_previous_inventories(recorded, current, SOURCE)] == ["old"]
    assert recorded.lists == []


def test_without_the_right_to_list_everywhere_nothing_is_searched() -> None:
    cluster = Parents([], denied=True)
    assert find_previous_inventories(cluster, read_inventory(cluster, "web", "new"), SOURCE) == []
