"""Replace=true and Force=true mean what they mean in Argo CD, through ansible-playbook against a real control plane.

Replace=true writes an object out of sync with a PUT of its whole manifest (kubectl replace), so what another
manager added goes; an immutable change then fails, deleting nothing. Force=true,Replace=true deletes and
recreates (kubectl replace --force); Force=true alone recreates only when a change cannot be made in place
(kubectl apply --force). A CustomResourceDefinition is updated, never deleted. kubectl is the observer.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from module_tasks import resources_by_kind_name, tasks
from test_gitops_sync import SYNC_OPTIONS, configmap, job, sync_task, with_annotations

REPLACE = {SYNC_OPTIONS: "Replace=true"}
FORCE = {SYNC_OPTIONS: "Force=true"}
FORCE_REPLACE = {SYNC_OPTIONS: "Force=true,Replace=true"}


@pytest.fixture
def replace_namespace(kubectl: Any) -> Any:
    """A fresh namespace named replace-..., deleted afterwards (without waiting)."""
    name = f"replace-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def uid(kubectl: Any, what: str, namespace: str) -> str:
    return kubectl.get(what, "-n", namespace)["metadata"]["uid"]


def settings(data: dict[str, str], **annotations: str) -> dict[str, Any]:
    manifest = configmap("replace-settings", **annotations)
    manifest["data"] = data
    return manifest


def synced(run: Any, register: str) -> dict[str, Any]:
    result = run[register]
    assert run.rc == 0 and not result.get("failed"), result.get("msg")
    return result


def test_replace_true_drops_a_label_another_manager_added_the_next_time_the_object_changes(kubectl, replace_namespace,
                                                                                           ansible_playbook):
    ns = replace_namespace
    first = synced(ansible_playbook(tasks(sync_task("first", [settings({"a": "1", "b": "2"}, **REPLACE)], ns,
                                                    app="replace-label"))), "first")
    assert resources_by_kind_name(first)["ConfigMap/replace-settings"]["action"] == "created"
    original = uid(kubectl, "configmap/replace-settings", ns)
    kubectl.run("label", "configmap/replace-settings", "-n", ns, "added-by=someone-else")

    # a field another manager added is not drift (nor in Argo CD's diff): an unchanged object is not written
    again = synced(ansible_playbook(tasks(sync_task("again", [settings({"a": "1", "b": "2"}, **REPLACE)], ns,
                                                    app="replace-label"))), "again")
    assert again["changed"] is False and again["stats"]["writes"] == 0
    assert kubectl.get("configmap/replace-settings", "-n", ns)["metadata"]["labels"].get("added-by") == "someone-else"

    # check mode says what it would do and writes nothing
    changed = settings({"a": "10", "b": "2"}, **REPLACE)
    check = ansible_playbook(tasks(sync_task("check", [changed], ns, app="replace-label")), check=True)["check"]
    assert check["changed"] is True and resources_by_kind_name(check)["ConfigMap/replace-settings"]["action"] == "replaced"
    assert kubectl.get("configmap/replace-settings", "-n", ns)["data"] == {"a": "1", "b": "2"}

    # the object changes in Git: written with a PUT of its whole manifest, so the other manager's label goes
    replaced = synced(ansible_playbook(tasks(sync_task("replaced", [changed], ns, app="replace-label"))), "replaced")
    entry = resources_by_kind_name(replaced)["ConfigMap/replace-settings"]
    assert entry["action"] == "replaced" and "PUT" in entry["message"]
    live = kubectl.get("configmap/replace-settings", "-n", ns)
    assert "added-by" not in (live["metadata"].get("labels") or {})
    assert live["data"] == {"a": "10", "b": "2"}
    assert live["metadata"]["uid"] == original  # replaced in place, not recreated

    # a key Git removes is seen by the next compare (the replaced object stays ours to compare), and goes
    smaller = synced(ansible_playbook(tasks(sync_task("smaller", [settings({"a": "10"}, **REPLACE)], ns,
                                                      app="replace-label"))), "smaller")
    assert resources_by_kind_name(smaller)["ConfigMap/replace-settings"]["action"] == "replaced"
    assert kubectl.get("configmap/replace-settings", "-n", ns)["data"] == {"a": "10"}
    settled = synced(ansible_playbook(tasks(sync_task("settled", [settings({"a": "10"}, **REPLACE)], ns,
                                                      app="replace-label"))), "settled")
    assert settled["changed"] is False and settled["stats"]["writes"] == 0


def test_replace_true_alone_refuses_an_immutable_change_and_deletes_nothing(kubectl, replace_namespace, ansible_playbook):
    ns = replace_namespace
    migrate = with_annotations(job("replace-migrate"), **REPLACE)
    synced(ansible_playbook(tasks(sync_task("first", [migrate, settings({"mode": "blue"})], ns, app="replace-job"))), "first")
    original = uid(kubectl, "job/replace-migrate", ns)

    new_image = with_annotations(job("replace-migrate", image="busybox:1.37"), **REPLACE)
    run = ansible_playbook(tasks(sync_task("refused", [new_image, settings({"mode": "green"})], ns, app="replace-job")))
    refused = run["refused"]
    assert refused["failed"] is True and "nothing was applied" in refused["msg"]
    assert f"Job.batch {ns}/replace-migrate" in refused["msg"] and "field is immutable" in refused["msg"]
    assert "PUT (kubectl replace)" in refused["msg"] and "Force=true,Replace=true" in refused["msg"]
    # nothing deleted, nothing half applied
    assert uid(kubectl, "job/replace-migrate", ns) == original
    assert kubectl.get("configmap/replace-settings", "-n", ns)["data"] == {"mode": "blue"}


def test_force_and_replace_delete_and_recreate_an_object_that_changed(kubectl, replace_namespace, ansible_playbook):
    ns = replace_namespace
    synced(ansible_playbook(tasks(sync_task("first", [settings({"a": "1"}, **FORCE_REPLACE)], ns, app="replace-force"))),
           "first")
    original = uid(kubectl, "configmap/replace-settings", ns)
    unchanged = synced(ansible_playbook(tasks(sync_task("again", [settings({"a": "1"}, **FORCE_REPLACE)], ns,
                                                        app="replace-force"))), "again")
    assert unchanged["changed"] is False and unchanged["stats"]["writes"] == 0
    assert uid(kubectl, "configmap/replace-settings", ns) == original

    recreated = synced(ansible_playbook(tasks(sync_task("recreated", [settings({"a": "2"}, **FORCE_REPLACE)], ns,
                                                        app="replace-force"))), "recreated")
    entry = resources_by_kind_name(recreated)["ConfigMap/replace-settings"]
    assert entry["action"] == "recreated" and "kubectl replace --force" in entry["message"]
    assert recreated["counts"]["recreated"] == 1
    live = kubectl.get("configmap/replace-settings", "-n", ns)
    assert live["metadata"]["uid"] != original and live["data"] == {"a": "2"}


def test_force_alone_applies_and_recreates_only_when_the_change_cannot_be_made_in_place(kubectl, replace_namespace,
                                                                                        ansible_playbook):
    ns = replace_namespace
    migrate = with_annotations(job("replace-migrate"), **FORCE)
    synced(ansible_playbook(tasks(sync_task("first", [migrate], ns, app="replace-apply-force"))), "first")
    original = uid(kubectl, "job/replace-migrate", ns)

    labelled = copy.deepcopy(migrate)
    labelled["metadata"]["labels"] = {"tier": "batch"}
    configured = synced(ansible_playbook(tasks(sync_task("labelled", [labelled], ns, app="replace-apply-force"))), "labelled")
    assert resources_by_kind_name(configured)["Job/replace-migrate"]["action"] == "configured"
    assert uid(kubectl, "job/replace-migrate", ns) == original

    new_image = with_annotations(job("replace-migrate", image="busybox:1.37"), **FORCE)
    new_image["metadata"]["labels"] = {"tier": "batch"}
    recreated = synced(ansible_playbook(tasks(sync_task("image", [new_image], ns, app="replace-apply-force"))), "image")
    entry = resources_by_kind_name(recreated)["Job/replace-migrate"]
    assert entry["action"] == "recreated" and "spec.template" in entry["message"] and "Force=true" in entry["message"]
    live = kubectl.get("job/replace-migrate", "-n", ns)
    assert live["metadata"]["uid"] != original
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37"


def test_a_crd_with_force_and_replace_is_updated_in_place_and_its_custom_resources_survive(kubectl, replace_namespace,
                                                                                           ansible_playbook):
    ns = replace_namespace
    group = f"{ns}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}", "annotations": dict(FORCE_REPLACE)},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    }
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "blue"}, "spec": {"size": 3}}
    try:
        synced(ansible_playbook(tasks(sync_task("first", [crd, widget], ns, app="replace-crd"))), "first")
        crd_uid, widget_uid = kubectl.get("crd", f"widgets.{group}")["metadata"]["uid"], uid(kubectl, f"widgets.{group}/blue", ns)
        kubectl.run("label", "crd", f"widgets.{group}", "added-by=someone-else")

        columns = copy.deepcopy(crd)
        columns["spec"]["versions"][0]["additionalPrinterColumns"] = [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
        updated = synced(ansible_playbook(tasks(sync_task("updated", [columns, widget], ns, app="replace-crd"))), "updated")
        entry = resources_by_kind_name(updated)[f"CustomResourceDefinition/widgets.{group}"]
        assert entry["action"] == "replaced" and "never deleted and recreated" in entry["message"]
        live = kubectl.get("crd", f"widgets.{group}")
        assert live["metadata"]["uid"] == crd_uid
        assert live["spec"]["versions"][0]["additionalPrinterColumns"][0]["name"] == "Size"
        assert "added-by" not in (live["metadata"].get("labels") or {})  # a PUT: what Git does not have goes
        assert uid(kubectl, f"widgets.{group}/blue", ns) == widget_uid
        settled = synced(ansible_playbook(tasks(sync_task("settled", [columns, widget], ns, app="replace-crd"))), "settled")
        assert settled["changed"] is False and settled["stats"]["writes"] == 0
    finally:
        kubectl.run("delete", "crd", f"widgets.{group}", "--ignore-not-found", "--wait=false", check=False)
