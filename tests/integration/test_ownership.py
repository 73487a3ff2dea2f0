"""Who owns an object, against a real control plane: nothing an application does not own is lost or pruned.

Issue 18's findings 4 to 7: an object moved between applications keeps its
uid (and so its data), an application moved to another namespace prunes
what it left behind, an object served under two API groups is one object,
and two applications of one name never share (and prune) one inventory.
kubectl observes the cluster; every application runs through ansible-playbook.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from module_tasks import application_task, resources_by_kind_name, tasks

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    PART_OF_LABEL,
    SOURCE_ANNOTATION,
    application_applyset_id,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import CLAIM_ANNOTATION


def configmap(name: str, value: str = "kept") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"payload": value}}


def application(app: str, namespace: str, manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": app, "manifests": manifests, "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}


def sync_task(register: str, apps: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    return {
        "name": f"sync {register}",
        "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "applications": apps, **options},
        "register": register,
        "ignore_errors": True,
    }


def entry(result: dict[str, Any], app: str) -> dict[str, Any]:
    return next(a for a in result["applications"] if a["name"] == app)


def members(kubectl: Any, namespace: str, app: str) -> set[str]:
    parent = kubectl.get("configmap", f"applyset-{app}", "-n", namespace)
    return {f"{m['kind']}/{m['name']}" for m in json.loads(parent["data"]["inventory"])["members"]}


def uid(kubectl: Any, namespace: str, what: str) -> str:
    return kubectl.get(what, "-n", namespace)["metadata"]["uid"]


@pytest.fixture
def second_namespace(kubectl):
    name = f"second-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def test_an_object_moved_between_applications_of_one_run_keeps_its_uid(kubectl, namespace, ansible_playbook):
    first = [application("front", namespace, [configmap("front-only"), configmap("moved")]),
             application("back", namespace, [configmap("back-only")])]
    run = ansible_playbook(tasks(sync_task("first", first)))
    assert run.rc == 0 and not run["first"].get("failed"), run["first"].get("msg")
    before = uid(kubectl, namespace, "configmap/moved")

    # Git moves it from front to back; the two are synced together, in whichever order the pool takes them
    second = [application("front", namespace, [configmap("front-only")]),
              application("back", namespace, [configmap("back-only"), configmap("moved")])]
    run = ansible_playbook(tasks(sync_task("second", second)))
    result = run["second"]
    assert run.rc == 0 and not result.get("failed"), result.get("msg")
    moved = resources_by_kind_name(entry(result, "front"))["ConfigMap/moved"]
    assert moved["action"] == "handed over" and "back" in moved["message"]
    assert resources_by_kind_name(entry(result, "back"))["ConfigMap/moved"]["action"] == "configured"
    live = kubectl.get("configmap/moved", "-n", namespace)
    assert live["metadata"]["uid"] == before and live["data"] == {"payload": "kept"}
    assert live["metadata"]["labels"][PART_OF_LABEL] == application_applyset_id("back", namespace)
    assert members(kubectl, namespace, "front") == {"ConfigMap/front-only"}
    assert members(kubectl, namespace, "back") == {"ConfigMap/back-only", "ConfigMap/moved"}

    # idempotent: the next run of the same state writes nothing
    run = ansible_playbook(tasks(sync_task("third", second)))
    assert run["third"]["changed"] is False and run["third"]["stats"]["writes"] == 0


def test_an_object_both_applications_of_a_run_want_is_a_conflict_and_stays_where_it_was(kubectl, namespace, ansible_playbook):
    run = ansible_playbook(tasks(sync_task("first", [application("front", namespace, [configmap("shared")])])))
    assert not run["first"].get("failed"), run["first"].get("msg")
    before = uid(kubectl, namespace, "configmap/shared")
    both = [application("front", namespace, [configmap("shared")]),
            application("back", namespace, [configmap("shared", "changed"), configmap("back-only")])]
    run = ansible_playbook(tasks(sync_task("both", both)))
    result = run["both"]
    assert result["failed_applications"] == ["back"]
    assert "ConfigMap" in entry(result, "back")["error"] and "wanted by application(s) front" in entry(result, "back")["error"]
    assert not kubectl.exists("configmap/back-only", "-n", namespace)  # nothing of back was applied
    live = kubectl.get("configmap/shared", "-n", namespace)
    assert live["metadata"]["uid"] == before and live["data"] == {"payload": "kept"}
    assert live["metadata"]["labels"][PART_OF_LABEL] == application_applyset_id("front", namespace)


def test_an_object_moved_between_applications_synced_apart_is_claimed_then_handed_over(kubectl, namespace, ansible_playbook):
    front_before = [application("front", namespace, [configmap("front-only"), configmap("moved")])]
    run = ansible_playbook(tasks(sync_task("first", front_before)))
    assert not run["first"].get("failed"), run["first"].get("msg")
    before = uid(kubectl, namespace, "configmap/moved")
    back = [application("back", namespace, [configmap("back-only"), configmap("moved")])]

    # back comes first: refused while front owns it, but claimed; nothing of back applied
    run = ansible_playbook(tasks(sync_task("claim", back)))
    error = entry(run["claim"], "back")["error"]
    assert f"ConfigMap {namespace}/moved" in error and "is now claimed" in error
    assert not kubectl.exists("configmap/back-only", "-n", namespace)
    live = kubectl.get("configmap/moved", "-n", namespace)
    assert live["metadata"]["annotations"][CLAIM_ANNOTATION] == application_applyset_id("back", namespace)

    # front, whose render no longer has it, hands it over instead of pruning it
    run = ansible_playbook(tasks(sync_task("release", [application("front", namespace, [configmap("front-only")])])))
    release = entry(run["release"], "front")
    assert "error" not in release, release.get("error")
    assert resources_by_kind_name(release)["ConfigMap/moved"]["action"] == "handed over"
    live = kubectl.get("configmap/moved", "-n", namespace)
    assert live["metadata"]["uid"] == before
    assert live["metadata"]["labels"][PART_OF_LABEL] == application_applyset_id("back", namespace)
    assert CLAIM_ANNOTATION not in (live["metadata"].get("annotations") or {})
    assert members(kubectl, namespace, "front") == {"ConfigMap/front-only"}

    # back's next sync takes it, same object, same data
    run = ansible_playbook(tasks(sync_task("take", back)))
    assert "error" not in entry(run["take"], "back"), entry(run["take"], "back").get("error")
    live = kubectl.get("configmap/moved", "-n", namespace)
    assert live["metadata"]["uid"] == before and live["data"] == {"payload": "kept"}
    assert members(kubectl, namespace, "back") == {"ConfigMap/back-only", "ConfigMap/moved"}


def test_a_changed_destination_namespace_prunes_what_the_old_one_holds(kubectl, namespace, second_namespace,
                                                                       ansible_playbook, git_repo):
    repo = git_repo()
    repo.commit({"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"})
    run = ansible_playbook(tasks(application_task("old", repo, namespace, "mover")))
    assert not run["old"].get("failed"), run["old"].get("msg")

    # the destination changes; with pruning off the old objects are reported and stay tracked where they are
    run = ansible_playbook(tasks(application_task("kept", repo, second_namespace, "mover", prune=False)))
    kept = run["kept"]
    assert not kept.get("failed"), kept.get("msg")
    old = next(r for r in kept["resources"] if r["kind"] == "ConfigMap" and r["namespace"] == namespace)
    assert old["action"] == "prune skipped" and "pruning is off" in old["message"]
    assert kubectl.exists("configmap/a", "-n", namespace) and kubectl.exists("configmap/a", "-n", second_namespace)
    assert members(kubectl, namespace, "mover") == {"ConfigMap/a"}
    run = ansible_playbook(tasks(application_task("again", repo, second_namespace, "mover", prune=False)))
    assert run["again"]["changed"] is False and run["again"]["stats"]["writes"] == 0

    # the drift report shows what the old namespace still holds; the sync prunes it and the old parent goes
    run = ansible_playbook(tasks(application_task("check", repo, second_namespace, "mover")), check=True)
    planned = next(r for r in run["check"]["resources"] if r["namespace"] == namespace)
    assert planned["action"] == "pruned" and planned["result"] == "Planned"
    run = ansible_playbook(tasks(application_task("moved", repo, second_namespace, "mover")))
    assert not run["moved"].get("failed"), run["moved"].get("msg")
    assert not kubectl.exists("configmap/a", "-n", namespace)
    assert not kubectl.exists("configmap/applyset-mover", "-n", namespace)
    assert members(kubectl, second_namespace, "mover") == {"ConfigMap/a"}
    run = ansible_playbook(tasks(application_task("settled", repo, second_namespace, "mover")))
    assert run["settled"]["changed"] is False and run["settled"]["stats"]["writes"] == 0


def test_a_member_reached_under_another_api_group_is_not_pruned_as_a_second_object(kubectl, namespace, ansible_playbook):
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "moved-group"},
            "involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": namespace},
            "reason": "Test", "message": "first", "type": "Normal"}
    events = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
              "metadata": {"name": "moved-group", "annotations": {"argocd.argoproj.io/sync-options": "Force=true"}},
              "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "example.org/test",
              "reportingInstance": "test", "action": "Test", "reason": "Test", "note": "second", "type": "Normal",
              "regarding": {"kind": "ConfigMap", "name": "x", "namespace": namespace}}
    run = ansible_playbook(tasks(sync_task("core", [application("events", namespace, [core])])))
    assert not run["core"].get("failed"), run["core"].get("msg")
    run = ansible_playbook(tasks(sync_task("group", [application("events", namespace, [events])])))
    result = entry(run["group"], "events")
    assert "error" not in result, result.get("error")
    assert all(r["action"] != "pruned" for r in result["resources"]), result["resources"]
    assert kubectl.exists("events.events.k8s.io/moved-group", "-n", namespace)
    assert members(kubectl, namespace, "events") == {"Event/moved-group"}


def test_two_applications_of_one_name_in_one_namespace_never_prune_each_other(kubectl, namespace, ansible_playbook,
                                                                              git_repo):
    team_a, team_b = git_repo("team-a"), git_repo("team-b")
    team_a.commit({"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-a\n"})
    team_b.commit({"app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-b\n"})
    run = ansible_playbook(tasks(application_task("a", team_a, namespace, "web")))
    assert not run["a"].get("failed"), run["a"].get("msg")
    run = ansible_playbook(tasks(application_task("b", team_b, namespace, "web")))
    assert run["b"].get("failed") and "belongs to another application named web" in run["b"]["msg"]
    assert team_a.url in run["b"]["msg"] and "Rename one of them" in run["b"]["msg"]
    assert kubectl.exists("configmap/from-a", "-n", namespace) and not kubectl.exists("configmap/from-b", "-n", namespace)
    parent = kubectl.get("configmap/applyset-web", "-n", namespace)
    assert parent["metadata"]["annotations"][SOURCE_ANNOTATION] == f"{team_a.url}#app"

    # two of one name in one run are refused before anything is read
    same = [application("twin", namespace, [configmap("one")]), application("twin", namespace, [configmap("two")])]
    run = ansible_playbook(tasks(sync_task("twins", same)))
    assert run["twins"].get("failed") and "two applications are named twin" in run["twins"]["msg"]
    assert not kubectl.exists("configmap/one", "-n", namespace)

    # an ApplySet another tool made is not taken over
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "applyset-foreign", "namespace": namespace,
        "labels": {"applyset.kubernetes.io/id": application_applyset_id("foreign", namespace)},
        "annotations": {"applyset.kubernetes.io/tooling": "kubectl/v1.34.4",
                        "applyset.kubernetes.io/contains-group-kinds": ""}}})
    run = ansible_playbook(tasks(sync_task("foreign", [application("foreign", namespace, [configmap("mine")])])))
    assert "another tool" in entry(run["foreign"], "foreign")["error"]
    assert not kubectl.exists("configmap/mine", "-n", namespace)
