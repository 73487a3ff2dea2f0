"""The automated sync (playbooks/auto_sync.yml, tasks/auto_sync.yml) is the sync playbook's sync, as an automated sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

COLLECTION = Path(__file__).resolve().parents[4]
TASKS = COLLECTION / "roles" / "applications" / "tasks"


def tasks(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((TASKS / name).read_text())


def task_using(found: list[dict[str, Any]], action: str, name_start: str = "") -> dict[str, Any]:
    matching = [t for t in found if action in t and t["name"].startswith(name_start)]
    assert len(matching) == 1, [t["name"] for t in found]
    return matching[0]


def test_the_automated_sync_passes_the_sync_playbook_options_except_manual_sync():
    role = task_using(tasks("main.yml"), "gitops.kubernetes.gitops_sync", "Sync the applications")
    auto = task_using(tasks("auto_sync.yml"), "gitops.kubernetes.gitops_sync")
    role_args = dict(role["gitops.kubernetes.gitops_sync"])
    auto_args = dict(auto["gitops.kubernetes.gitops_sync"])
    assert auto_args.pop("manual_sync") is False
    role_args.pop("manual_sync")
    # a preview is a check-mode run of the sync playbook, never an automated sync
    role_args.pop("preview_revision")
    role_args.pop("preview_repo")
    # same connection, projects, policy, repositories, cache and sync options, taken from the same inventory variables
    assert auto_args == role_args
    assert auto["delegate_to"] == role["delegate_to"] == "localhost"


def test_the_automated_sync_knows_the_play_clusters_as_the_sync_playbook_does():
    role = task_using(tasks("main.yml"), "ansible.builtin.import_tasks", "Know the clusters")
    auto = task_using(tasks("auto_sync.yml"), "ansible.builtin.import_tasks", "Know the clusters")
    assert auto == role == {"name": "Know the clusters of the play", "ansible.builtin.import_tasks": "clusters.yml"}
    (known,) = tasks("clusters.yml")
    assert "gitops.kubernetes.cluster_server" in known["ansible.builtin.set_fact"]["gitops_play_clusters"]


def test_the_automated_sync_refuses_to_run_without_gitops_only():
    refusal = tasks("auto_sync.yml")[0]
    assert refusal["ansible.builtin.assert"]["that"] == "gitops_only | length > 0"


def test_the_auto_sync_playbook_runs_the_role_entry_point_so_the_role_defaults_apply():
    play = yaml.safe_load((COLLECTION / "playbooks" / "auto_sync.yml").read_text())[0]
    assert play["gather_facts"] is False
    imported = [t["ansible.builtin.import_role"] for t in play["tasks"] if "ansible.builtin.import_role" in t]
    assert imported == [{"name": "gitops.kubernetes.applications", "tasks_from": "auto_sync"}]
