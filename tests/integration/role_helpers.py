"""Helpers for the tests that run the applications role through the collection's playbooks.

The inventory hosts are clusters that cannot be reached over SSH (TEST-NET
addresses), so every task must run on the controller for a test to pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_TIMEOUT = 600
SECRET_VALUE = "s3cret-in-git-0042"


def web_app(replicas: int = 2, secret: str = SECRET_VALUE) -> dict[str, str]:
    return {
        "web/deployment.yaml": f"""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: {replicas}
              selector:
                matchLabels: {{app: web}}
              template:
                metadata:
                  labels: {{app: web}}
                spec:
                  containers:
                    - name: web
                      image: registry.example/web:1.0
            """,
        "web/secret.yaml": f"""
            apiVersion: v1
            kind: Secret
            metadata:
              name: web-db
            stringData:
              password: {secret}
            """,
        "settings/config.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              mode: blue
            """,
    }


@dataclass
class RoleRun:
    rc: int
    stdout: str
    report_dir: Path

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.report_dir / "report.json").read_text())

    def application(self, cluster: str, name: str) -> dict[str, Any]:
        for entry in self.report["clusters"]:
            if entry["name"] == cluster:
                return next(app for app in entry["applications"] if app["name"] == name)
        raise AssertionError(f"no cluster {cluster} in the report")

    def recap(self, host: str) -> dict[str, int]:
        match = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", self.stdout, re.MULTILINE)
        assert match, self.stdout[-3000:]
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}

    def summary(self) -> list[str]:
        match = re.search(r'TASK \[gitops\.kubernetes\.applications : Show one line per application\].*?"msg": (\[.*?\])\n}',
                          self.stdout, re.DOTALL)
        assert match, self.stdout[-3000:]
        return json.loads(match.group(1))


def role_runner(tmp_path: Path, cluster: Any) -> Callable[..., RoleRun]:
    """A function run(playbook, clusters={host: vars}, extra_vars=None, check=False, diff=False) -> RoleRun,
    for a test module's run_role fixture."""

    def run(playbook: str, clusters: dict[str, dict[str, Any]], extra_vars: dict[str, Any] | None = None,
            check: bool = False, diff: bool = False) -> RoleRun:
        report_dir = tmp_path / "reports"
        hosts = {}
        for index, (name, host_vars) in enumerate(clusters.items()):
            # unreachable addresses: a task that is not delegated to the controller fails the test
            hosts[name] = {"ansible_host": f"192.0.2.{index + 1}", "gitops_kubeconfig": cluster.kubeconfig, **host_vars}
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"clusters": {"hosts": hosts}}))
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), playbook,
                "-e", json.dumps({"gitops_report_dir": str(report_dir), "ansible_python_interpreter": sys.executable,
                                  **(extra_vars or {})})]
        argv += ["--check"] if check else []
        argv += ["--diff"] if diff else []
        env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_RETRY_FILES_ENABLED": "false",
               "ANSIBLE_LOCALHOST_WARNING": "false", "GITOPS_CACHE_DIR": str(tmp_path / "cache")}
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=ANSIBLE_TIMEOUT,
                              check=False)
        if os.environ.get("GITOPS_TEST_SHOW_PLAYBOOK"):
            print(proc.stdout, proc.stderr)
        return RoleRun(proc.returncode, proc.stdout + proc.stderr, report_dir)

    return run


def application(name: str, repo_url: str, path: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": {"repo_url": repo_url, "revision": "main", "path": path},
            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}, **extra}
