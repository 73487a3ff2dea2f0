"""gitops_sync against a real control plane, through the real ansible-playbook.

kubectl is the independent observer: what the module says it did is checked
against what the cluster holds (objects, resourceVersions, timestamps,
the ApplySet parent), never against a mock.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
import yaml
from module_tasks import application_task, manifests_task, resources_by_kind_name, tasks

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
    # failures are read from the registered result, not from the play's exit code
    return {**manifests_task("gitops_sync", register, manifests, namespace, app, **options), "ignore_errors": True}


by_name = resources_by_kind_name


def parent_document(kubectl: Any, namespace: str, app: str = "shop") -> dict[str, Any]:
    parent = kubectl.get("configmap", f"applyset-{app}", "-n", namespace)
    return {"parent": parent, **json.loads(parent["data"]["inventory"])}


def resource_versions(kubectl: Any, namespace: str) -> dict[str, str]:
    listing = kubectl.get("deployments,services,configmaps,jobs", "-n", namespace)
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in listing["items"]}


def test_first_sync_creates_everything_healthy_and_second_run_writes_nothing(kubectl, namespace, ansible_playbook):
    desired = [DEPLOYMENT, SERVICE, CONFIG]
    initiator = {"job_id": "42", "user": "{{ awx_user_name | default(omit) }}"}
    run = ansible_playbook(tasks(sync_task("first", desired, namespace, revision="c0ffee", initiator=initiator)))
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
    assert document["history"][0]["job_id"] == "42" and "user" not in document["history"][0]
    assert document["history"][0]["started_at"] <= document["history"][0]["finished_at"]
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


def test_check_mode_reports_a_live_edit_and_the_real_run_restores_it(kubectl, namespace, ansible_playbook):
    desired = [DEPLOYMENT, CONFIG]
    assert ansible_playbook(tasks(sync_task("first", desired, namespace))).rc == 0
    kubectl.run("patch", "deployment", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":5}}',
                "--field-manager=kubectl-edit")
    kubectl.run("patch", "configmap", "web-config", "-n", namespace, "--type=merge", "-p", '{"data":{"mode":"green"}}',
                "--field-manager=kubectl-edit")

    run = ansible_playbook(tasks(sync_task("drift", desired, namespace)), check=True, diff=True)
    drift = run["drift"]
    assert run.rc == 0 and not drift.get("failed"), drift.get("msg")
    assert drift["changed"] is True and drift["sync_status"] == "OutOfSync"
    assert drift["stats"]["writes"] == 0
    resources = by_name(drift)
    assert resources["Deployment/web"]["action"] == "configured" and resources["Deployment/web"]["result"] == "Planned"
    assert resources["ConfigMap/web-config"]["action"] == "configured"
    assert "replicas: 5" in resources["Deployment/web"]["before"] and "replicas: 2" in resources["Deployment/web"]["after"]
    assert len(drift["diff"]) == 2
    assert "-  replicas: 5" in run.stdout and "+  replicas: 2" in run.stdout  # Ansible prints the diff
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 5  # check mode wrote nothing

    run = ansible_playbook(tasks(sync_task("heal", desired, namespace)))
    heal = run["heal"]
    assert run.rc == 0 and not heal.get("failed"), heal.get("msg")
    assert heal["changed"] is True and heal["counts"]["configured"] == 2 and heal["sync_status"] == "Synced"
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 2
    assert kubectl.get("configmap/web-config", "-n", namespace)["data"] == {"mode": "blue"}
    history = parent_document(kubectl, namespace)["history"]
    assert [h["result"] for h in history] == ["Succeeded", "Succeeded"] and history[-1]["counts"]["configured"] == 2

    # without force_conflicts, a field another manager took is a conflict naming manager and field
    kubectl.run("patch", "deployment", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":4}}',
                "--field-manager=autoscaler")
    run = ansible_playbook(tasks(sync_task("conflict", desired, namespace, force_conflicts=False)))
    conflict = run["conflict"]
    assert conflict["failed"] is True
    assert "autoscaler" in conflict["msg"] and ".spec.replicas" in conflict["msg"] and "force_conflicts" in conflict["msg"]
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 4


def with_annotations(manifest: dict[str, Any], **annotations: str) -> dict[str, Any]:
    result = copy.deepcopy(manifest)
    result["metadata"].setdefault("annotations", {}).update(annotations)
    return result


def named(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    result = copy.deepcopy(manifest)
    result["metadata"]["name"] = name
    return result


def configmap(name: str, **annotations: str) -> dict[str, Any]:
    manifest: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}
    if annotations:
        manifest["metadata"]["annotations"] = annotations
    return manifest


def job(name: str, image: str = "busybox:1.36", **annotations: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"annotations": annotations} if annotations else {}
    if name.endswith("-"):
        metadata["generateName"] = name
    else:
        metadata["name"] = name
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                                                          "containers": [{"name": "run", "image": image}]}}},
    }


def created_at(obj: dict[str, Any]) -> str:
    return obj["metadata"]["creationTimestamp"]


WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


def test_a_later_wave_starts_only_after_the_earlier_one_is_healthy(kubectl, namespace, ansible_playbook):
    # wave 0 can never become healthy (no node matches), so wave 1 must never be applied
    stuck = copy.deepcopy(DEPLOYMENT)
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"no-such-node": "true"}
    later = with_annotations(CONFIG, **{WAVE: "1"})
    run = ansible_playbook(tasks(sync_task("stuck", [stuck, later], namespace, wait_timeout=6)))
    result = run["stuck"]
    assert result["failed"] is True
    assert "Sync wave 0: not healthy after 6s" in result["msg"] and "Deployment.apps" in result["msg"]
    assert "Waiting for rollout to finish" in result["msg"]
    resources = by_name(result)
    assert resources["ConfigMap/web-config"]["result"] == "NotRun"
    assert not kubectl.exists("configmap/web-config", "-n", namespace)
    document = parent_document(kubectl, namespace)
    assert document["history"][-1]["result"] == "Failed" and "not healthy" in document["history"][-1]["message"]
    # the object the failed sync meant to create is already tracked
    assert {"kind": "ConfigMap", "name": "web-config", "group": "", "namespace": namespace} in document["members"]

    # once the earlier wave can become healthy, the later one follows it
    first = with_annotations(named(DEPLOYMENT, "db"), **{WAVE: "-1"})
    run = ansible_playbook(tasks(sync_task("ordered", [first, DEPLOYMENT, later], namespace)))
    ordered = run["ordered"]
    assert run.rc == 0 and not ordered.get("failed"), ordered.get("msg")
    assert [(r["wave"], r["name"]) for r in ordered["resources"]] == [(-1, "db"), (0, "web"), (1, "web-config")]
    db = kubectl.get("deployment/db", "-n", namespace)
    available = next(c for c in db["status"]["conditions"] if c["type"] == "Available")
    assert available["lastTransitionTime"] <= created_at(kubectl.get("configmap/web-config", "-n", namespace))
    assert created_at(db) <= available["lastTransitionTime"]


def test_hooks_run_in_order_and_their_delete_policies_hold(kubectl, namespace, ansible_playbook):
    desired = [
        DEPLOYMENT,
        job("migrate", **{HOOK: "PreSync", DELETE_POLICY: "HookSucceeded"}),
        configmap("pre-marker", **{HOOK: "PreSync"}),
        job("smoke-", **{HOOK: "PostSync"}),
        configmap("post-marker", **{HOOK: "PostSync", WAVE: "2"}),
        configmap("on-failure", **{HOOK: "SyncFail"}),
        configmap("skipped", **{HOOK: "Skip"}),
    ]
    run = ansible_playbook(tasks(sync_task("first", desired, namespace)))
    first = run["first"]
    assert run.rc == 0 and not first.get("failed"), first.get("msg")
    order = [(r["phase"], r["kind"], r["name"].rstrip("0123456789abcdefghijklmnopqrstuvwxyz") if r["name"].startswith("smoke-") else r["name"])
             for r in first["resources"]]
    assert order == [
        ("PreSync", "ConfigMap", "pre-marker"), ("PreSync", "Job", "migrate"), ("Sync", "Deployment", "web"),
        ("PostSync", "Job", "smoke-"), ("PostSync", "ConfigMap", "post-marker"),
    ]
    assert first["counts"]["hooks"] == 4
    hooks = {r["name"]: r for r in first["resources"] if r["hook"]}
    assert all(h["result"] == "Succeeded" for h in hooks.values())
    # HookSucceeded: the Job is gone; default BeforeHookCreation: the others stay
    assert "deleted by its hook-delete-policy" in hooks["migrate"]["message"]
    assert not kubectl.exists("job/migrate", "-n", namespace)
    smoke_name = next(name for name in hooks if name.startswith("smoke-"))
    smoke = kubectl.get(f"job/{smoke_name}", "-n", namespace)
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in smoke["status"]["conditions"])
    pre, post = kubectl.get("configmap/pre-marker", "-n", namespace), kubectl.get("configmap/post-marker", "-n", namespace)
    web = kubectl.get("deployment/web", "-n", namespace)
    assert created_at(pre) <= created_at(web) <= created_at(smoke) <= created_at(post)
    available = next(c for c in web["status"]["conditions"] if c["type"] == "Available")
    assert available["lastTransitionTime"] <= created_at(smoke)  # PostSync starts after Sync is healthy
    # hooks are not members and not labelled; Skip and SyncFail hooks did not run
    members = {m["name"] for m in parent_document(kubectl, namespace)["members"]}
    assert members == {"web"}
    assert PART_OF_LABEL not in (pre["metadata"].get("labels") or {})
    assert not kubectl.exists("configmap/skipped", "-n", namespace)
    assert not kubectl.exists("configmap/on-failure", "-n", namespace)

    # in sync: no hooks run (no new smoke Job), nothing written
    run = ansible_playbook(tasks(sync_task("again", desired, namespace)))
    again = run["again"]
    assert again["changed"] is False and again["stats"]["writes"] == 0 and again["counts"]["hooks"] == 0
    assert len(kubectl.get("jobs", "-n", namespace)["items"]) == 1

    # hooks: always runs them anyway; BeforeHookCreation recreates the named hook
    run = ansible_playbook(tasks(sync_task("forced", desired, namespace, hooks="always")))
    forced = run["forced"]
    assert run.rc == 0 and forced["changed"] is True and forced["counts"]["hooks"] == 4, forced.get("msg")
    assert kubectl.get("configmap/pre-marker", "-n", namespace)["metadata"]["uid"] != pre["metadata"]["uid"]
    assert len(kubectl.get("jobs", "-n", namespace)["items"]) == 2  # a second generateName smoke Job


def test_a_failed_hook_stops_the_sync_and_runs_sync_fail_hooks(kubectl, namespace, ansible_playbook):
    broken_hook = configmap("pre-check", **{HOOK: "PreSync"})
    broken_hook["data"] = {"not a valid key!": "x"}
    desired = [DEPLOYMENT, broken_hook, configmap("on-failure", **{HOOK: "SyncFail"})]
    run = ansible_playbook(tasks(sync_task("failing", desired, namespace)))
    result = run["failing"]
    assert result["failed"] is True
    assert "PreSync wave 0" in result["msg"] and "pre-check" in result["msg"]
    assert not kubectl.exists("deployment/web", "-n", namespace)  # the Sync phase never started
    assert kubectl.exists("configmap/on-failure", "-n", namespace)
    resources = by_name(result)
    assert resources["Deployment/web"]["result"] == "NotRun"
    assert resources["ConfigMap/on-failure"]["phase"] == "SyncFail" and resources["ConfigMap/on-failure"]["result"] == "Succeeded"


def without_invocation(result: dict[str, Any]) -> str:
    """What the module returned (the registered result also echoes the task's arguments)."""
    return json.dumps({key: value for key, value in result.items() if key != "invocation"})


def test_a_hook_never_replaces_an_object_it_does_not_own(kubectl, namespace, ansible_playbook):
    other = f"{namespace}-other"
    kubectl.run("create", "namespace", other)
    try:
        # an unlabelled Secret made by hand, and a ConfigMap of another application, in another namespace
        kubectl.run("create", "secret", "generic", "db-creds", "-n", other, "--from-literal=password=original-9f3k")
        run = ansible_playbook(tasks(sync_task("billing", [configmap("settings")], other, app="billing")))
        assert run.rc == 0 and not run["billing"].get("failed"), run["billing"].get("msg")
        secret, settings = kubectl.get("secret/db-creds", "-n", other), kubectl.get("configmap/settings", "-n", other)
        billing_id = application_applyset_id("billing", other)
        assert settings["metadata"]["labels"][PART_OF_LABEL] == billing_id

        secret_hook = {"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "db-creds", "namespace": other, "annotations": {HOOK: "PreSync"}},
                       "stringData": {"password": "from-the-hook-7c2q"}}
        settings_hook = configmap("settings", **{HOOK: "PreSync"})
        settings_hook["metadata"]["namespace"] = other
        run = ansible_playbook(tasks(sync_task("clash", [DEPLOYMENT, secret_hook, settings_hook], namespace)))
        clash = run["clash"]
        assert clash["failed"] is True
        message = clash["msg"]
        assert message.startswith(f"application 'shop': nothing was applied, because hook Secret {other}/db-creds"), message
        assert f"hook Secret {other}/db-creds would replace the existing Secret {other}/db-creds" in message
        assert "no gitops.kubernetes/hook-of label of this application" in message and "kubectl-create" in message
        assert f"hook ConfigMap {other}/settings would replace" in message and f"{PART_OF_LABEL}={billing_id}" in message
        assert message.count("Nothing was deleted") == 2
        returned = without_invocation(clash)
        assert "original-9f3k" not in returned and "from-the-hook-7c2q" not in returned
        assert "original-9f3k" not in run.stdout
        # both objects are the ones that were there, untouched; the application wrote nothing at all
        assert kubectl.get("secret/db-creds", "-n", other) == secret
        assert kubectl.get("configmap/settings", "-n", other) == settings
        assert not kubectl.exists("deployment/web", "-n", namespace)
        assert not kubectl.exists("configmap/applyset-shop", "-n", namespace)

        # the same hooks where nothing else holds their names: created, marked as this application's hooks,
        # and replaced by the next run (BeforeHookCreation), as before
        own_hooks = [DEPLOYMENT, {**secret_hook, "metadata": {**secret_hook["metadata"], "namespace": namespace}},
                     configmap("settings", **{HOOK: "PreSync"})]
        run = ansible_playbook(tasks(sync_task("first", own_hooks, namespace)))
        assert run.rc == 0 and not run["first"].get("failed"), run["first"].get("msg")
        shop_id = application_applyset_id("shop", namespace)
        first = {kind: kubectl.get(f"{kind}/{name}", "-n", namespace) for kind, name in (("secret", "db-creds"), ("configmap", "settings"))}
        for live in first.values():
            assert live["metadata"]["labels"] == {"gitops.kubernetes/hook-of": shop_id}  # a hook, not a member
        run = ansible_playbook(tasks(sync_task("again", own_hooks, namespace, hooks="always")))
        again = run["again"]
        assert run.rc == 0 and not again.get("failed"), again.get("msg")
        assert again["counts"]["hooks"] == 2
        for kind, live in first.items():
            replaced = kubectl.get(f"{kind}/{live['metadata']['name']}", "-n", namespace)
            assert replaced["metadata"]["uid"] != live["metadata"]["uid"]
            assert replaced["metadata"]["labels"] == {"gitops.kubernetes/hook-of": shop_id}
        assert kubectl.get("secret/db-creds", "-n", other) == secret
        assert kubectl.get("configmap/settings", "-n", other) == settings

        # a hook whose name an object appears under during the sync (here: the application's own ConfigMap,
        # created in the Sync phase) is refused when it starts, and that object stays
        late = configmap("late", **{HOOK: "PostSync"})
        run = ansible_playbook(tasks(sync_task("late", [DEPLOYMENT, configmap("late")] + [late], namespace)))
        result = run["late"]
        assert result["failed"] is True
        assert f"hook ConfigMap {namespace}/late would replace" in result["msg"]
        assert "an ordinary resource of this application, not a hook" in result["msg"]
        assert "Nothing was deleted" in result["msg"]
        kept = kubectl.get("configmap/late", "-n", namespace)
        assert kept["metadata"]["labels"] == {PART_OF_LABEL: shop_id} and "argocd.argoproj.io/hook" not in (kept["metadata"].get("annotations") or {})
    finally:
        kubectl.run("delete", "namespace", other, "--wait=false", "--ignore-not-found", check=False)


def app_task(register: str, repo: Any, namespace: str, app: str = "shop", **sync_policy: Any) -> dict[str, Any]:
    return application_task(register, repo, namespace, app, **sync_policy)


def cm_yaml(name: str, annotations: str = "") -> str:
    return f"""
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {name}
      labels:
        app: shop
    {annotations}
    data:
      key: value
    """


def test_prune_removes_only_what_left_git_and_never_what_is_not_ours(kubectl, namespace, ansible_playbook, git_repo):
    repo = git_repo()
    keep_annotation = "  annotations:\n        argocd.argoproj.io/sync-options: Prune=false"
    first_sha = repo.commit({
        "app/a.yaml": cm_yaml("a"),
        "app/b.yaml": cm_yaml("b"),
        "app/keep.yaml": cm_yaml("keep", keep_annotation),
        "app/web.yaml": yaml.safe_dump(DEPLOYMENT),
    })
    run = ansible_playbook(tasks(app_task("first", repo, namespace)))
    assert run.rc == 0 and not run["first"].get("failed"), run["first"].get("msg")
    assert run["first"]["revision"] == first_sha and run["first"]["counts"]["created"] == 4
    # an object with exactly the members' labels, part-of included, that the application never applied
    set_id = application_applyset_id("shop", namespace)
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "stranger", "namespace": namespace, "labels": {"app": "shop", PART_OF_LABEL: set_id}}})

    second_sha = repo.commit({"app/b.yaml": None, "app/keep.yaml": None, "app/web.yaml": None}, "remove b, keep and web")
    run = ansible_playbook(tasks(app_task("second", repo, namespace)), diff=True)
    second = run["second"]
    assert run.rc == 0 and not second.get("failed"), second.get("msg")
    assert second["revision"] == second_sha
    resources = by_name(second)
    assert resources["ConfigMap/b"]["action"] == "pruned" and resources["ConfigMap/b"]["result"] == "Succeeded"
    assert resources["Deployment/web"]["action"] == "pruned"
    assert resources["ConfigMap/keep"]["action"] == "prune skipped"
    assert "Prune=false" in resources["ConfigMap/keep"]["message"]
    assert "ConfigMap/stranger" not in resources
    assert second["counts"]["pruned"] == 2 and second["counts"]["prune_skipped"] == 1
    assert second["sync_status"] == "OutOfSync"  # keep is still there and no longer in Git
    assert "key: value" in resources["ConfigMap/b"]["before"] and resources["ConfigMap/b"]["after"] == ""
    assert not kubectl.exists("configmap/b", "-n", namespace)
    assert kubectl.exists("configmap/keep", "-n", namespace)
    assert kubectl.exists("configmap/stranger", "-n", namespace)
    deleted = kubectl.run("get", "deployment/web", "-n", namespace, "-o", "json", check=False)
    assert deleted.returncode != 0 or json.loads(deleted.stdout)["metadata"].get("deletionTimestamp")
    document = parent_document(kubectl, namespace)
    # keep stays tracked, so removing the annotation in the cluster later lets a sync prune it
    assert {m["name"] for m in document["members"]} == {"a", "keep"}
    assert document["revision"] == second_sha

    # a render with zero objects prunes nothing
    repo.commit({"app/a.yaml": None, "app/.gitkeep": ""}, "empty")
    run = ansible_playbook(tasks(app_task("empty", repo, namespace)))
    empty = run["empty"]
    assert run.rc == 0 and not empty.get("failed"), empty.get("msg")
    resources = by_name(empty)
    assert resources["ConfigMap/a"]["action"] == "prune skipped" and "allow_empty" in resources["ConfigMap/a"]["message"]
    assert empty["changed"] is False and empty["stats"]["writes"] == 0
    assert kubectl.exists("configmap/a", "-n", namespace)
    assert {m["name"] for m in parent_document(kubectl, namespace)["members"]} == {"a", "keep"}

    # ... unless allow_empty says so; Prune=false still holds
    run = ansible_playbook(tasks(app_task("allowed", repo, namespace, allow_empty=True)))
    allowed = run["allowed"]
    assert run.rc == 0 and not allowed.get("failed"), allowed.get("msg")
    assert by_name(allowed)["ConfigMap/a"]["action"] == "pruned"
    assert not kubectl.exists("configmap/a", "-n", namespace)
    assert kubectl.exists("configmap/keep", "-n", namespace) and kubectl.exists("configmap/stranger", "-n", namespace)


def test_prune_is_off_unless_the_policy_says_so(kubectl, namespace, ansible_playbook):
    assert ansible_playbook(tasks(sync_task("first", [CONFIG, SERVICE], namespace))).rc == 0
    run = ansible_playbook(tasks(sync_task("second", [CONFIG], namespace)))
    second = run["second"]
    assert run.rc == 0 and second["changed"] is False and second["stats"]["writes"] == 0
    assert by_name(second)["Service/web"]["action"] == "prune skipped"
    assert "sync_policy.prune" in by_name(second)["Service/web"]["message"]
    assert kubectl.exists("service/web", "-n", namespace)
    run = ansible_playbook(tasks(sync_task("third", [CONFIG], namespace, sync_policy={"prune": True, "prune_propagation_policy": "background"})))
    assert run.rc == 0 and run["third"]["counts"]["pruned"] == 1
    assert not kubectl.exists("service/web", "-n", namespace)


def test_an_immutable_field_change_fails_clearly_and_applies_nothing_without_replace(kubectl, namespace, ansible_playbook):
    migrate = job("migrate")
    assert ansible_playbook(tasks(sync_task("first", [migrate, CONFIG], namespace))).rc == 0
    original = kubectl.get("job/migrate", "-n", namespace)
    changed_config = copy.deepcopy(CONFIG)
    changed_config["data"]["mode"] = "green"
    new_image = job("migrate", image="busybox:1.37")

    run = ansible_playbook(tasks(sync_task("refused", [new_image, changed_config], namespace)))
    refused = run["refused"]
    assert refused["failed"] is True
    assert "nothing was applied" in refused["msg"] and "Job.batch" in refused["msg"] and "migrate" in refused["msg"]
    assert "field is immutable" in refused["msg"] and "Force=true" in refused["msg"]
    # not half-applied: the ConfigMap change in the same sync was not written either
    assert kubectl.get("configmap/web-config", "-n", namespace)["data"] == {"mode": "blue"}
    assert kubectl.get("job/migrate", "-n", namespace)["metadata"]["uid"] == original["metadata"]["uid"]

    replaceable = with_annotations(new_image, **{SYNC_OPTIONS: "Force=true"})
    run = ansible_playbook(tasks(sync_task("replaced", [replaceable, changed_config], namespace)))
    replaced = run["replaced"]
    assert run.rc == 0 and not replaced.get("failed"), replaced.get("msg")
    assert by_name(replaced)["Job/migrate"]["action"] == "recreated"
    live = kubectl.get("job/migrate", "-n", namespace)
    assert live["metadata"]["uid"] != original["metadata"]["uid"]
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37"
    assert kubectl.get("configmap/web-config", "-n", namespace)["data"] == {"mode": "green"}


def test_create_namespace_and_a_missing_namespace(kubectl, namespace, ansible_playbook):
    target = f"{namespace}-new"
    try:
        run = ansible_playbook(tasks(sync_task("missing", [CONFIG], target)))
        assert run["missing"]["failed"] is True
        assert f"namespace {target} does not exist" in run["missing"]["msg"] and "create_namespace" in run["missing"]["msg"]
        run = ansible_playbook(tasks(sync_task("check", [CONFIG], target, sync_policy={"create_namespace": True})), check=True)
        assert run["check"]["changed"] is True and run["check"]["namespace_created"] is True
        assert not kubectl.exists("namespace", target)
        run = ansible_playbook(tasks(sync_task("created", [CONFIG], target, sync_policy={"create_namespace": True})))
        created = run["created"]
        assert run.rc == 0 and not created.get("failed"), created.get("msg")
        assert created["namespace_created"] is True
        assert kubectl.exists("configmap/web-config", "-n", target)
        # the namespace is not a member, so it is never pruned with the application
        assert {m["kind"] for m in parent_document(kubectl, target)["members"]} == {"ConfigMap"}
    finally:
        kubectl.run("delete", "namespace", target, "--wait=false", "--ignore-not-found", check=False)


def test_a_sync_waits_for_the_lease_of_another_sync_of_the_same_application(kubectl, cluster, namespace, tmp_path):
    from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
    from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
    from ansible_collections.gitops.kubernetes.plugins.module_utils._record import SyncLease
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import SyncClient, SyncSettings, sync_application
    from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SyncError

    params = {"kubeconfig": cluster.kubeconfig, "cache_dir": str(tmp_path)}
    with KubeClient.from_params(params) as other, SyncClient.from_params(params) as client:
        holder = SyncLease(other, "shop", namespace, identity="someone-else")
        holder.acquire()
        try:
            lease = kubectl.get("lease/gitops-sync-shop", "-n", namespace)
            assert lease["spec"]["holderIdentity"] == "someone-else"
            with pytest.raises(SyncError, match="another sync of this application holds Lease .*someone-else"):
                sync_application(client, "shop", [DesiredObject(CONFIG)], namespace=namespace,
                                 settings=SyncSettings(wait_timeout=3))
            assert not kubectl.exists("configmap/web-config", "-n", namespace)  # it waited, it did not interleave
        finally:
            holder.release()
        assert not kubectl.exists("lease/gitops-sync-shop", "-n", namespace)
        result = sync_application(client, "shop", [DesiredObject(CONFIG)], namespace=namespace,
                                  settings=SyncSettings(wait_timeout=3))
        assert result.changed and result.sync_status == "Synced"
        assert kubectl.exists("configmap/web-config", "-n", namespace)


def test_applications_are_synced_concurrently_with_one_result_each(kubectl, namespace, ansible_playbook):
    other = f"{namespace}-b"
    kubectl.run("create", "namespace", other)
    try:
        fleet = {
            "name": "fleet",
            "gitops.kubernetes.gitops_sync": {
                "kubeconfig": "{{ gitops_test_kubeconfig }}",
                "applications": [
                    {"name": "front", "destination": {"namespace": namespace}, "manifests": [DEPLOYMENT, SERVICE]},
                    {"name": "back", "destination": {"namespace": other}, "manifests": [CONFIG]},
                    {"name": "broken", "destination": {"namespace": other},
                     "manifests": [{"apiVersion": "example.com/v1", "kind": "NoSuchKind", "metadata": {"name": "x"}}]},
                ],
            },
            "register": "fleet",
            "ignore_errors": True,
        }
        run = ansible_playbook(tasks(fleet))
        result = run["fleet"]
        assert result["failed"] is True and result["failed_applications"] == ["broken"]
        entries = {app["name"]: app for app in result["applications"]}
        assert entries["front"]["sync_status"] == "Synced" and entries["front"]["counts"]["created"] == 2
        assert entries["back"]["sync_status"] == "Synced" and entries["back"]["health_status"] == "Healthy"
        assert "NoSuchKind" in entries["broken"]["error"] and "nothing was applied" in entries["broken"]["error"]
        assert kubectl.exists("deployment/web", "-n", namespace) and kubectl.exists("configmap/web-config", "-n", other)
        assert result["counts"]["created"] == 3
    finally:
        kubectl.run("delete", "namespace", other, "--wait=false", "--ignore-not-found", check=False)


def test_helm_hooks_are_mapped_like_argo_cd(kubectl, namespace, ansible_playbook, git_repo):
    repo = git_repo()
    repo.commit({
        "app/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
        "app/templates/config.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-config
            data:
              mode: blue
            """,
        "app/templates/hooks.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: pre-install-marker
              annotations:
                helm.sh/hook: pre-install,pre-upgrade
                helm.sh/hook-weight: "-1"
            data: {}
            ---
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: post-install-job
              annotations:
                helm.sh/hook: post-install
                helm.sh/hook-delete-policy: hook-succeeded
            spec:
              backoffLimit: 0
              template:
                spec:
                  restartPolicy: Never
                  containers:
                    - name: run
                      image: busybox:1.36
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: chart-test
              annotations:
                helm.sh/hook: test
            spec:
              containers:
                - name: run
                  image: busybox:1.36
            """,
    })
    run = ansible_playbook(tasks(app_task("helm", repo, namespace)))
    result = run["helm"]
    assert run.rc == 0 and not result.get("failed"), result.get("msg")
    assert [(r["phase"], r["wave"], r["name"]) for r in result["resources"]] == [
        ("PreSync", -1, "pre-install-marker"), ("Sync", 0, "shop-config"), ("PostSync", 0, "post-install-job"),
    ]
    assert kubectl.exists("configmap/pre-install-marker", "-n", namespace)
    assert not kubectl.exists("job/post-install-job", "-n", namespace)  # hook-succeeded
    assert not kubectl.exists("pod/chart-test", "-n", namespace)  # Helm test hooks never run in a sync
    assert {m["name"] for m in parent_document(kubectl, namespace)["members"]} == {"shop-config"}


def test_a_crd_and_its_custom_resources_sync_in_one_application(kubectl, namespace, ansible_playbook):
    group = f"{namespace}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    }
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "blue"}, "spec": {"size": 3}}
    try:
        run = ansible_playbook(tasks(sync_task("first", [widget, crd], namespace)))
        first = run["first"]
        assert run.rc == 0 and not first.get("failed"), first.get("msg")
        assert [r["kind"] for r in first["resources"]] == ["CustomResourceDefinition", "Widget"]
        assert by_name(first)["Widget/blue"]["namespace"] == namespace
        assert kubectl.get(f"widgets.{group}/blue", "-n", namespace)["spec"] == {"size": 3}
        run = ansible_playbook(tasks(sync_task("again", [widget, crd], namespace)))
        assert run["again"]["changed"] is False and run["again"]["stats"]["writes"] == 0
    finally:
        kubectl.run("delete", "crd", f"widgets.{group}", "--ignore-not-found", "--wait=false", check=False)


def test_sync_200_objects_cold_and_no_op_cost(kubectl, namespace, ansible_playbook, tmp_path):
    """Prints the sync time of a 200-object application, cold and no-op (a figure, not an assertion on time)."""
    objects: list[dict[str, Any]] = []
    for index in range(100):
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"config-{index:03d}"},
                        "data": {"index": str(index), "payload": "x" * 200}})
    for index in range(20):
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"secret-{index:03d}"},
                        "stringData": {"password": f"not-a-real-password-{index}"}})
    for index in range(40):
        objects.append({**copy.deepcopy(SERVICE), "metadata": {"name": f"svc-{index:03d}"}})
    for index in range(40):
        deployment = copy.deepcopy(DEPLOYMENT)
        deployment["metadata"]["name"] = f"web-{index:03d}"
        deployment["spec"]["replicas"] = 1
        objects.append(deployment)
    assert len(objects) == 200
    manifests = tmp_path / "app.yaml"
    manifests.write_text(yaml.safe_dump_all(objects))
    task = sync_task("sync", "{{ lookup('ansible.builtin.file', '" + str(manifests) + "') }}", namespace, app="big")  # type: ignore[arg-type]

    cold = ansible_playbook(tasks(task))
    assert cold.rc == 0 and not cold["sync"].get("failed"), cold["sync"].get("msg")
    assert cold["sync"]["counts"]["created"] == 200 and cold["sync"]["health_status"] == "Healthy"
    no_op = ansible_playbook(tasks(task))
    assert no_op.rc == 0 and no_op["sync"]["changed"] is False and no_op["sync"]["stats"]["writes"] == 0
    assert "not-a-real-password" not in cold.stdout + json.dumps(cold["sync"]) + json.dumps(no_op["sync"])
    figures = {
        "objects": 200,
        "cold": {"seconds": cold["sync"]["stats"]["seconds"], "requests": cold["sync"]["stats"]["requests"],
                 "writes": cold["sync"]["stats"]["writes"], "by_verb": cold["sync"]["stats"]["by_verb"]},
        "no_op": {"seconds": no_op["sync"]["stats"]["seconds"], "requests": no_op["sync"]["stats"]["requests"],
                  "writes": no_op["sync"]["stats"]["writes"], "by_verb": no_op["sync"]["stats"]["by_verb"]},
    }
    print(f"\ngitops_sync 200 objects: {json.dumps(figures)}")


def test_a_failed_prune_stays_in_the_inventory_and_is_retried(kubectl, namespace, ansible_playbook):
    # a real admission policy refuses to delete one ConfigMap in this namespace
    policy_name = f"block-delete-{namespace}"[:63]
    kubectl.apply([
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": policy_name},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"],
                                                          "resources": ["configmaps"]}]},
                  "validations": [{"expression": "oldObject.metadata.name != 'undeletable'",
                                   "message": "deletion blocked by the test policy"}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": policy_name},
         "spec": {"policyName": policy_name, "validationActions": ["Deny"],
                  "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}},
    ])
    try:
        policy_sync = {"prune": True}
        run = ansible_playbook(tasks(sync_task("first", [configmap("undeletable"), configmap("plain")], namespace,
                                               sync_policy=policy_sync)))
        assert run.rc == 0 and not run["first"].get("failed"), run["first"].get("msg")
        deadline = time.monotonic() + 60
        while kubectl.run("delete", "configmap", "undeletable", "-n", namespace, "--dry-run=server", check=False).returncode == 0:
            assert time.monotonic() < deadline, "the admission policy never became active"
            time.sleep(1)

        run = ansible_playbook(tasks(sync_task("blocked", [CONFIG], namespace, sync_policy=policy_sync)))
        blocked = run["blocked"]
        assert blocked["failed"] is True and "deletion blocked by the test policy" in blocked["msg"]
        resources = by_name(blocked)
        assert resources["ConfigMap/undeletable"]["result"] == "Failed"
        assert "kept in the inventory" in resources["ConfigMap/undeletable"]["message"]
        assert resources["ConfigMap/plain"]["result"] == "Succeeded"
        document = parent_document(kubectl, namespace)
        assert {m["name"] for m in document["members"]} == {"web-config", "undeletable"}
        assert document["history"][-1]["result"] == "Failed"

        kubectl.run("delete", "validatingadmissionpolicybinding", policy_name)
        deadline = time.monotonic() + 60
        while kubectl.run("delete", "configmap", "undeletable", "-n", namespace, "--dry-run=server", check=False).returncode != 0:
            assert time.monotonic() < deadline, "the admission policy never went away"
            time.sleep(1)
        run = ansible_playbook(tasks(sync_task("retried", [CONFIG], namespace, sync_policy=policy_sync)))
        retried = run["retried"]
        assert run.rc == 0 and not retried.get("failed"), retried.get("msg")
        assert by_name(retried)["ConfigMap/undeletable"]["action"] == "pruned"
        assert not kubectl.exists("configmap/undeletable", "-n", namespace)
        assert {m["name"] for m in parent_document(kubectl, namespace)["members"]} == {"web-config"}
    finally:
        kubectl.run("delete", "validatingadmissionpolicybinding", policy_name, "--ignore-not-found", check=False)
        kubectl.run("delete", "validatingadmissionpolicy", policy_name, "--ignore-not-found", check=False)


def test_a_failed_job_hook_fails_the_sync_and_hook_failed_deletes_it(kubectl, namespace, ansible_playbook):
    # the Job controller fails this Job for real: its pod can never be scheduled and the deadline is 2s
    doomed = job("doomed", **{HOOK: "PreSync", DELETE_POLICY: "HookFailed"})
    doomed["spec"]["activeDeadlineSeconds"] = 2
    doomed["spec"]["template"]["spec"]["nodeSelector"] = {"no-such-node": "true"}
    desired = [DEPLOYMENT, doomed, configmap("on-failure", **{HOOK: "SyncFail"})]
    run = ansible_playbook(tasks(sync_task("failing", desired, namespace, wait_timeout=60)))
    result = run["failing"]
    assert result["failed"] is True
    assert "hook Job.batch" in result["msg"] and "doomed failed" in result["msg"]
    resources = by_name(result)
    assert resources["Job/doomed"]["result"] == "Failed" and resources["Job/doomed"]["health"]["status"] == "Degraded"
    assert "deleted by its hook-delete-policy" in resources["Job/doomed"]["message"]
    assert not kubectl.exists("job/doomed", "-n", namespace)
    assert not kubectl.exists("deployment/web", "-n", namespace)
    assert kubectl.exists("configmap/on-failure", "-n", namespace)


def test_without_wait_waves_do_not_wait_for_health(kubectl, namespace, ansible_playbook):
    stuck = copy.deepcopy(DEPLOYMENT)
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"no-such-node": "true"}
    later = with_annotations(CONFIG, **{WAVE: "1"})
    run = ansible_playbook(tasks(sync_task("nowait", [stuck, later], namespace, wait=False)))
    result = run["nowait"]
    assert run.rc == 0 and not result.get("failed"), result.get("msg")
    assert result["health_status"] == "Progressing"
    assert by_name(result)["Deployment/web"]["health"]["status"] == "Progressing"
    assert kubectl.exists("configmap/web-config", "-n", namespace)
