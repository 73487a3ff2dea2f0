"""Unit tests for the pure parts of the lifecycle: deletion decisions and order (_delete), rollback targets
(_rollback), deletion finalizers (_spec), the marks on the inventory (_inventory, _record) and gitops_info's view (_info)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._delete import (
    DELETED,
    GONE,
    KEPT,
    ORPHANED,
    DeletedObject,
    decide,
    deletion_targets,
    delete_option,
    needs_confirmation,
    waves_to_delete,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._info import ResourceInfo, _selector, application_info
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    FINALIZER_ANNOTATION,
    OWNER_LABEL,
    PART_OF_LABEL,
    application_applyset_id,
    build_parent,
    parse_parent,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import append_history, history_entry
from ansible_collections.gitops.kubernetes.plugins.module_utils._rollback import find_entry, rollback_targets
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import deletion_cascade, parse_application

SET_ID = application_applyset_id("shop", "prod")


def live(kind: str = "ConfigMap", name: str = "a", owner: str = SET_ID, wave: str | None = None, options: str | None = None,
         **annotations: str) -> dict[str, Any]:
    notes = dict(annotations)
    if wave is not None:
        notes["argocd.argoproj.io/sync-wave"] = wave
    if options is not None:
        notes["argocd.argoproj.io/sync-options"] = options
    return {"kind": kind, "metadata": {"name": name, "uid": f"uid-{name}", "labels": {PART_OF_LABEL: owner} if owner else {},
                                       "annotations": notes}}


def member(kind: str = "ConfigMap", name: str = "a", group: str = "", **kwargs: Any) -> DeletedObject:
    return DeletedObject(ObjectRef(group, kind, "prod" if kind != "Namespace" else "", name), SET_ID,
                         live=live(kind, name, **kwargs) if kwargs.get("owner", SET_ID) is not None else None)


# ---------------------------------------------------------------- deletion


@pytest.mark.parametrize(("entry", "cascade", "action", "says"), [
    (DeletedObject(ObjectRef("", "ConfigMap", "prod", "a"), SET_ID), "foreground", GONE, "already gone"),
    (member(owner="applyset-other-v1"), "foreground", KEPT, "belongs to ApplySet applyset-other-v1"),
    (member(owner=""), "foreground", KEPT, "no longer carries"),
    (member(), "foreground", DELETED, ""),
    (member(), "orphan", ORPHANED, "without cascade"),
    (member(options="Prune=false,Delete=false"), "foreground", ORPHANED, "Delete=false"),
    (member(**{"helm.sh/resource-policy": "keep"}), "background", ORPHANED, "resource-policy: keep"),
    (member("CustomResourceDefinition", "crontabs.example.com", group="apiextensions.k8s.io"), "foreground", ORPHANED,
     "never deleted with an application"),
    (member(options="Delete=confirm"), "foreground", DELETED, "after confirmation"),
])
def test_decide_what_a_deletion_does_to_each_inventory_member(entry: DeletedObject, cascade: str, action: str, says: str) -> None:
    decide(entry, cascade)
    assert entry.action == action and says in entry.message


def test_a_hook_left_by_a_sync_is_deleted_only_with_a_cascade_and_only_if_it_is_this_applications() -> None:
    def hook(hook_of: str) -> DeletedObject:
        return DeletedObject(ObjectRef("batch", "Job", "prod", "migrate"), SET_ID, hook=True,
                             live={"metadata": {"name": "migrate", "labels": {"gitops.kubernetes/hook-of": hook_of}}})

    for cascade, owner, action in (("foreground", SET_ID, DELETED), ("background", SET_ID, DELETED),
                                   ("orphan", SET_ID, KEPT), ("foreground", "applyset-other-v1", KEPT)):
        entry = hook(owner)
        decide(entry, cascade)
        assert entry.action == action, (cascade, owner)


def test_only_objects_to_delete_with_delete_confirm_need_confirmation() -> None:
    entries = [member(name="a", options="Delete=confirm"), member(name="b"), member(name="c", options="Delete=confirm")]
    for entry in entries:
        decide(entry, "foreground")
    assert [e.ref.name for e in needs_confirmation(entries)] == ["a", "c"]
    for entry in entries:
        decide(entry, "orphan")
    assert needs_confirmation(entries) == []


def test_delete_option_is_read_leniently_from_the_live_object() -> None:
    assert delete_option(live(options=" Prune=false , Delete=Confirm ")) == "confirm"
    assert delete_option(live(options="SomethingNew=true")) == ""
    assert delete_option(None) == ""


def test_waves_are_deleted_highest_first_and_kinds_in_reverse_apply_order() -> None:
    entries = [member("Namespace", "prod", wave="-5"), member("ConfigMap", "settings"), member("Deployment", "web", group="apps"),
               member("Service", "web", wave="3"), member("ConfigMap", "broken-wave", wave="soon")]
    for entry in entries:
        decide(entry, "foreground")
    order = [[[e.ref.name for e in group] for group in wave] for wave in waves_to_delete(entries)]
    # a malformed wave counts as 0, as in Argo CD
    assert order == [[["web"]], [["web"], ["broken-wave", "settings"]], [["prod"]]]
    assert waves_to_delete(entries)[1][0][0].ref.kind == "Deployment"


def test_deletion_targets_take_specs_or_names() -> None:
    spec = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "guestbook", "finalizers": ["resources-finalizer.argocd.argoproj.io/background"]},
            "spec": {"source": {"repoURL": "https://git.example/apps.git", "path": "guestbook"},
                     "destination": {"namespace": "web"}}}
    found = deletion_targets([spec, {"name": "shop", "destination": {"namespace": "prod"}}, {"name": "bare"}])
    assert [(t.name, t.namespace, t.from_spec, t.finalizer) for t in found] == [
        ("guestbook", "web", True, "resources-finalizer.argocd.argoproj.io/background"),
        ("shop", "prod", False, None), ("bare", None, False, None)]
    with pytest.raises(SpecError, match="unknown key"):
        deletion_targets([{"name": "shop", "namespaces": "prod"}])
    with pytest.raises(SpecError, match="not a valid application name"):
        deletion_targets([{"name": "Shop!"}])


# ---------------------------------------------------------------- finalizers in the spec


@pytest.mark.parametrize(("finalizers", "cascade"), [
    (None, "orphan"),
    (["resources-finalizer.argocd.argoproj.io"], "foreground"),
    (["resources-finalizer.argocd.argoproj.io/foreground"], "foreground"),
    (["resources-finalizer.argocd.argoproj.io/background"], "background"),
])
def test_argo_cd_deletion_finalizers_decide_the_cascade(finalizers: list[str] | None, cascade: str) -> None:
    metadata: dict[str, Any] = {"name": "guestbook"}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    app = parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": metadata,
                             "spec": {"source": {"repoURL": "https://git.example/apps.git"}}})
    assert deletion_cascade(app.finalizer) == cascade
    ours = parse_application({"name": "guestbook", "source": {"repo_url": "https://git.example/apps.git"},
                              **({"finalizers": finalizers} if finalizers else {})})
    assert ours.finalizer == app.finalizer


@pytest.mark.parametrize(("finalizers", "message"), [
    (["post-delete-finalizer.argocd.argoproj.io"], "PostDelete hooks are not run"),
    (["pre-delete-finalizer.argocd.argoproj.io/cleanup"], "PreDelete hooks are not run"),
    (["example.com/mine"], "only Argo CD's deletion finalizers"),
    (["resources-finalizer.argocd.argoproj.io", "resources-finalizer.argocd.argoproj.io/background"], "contradict"),
])
def test_finalizers_that_mean_nothing_here_are_refused_by_name(finalizers: list[str], message: str) -> None:
    with pytest.raises(SpecError, match=message) as raised:
        parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                           "metadata": {"name": "guestbook", "finalizers": finalizers},
                           "spec": {"source": {"repoURL": "https://git.example/apps.git"}}})
    assert "guestbook" in str(raised.value) and "metadata.finalizers" in str(raised.value)


# ---------------------------------------------------------------- the inventory's marks and history


def test_the_parent_records_owner_and_finalizer_and_reads_them_back() -> None:
    parent = build_parent("shop", "prod", [ObjectRef("", "ConfigMap", "prod", "a")], owner="platform",
                          finalizer="resources-finalizer.argocd.argoproj.io")
    assert parent["metadata"]["labels"][OWNER_LABEL] == "platform"
    assert parent["metadata"]["annotations"][FINALIZER_ANNOTATION] == "resources-finalizer.argocd.argoproj.io"
    inventory = parse_parent(parent, "shop", "prod")
    assert (inventory.owner, inventory.finalizer) == ("platform", "resources-finalizer.argocd.argoproj.io")
    bare = build_parent("shop", "prod", [])
    assert OWNER_LABEL not in bare["metadata"]["labels"] and FINALIZER_ANNOTATION not in bare["metadata"]["annotations"]


def test_history_entries_carry_an_incrementing_id_the_revision_and_the_rollback() -> None:
    history: list[dict[str, Any]] = []
    for revision in ("a" * 40, "b" * 40):
        history = append_history(history, history_entry(revision=revision, started_at="s", finished_at="f", result="Succeeded"))
    history = append_history(history, history_entry(revision="a" * 40, started_at="s", finished_at="f", result="Succeeded",
                                                    rollback_of=1))
    assert [(h["id"], h["revision"][0], h.get("rollback_of")) for h in history] == [(1, "a", None), (2, "b", None), (3, "a", 1)]


# ---------------------------------------------------------------- rollback

HISTORY = [
    {"id": 4, "revision": "1111111aaaa" + "0" * 29, "result": "Succeeded"},
    {"id": 5, "revision": "2222222bbbb" + "0" * 29, "result": "Failed"},
    {"id": 6, "revision": "2222222bbbb" + "0" * 29, "result": "Succeeded"},
    {"id": 7, "revision": None, "result": "Succeeded"},
]


@pytest.mark.parametrize(("target", "expected"), [(4, 4), ("6", 6), ("1111111", 4), ("2222222BBBB", 6)])
def test_rollback_finds_an_entry_by_id_or_revision(target: Any, expected: int) -> None:
    assert find_entry(HISTORY, target, "shop")["id"] == expected


@pytest.mark.parametrize(("history", "target", "message"), [
    ([], 1, "no sync history"),
    (HISTORY, 9, "history id 9: the recorded syncs are 4"),
    (HISTORY, 5, "that sync failed"),
    (HISTORY, 7, "recorded no revision"),
    (HISTORY, "3333333", "no recorded sync has it"),
    (HISTORY, "HEAD~1", "neither a history id nor a commit"),
    (HISTORY, True, "must be a history id"),
])
def test_rollback_refuses_what_it_cannot_sync_again_naming_the_application(history: list, target: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message) as raised:
        find_entry(history, target, "shop")
    assert "shop" in str(raised.value)


def test_rollback_option_forms() -> None:
    assert rollback_targets(3, ["shop"]) == {"shop": 3}
    assert rollback_targets({"shop": "abcdef1"}, ["shop", "web"]) == {"shop": "abcdef1"}
    assert rollback_targets(None, ["shop"]) == {}
    with pytest.raises(SpecError, match="rollback names application"):
        rollback_targets({"shpo": 1}, ["shop"])
    with pytest.raises(SpecError, match="exactly one application"):
        rollback_targets(1, ["shop", "web"])


# ---------------------------------------------------------------- gitops_info


def test_info_without_a_spec_reports_missing_resources_as_out_of_sync() -> None:
    parent = build_parent("shop", "prod", [ObjectRef("", "ConfigMap", "prod", "a"), ObjectRef("", "ConfigMap", "prod", "b")],
                          revision="r2", history=[{"id": 1, "revision": "r1", "result": "Succeeded"},
                                                  {"id": 2, "revision": "r2", "result": "Succeeded"}])
    inventory = parse_parent(parent, "shop", "prod")
    present = ResourceInfo(ObjectRef("", "ConfigMap", "prod", "a"), "v1", exists=True, owned=True,
                           health={"status": "Healthy", "message": ""})
    missing = ResourceInfo(ObjectRef("", "ConfigMap", "prod", "b"), "v1", health={"status": "Missing", "message": ""},
                           status="Missing")
    entry = application_info(inventory, [present, missing])
    assert (entry["revision"], entry["sync_status"], entry["health_status"], entry["on_delete"]) == ("r2", "OutOfSync", "Missing", "orphan")
    assert entry["last_sync"]["id"] == 2 and [h["id"] for h in entry["history"]] == [1, 2]
    assert application_info(inventory, [present], history=False, with_resources=False).keys().isdisjoint({"history", "resources"})
    assert application_info(inventory, [present])["sync_status"] == "Unknown"


def test_info_selects_inventories_by_application_label_names_and_owner() -> None:
    assert _selector(None, None) == "gitops.kubernetes/application"
    assert _selector(["web", "shop"], "platform") == "gitops.kubernetes/application in (shop,web),gitops.kubernetes/owner=platform"
