"""gitops_sync on the controller runs in the task's worker process with the result the module's own process gives:
the same registered results for the same tasks, whichever way it ran (failures before any cluster work here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TASKS = [
    # refused by the module's argument spec
    {"name": "unknown option", "gitops.kubernetes.gitops_sync": {"name": "app", "manifests": [], "bogus": 1}},
    # refused by the module's own checks (SpecError), before Git or the cluster
    {"name": "bad owner", "gitops.kubernetes.gitops_sync": {"name": "app", "manifests": [], "owner": "not a label!"}},
    # a connection that cannot be made, in check mode with a diff
    {"name": "no kubeconfig", "gitops.kubernetes.gitops_sync": {
        "name": "app", "kubeconfig": "/nonexistent/kubeconfig",
        "manifests": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}]},
     "check_mode": True, "diff": True},
]


def run_tasks(tmp_path: Path, via_module: bool) -> tuple[dict, str]:
    results = tmp_path / f"results-{via_module}.json"
    tasks = []
    for number, task in enumerate(TASKS):
        # a task environment makes the module run in a process of its own, as for any module
        tasks.append({**task, "register": f"r{number}", "ignore_errors": True,
                      "environment": {"GITOPS_TEST_VIA_MODULE": "1"} if via_module else {}})
    tasks.append({"name": "write", "ansible.builtin.copy": {
        "dest": str(results), "content": "{{ [" + ", ".join(f"r{n}" for n in range(len(TASKS))) + "] | to_json }}"}})
    playbook = tmp_path / f"play-{via_module}.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    bin_dir = Path(sys.executable).parent
    completed = subprocess.run([str(bin_dir / "ansible-playbook"), "-vvv", str(playbook)], capture_output=True, text=True,
                               env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"},
                               cwd=tmp_path, timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads(results.read_text()), completed.stdout


@pytest.mark.slow
def test_the_worker_run_registers_what_the_modules_own_process_returns(tmp_path):
    in_worker, worker_log = run_tasks(tmp_path, via_module=False)
    via_module, module_log = run_tasks(tmp_path, via_module=True)
    assert worker_log.count("the module runs in this worker process") == len(TASKS)
    assert "the module runs in this worker process" not in module_log
    assert [result["failed"] for result in in_worker] == [True] * len(TASKS)
    assert "bogus" in in_worker[0]["msg"] and "owner" in in_worker[1]["msg"] and "kubeconfig" in in_worker[2]["msg"]
    assert in_worker == via_module
