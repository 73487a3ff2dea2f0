"""applicationsSync create-only and create-delete: an application is synced as it was created, never updated."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import expand_applicationset
from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.created import (
    RECORD_FIELD_MANAGER,
    differing_paths,
    forget_records,
    keep_created,
    record_created,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import inputs_from_params
from ansible_collections.gitops.kubernetes.plugins.module_utils._report import SYNC, build_report
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import SyncResult

REPO = "https://git.example/apps.git"


def appset(policy: str, path: str = "apps/{{ .name }}", repo: str = REPO, names: tuple[str, ...] = ("co-web",)) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "co-set"},
            "spec": {"goTemplate": True, "generators": [{"list": {"elements": [{"name": n} for n in names]}}],
                     "syncPolicy": {"applicationsSync": policy},
                     "template": {"metadata": {"name": "{{ .name }}"},
                                  "spec": {"project": "default",
                                           "source": {"repoURL": repo, "targetRevision": "main", "path": path},
                                           "destination": {"namespace": "co-ns"}}}}}


def generated(manifest: dict) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    applicationsets: dict[str, dict[str, Any]] = {}
    inputs = inputs_from_params({"applicationsets": [manifest], "applications": []}, "/tmp/cache", applicationsets)
    return inputs, applicationsets


class FakeClient:
    """ConfigMaps by (namespace, name); records the applies."""

    default_namespace = "default"

    def __init__(self, parents: list[dict[str, Any]] | None = None, fail_apply: bool = False) -> None:
        self.parents = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in parents or []}
        self.applied: list[tuple[dict[str, Any], str | None]] = []
        self.selectors: list[str] = []
        self.fail_apply = fail_apply

    def resource_for(self, api_version: str, kind: str) -> str:
        return "configmaps"

    def list_objects(self, resource: str, namespace: str | None, label_selector: str) -> list[dict[str, Any]]:
        assert namespace is None  # the parents of every namespace: a created application never moves with the template
        self.selectors.append(label_selector)
        wanted = "gitops.kubernetes/applicationset-created" in label_selector.split(",")
        return [p for p in self.parents.values() if not wanted or "gitops.kubernetes/applicationset-created" in p["metadata"]["labels"]]

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.parents.get((namespace, name))

    def apply(self, resource: str, manifest: dict[str, Any], *, force_conflicts: bool = False,
              field_manager: str | None = None) -> dict[str, Any]:
        if self.fail_apply:
            raise KubeApiError("forbidden: configmaps", status=403)
        self.applied.append((manifest, field_manager))
        return manifest


def parent(name: str, namespace: str, recorded: dict | None = None) -> dict[str, Any]:
    data = {"inventory": "{}"}
    labels = {"gitops.kubernetes/applicationset": "co-set"}
    if recorded is not None:
        data["application"] = json.dumps(recorded)
        labels["gitops.kubernetes/applicationset-created"] = "true"
    return {"metadata": {"name": f"applyset-{name}", "namespace": namespace, "uid": "uid-1", "labels": labels}, "data": data}


def test_co_create_only_is_accepted_as_argo_cd_reads_it():
    result = expand_applicationset(appset("create-only"), [], None)
    assert result.applications_sync == "create-only" and not result.deletes_disappeared


def test_co_a_created_application_is_synced_as_recorded_and_the_difference_reported():
    old_inputs, dummy = generated(appset("create-only", path="apps/{{ .name }}"))
    created = copy.deepcopy(old_inputs[0].raw)
    inputs, applicationsets = generated(appset("create-only", path="v2/{{ .name }}"))
    assert inputs[0].app.source.path == "v2/co-web"
    # the template moved the application nowhere: the parent of the created one is found in any namespace
    client = FakeClient([parent("co-web", "elsewhere", created)])
    kept = keep_created(client, inputs, applicationsets, "prod")
    assert inputs[0].app.source.path == "apps/co-web"
    assert client.selectors == ["gitops.kubernetes/applicationset=co-set,gitops.kubernetes/applicationset-created,"
                                "gitops.kubernetes/applicationset-cluster=prod"]
    assert kept["co-web"].to_result() == {"applicationset": "co-set", "applications_sync": "create-only", "created_now": False,
                                          "generated_differs": True, "differences": ["spec.source.path"]}
    assert kept["co-web"].warning("co-web") == (
        "application co-web: ApplicationSet co-set has applicationsSync create-only: the generated application differs "
        "from the one created (spec.source.path) and was not applied")
    assert client.applied == []  # reading only


def test_co_a_new_application_is_created_from_the_generated_spec():
    inputs, applicationsets = generated(appset("create-only", path="v2/{{ .name }}"))
    kept = keep_created(FakeClient(), inputs, applicationsets, None)
    assert inputs[0].app.source.path == "v2/co-web"
    assert kept["co-web"].to_result()["created_now"] is True and kept["co-web"].warning("co-web") is None


@pytest.mark.parametrize("policy, keeps", [("create-only", True), ("create-delete", True), ("create-update", False),
                                           ("sync", False)])
def test_co_only_policies_argo_cd_forbids_updates_keep_the_created_application(policy: str, keeps: bool):
    old_inputs, dummy = generated(appset(policy))
    inputs, applicationsets = generated(appset(policy, path="v2/{{ .name }}"))
    kept = keep_created(FakeClient([parent("co-web", "co-ns", old_inputs[0].raw)]), inputs, applicationsets, None)
    assert inputs[0].app.source.path == ("apps/co-web" if keeps else "v2/co-web")
    assert ("co-web" in kept) is keeps


def test_co_an_application_with_url_credentials_is_refused_before_anything_is_recorded():
    inputs, applicationsets = generated(appset("create-only", repo="https://user:t0ken@git.example/apps.git"))
    client = FakeClient()
    with pytest.raises(SpecError, match="co-web.*URL with credentials") as caught:
        keep_created(client, inputs, applicationsets, None)
    assert "t0ken" not in str(caught.value) and client.applied == []


def test_co_a_record_that_is_no_valid_application_is_an_error_naming_it_and_its_configmap():
    inputs, applicationsets = generated(appset("create-only"))
    broken = copy.deepcopy(inputs[0].raw)
    broken["spec"]["source"]["oops"] = True
    with pytest.raises(SpecError, match=r"ConfigMap applyset-co-web \(data.application\), is not valid: .*oops"):
        keep_created(FakeClient([parent("co-web", "co-ns", broken)]), inputs, applicationsets, None)


@pytest.mark.parametrize("repo", ["ssh://git@git.example/apps.git", "git@git.example:apps.git", "https://git.example:8443/apps.git"])
def test_co_urls_without_credentials_are_recorded(repo: str):
    inputs, applicationsets = generated(appset("create-only", repo=repo))
    assert "co-web" in keep_created(FakeClient(), inputs, applicationsets, None)


def synced(name: str, **changes: Any) -> SyncResult:
    return SyncResult(name, "co-ns", "abc", [], **changes)


def test_co_the_generated_application_is_recorded_after_a_sync_that_ran_only():
    inputs, applicationsets = generated(appset("create-only", names=("co-a", "co-b", "co-c", "co-d")))
    kept = keep_created(FakeClient(), inputs, applicationsets, None)
    client = FakeClient([parent(name, "co-ns") for name in ("co-a", "co-b", "co-c")])
    outcomes = [synced("co-a"), synced("co-b", skipped="no self-heal"), SpecError("render failed"), synced("co-d")]
    assert record_created(client, inputs, outcomes, kept) == []
    # co-b was not synced, co-c failed before any write, co-d wrote no parent: created by a later run
    assert len(client.applied) == 1
    manifest, manager = client.applied[0]
    assert manager == RECORD_FIELD_MANAGER
    assert manifest["metadata"] == {"name": "applyset-co-a", "namespace": "co-ns", "uid": "uid-1",
                                    "labels": {"gitops.kubernetes/applicationset-created": "true"}}
    assert json.loads(manifest["data"]["application"]) == inputs[0].raw
    assert set(manifest["data"]) == {"application"}  # the inventory is the sync's own field, left alone


def test_co_an_application_already_recorded_is_not_written_again():
    inputs, applicationsets = generated(appset("create-only"))
    client = FakeClient([parent("co-web", "co-ns", inputs[0].raw)])
    kept = keep_created(client, inputs, applicationsets, None)
    assert record_created(client, inputs, [synced("co-web")], kept) == [] and client.applied == []


def test_co_a_record_that_cannot_be_written_is_a_warning_naming_the_application():
    inputs, applicationsets = generated(appset("create-only"))
    kept = keep_created(FakeClient(), inputs, applicationsets, None)
    client = FakeClient([parent("co-web", "co-ns")], fail_apply=True)
    warnings = record_created(client, inputs, [synced("co-web")], kept)
    assert len(warnings) == 1 and "co-web" in warnings[0] and "ConfigMap co-ns/applyset-co-web" in warnings[0]


@pytest.mark.parametrize("policy, forgets", [("create-update", True), ("sync", True), ("create-only", False),
                                             ("create-delete", False)])
def test_co_records_are_forgotten_once_the_set_allows_updates(policy: str, forgets: bool):
    inputs, applicationsets = generated(appset(policy))
    client = FakeClient([parent("co-web", "co-ns", inputs[0].raw), parent("co-gone", "co-ns", inputs[0].raw),
                         parent("co-plain", "co-ns")])
    assert forget_records(client, applicationsets, None) == []
    if forgets:  # every record of the set, generated or not; an empty apply of the record's manager drops its fields
        assert [(m["metadata"]["name"], sorted(m), manager) for m, manager in client.applied] == [
            ("applyset-co-web", ["apiVersion", "kind", "metadata"], RECORD_FIELD_MANAGER),
            ("applyset-co-gone", ["apiVersion", "kind", "metadata"], RECORD_FIELD_MANAGER)]
    else:
        assert client.applied == [] and client.selectors == []


def test_co_differing_paths_names_leaves_never_values():
    before = {"metadata": {"labels": {"a": "1"}}, "spec": {"source": {"path": "x"}, "list": [1]}}
    after = {"metadata": {"labels": {"a": "2", "b": "3"}}, "spec": {"source": {"path": "x"}, "list": [1, 2]}}
    assert differing_paths(before, after) == ["metadata.labels.a", "metadata.labels.b", "spec.list"]
    assert differing_paths(before, copy.deepcopy(before)) == []


def test_co_the_report_says_the_generated_application_was_not_applied():
    kept = {"applicationset": "co-set", "applications_sync": "create-only", "created_now": False,
            "generated_differs": True, "differences": ["spec.source.path"]}
    result = {"applications": [{"name": "co-web", "sync_status": "Synced", "health_status": "Healthy",
                                "applicationset_kept": kept}]}
    report = build_report([{"cluster": "prod", "result": result}], SYNC)
    assert any(line.startswith("prod/co-web: ") and line.endswith(
        "; generated application not applied (ApplicationSet co-set is create-only; differs at spec.source.path)")
        for line in report.summary_lines())
    assert report.to_dict()["clusters"][0]["applications"][0]["applicationset_kept"] == kept
