"""Unit tests for the hook ownership rules: what a hook may replace or delete, and that a delete names the checked uid.

The behaviour against a cluster is proven in tests/integration/test_gitops_sync.py
(test_a_hook_never_replaces_an_object_it_does_not_own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._hooks import (
    HOOK_OF_LABEL,
    delete_own_hook,
    find_hook_clashes,
    mark_hook,
    not_ours,
    refuse_hook_clashes,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef

SET_ID = "applyset-ours-v1"
CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True)
NAMESPACES = ApiResource("", "v1", "Namespace", "namespaces", False)


def live(labels: dict[str, str] | None = None, uid: str = "uid-1", managers: tuple[str, ...] = ()) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "x", "uid": uid, "labels": labels or {}}
    if managers:
        metadata["managedFields"] = [{"manager": m, "operation": "Update"} for m in managers]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"password": "hunter2"}}


class Cluster:
    """In-memory objects by (plural, namespace, name); records deletes with their uid precondition."""

    def __init__(self, objects: dict[tuple[str, str | None, str], dict[str, Any]]) -> None:
        self.objects = objects
        self.deletes: list[tuple[str | None, str, str | None]] = []
        self.gets: list[tuple[str | None, str]] = []

    def get(self, resource: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.gets.append((namespace, name))
        return self.objects.get((resource.plural, namespace, name))

    def delete(self, resource: ApiResource, namespace: str | None, name: str, *, propagation_policy: str = "Background",
               uid: str | None = None) -> dict[str, Any] | None:
        self.deletes.append((namespace, name, uid))
        found = self.objects.get((resource.plural, namespace, name))
        if found is None:
            return None
        if uid and found["metadata"]["uid"] != uid:
            raise KubeApiError("delete: 409 Conflict Precondition failed: UID in precondition", status=409)
        return self.objects.pop((resource.plural, namespace, name))

    def map(self, fn: Any, items: Any) -> list[Any]:
        return [fn(item) for item in items]


@dataclass
class Hook:
    ref: ObjectRef
    resource: ApiResource | None
    source: str = "app/hooks.yaml:3"


def test_mark_hook_labels_the_manifest_with_the_application_id():
    manifest: dict[str, Any] = {"metadata": {"name": "migrate", "labels": None}}
    mark_hook(manifest, SET_ID)
    assert manifest["metadata"]["labels"] == {HOOK_OF_LABEL: SET_ID}


@pytest.mark.parametrize("labels, managers, words", [
    ({HOOK_OF_LABEL: SET_ID}, (), None),
    ({HOOK_OF_LABEL: "applyset-other-v1"}, (), "a hook of another application (gitops.kubernetes/hook-of=applyset-other-v1)"),
    ({PART_OF_LABEL: SET_ID}, (), "an ordinary resource of this application"),
    ({PART_OF_LABEL: "applyset-other-v1"}, (), "belongs to another application (applyset.kubernetes.io/part-of=applyset-other-v1)"),
    ({}, ("kubectl-create",), "no gitops.kubernetes/hook-of label of this application, so no hook of it created the object; "
                              "written by kubectl-create"),
])
def test_only_an_earlier_hook_of_the_same_application_is_ours(labels, managers, words):
    reason = not_ours(live(labels, managers=managers), SET_ID)
    if words is None:
        assert reason is None
    else:
        assert reason is not None and words in reason


def test_clashes_name_every_foreign_object_once_and_ignore_generate_name_and_unserved_kinds():
    foreign = ObjectRef("", "ConfigMap", "other", "settings")
    own = ObjectRef("", "ConfigMap", "shop", "marker")
    cluster = Cluster({
        ("configmaps", "other", "settings"): live({PART_OF_LABEL: "applyset-other-v1"}),
        ("configmaps", "shop", "marker"): live({HOOK_OF_LABEL: SET_ID}),
    })
    hooks = [
        Hook(foreign, CONFIGMAPS), Hook(foreign, CONFIGMAPS),  # one hook in two phases
        Hook(own, CONFIGMAPS),
        Hook(ObjectRef("", "ConfigMap", "shop", ""), CONFIGMAPS),  # generateName: a new name every time
        Hook(ObjectRef("example.com", "Widget", "shop", "w"), None),  # its CRD is not served yet
        Hook(ObjectRef("", "ConfigMap", "shop", "absent"), CONFIGMAPS),
    ]
    clashes = find_hook_clashes(cluster, hooks, SET_ID)  # type: ignore[arg-type]
    assert len(clashes) == 1
    assert clashes[0].startswith("hook ConfigMap other/settings (app/hooks.yaml:3) would replace the existing ConfigMap other/settings")
    assert "Nothing was deleted" in clashes[0] and "hunter2" not in clashes[0]
    assert sorted(cluster.gets) == [("other", "settings"), ("shop", "absent"), ("shop", "marker")]
    with pytest.raises(SyncError) as raised:
        refuse_hook_clashes(cluster, "shop", hooks, SET_ID)  # type: ignore[arg-type]
    assert raised.value.application == "shop" and raised.value.message.startswith("nothing was applied, because hook ConfigMap")
    assert cluster.deletes == []


def test_delete_own_hook_deletes_only_the_checked_object_by_its_uid():
    ref = ObjectRef("", "ConfigMap", "shop", "marker")
    cluster = Cluster({("configmaps", "shop", "marker"): live({HOOK_OF_LABEL: SET_ID}, uid="uid-7")})
    assert delete_own_hook(cluster, CONFIGMAPS, ref, SET_ID) is True  # type: ignore[arg-type]
    assert cluster.deletes == [("shop", "marker", "uid-7")]
    assert delete_own_hook(cluster, CONFIGMAPS, ref, SET_ID) is False  # type: ignore[arg-type]
    assert cluster.deletes == [("shop", "marker", "uid-7")]  # nothing there: no delete sent


def test_delete_own_hook_refuses_a_foreign_object_and_deletes_nothing():
    ref = ObjectRef("", "Namespace", "", "prod")
    cluster = Cluster({("namespaces", None, "prod"): live({}, managers=("kubectl-create",))})
    with pytest.raises(SyncError) as raised:
        delete_own_hook(cluster, NAMESPACES, ref, SET_ID, "app/ns.yaml:1")  # type: ignore[arg-type]
    assert "hook Namespace prod (app/ns.yaml:1) would replace the existing Namespace prod" in raised.value.message
    assert "written by kubectl-create" in raised.value.message and "Nothing was deleted" in raised.value.message
    assert cluster.deletes == [] and ("namespaces", None, "prod") in cluster.objects


def test_delete_own_hook_fails_when_the_name_holds_another_object_by_the_time_it_deletes():
    ref = ObjectRef("", "ConfigMap", "shop", "marker")
    ours = live({HOOK_OF_LABEL: SET_ID}, uid="uid-old")
    cluster = Cluster({})

    def swapped_get(resource: ApiResource, namespace: str | None, name: str) -> dict[str, Any]:
        # between our GET and our DELETE someone replaced the object: the precondition protects the new one
        cluster.objects[(resource.plural, namespace, name)] = live({}, uid="uid-new")
        return ours

    cluster.get = swapped_get  # type: ignore[method-assign]
    with pytest.raises(SyncError) as raised:
        delete_own_hook(cluster, CONFIGMAPS, ref, SET_ID)  # type: ignore[arg-type]
    assert "replaced by another object" in raised.value.message and "nothing was deleted" in raised.value.message
    assert cluster.objects[("configmaps", "shop", "marker")]["metadata"]["uid"] == "uid-new"
