"""The local control plane is a real Kubernetes: workloads run, CRDs work, SSA works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import local_cluster  # hack/ is on sys.path (conftest)

REPO = Path(__file__).resolve().parents[2]

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.example/web:1.0}]
"""

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: registry.example/once:1.0}]
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %(plural)s.example.org}
spec:
  group: example.org
  scope: Namespaced
  names: {plural: %(plural)s, singular: %(singular)s, kind: %(kind)s}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
"""


def test_deployment_applied_server_side_becomes_available(kubectl, namespace: str) -> None:
    kubectl.apply(DEPLOYMENT, "-n", namespace)
    kubectl.wait("condition=Available", "deployment/web", namespace)
    pods = kubectl.get("pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 3
    assert {pod["status"]["phase"] for pod in pods} == {"Running"}
    assert all(pod["spec"]["nodeName"].startswith("kwok-node-") for pod in pods)
    managers = {entry["manager"] for entry in kubectl.get("deployment/web", "-n", namespace, "--show-managed-fields")["metadata"]["managedFields"]}
    assert "kubectl" in managers  # written by server-side apply, not client-side


def test_job_completes(kubectl, namespace: str) -> None:
    kubectl.apply(JOB, "-n", namespace)
    kubectl.wait("condition=Complete", "job/once", namespace)
    assert kubectl.get("job/once", "-n", namespace)["status"]["succeeded"] == 1


def test_crd_becomes_established_and_serves_custom_resources(kubectl, namespace: str) -> None:
    suffix = namespace.rsplit("-", 1)[1]
    names = {"plural": f"widgets{suffix}", "singular": f"widget{suffix}", "kind": f"Widget{suffix}"}
    kubectl.apply(CRD % names)
    try:
        kubectl.wait("condition=Established", f"crd/{names['plural']}.example.org")
        kubectl.apply(
            {"apiVersion": "example.org/v1", "kind": names["kind"], "metadata": {"name": "one"}, "spec": {"size": 3}},
            "-n", namespace,
        )
        assert kubectl.get(f"{names['plural']}.example.org/one", "-n", namespace)["spec"]["size"] == 3
    finally:
        kubectl.run("delete", f"crd/{names['plural']}.example.org", "--wait=false", check=False)


def test_server_side_apply_dry_run_changes_nothing(kubectl, namespace: str) -> None:
    kubectl.apply(DEPLOYMENT, "-n", namespace)
    kubectl.wait("condition=Available", "deployment/web", namespace)
    before = kubectl.get("deployment/web", "-n", namespace)
    changed = DEPLOYMENT.replace("replicas: 3", "replicas: 5")
    result = kubectl.run("apply", "--server-side", "--dry-run=server", "-o", "yaml", "-n", namespace, "-f", "-", input=changed)
    assert "replicas: 5" in result.stdout  # the server computed the change...
    after = kubectl.get("deployment/web", "-n", namespace)
    assert after["spec"]["replicas"] == 3  # ...and stored nothing
    # status updates by the controllers may bump resourceVersion; a spec write bumps generation
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_namespace_deletion_finishes(kubectl) -> None:
    name = f"doomed-{os.getpid()}"
    kubectl.run("create", "namespace", name)
    kubectl.apply(DEPLOYMENT, "-n", name)
    kubectl.run("create", "configmap", "settings", "-n", name, "--from-literal=a=b")
    kubectl.run("delete", "namespace", name, "--wait=true", "--timeout=90s", timeout=120)
    assert not kubectl.exists("namespace", name)


@pytest.mark.slow
def test_second_cluster_lifecycle_reuse_crash_cleanup_and_stop(tmp_path: Path) -> None:
    """up twice reuses, a crashed run is cleaned up, down stops every PID."""
    state_dir = tmp_path / "cluster"
    cli = [sys.executable, str(REPO / "hack" / "local_cluster.py")]
    first = subprocess.run([*cli, "up", "--state-dir", str(state_dir)], capture_output=True, text=True, timeout=180, check=False)
    assert first.returncode == 0, first.stderr
    state = local_cluster.ClusterState.load(state_dir)
    assert state is not None and first.stdout.strip() == state.kubeconfig
    assert set(state.pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
    try:
        again = subprocess.run([*cli, "up", "--state-dir", str(state_dir)], capture_output=True, text=True, timeout=60, check=False)
        assert again.returncode == 0 and "already running (reused)" in again.stderr
        assert local_cluster.ClusterState.load(state_dir).pids == state.pids

        # simulate a crash: the API server dies, the state file stays behind
        os.kill(state.pids["kube-apiserver"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while local_cluster.pid_alive(state.pids["kube-apiserver"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        restarted = subprocess.run([*cli, "up", "--state-dir", str(state_dir)], capture_output=True, text=True, timeout=180, check=False)
        assert restarted.returncode == 0, restarted.stderr
        assert "cleaning up a previous local cluster" in restarted.stderr
        assert not any(local_cluster.pid_alive(pid) for pid in state.pids.values())
        assert not Path(state.data_dir).exists()
        state = local_cluster.ClusterState.load(state_dir)
    finally:
        down = subprocess.run([*cli, "down", "--state-dir", str(state_dir)], capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 0, down.stderr
    assert not any(local_cluster.pid_alive(pid) for pid in state.pids.values())
    assert not Path(state.data_dir).exists()
    assert local_cluster.ClusterState.load(state_dir) is None
