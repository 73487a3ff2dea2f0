"""Lifecycle through ansible-playbook against the real control plane: deleting an application (state=absent, and the
role deleting an application removed from its list), rollback to a recorded sync, and gitops_info."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import yaml
from module_tasks import manifests_task, tasks
from role_helpers import REPO
from service_accounts import namespaced_deployer

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import OWNER_LABEL, PART_OF_LABEL, parent_name

HOLD = "lifecycle.test/hold"  # a finalizer only the test removes: a deletion waits for it


def config_map(name: str, wave: int | None = None, sync_options: str | None = None, **data: str) -> dict[str, Any]:
    annotations = {}
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    if sync_options:
        annotations["argocd.argoproj.io/sync-options"] = sync_options
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data or {"key": name}}


def delete_task(register: str, namespace: str, app: str, **options: Any) -> dict[str, Any]:
    return {
        "name": f"delete {register}",
        "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "state": "absent", "name": app,
                                          "destination": {"namespace": namespace}, "wait_timeout": 60, **options},
        "register": register,
        "ignore_errors": True,
    }


def _unhold(kubectl: Any, namespace: str, name: str) -> None:
    kubectl.run("patch", "configmap", name, "-n", namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                check=False)


def test_state_absent_deletes_the_highest_wave_first_and_the_inventory_last(namespace, kubectl, ansible_playbook):
    objects = [config_map("early", wave=-1), config_map("middle"), config_map("late", wave=2)]
    first = ansible_playbook(tasks(manifests_task("gitops_sync", "synced", objects, namespace, app="lc-waves")))
    assert not first["synced"].get("failed"), first["synced"].get("msg")
    # the last wave cannot go while the test holds it: the lower waves must wait for it
    kubectl.run("patch", "configmap", "late", "-n", namespace, "--type=merge", "-p", json.dumps({"metadata": {"finalizers": [HOLD]}}))
    try:
        held = ansible_playbook(tasks(delete_task("held", namespace, "lc-waves", wait_timeout=3)))
        assert held["held"]["failed"] and "wave 2" in held["held"]["msg"] and "ConfigMap" in held["held"]["msg"]
        assert kubectl.get("configmap", "late", "-n", namespace)["metadata"].get("deletionTimestamp")
        assert kubectl.exists("configmap", "middle", "-n", namespace) and kubectl.exists("configmap", "early", "-n", namespace)
        assert kubectl.exists("configmap", parent_name("lc-waves"), "-n", namespace), "the inventory stays until the end"
    finally:
        _unhold(kubectl, namespace, "late")
    run = ansible_playbook(tasks(delete_task("deleted", namespace, "lc-waves"), delete_task("again", namespace, "lc-waves")))
    result = run["deleted"]
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["counts"]["deleted"] == 2 and result["counts"]["gone"] == 1
    assert [(r["name"], r["action"], r["wave"]) for r in result["resources"]] == [
        ("late", "gone", 0), ("middle", "deleted", 0), ("early", "deleted", -1)]
    for name in ("early", "middle", "late", parent_name("lc-waves")):
        assert not kubectl.exists("configmap", name, "-n", namespace)
    assert not run["again"]["changed"] and not run["again"]["inventory_found"]


def test_delete_false_keeps_the_object_and_releases_it_from_the_application(namespace, kubectl, ansible_playbook):
    objects = [config_map("kept", sync_options="Delete=false"), config_map("dropped")]
    run = ansible_playbook(tasks(manifests_task("gitops_sync", "synced", objects, namespace, app="lc-keep"),
                                 delete_task("deleted", namespace, "lc-keep")))
    assert not run["deleted"].get("failed"), run["deleted"].get("msg")
    kept = kubectl.get("configmap", "kept", "-n", namespace)
    assert PART_OF_LABEL not in kept["metadata"].get("labels", {}) and kept["data"] == {"key": "kept"}
    assert not kubectl.exists("configmap", "dropped", "-n", namespace)
    assert not kubectl.exists("configmap", parent_name("lc-keep"), "-n", namespace)
    # free: another application takes it over without a conflict
    other = ansible_playbook(tasks(manifests_task("gitops_sync", "other", [config_map("kept")], namespace, app="lc-other")))
    assert not other["other"].get("failed"), other["other"].get("msg")


def test_delete_confirm_deletes_nothing_until_confirmed(namespace, kubectl, ansible_playbook):
    objects = [config_map("precious", sync_options="Delete=confirm"), config_map("plain")]
    run = ansible_playbook(tasks(manifests_task("gitops_sync", "synced", objects, namespace, app="lc-confirm"),
                                 delete_task("unconfirmed", namespace, "lc-confirm")))
    assert run["unconfirmed"]["failed"]
    assert "Delete=confirm" in run["unconfirmed"]["msg"] and "ConfigMap" in run["unconfirmed"]["msg"] \
        and "precious" in run["unconfirmed"]["msg"] and "lc-confirm" in run["unconfirmed"]["msg"]
    for name in ("precious", "plain", parent_name("lc-confirm")):
        assert kubectl.exists("configmap", name, "-n", namespace)
    confirmed = ansible_playbook(tasks(delete_task("confirmed", namespace, "lc-confirm", confirm=["lc-confirm"])))
    assert not confirmed["confirmed"].get("failed"), confirmed["confirmed"].get("msg")
    for name in ("precious", "plain", parent_name("lc-confirm")):
        assert not kubectl.exists("configmap", name, "-n", namespace)


def test_foreground_deletion_waits_for_dependents_and_background_does_not(namespace, kubectl, ansible_playbook):
    run = ansible_playbook(tasks(
        manifests_task("gitops_sync", "fg", [config_map("fg-owner")], namespace, app="lc-fg"),
        manifests_task("gitops_sync", "bg", [config_map("bg-owner")], namespace, app="lc-bg"),
    ))
    assert not run["fg"].get("failed") and not run["bg"].get("failed")
    for owner in ("fg-owner", "bg-owner"):  # a dependent the test holds, owned by the application's object
        uid = kubectl.get("configmap", owner, "-n", namespace)["metadata"]["uid"]
        kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}, "metadata": {
            "name": f"{owner}-child", "namespace": namespace, "finalizers": [HOLD],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid,
                                 "blockOwnerDeletion": True}]}})
    try:
        run = ansible_playbook(tasks(delete_task("fg_delete", namespace, "lc-fg", cascade="foreground", wait_timeout=3),
                                     delete_task("bg_delete", namespace, "lc-bg", cascade="background", wait_timeout=60)))
        assert run["fg_delete"]["failed"] and "fg-owner" in run["fg_delete"]["msg"]
        assert kubectl.exists("configmap", "fg-owner", "-n", namespace), "foreground: waits while a dependent remains"
        assert not run["bg_delete"].get("failed"), run["bg_delete"].get("msg")
        assert not kubectl.exists("configmap", "bg-owner", "-n", namespace)
        assert not kubectl.exists("configmap", parent_name("lc-bg"), "-n", namespace)
    finally:
        _unhold(kubectl, namespace, "fg-owner-child")
        _unhold(kubectl, namespace, "bg-owner-child")
    again = ansible_playbook(tasks(delete_task("fg_again", namespace, "lc-fg", cascade="foreground")))
    assert not again["fg_again"].get("failed"), again["fg_again"].get("msg")
    assert not kubectl.exists("configmap", "fg-owner", "-n", namespace)


def test_a_cascade_deletes_the_hook_jobs_and_pods_earlier_syncs_left(namespace, kubectl, ansible_playbook):
    hook_job = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}}}
    run = ansible_playbook(tasks(manifests_task("gitops_sync", "synced", [hook_job, config_map("settings")], namespace,
                                                app="lc-hooks"),
                                 delete_task("orphaned", namespace, "lc-hooks", cascade="orphan")))
    assert not run["synced"].get("failed"), run["synced"].get("msg")
    assert kubectl.exists("job", "migrate", "-n", namespace), "without a cascade the hook's last run stays"
    run = ansible_playbook(tasks(manifests_task("gitops_sync", "again", [hook_job, config_map("settings")], namespace,
                                                app="lc-hooks", hooks="always"),
                                 delete_task("deleted", namespace, "lc-hooks")))
    assert not run["deleted"].get("failed"), run["deleted"].get("msg")
    assert {(r["kind"], r["name"], r["action"]) for r in run["deleted"]["resources"]} == {
        ("Job", "migrate", "deleted"), ("ConfigMap", "settings", "deleted")}
    assert not kubectl.exists("job", "migrate", "-n", namespace)


def test_a_new_owner_alone_rewrites_the_inventory_without_a_history_entry(namespace, kubectl, ansible_playbook):
    objects = [config_map("settings")]
    run = ansible_playbook(tasks(
        manifests_task("gitops_sync", "first", objects, namespace, app="lc-owner"),
        manifests_task("gitops_sync", "owned", objects, namespace, app="lc-owner", owner="lc-team"),
        manifests_task("gitops_sync", "again", objects, namespace, app="lc-owner", owner="lc-team"),
        manifests_task("gitops_sync", "unset", objects, namespace, app="lc-owner"),
    ))
    assert run["first"]["changed"] and run["owned"]["changed"]
    assert not run["again"]["changed"] and run["again"]["stats"]["writes"] == 0
    assert not run["unset"]["changed"], "without owner, the recorded owner stays"
    parent = kubectl.get("configmap", parent_name("lc-owner"), "-n", namespace)
    assert parent["metadata"]["labels"][OWNER_LABEL] == "lc-team"
    assert len(json.loads(parent["data"]["inventory"])["history"]) == 1


# ---------------------------------------------------------------- rollback


def _app_task(register: str, repo: Any, namespace: str, app: str, **options: Any) -> dict[str, Any]:
    return {
        "name": register,
        "gitops.kubernetes.gitops_sync": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}",
            "cache_dir": str(repo.path.parent.parent / "cache"),
            "application": {"name": app, "source": {"repo_url": repo.url, "revision": "main", "path": "app"},
                            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}},
            **options,
        },
        "register": register,
        "ignore_errors": True,
    }


def _settings(mode: str) -> dict[str, str]:
    return {"app/settings.yaml": f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: {mode}
        """}


def test_rollback_syncs_the_commit_of_a_history_entry_and_records_it_as_a_rollback(
        namespace, kubectl, git_repo, ansible_playbook):
    repo = git_repo()
    blue = repo.commit(_settings("blue"), "blue")
    first = ansible_playbook(tasks(_app_task("blue", repo, namespace, "lc-roll")))
    green = repo.commit(_settings("green"), "green")
    run = ansible_playbook(tasks(
        _app_task("green", repo, namespace, "lc-roll"),
        _app_task("by_id", repo, namespace, "lc-roll", rollback=1),
        {"name": "info", "register": "info", "gitops.kubernetes.gitops_info": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}", "names": ["lc-roll"], "namespaces": [namespace]}},
        _app_task("unknown", repo, namespace, "lc-roll", rollback=99),
    ))
    assert not first["blue"].get("failed"), first["blue"].get("msg")
    assert not run["green"].get("failed") and run["green"]["revision"] == green
    rolled = run["by_id"]
    assert not rolled.get("failed"), rolled.get("msg")
    assert rolled["changed"] and rolled["revision"] == blue and rolled["rollback_of"] == 1
    assert kubectl.get("configmap", "settings", "-n", namespace)["data"] == {"mode": "blue"}
    history = run["info"]["applications"][0]["history"]
    assert [(h["id"], h["revision"], h.get("rollback_of")) for h in history] == [(1, blue, None), (2, green, None), (3, blue, 1)]
    assert run["info"]["applications"][0]["revision"] == blue
    assert run["unknown"]["failed"] and "history id 99" in run["unknown"]["msg"] and "lc-roll" in run["unknown"]["msg"]
    # by revision (an abbreviated commit), then the next run without rollback syncs the target revision again
    again = ansible_playbook(tasks(
        _app_task("by_revision", repo, namespace, "lc-roll", rollback=green[:10]),
        _app_task("forward", repo, namespace, "lc-roll", rollback=blue[:8]),  # the latest entry with it: 3
        _app_task("head", repo, namespace, "lc-roll"),
    ))
    assert again["by_revision"]["rollback_of"] == 2 and again["by_revision"]["revision"] == green
    assert again["forward"]["rollback_of"] == 3 and again["forward"]["revision"] == blue
    assert again["head"]["revision"] == green and "rollback_of" not in again["head"]
    assert kubectl.get("configmap", "settings", "-n", namespace)["data"] == {"mode": "green"}


# ---------------------------------------------------------------- gitops_info


def test_gitops_info_lists_applications_with_health_and_history_as_a_read_only_service_account(
        cluster, namespace, kubectl, ansible_playbook, tmp_path):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    }
    run = ansible_playbook(tasks(
        manifests_task("gitops_sync", "web", [deployment, config_map("web-settings")], namespace, app="lc-web", revision="r1"),
        manifests_task("gitops_sync", "db", [config_map("db-settings")], namespace, app="lc-db", revision="r7"),
    ))
    assert not run["web"].get("failed") and not run["db"].get("failed")
    kubectl.run("delete", "configmap", "db-settings", "-n", namespace)
    reader = namespaced_deployer(cluster, kubectl, [namespace], [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
    ], tmp_path)
    connection = {"host": reader["server"], "api_key": reader["token"], "ca_cert": reader["ca_cert"]}
    info = ansible_playbook(tasks(
        {"name": "all", "gitops.kubernetes.gitops_info": {**connection, "namespaces": [namespace]}, "register": "all"},
        {"name": "cluster_wide", "gitops.kubernetes.gitops_info": connection, "register": "cluster_wide",
         "ignore_errors": True},
    ))
    result = info["all"]
    assert not result.get("failed"), result.get("msg")
    assert not result["changed"] and result["names"] == ["lc-db", "lc-web"]
    db, web = result["applications"]
    assert web["revision"] == "r1" and web["health_status"] == "Healthy" and web["sync_status"] == "Unknown"
    assert web["last_sync"]["result"] == "Succeeded" and [h["id"] for h in web["history"]] == [1]
    assert {(r["kind"], r["name"], r["health"]["status"], r["exists"], r["owned"]) for r in web["resources"]} == {
        ("Deployment", "web", "Healthy", True, True), ("ConfigMap", "web-settings", "Healthy", True, True)}
    assert db["revision"] == "r7" and db["health_status"] == "Missing" and db["sync_status"] == "OutOfSync"
    assert db["resources"][0]["status"] == "Missing" and db["on_delete"] == "orphan"
    assert info["cluster_wide"]["failed"] and "namespaces" in info["cluster_wide"]["msg"]


# ---------------------------------------------------------------- the role


PLAYBOOK = str(REPO / "playbooks" / "sync.yml")


def _role_app(name: str, repo_url: str, namespace: str, finalizer: str | None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
        "spec": {"project": "default", "source": {"repoURL": repo_url, "targetRevision": "main", "path": name},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                 "syncPolicy": {"automated": {"prune": True}}},
    }
    if finalizer:
        manifest["metadata"]["finalizers"] = [finalizer]
    return manifest


def test_role_deletes_removed_applications_as_their_finalizer_says(namespace, kubectl, git_repo, run_role):
    repo = git_repo()
    files = {}
    for app in ("fg", "bg", "plain", "stays"):
        files[f"{app}/config.yaml"] = yaml.safe_dump(config_map(f"{app}-config"))
        files[f"{app}/late.yaml"] = yaml.safe_dump(config_map(f"{app}-late", wave=1))
    repo.commit(files)
    owner = f"lc-{uuid.uuid4().hex[:6]}"
    apps = [_role_app("fg", repo.url, namespace, "resources-finalizer.argocd.argoproj.io"),
            _role_app("bg", repo.url, namespace, "resources-finalizer.argocd.argoproj.io/background"),
            _role_app("plain", repo.url, namespace, None),
            _role_app("stays", repo.url, namespace, "resources-finalizer.argocd.argoproj.io")]
    cluster = {"lc": {"gitops_applications": apps, "gitops_owner": owner}}
    first = run_role(PLAYBOOK, cluster)
    assert first.rc == 0, first.stdout[-3000:]
    parent = kubectl.get("configmap", parent_name("fg"), "-n", namespace)
    assert parent["metadata"]["labels"][OWNER_LABEL] == owner
    assert parent["metadata"]["annotations"]["gitops.kubernetes/finalizer"] == "resources-finalizer.argocd.argoproj.io"
    # a check run says what would go and deletes nothing
    removed = {"lc": {"gitops_applications": [apps[3]], "gitops_owner": owner}}
    check = run_role(PLAYBOOK, removed, check=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert kubectl.exists("configmap", "fg-config", "-n", namespace)
    run = run_role(PLAYBOOK, removed)
    assert run.rc == 0, run.stdout[-3000:]
    for app in ("fg", "bg"):
        for name in (f"{app}-config", f"{app}-late", parent_name(app)):
            assert not kubectl.exists("configmap", name, "-n", namespace), name
    plain = kubectl.get("configmap", "plain-config", "-n", namespace)
    assert PART_OF_LABEL not in plain["metadata"].get("labels", {}), "left in place, no longer the application's"
    assert kubectl.exists("configmap", "plain-late", "-n", namespace)
    assert not kubectl.exists("configmap", parent_name("plain"), "-n", namespace)
    assert kubectl.exists("configmap", "stays-config", "-n", namespace) and kubectl.exists("configmap", parent_name("stays"), "-n", namespace)
    # nothing left to delete: the next run changes nothing
    again = run_role(PLAYBOOK, removed)
    assert again.rc == 0 and again.recap("lc")["changed"] == 0, again.stdout[-3000:]


def test_role_without_an_owner_leaves_removed_applications_alone(namespace, kubectl, git_repo, run_role):
    repo = git_repo()
    repo.commit({"solo/config.yaml": yaml.safe_dump(config_map("solo-config"))})
    app = _role_app("solo", repo.url, namespace, "resources-finalizer.argocd.argoproj.io")
    assert run_role(PLAYBOOK, {"lc": {"gitops_applications": [app]}}).rc == 0
    other = {"lc": {"gitops_applications": []}}
    assert run_role(PLAYBOOK, other).rc == 0
    assert kubectl.exists("configmap", "solo-config", "-n", namespace)
    assert kubectl.exists("configmap", parent_name("solo"), "-n", namespace)


def test_role_rollback_variable_syncs_the_recorded_commit(namespace, kubectl, git_repo, run_role):
    repo = git_repo()
    settings = {"roll/settings.yaml": yaml.safe_dump(config_map("roll-settings", mode="blue"))}
    blue = repo.commit(settings)
    app = _role_app("roll", repo.url, namespace, None)
    assert run_role(PLAYBOOK, {"lc": {"gitops_applications": [app]}}).rc == 0
    repo.commit({"roll/settings.yaml": yaml.safe_dump(config_map("roll-settings", mode="green"))})
    assert run_role(PLAYBOOK, {"lc": {"gitops_applications": [app]}}).rc == 0
    run = run_role(PLAYBOOK, {"lc": {"gitops_applications": [app], "gitops_rollback": {"roll": blue[:12]}}})
    assert run.rc == 0, run.stdout[-3000:]
    assert kubectl.get("configmap", "roll-settings", "-n", namespace)["data"] == {"mode": "blue"}
    typo = run_role(PLAYBOOK, {"lc": {"gitops_applications": [app], "gitops_rollback": {"rol": 1}}})
    assert typo.rc != 0 and "rollback names application(s) rol" in typo.stdout


def test_lifecycle_module_documentation_renders(tmp_path):
    import subprocess
    import sys

    for module in ("gitops_info", "gitops_sync"):
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "--json", f"gitops.kubernetes.{module}"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)[f"gitops.kubernetes.{module}"]["doc"]
        assert doc["options"], module
    sync_options = json.loads(subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", "gitops.kubernetes.gitops_sync"],
        capture_output=True, text=True, timeout=120, check=False).stdout)["gitops.kubernetes.gitops_sync"]["doc"]["options"]
    assert {"state", "cascade", "confirm", "owner", "rollback"} <= set(sync_options)
