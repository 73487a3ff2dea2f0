"""Unit tests for the comparison engine (_compare).

The cluster is replaced at the KubeClient boundary by FakeCluster: a dict of
live objects, and a dry-run that merges the desired object into the live one
and fills in a default, the way server-side apply would for these cases.
The behaviour against a real API server is proven in
tests/integration/test_gitops_diff.py.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any, Callable

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils import _compare
from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import (
    IgnoreRule,
    apply_ignore_rules,
    compare_application,
    label_member,
    managed_paths,
    normalise,
    remove_managed_path,
    remove_pointer,
    summarise,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import CompareError, KubeApiError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    application_applyset_id,
    build_parent,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, Discovery
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef

NS = "shop"
SET_ID = application_applyset_id("shop", NS)
RESOURCES = [
    ApiResource("apps", "v1", "Deployment", "deployments", True),
    ApiResource("", "v1", "ConfigMap", "configmaps", True),
    ApiResource("", "v1", "Secret", "secrets", True),
    ApiResource("", "v1", "Namespace", "namespaces", False),
    ApiResource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ApiResource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
]


def deep_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and len(base) == len(patch):
        return [deep_merge(b, p) for b, p in zip(base, patch)]  # like merge by key, for same-order lists
    return copy.deepcopy(patch)


class FakeCluster:
    """What compare_application uses of KubeClient, over an in-memory store."""

    default_namespace = "default"

    def __init__(self, *objects: dict[str, Any], reject: set[str] | None = None) -> None:
        self.store: dict[ObjectRef, dict[str, Any]] = {}
        for obj in objects:
            self.put(obj)
        self.calls: list[tuple[str, str]] = []
        self.reject = reject or set()
        self._discovery = Discovery(list(RESOURCES), 0.0)

    def put(self, obj: dict[str, Any]) -> None:
        obj = copy.deepcopy(obj)
        ref = ObjectRef.from_manifest(obj)
        uid = f"u-{ref.kind}-{ref.namespace}-{ref.name}".lower()  # one object, one uid (the same under another group)
        obj.setdefault("metadata", {}).update(uid=uid, resourceVersion="42", creationTimestamp="2026-01-01T00:00:00Z")
        obj["status"] = {"observedGeneration": 1}
        self.store[ref] = obj

    def discovery(self, refresh: bool = False) -> Discovery:
        return self._discovery

    def resource_for(self, api_version: str, kind: str) -> ApiResource | None:
        return self._discovery.find(api_version, kind)

    def list_objects(self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None) -> list[dict]:
        self.calls.append(("LIST", f"{resource.plural} {namespace} {label_selector}"))
        key, value = (label_selector or "=").split("=", 1)
        return [
            copy.deepcopy(obj) for ref, obj in self.store.items()
            if ref.kind == resource.kind and (namespace is None or ref.namespace == namespace)
            and (not key or (obj["metadata"].get("labels") or {}).get(key) == value)
        ]

    def get(self, resource: ApiResource, namespace: str | None, name: str) -> dict | None:
        self.calls.append(("GET", f"{resource.plural} {namespace} {name}"))
        found = self.store.get(ObjectRef(resource.group, resource.kind, namespace or "", name))
        return copy.deepcopy(found) if found else None

    def apply(self, resource: ApiResource, manifest: dict, *, dry_run: bool = False, force_conflicts: bool = False, **_: Any) -> dict:
        assert dry_run and force_conflicts, "compare must only ever dry-run, forced"
        self.calls.append(("PATCH", manifest["metadata"]["name"]))
        if manifest["metadata"]["name"] in self.reject:
            token = manifest.get("stringData", {}).get("token")
            raise KubeApiError(f'Secret "{manifest["metadata"]["name"]}" is invalid: data[token]: Invalid value: "{token}"', status=422)
        live = self.store.get(ObjectRef.from_manifest(manifest)) or {}
        predicted = deep_merge(live, manifest)
        predicted["metadata"]["managedFields"] = [{"manager": "gitops.kubernetes"}]
        if "stringData" in predicted:
            data = predicted.setdefault("data", {})
            for key, value in predicted.pop("stringData").items():
                data[key] = base64.b64encode(value.encode()).decode()
        return predicted

    def map(self, fn: Callable, items: Any) -> list:
        return [fn(item) for item in items]


def deployment(replicas: int = 2, labels: dict[str, str] | None = None, synced: bool = True) -> dict[str, Any]:
    meta_labels = dict(labels or {"app": "web"})
    if synced:
        meta_labels["applyset.kubernetes.io/part-of"] = SET_ID
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "labels": meta_labels},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    }


def live_deployment(**kwargs: Any) -> dict[str, Any]:
    live = deployment(**kwargs)
    live["spec"]["strategy"] = {"type": "RollingUpdate"}  # a server default
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["metadata"]["generation"] = 3
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    return live


def desired(manifest: dict[str, Any], file: str = "", line: int | None = None) -> DesiredObject:
    manifest = copy.deepcopy(manifest)
    labels = manifest["metadata"].get("labels") or {}
    labels.pop("applyset.kubernetes.io/part-of", None)
    manifest["metadata"].pop("namespace", None)
    return DesiredObject(manifest, file, line)


def statuses(diff: Any) -> dict[str, str]:
    return {f"{r.ref.kind}/{r.ref.name}": r.status for r in diff.resources}


# ---------------------------------------------------------------- statuses


def test_server_defaults_are_not_drift() -> None:
    cluster = FakeCluster(live_deployment())
    diff = compare_application(cluster, "shop", [desired(deployment())], namespace=NS)
    assert statuses(diff) == {"Deployment/web": "Synced"}
    assert diff.resources[0].patch == []
    assert diff.sync_status == "Synced" and not diff.out_of_sync


def test_changed_field_is_one_replace_operation() -> None:
    cluster = FakeCluster(live_deployment(replicas=5))
    diff = compare_application(cluster, "shop", [desired(deployment(replicas=2))], namespace=NS)
    assert diff.resources[0].status == "OutOfSync"
    assert diff.resources[0].patch == [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    assert diff.summary["OutOfSync"] == 1 and diff.sync_status == "OutOfSync"


def test_object_never_synced_shows_the_inventory_label_as_drift() -> None:
    cluster = FakeCluster(live_deployment(synced=False))
    diff = compare_application(cluster, "shop", [desired(deployment())], namespace=NS)
    assert diff.resources[0].patch == [
        {"op": "add", "path": "/metadata/labels/applyset.kubernetes.io~1part-of", "value": SET_ID}]


def test_missing_object_has_no_patch_and_shows_desired_after() -> None:
    cluster = FakeCluster()
    diff = compare_application(cluster, "shop", [desired(deployment())], namespace=NS)
    result = diff.resources[0]
    assert result.status == "Missing" and result.patch is None and result.before is None
    assert result.after["spec"]["replicas"] == 2
    assert ("GET", f"deployments {NS} web") in cluster.calls
    assert ("PATCH", "web") in cluster.calls  # what would be created is validated too


def test_missing_object_the_server_rejects_is_unknown_before_any_sync() -> None:
    cluster = FakeCluster()
    cluster.reject.add("web")
    diff = compare_application(cluster, "shop", [desired(deployment())], namespace=NS)
    result = diff.resources[0]
    assert result.status == "Unknown" and "rejected the dry-run apply" in result.message


def test_namespace_defaulting_is_decided_by_discovery() -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r", "namespace": "wrong"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    pinned = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p", "namespace": "elsewhere"}}
    diff = compare_application(FakeCluster(), "shop", [DesiredObject(role), DesiredObject(config), DesiredObject(pinned)], namespace=NS)
    assert {(r.ref.name, r.ref.namespace) for r in diff.resources} == {("r", ""), ("c", NS), ("p", "elsewhere")}


def test_destination_namespace_defaults_to_the_context_namespace() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    diff = compare_application(FakeCluster(), "shop", [DesiredObject(config)])
    assert diff.namespace == "default" and diff.resources[0].ref.namespace == "default"


def test_unserved_kind_is_unknown_unless_its_crd_is_in_the_application() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.org"},
        "spec": {"group": "example.org", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgets"}},
    }
    widget = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ignored"}}
    gadget = {"apiVersion": "other.org/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    old_deploy = {"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "old"}}
    diff = compare_application(FakeCluster(), "shop", [DesiredObject(o) for o in (crd, widget, gadget, old_deploy)], namespace=NS)
    by_name = {r.ref.name: r for r in diff.resources}
    assert by_name["widgets.example.org"].status == "Missing"
    assert by_name["w"].status == "Missing" and by_name["w"].ref.namespace == ""  # cluster-scoped per its CRD
    assert "not yet served" in by_name["w"].message
    assert by_name["g"].status == "Unknown" and "no CustomResourceDefinition" in by_name["g"].message
    assert by_name["old"].status == "Unknown" and "served versions: apps/v1" in by_name["old"].message


def test_extraneous_comes_from_the_inventory_and_compare_options_can_exclude_it() -> None:
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": NS, "labels": {"applyset.kubernetes.io/part-of": SET_ID}}}
    quiet = copy.deepcopy(old)
    quiet["metadata"].update(name="quiet", annotations={"argocd.argoproj.io/compare-options": "IgnoreExtraneous"})
    gone = ObjectRef("", "ConfigMap", NS, "deleted-already")
    members = [ObjectRef.from_manifest(m) for m in (deployment(), old, quiet)] + [gone]
    cluster = FakeCluster(live_deployment(), old, quiet, build_parent("shop", NS, members))
    diff = compare_application(cluster, "shop", [desired(deployment())], namespace=NS)
    assert statuses(diff) == {"Deployment/web": "Synced", "ConfigMap/old": "Extraneous", "ConfigMap/quiet": "Extraneous"}
    assert diff.sync_status == "OutOfSync"
    assert [d["after_header"] for d in diff.ansible_diffs()] == [f"ConfigMap {NS}/old (pruned)"]
    # LIST by label per kind and namespace; a GET only for the member the label did not find
    assert ("GET", f"configmaps {NS} deleted-already") in cluster.calls
    assert not any(kind == "GET" and "deployments" in what for kind, what in cluster.calls)


def test_only_quiet_extraneous_objects_leave_the_application_synced() -> None:
    quiet = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "quiet", "namespace": NS, "annotations": {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}}}
    cluster = FakeCluster(quiet, build_parent("shop", NS, [ObjectRef.from_manifest(quiet)]))
    diff = compare_application(cluster, "shop", [], namespace=NS)
    assert diff.summary["Extraneous"] == 1 and diff.sync_status == "Synced"


def test_many_unlabelled_objects_of_one_kind_cost_one_list_not_a_get_each() -> None:
    configs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": NS}} for i in range(40)]
    cluster = FakeCluster(*configs)
    diff = compare_application(cluster, "shop", [DesiredObject(copy.deepcopy(c)) for c in configs], namespace=NS)
    assert diff.summary["OutOfSync"] == 40  # not labelled yet
    assert [c for c in cluster.calls if c[0] == "GET"] == [("GET", f"configmaps {NS} applyset-shop")]
    assert ("LIST", f"configmaps {NS} None") in cluster.calls


def test_hooks_are_not_compared() -> None:
    hook = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "h", "annotations": {"argocd.argoproj.io/hook": "PreSync"}}}
    helm_hook = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t", "annotations": {"helm.sh/hook": "test"}}}
    diff = compare_application(FakeCluster(), "shop", [DesiredObject(hook), DesiredObject(helm_hook)], namespace=NS)
    assert diff.resources == [] and diff.sync_status == "Synced"


def test_hook_with_generate_name_is_skipped_not_an_error() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "migrate-", "annotations": {"argocd.argoproj.io/hook": "PreSync"}}}
    assert compare_application(FakeCluster(), "shop", [DesiredObject(job)], namespace=NS).resources == []


def test_immutable_field_change_is_drift_not_unknown() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen", "namespace": NS}, "immutable": True, "data": {"a": "1"}}
    cluster = FakeCluster(live)

    def reject(resource: ApiResource, manifest: dict, **_: Any) -> dict:
        raise invalid('ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set',
                      ("FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set"))

    cluster.apply = reject  # type: ignore[method-assign]
    want = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"}, "immutable": True, "data": {"a": "2"}}
    result = compare_application(cluster, "shop", [DesiredObject(want)], namespace=NS).resources[0]
    assert result.status == "OutOfSync" and result.patch is None and "immutable" in result.message
    assert result.immutable_fields == ["data"]


def invalid(message: str, *causes: tuple[str, str, str]) -> KubeApiError:
    """A 422 as the API server sends it: the Status' details.causes, one per rejected field."""
    details = {"causes": [{"reason": reason, "field": path, "message": text} for reason, path, text in causes]}
    return KubeApiError(message, status=422, reason="Invalid", details=details)


@pytest.mark.parametrize("error, fields", [
    (invalid("", ("FieldValueInvalid", "spec.template", 'Invalid value: {"x": "y"}: field is immutable')), ["spec.template"]),
    (invalid("", ("FieldValueInvalid", "spec.selector", "Invalid value: v1.LabelSelector{}: field is immutable"),
             ("FieldValueInvalid", "spec.template", "Invalid value: {}: field is immutable")), ["spec.selector", "spec.template"]),
    (invalid("", ("FieldValueForbidden", "spec", "Forbidden: updates to statefulset spec for fields other than 'replicas', "
                                                 "'template' and 'updateStrategy' are forbidden")), ["spec"]),
    (invalid("", ("FieldValueForbidden", "spec", "Forbidden: spec is immutable after creation except resources.requests\n"
                                                 "  core.PersistentVolumeClaimSpec{...}")), ["spec"]),
    # the object's name, or a value, saying "immutable" is not an immutable field
    (invalid('Deployment.apps "immutable-web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
             ("FieldValueInvalid", "spec.replicas", "Invalid value: -1: must be greater than or equal to 0")), []),
    (invalid("", ("FieldValueInvalid", "metadata.labels", 'Invalid value: "immutable field": a valid label must be ...')), []),
    # immutable and otherwise invalid: an invalid object, never deleted to be recreated
    (invalid("", ("FieldValueInvalid", "spec.backoffLimit", "Invalid value: -1: must be greater than or equal to 0"),
             ("FieldValueInvalid", "spec.template", "Invalid value: {}: field is immutable")), []),
    (KubeApiError("field is immutable", status=422, reason="Invalid"), []),  # no causes: nothing to tell from
    (KubeApiError("field is immutable", status=409, reason="Conflict",
                  details={"causes": [{"reason": "FieldValueInvalid", "message": "field is immutable"}]}), []),
])
def test_immutable_fields_come_from_the_status_causes_not_the_message(error: KubeApiError, fields: list[str]) -> None:
    assert _compare.immutable_fields(error) == fields


def test_an_object_whose_namespace_does_not_exist_yet_is_reported_as_not_validated() -> None:
    cluster = FakeCluster()

    def missing_namespace(resource: ApiResource, manifest: dict, **_: Any) -> dict:
        raise KubeApiError('namespaces "new" not found', status=404, reason="NotFound", details={"name": "new", "kind": "namespaces"})

    cluster.apply = missing_namespace  # type: ignore[method-assign]
    result = compare_application(cluster, "shop", [DesiredObject(deployment())], namespace="new").resources[0]
    assert result.status == "Missing" and result.unvalidated_namespace == "new"
    assert result.message == "not validated yet: its namespace new does not exist"


def test_a_404_that_is_not_a_missing_namespace_is_unknown() -> None:
    cluster = FakeCluster()

    def gone(resource: ApiResource, manifest: dict, **_: Any) -> dict:
        raise KubeApiError("the server could not find the requested resource", status=404, reason="NotFound")

    cluster.apply = gone  # type: ignore[method-assign]
    result = compare_application(cluster, "shop", [DesiredObject(deployment())], namespace=NS).resources[0]
    assert result.status == "Unknown" and "could not find the requested resource" in result.message


def test_duplicate_objects_name_both_files() -> None:
    objects = [desired(deployment(), "a.yaml", 1), desired(deployment(), "b.yaml", 7)]
    with pytest.raises(CompareError) as info:
        compare_application(FakeCluster(), "shop", objects, namespace=NS)
    message = str(info.value)
    assert "application 'shop'" in message and "b.yaml:7" in message and "a.yaml:1" in message


def test_object_without_name_is_a_compare_error_with_its_location() -> None:
    with pytest.raises(CompareError, match="x.yaml:3.*no metadata.name"):
        compare_application(FakeCluster(), "shop", [DesiredObject({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "x.yaml", 3)], namespace=NS)


def test_rejected_dry_run_is_unknown_with_a_scrubbed_message() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad", "namespace": NS}, "stringData": {"token": "tok-very-secret"}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad", "namespace": NS}, "data": {}}
    diff = compare_application(FakeCluster(live, reject={"bad"}), "shop", [DesiredObject(secret)], namespace=NS)
    result = diff.resources[0]
    assert result.status == "Unknown" and "rejected the dry-run" in result.message
    assert "tok-very-secret" not in result.message
    assert diff.sync_status == "Unknown" and diff.out_of_sync


# ---------------------------------------------------------------- Secrets


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secret_patch_and_views_carry_keys_and_markers_never_values() -> None:
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": NS, "labels": {"applyset.kubernetes.io/part-of": SET_ID}},
            "data": {"password": b64("live-pw"), "user": b64("admin-user"), "old": b64("old-value")}}
    want = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "stringData": {"password": "git-pw", "user": "admin-user", "new": "new-value"}}
    cluster = FakeCluster(live)
    cluster.apply = lambda resource, manifest, **_: {  # type: ignore[method-assign]
        **copy.deepcopy(live), "data": {k: b64(v) for k, v in manifest["stringData"].items()}}
    diff = compare_application(cluster, "shop", [DesiredObject(want)], namespace=NS)
    result = diff.resources[0]
    assert result.status == "OutOfSync"
    ops = {(op["op"], op["path"]): op.get("value") for op in result.patch}
    assert ops == {
        ("replace", "/data/password"): "++++++++ (changed)",
        ("add", "/data/new"): "++++++++ (changed)",
        ("remove", "/data/old"): None,
    }
    assert result.before["data"]["password"] == "++++++++"
    assert result.after["data"]["user"] == "++++++++ (unchanged)"
    text = json.dumps([result.to_result(with_diff=True), diff.ansible_diffs()])
    for value in ("live-pw", "git-pw", "admin-user", "new-value", "old-value"):
        assert value not in text and b64(value) not in text


def test_missing_and_extraneous_secrets_are_masked() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": NS}, "data": {"k": b64("hidden-value")}}
    missing = compare_application(FakeCluster(), "shop", [DesiredObject(copy.deepcopy(secret))], namespace=NS)
    cluster = FakeCluster(secret, build_parent("shop", NS, [ObjectRef.from_manifest(secret)]))
    extraneous = compare_application(cluster, "shop", [], namespace=NS)
    text = json.dumps([missing.resources[0].to_result(True), extraneous.resources[0].to_result(True)])
    assert extraneous.resources[0].status == "Extraneous"
    assert b64("hidden-value") not in text and "++++++++" in text


# ---------------------------------------------------------------- ignore rules


def managed(manager: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields}


def test_json_pointer_rule_suppresses_drift_on_that_field_only() -> None:
    cluster = FakeCluster(live_deployment(replicas=5, labels={"app": "web", "extra": "x"}))
    rule = {"group": "apps", "kind": "Deployment", "json_pointers": ["/spec/replicas"]}
    diff = compare_application(cluster, "shop", [desired(deployment(replicas=2, labels={"app": "web"}))], namespace=NS, ignore_differences=[rule])
    # extra is kept by the merge-style fake apply; replicas is ignored
    assert diff.resources[0].status == "Synced"
    other = compare_application(cluster, "shop", [desired(deployment(replicas=2))], namespace=NS,
                                ignore_differences=[{"group": "apps", "kind": "Deployment", "name": "api", "json_pointers": ["/spec/replicas"]}])
    assert other.resources[0].status == "OutOfSync"


def test_managed_fields_manager_rule_uses_live_ownership() -> None:
    live = live_deployment(replicas=5)
    live["metadata"]["managedFields"] = [
        managed("hpa", {"f:spec": {"f:replicas": {}}}),
        managed("gitops.kubernetes", {"f:spec": {"f:template": {}}}),
    ]
    cluster = FakeCluster(live)
    cluster.store[ObjectRef("apps", "Deployment", NS, "web")]["metadata"]["managedFields"] = live["metadata"]["managedFields"]
    rule = IgnoreRule(group="apps", kind="Deployment", managed_fields_managers=["hpa"])
    diff = compare_application(cluster, "shop", [desired(deployment(replicas=2))], namespace=NS, ignore_differences=[rule])
    assert diff.resources[0].status == "Synced"


def test_ignore_rules_accept_the_application_spec_dataclass() -> None:
    from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import IgnoreDifference

    rule = IgnoreRule.from_any(IgnoreDifference(group="apps", kind="Deployment", json_pointers=["/spec/replicas"]))
    assert rule.name is None and rule.namespace is None  # '' from the spec means "any"
    assert rule.matches(ObjectRef("apps", "Deployment", "x", "y"))


def test_managed_paths_cover_keyed_list_items_and_set_values() -> None:
    fields = {
        "f:metadata": {"f:labels": {"f:team": {}}},
        "f:spec": {"f:template": {"f:spec": {"f:containers": {
            'k:{"name":"sidecar"}': {".": {}, "f:image": {}},
            'k:{"name":"web"}': {"f:image": {}},
        }}}},
        "f:finalizers": {'v:"example.org/cleanup"': {}},
    }
    paths = managed_paths([managed("injector", fields), managed("someone-else", {"f:spec": {"f:replicas": {}}})], ["injector"])
    document = {
        "metadata": {"labels": {"team": "a", "app": "web"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "ports": [80]}, {"name": "sidecar", "image": "envoy"}]}}},
        "finalizers": ["example.org/cleanup", "keep"],
    }
    for path in paths:
        remove_managed_path(document, path)
    assert document == {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "ports": [80]}]}}},
        "finalizers": ["keep"],
    }


def test_remove_pointer_handles_escapes_lists_and_absent_paths() -> None:
    document = {"metadata": {"annotations": {"a/b": "1", "c~d": "2"}}, "items": [1, 2, 3]}
    remove_pointer(document, "/metadata/annotations/a~1b")
    remove_pointer(document, "/metadata/annotations/c~0d")
    remove_pointer(document, "/items/1")
    remove_pointer(document, "/not/there")
    remove_pointer(document, "/items/9")
    assert document == {"metadata": {"annotations": {}}, "items": [1, 3]}


def test_jq_rule_when_jq_is_installed() -> None:
    pytest.importorskip("jq")
    rule = IgnoreRule.from_any({"kind": "Deployment", "group": "apps", "jq_path_expressions": [".spec.template.spec.containers[].image"]})
    live = deployment()
    (result,) = apply_ignore_rules([rule], ObjectRef("apps", "Deployment", NS, "web"), live, [copy.deepcopy(live)])
    assert result["spec"]["template"]["spec"]["containers"] == [{"name": "web"}]


def test_jq_rule_without_jq_is_a_clear_spec_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compare, "HAS_JQ", False)
    with pytest.raises(SpecError, match="pip install jq"):
        IgnoreRule.from_any({"kind": "Deployment", "jq_path_expressions": [".spec"]})


@pytest.mark.parametrize("rule, message", [
    ({"group": "apps"}, "needs a kind"),
    ({"kind": "Deployment", "json_pointers": ["spec/replicas"]}, "must start with '/'"),
])
def test_invalid_ignore_rules(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        IgnoreRule.from_any(rule)


def test_wildcards_in_ignore_rules() -> None:
    rule = IgnoreRule(group="*", kind="*", namespace="prod")
    assert rule.matches(ObjectRef("apps", "Deployment", "prod", "x"))
    assert not rule.matches(ObjectRef("apps", "Deployment", "dev", "x"))


# ---------------------------------------------------------------- helpers


def test_normalise_drops_server_owned_fields_and_keeps_the_rest() -> None:
    live = live_deployment()
    live["metadata"]["managedFields"] = [{"manager": "x"}]
    live["metadata"]["selfLink"] = "/x"
    result = normalise(live)
    assert set(result["metadata"]) == {"name", "namespace", "labels"}
    assert "status" not in result and result["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert live["metadata"]["managedFields"]  # the input is not modified


def test_label_member_copies_and_labels() -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    labelled = label_member(manifest, SET_ID)
    assert labelled["metadata"]["labels"] == {"applyset.kubernetes.io/part-of": SET_ID}
    assert "labels" not in manifest["metadata"]


def test_summary_status_precedence() -> None:
    ref = ObjectRef("", "ConfigMap", NS, "c")
    synced = _compare.ComparedObject(ref, "Synced")
    unknown = _compare.ComparedObject(ref, "Unknown")
    missing = _compare.ComparedObject(ref, "Missing")
    assert summarise([synced])[1] == "Synced"
    assert summarise([synced, unknown])[1] == "Unknown"
    assert summarise([synced, unknown, missing]) == (
        {"Synced": 1, "OutOfSync": 0, "Missing": 1, "Extraneous": 0, "Unknown": 1}, "OutOfSync")


def test_result_shape_and_diff_only_for_drift() -> None:
    cluster = FakeCluster(live_deployment(replicas=5))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    diff = compare_application(cluster, "shop", [desired(deployment()), DesiredObject(config, "cm.yaml", 4)], namespace=NS, revision="abc")
    result = diff.to_result(with_diff=False)
    assert result["revision"] == "abc" and result["sync_status"] == "OutOfSync"
    deploy, cm = result["resources"]
    assert deploy == {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": NS, "name": "web",
                      "status": "OutOfSync", "patch": [{"op": "replace", "path": "/spec/replicas", "value": 2}]}
    assert cm["status"] == "Missing" and cm["source"] == "cm.yaml:4"
    with_diff = diff.to_result(with_diff=True)["resources"][0]
    assert "replicas: 5" in with_diff["before"] and "replicas: 2" in with_diff["after"]
    assert len(diff.ansible_diffs()) == 2
