"""The dry-run verdict cache against a real control plane: Synced verdicts are reused only while the
manifest, the ignore rules and the live object (uid, resourceVersion) are unchanged; any drift made by
another writer and any change in Git is still found, and dry_run_cache: false dry-runs everything."""

from __future__ import annotations

import json
from typing import Any

from module_tasks import manifests_task, resources_by_kind_name, tasks

CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "blue", "size": "m"}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}
OBJECTS = 2


def diff(register: str, namespace: str, cache_dir: str, manifests: list[dict[str, Any]] | None = None,
         **options: Any) -> dict[str, Any]:
    return manifests_task("gitops_diff", register, manifests or [CONFIG, SERVICE], namespace, cache_dir=cache_dir, **options)


def dry_runs(result: dict[str, Any]) -> int:
    return result["stats"]["by_verb"].get("PATCH", 0)


def test_verdicts_are_reused_only_while_nothing_changed(namespace, kubectl, ansible_playbook, tmp_path):
    cache = str(tmp_path / "cache")
    run = ansible_playbook(tasks(
        manifests_task("gitops_sync", "sync", [CONFIG, SERVICE], namespace, cache_dir=cache, wait=False),
        diff("after_sync", namespace, cache),
        diff("uncached", namespace, cache, dry_run_cache=False),
    ))
    assert run.rc == 0, run.stdout
    # the sync recorded what it applied: the next check needs no dry-run at all
    after_sync = run["after_sync"]
    assert after_sync["sync_status"] == "Synced" and after_sync["stats"]["dry_runs_reused"] == OBJECTS
    assert dry_runs(after_sync) == 0
    uncached = run["uncached"]
    assert uncached["sync_status"] == "Synced" and dry_runs(uncached) == OBJECTS
    assert uncached["stats"]["dry_runs_reused"] == 0

    # another writer changes the ConfigMap: its resourceVersion moves, so it is dry-run again and the drift is found
    kubectl.run("patch", "configmap", "settings", "-n", namespace, "--type", "merge", "-p", '{"data":{"mode":"green"}}')
    changed_git = {**CONFIG, "data": {"mode": "blue", "size": "xl"}}
    ignoring_mode = [{"kind": "ConfigMap", "name": "settings", "json_pointers": ["/data/mode"]}]
    run = ansible_playbook(tasks(
        diff("live_drift", namespace, cache),
        diff("git_change", namespace, cache, manifests=[changed_git, SERVICE]),
        diff("ignored", namespace, cache, ignore_differences=ignoring_mode),
        diff("ignored_again", namespace, cache, ignore_differences=ignoring_mode),
    ))
    live_drift = resources_by_kind_name(run["live_drift"])
    assert live_drift["ConfigMap/settings"]["status"] == "OutOfSync"
    assert live_drift["Service/web"]["status"] == "Synced"
    assert run["live_drift"]["stats"]["dry_runs_reused"] == 1 and dry_runs(run["live_drift"]) == 1

    # a change in Git is a new manifest: never answered from a verdict about the old one
    git_change = resources_by_kind_name(run["git_change"])
    assert git_change["ConfigMap/settings"]["status"] == "OutOfSync"
    assert {"op": "replace", "path": "/data/size", "value": "xl"} in git_change["ConfigMap/settings"]["patch"]

    # other ignore rules are other verdicts: the first run dry-runs and finds it Synced, the second reuses that
    assert resources_by_kind_name(run["ignored"])["ConfigMap/settings"]["status"] == "Synced"
    assert dry_runs(run["ignored"]) == 1
    assert resources_by_kind_name(run["ignored_again"])["ConfigMap/settings"]["status"] == "Synced"
    assert dry_runs(run["ignored_again"]) == 0 and run["ignored_again"]["stats"]["dry_runs_reused"] == OBJECTS


def test_a_recreated_object_is_compared_again(namespace, kubectl, ansible_playbook, tmp_path):
    cache = str(tmp_path / "cache")
    run = ansible_playbook(tasks(
        manifests_task("gitops_sync", "sync", [CONFIG, SERVICE], namespace, cache_dir=cache, wait=False),
    ))
    assert run.rc == 0, run.stdout
    # deleted and created again with the same content and labels, by another manager: a new uid
    live = kubectl.get("configmap", "settings", "-n", namespace)
    kubectl.run("delete", "configmap", "settings", "-n", namespace)
    recreated = {"apiVersion": "v1", "kind": "ConfigMap", "data": live["data"],
                 "metadata": {"name": "settings", "namespace": namespace, "labels": live["metadata"]["labels"]}}
    kubectl.run("create", "-f", "-", input=json.dumps(recreated))
    run = ansible_playbook(tasks(diff("recreated", namespace, cache)))
    assert dry_runs(run["recreated"]) == 1 and run["recreated"]["stats"]["dry_runs_reused"] == 1
    # the same content under a new uid: the dry-run (not the old verdict) says it is Synced
    assert resources_by_kind_name(run["recreated"])["ConfigMap/settings"]["status"] == "Synced"


def test_a_status_written_by_someone_else_keeps_the_verdict_a_spec_change_does_not(namespace, kubectl, ansible_playbook,
                                                                                   tmp_path):
    cache = str(tmp_path / "cache")
    run = ansible_playbook(tasks(
        manifests_task("gitops_sync", "sync", [CONFIG, SERVICE], namespace, cache_dir=cache, wait=False),
    ))
    assert run.rc == 0, run.stdout
    # a status write (as a controller makes all the time) moves the resourceVersion, not what an apply would change
    before = kubectl.get("service", "web", "-n", namespace)["metadata"]["resourceVersion"]
    kubectl.run("patch", "service", "web", "-n", namespace, "--subresource=status", "--type", "merge",
                "-p", '{"status":{"conditions":[{"type":"Probed","status":"True","reason":"Test","message":"ok",'
                      '"lastTransitionTime":"2026-11-26T10:00:00Z"}]}}')
    assert kubectl.get("service", "web", "-n", namespace)["metadata"]["resourceVersion"] != before
    run = ansible_playbook(tasks(diff("after_status", namespace, cache)))
    assert run["after_status"]["sync_status"] == "Synced"
    assert dry_runs(run["after_status"]) == 0 and run["after_status"]["stats"]["dry_runs_reused"] == OBJECTS
    # a label another manager adds to the object itself is a new fingerprint: dry-run again, and Synced
    # (the label is not ours), while a change to a field we own is drift
    kubectl.run("label", "service", "web", "-n", namespace, "team=payments")
    kubectl.run("patch", "configmap", "settings", "-n", namespace, "--type", "merge", "-p", '{"data":{"size":"s"}}')
    run = ansible_playbook(tasks(diff("after_writes", namespace, cache)))
    resources = resources_by_kind_name(run["after_writes"])
    assert dry_runs(run["after_writes"]) == 2 and run["after_writes"]["stats"]["dry_runs_reused"] == 0
    assert resources["Service/web"]["status"] == "Synced" and resources["ConfigMap/settings"]["status"] == "OutOfSync"
