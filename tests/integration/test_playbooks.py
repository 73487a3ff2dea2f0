"""The sync and drift playbooks run the way AWX runs a job: ansible-runner's Python API on a private data dir.

The private data dir is laid out as AWX lays it out (project/, inventory/,
env/extravars, env/envvars); the project's playbooks import the collection's
playbooks, as an AWX project does. The test reads what AWX reads: the runner's
status and rc, the job events, the artifacts set_stats published, stdout, and
the report files.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

from role_helpers import REPO, application, web_app

RUNNER_TIMEOUT = 600


def private_data_dir(tmp_path: Path, kubeconfig: str, extravars: dict[str, Any]) -> Path:
    root = tmp_path / "awx-job"
    (root / "project").mkdir(parents=True)
    (root / "inventory").mkdir()
    (root / "env").mkdir()
    for name in ("sync", "drift"):
        (root / "project" / f"{name}.yml").write_text(yaml.safe_dump(
            [{"name": f"GitOps {name}", "ansible.builtin.import_playbook": f"gitops.kubernetes.{name}"}]))
    (root / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"clusters": {"hosts": {"prod": {
        "ansible_host": "192.0.2.10",  # never contacted: the role runs on the controller
        "gitops_kubeconfig": kubeconfig,
    }}}}))
    (root / "env" / "extravars").write_text(yaml.safe_dump(
        {"ansible_python_interpreter": sys.executable, "gitops_report_dir": str(root / "reports"),
         "awx_job_id": 4711, "awx_user_name": "ops", **extravars}))
    (root / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".tools" / "collections"),
        # ansible-playbook of this virtualenv, and helm/kustomize/kubectl of the checkout, as an EE image has them
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(REPO / ".tools" / "bin"), os.environ.get("PATH", "")]),
        "GITOPS_CACHE_DIR": str(tmp_path / "cache"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }))
    return root


def run(root: Path, playbook: str, ident: str) -> ansible_runner.Runner:
    return ansible_runner.run(private_data_dir=str(root), playbook=playbook, ident=ident, quiet=True,
                              timeout=RUNNER_TIMEOUT, settings={"suppress_ansible_output": True})


def events(runner: ansible_runner.Runner, event: str) -> list[dict[str, Any]]:
    return [e for e in runner.events if e.get("event") == event]


def task_result(runner: ansible_runner.Runner, task_suffix: str) -> dict[str, Any]:
    for event in events(runner, "runner_on_ok") + events(runner, "runner_on_failed"):
        if event["event_data"].get("task", "").endswith(task_suffix):
            return event["event_data"]["res"]
    raise AssertionError(f"no result for a task ending with {task_suffix!r}")


def test_sync_then_drift_through_ansible_runner(tmp_path, cluster, kubectl, namespace, git_repo):
    repo = git_repo()
    repo.commit(web_app())
    root = private_data_dir(tmp_path, cluster.kubeconfig, {"gitops_applications": [
        application("web", repo.url, "web", namespace), application("settings", repo.url, "settings", namespace)]})

    sync = run(root, "sync.yml", "sync-1")
    assert sync.status == "successful" and sync.rc == 0, sync.stdout.read()[-3000:]
    # artifacts as AWX stores them
    artifacts = root / "artifacts" / "sync-1"
    assert (artifacts / "rc").read_text() == "0" and (artifacts / "status").read_text() == "successful"
    assert list((artifacts / "job_events").glob("*.json"))
    assert "prod/web: Synced, Healthy" in (artifacts / "stdout").read_text()
    assert sync.stats["changed"] == {"prod": 1} and "prod" not in sync.stats["failures"]
    synced = task_result(sync, "Sync the applications of prod")
    assert [app["name"] for app in synced["applications"]] == ["web", "settings"]
    assert {app["sync_status"] for app in synced["applications"]} == {"Synced"}
    (stats,) = events(sync, "playbook_on_stats")
    published = stats["event_data"]["artifact_data"]["gitops_report"]
    assert published["mode"] == "sync" and published["counts"]["synced"] == 2 and published["errors"] == []
    report = json.loads((root / "reports" / "report.json").read_text())
    assert report["details"] == {"job": "4711", "user": "ops"}
    assert kubectl.get("deployment/web", "-n", namespace)["status"]["availableReplicas"] == 2
    # the sync history on the ApplySet parent names the AWX job and user
    parent = kubectl.get("configmap/applyset-web", "-n", namespace)
    history = json.loads(parent["data"]["inventory"])["history"]
    assert (history[-1]["job_id"], history[-1]["user"]) == ("4711", "ops")

    kubectl.run("scale", "deployment/web", "--replicas=5", "-n", namespace)
    drift = run(root, "drift.yml", "drift-1")
    assert drift.status == "successful", drift.stdout.read()[-3000:]
    (stats,) = events(drift, "playbook_on_stats")
    published = stats["event_data"]["artifact_data"]["gitops_report"]
    assert published["mode"] == "drift"
    assert published["drifted"] == [{"cluster": "prod", "application": "web", "sync_status": "OutOfSync"}]
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 5
    # the drift check ran the sync module in check mode: the per-object plan is in the job events
    checked = task_result(drift, "Sync the applications of prod")
    web = next(app for app in checked["applications"] if app["name"] == "web")
    assert {(r["kind"], r["action"], r["result"]) for r in web["resources"]} >= {("Deployment", "configured", "Planned")}
