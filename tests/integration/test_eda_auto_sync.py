"""gitops.kubernetes.auto_sync, the playbook the reconcile rulebook runs for one event: Argo CD's automated sync of one application.

Run through ansible-playbook, as ansible-rulebook's run_playbook runs it,
against the local control plane; kubectl observes the cluster.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import yaml


def config_map(name: str, value: str = "git") -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": value}})


def argo_app(name: str, repo_url: str, namespace: str, self_heal: bool, project: str = "default") -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": project, "source": {"repoURL": repo_url, "targetRevision": "main", "path": name},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": True, "selfHeal": self_heal}}}}


def value_of(kubectl, namespace: str, name: str) -> str:
    return kubectl.get(f"configmap/{name}", "-n", namespace)["data"]["value"]


def history(kubectl, app: str, namespace: str) -> list[dict[str, Any]]:
    parent = kubectl.get(f"configmap/applyset-{app}", "-n", namespace)
    return json.loads(parent["data"]["inventory"])["history"]


def test_auto_sync_reverts_drift_with_self_heal_and_leaves_drift_without_it_as_argo_cds_automated_sync(
        run_role, git_repo, kubectl, namespace, tmp_path):
    repo = git_repo()
    repo.commit({"heal-on/config.yaml": config_map("heal-on"), "heal-off/config.yaml": config_map("heal-off")})
    apps = [argo_app("heal-on", repo.url, namespace, True), argo_app("heal-off", repo.url, namespace, False)]
    host = {"gitops_applications": apps, "gitops_wait": False}
    assert run_role("gitops.kubernetes.sync", {"prod": host}).rc == 0
    for name in ("heal-on", "heal-off"):
        kubectl.run("patch", "configmap", name, "-n", namespace, "-p", json.dumps({"data": {"value": "hand"}}))
    synced_before = len(history(kubectl, "heal-on", namespace))
    shutil.rmtree(tmp_path / "reports")  # the sync playbook's report

    run = run_role("gitops.kubernetes.auto_sync", {"prod": host}, extra_vars={"gitops_only": ["heal-on", "heal-off"]})
    assert run.rc == 0, run.stdout[-3000:]
    assert value_of(kubectl, namespace, "heal-on") == "git"
    # pressing Sync (the sync playbook with gitops_only) would revert it; the automated sync reports it
    assert value_of(kubectl, namespace, "heal-off") == "hand"
    assert "heal-off: OutOfSync" in run.stdout and "automated sync without selfHeal" in run.stdout
    assert "heal-on: Synced, Healthy" in run.stdout
    assert len(history(kubectl, "heal-on", namespace)) == synced_before + 1  # the same sync: recorded in the history
    assert not (run.report_dir / "report.json").exists()  # no fleet-wide report for one event


def test_auto_sync_is_blocked_by_a_deny_window_that_lets_only_manual_syncs_through(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"heal-window/config.yaml": config_map("heal-window")})
    project = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "heal-windows", "namespace": "argocd"},
               "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                        # open whenever the test runs: fires every minute, open for an hour
                        "syncWindows": [{"kind": "deny", "schedule": "* * * * *", "duration": "1h",
                                         "applications": ["heal-window"], "manualSync": True}]}}
    host = {"gitops_applications": [argo_app("heal-window", repo.url, namespace, True, project="heal-windows")],
            "gitops_projects": [project], "gitops_wait": False}

    run = run_role("gitops.kubernetes.auto_sync", {"prod": host}, extra_vars={"gitops_only": ["heal-window"]})
    assert run.rc == 0, run.stdout[-3000:]
    assert "sync skipped: inside deny window '* * * * *' for 1h" in run.stdout
    assert not kubectl.exists("configmap/heal-window", "-n", namespace)

    pressed = run_role("gitops.kubernetes.sync", {"prod": host}, extra_vars={"gitops_only": ["heal-window"]})
    assert pressed.rc == 0, pressed.stdout[-3000:]
    assert value_of(kubectl, namespace, "heal-window") == "git"


def test_auto_sync_refuses_to_run_without_an_application_named(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"heal-none/config.yaml": config_map("heal-none")})
    host = {"gitops_applications": [argo_app("heal-none", repo.url, namespace, True)], "gitops_wait": False}
    run = run_role("gitops.kubernetes.auto_sync", {"prod": host})
    assert run.rc != 0
    assert "gitops_only names no application" in run.stdout
    assert not kubectl.exists("configmap/heal-none", "-n", namespace)
