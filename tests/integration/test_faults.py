"""Faults against the real control plane: the sync fails clearly, loses nothing, and the next run converges.

The destructive faults (kube-apiserver killed in the middle of a sync, the
API server answering 429/500) run against a private control plane started
for this module (hack/local_cluster.py), never the shared test cluster. The
429/500 come from a small HTTPS proxy in front of the real API server: it
serves with the API server's own certificate and forwards with the admin
client certificate, so the modules talk TLS to it exactly as to the cluster.
Git faults, two syncs at once and field-manager conflicts use the shared
cluster in their own namespaces.

Every test checks the same three things: a message a user can act on, the
inventory (ApplySet parent) covering every object of ours that exists, and
convergence (or an untouched cluster) afterwards.
"""

from __future__ import annotations

import glob
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL, application_applyset_id
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import DEFAULT_RETRIES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import local_cluster  # noqa: E402
from conftest import Kubectl  # noqa: E402

WAVE = "argocd.argoproj.io/sync-wave"


def configmap(name: str, wave: int = 0, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {WAVE: str(wave)}}, "data": data or {"v": "1"}}


def deployment(name: str, wave: int = 0, schedulable: bool = True) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    if not schedulable:  # no node has this label: never Available, so the sync waits on this wave
        pod["nodeSelector"] = {"gitops.test/nowhere": "true"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "annotations": {WAVE: str(wave)}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


def sync_task(register: str, kubeconfig: str, namespace: str, manifests: list[dict[str, Any]], app: str = "faulty",
              **options: Any) -> dict[str, Any]:
    return {"name": register, "register": register, "ignore_errors": True,
            "gitops.kubernetes.gitops_sync": {"kubeconfig": kubeconfig, "name": app, "destination": {"namespace": namespace},
                                              "manifests": manifests, "sync_policy": {"prune": True}, "wait_timeout": 120,
                                              **options}}


def start_playbook(tmp: Path, tasks: list[dict[str, Any]]) -> tuple[subprocess.Popen, Path]:
    """ansible-playbook in the background; its registered results land in the returned file."""
    name = uuid.uuid4().hex[:8]
    results = tmp / f"results-{name}.json"
    registered = [t["register"] for t in tasks]
    dump = {"name": "dump", "ansible.builtin.copy": {
        "dest": str(results), "mode": "0600",
        "content": "{{ {" + ", ".join(f"'{n}': ({n} | default(None))" for n in registered) + "} | to_json }}"}}
    playbook = tmp / f"play-{name}.yml"
    playbook.write_text(yaml.safe_dump([{"name": "faults", "hosts": "localhost", "connection": "local",
                                         "gather_facts": False, "tasks": [{"block": tasks, "always": [dump]}]}]))
    env = {**os.environ, "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "false",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "false"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", "localhost,"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    return proc, results


def run_playbook(tmp: Path, tasks: list[dict[str, Any]], timeout: float = 600) -> dict[str, Any]:
    proc, results = start_playbook(tmp, tasks)
    output = proc.communicate(timeout=timeout)[0]
    assert results.exists(), output[-3000:]
    return json.loads(results.read_text())


def inventory(kubectl: Kubectl, namespace: str, app: str = "faulty") -> dict[str, Any]:
    parent = kubectl.get("configmap", f"applyset-{app}", "-n", namespace)
    document = json.loads(parent["data"]["inventory"])
    document["names"] = sorted(f"{m['kind']}/{m['name']}" for m in document["members"])
    return document


def ours(kubectl: Kubectl, namespace: str, app: str = "faulty") -> list[str]:
    """Objects in the namespace carrying the application's ApplySet label."""
    selector = f"{PART_OF_LABEL}={application_applyset_id(app, namespace)}"
    items = kubectl.get("configmaps,deployments", "-n", namespace, "-l", selector)["items"]
    return sorted(f"{i['kind']}/{i['metadata']['name']}" for i in items)


# --------------------------------------------------------------------------
# the private control plane and the fault-injecting proxy


@pytest.fixture(scope="module")
def private_cluster(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("private-cluster")
    state = local_cluster.start(state_dir, nodes=1)
    try:
        yield state, Kubectl(state.kubeconfig)
    finally:
        local_cluster.stop(state_dir, quiet=True)


class FaultProxy:
    """HTTPS in front of the real API server that answers `inject(method, path)` (a status) instead of forwarding."""

    def __init__(self, upstream: str, pki: Path) -> None:
        self.inject: Callable[[str, str], int | None] = lambda method, path: None
        self.log: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        upstream_url = urlsplit(upstream)
        upstream_tls = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        upstream_tls.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = proxy.inject(self.command, self.path)
                if status is not None:
                    data = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status,
                                       "reason": "TooManyRequests" if status == 429 else "InternalError",
                                       "message": f"injected fault {status}"}).encode()
                    headers = {"Content-Type": "application/json", "Retry-After": "0"}
                else:
                    connection = http.client.HTTPSConnection(upstream_url.hostname, upstream_url.port, context=upstream_tls,
                                                             timeout=60)
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "content-type", "user-agent")}
                    connection.request(self.command, self.path, body=body or None, headers=forwarded)
                    response = connection.getresponse()
                    status, data = response.status, response.read()
                    headers = {"Content-Type": response.getheader("Content-Type") or "application/json"}
                    connection.close()
                with proxy._lock:
                    proxy.log.append((self.command, self.path, status))
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        serving.load_cert_chain(str(pki / "apiserver.crt"), str(pki / "apiserver.key"))
        self.server.socket = serving.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def is_write(method: str, path: str) -> bool:
    return method != "GET" and "dryRun=" not in path


# --------------------------------------------------------------------------
# kube-apiserver killed in the middle of a sync


def test_api_server_killed_after_the_first_wave_then_the_next_run_converges(private_cluster, tmp_path):
    state, kubectl = private_cluster
    namespace = f"killed-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", namespace)
    first = run_playbook(tmp_path, [sync_task("v1", state.kubeconfig, namespace, [configmap("keep")], revision="v1")])
    assert not first["v1"].get("failed"), first["v1"].get("msg")

    # wave 0 is applied and then waits for a Deployment that cannot become Available; wave 1 is never reached
    v2 = [configmap("keep"), configmap("first"), deployment("waiter", schedulable=False), configmap("second", wave=1)]
    proc, results = start_playbook(tmp_path, [sync_task("v2", state.kubeconfig, namespace, v2, revision="v2")])
    deadline = time.monotonic() + 120
    while not kubectl.exists("deployment", "waiter", "-n", namespace):
        assert proc.poll() is None and time.monotonic() < deadline, "the sync never reached its first wave"
        time.sleep(0.3)
    argv = local_cluster.kill_apiserver(Path(state.state_dir))
    try:
        proc.communicate(timeout=120)
    finally:
        local_cluster.restart_apiserver(Path(state.state_dir), argv)
    crashed = json.loads(results.read_text())["v2"]
    assert crashed["failed"]
    assert f"cannot reach the Kubernetes API server at {state.server}" in crashed["msg"]
    assert "Traceback" not in crashed["msg"]

    # no orphans: everything of ours that exists is in the inventory, written before the first apply
    recorded = inventory(kubectl, namespace)
    assert set(ours(kubectl, namespace)) <= set(recorded["names"])
    assert {"ConfigMap/keep", "ConfigMap/first", "Deployment/waiter", "ConfigMap/second"} == set(recorded["names"])
    assert not kubectl.exists("configmap", "second", "-n", namespace)

    # the next run takes the dead sync's Lease over at once, converges, and prunes nothing that is still desired
    v3 = [configmap("keep"), configmap("first"), deployment("waiter"), configmap("second", wave=1)]
    started = time.monotonic()
    healed = run_playbook(tmp_path, [sync_task("v3", state.kubeconfig, namespace, v3, revision="v3")])["v3"]
    assert not healed.get("failed"), healed.get("msg")
    assert time.monotonic() - started < 55, "the Lease of the killed sync was waited out instead of taken over"
    assert healed["sync_status"] == "Synced" and healed["counts"]["pruned"] == 0
    assert ours(kubectl, namespace) == ["ConfigMap/first", "ConfigMap/keep", "ConfigMap/second", "Deployment/waiter"]
    recorded = inventory(kubectl, namespace)
    assert recorded["revision"] == "v3" and recorded["history"][-1]["result"] == "Succeeded"
    assert not kubectl.exists("lease", "gitops-sync-faulty", "-n", namespace)


# --------------------------------------------------------------------------
# 429 and 500 from the API server


def test_429_and_500_are_retried_a_bounded_number_of_times_then_fail_clearly(private_cluster, tmp_path):
    state, kubectl = private_cluster
    namespace = f"flaky-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", namespace)
    proxy = FaultProxy(state.server, Path(state.data_dir) / "pki")
    try:
        config = yaml.safe_load(Path(state.kubeconfig).read_text())
        config["clusters"][0]["cluster"]["server"] = proxy.url
        kubeconfig = tmp_path / "kubeconfig-proxy"
        kubeconfig.write_text(yaml.safe_dump(config))

        # a while of 429 and 500 on writes: retried with backoff, the sync succeeds
        budget = {"left": 3}

        def transient(method: str, path: str) -> int | None:
            if is_write(method, path) and budget["left"] > 0:
                budget["left"] -= 1
                return 429 if budget["left"] % 2 else 500
            return None

        proxy.inject = transient
        manifests = [configmap("first"), configmap("second", wave=1)]
        ok = run_playbook(tmp_path, [sync_task("ok", str(kubeconfig), namespace, manifests, revision="r1")])["ok"]
        assert not ok.get("failed"), ok.get("msg")
        assert ok["stats"]["retries"] >= 3 and budget["left"] == 0
        assert ours(kubectl, namespace) == ["ConfigMap/first", "ConfigMap/second"]

        # the API server keeps failing one write: a bounded number of attempts, then a clear failure
        def persistent(method: str, path: str) -> int | None:
            return 500 if method == "PATCH" and "/configmaps/second" in path and is_write(method, path) else None

        proxy.inject = persistent
        proxy.log.clear()
        changed = [configmap("first", v="2"), configmap("second", wave=1, v="2")]
        failed = run_playbook(tmp_path, [sync_task("failed", str(kubeconfig), namespace, changed, revision="r2")])["failed"]
        assert failed["failed"]
        assert f"apply ConfigMap {namespace}/second: 500 InternalError injected fault 500" in failed["msg"]
        attempts = [entry for entry in proxy.log if persistent(entry[0], entry[1])]
        assert len(attempts) == 1 + DEFAULT_RETRIES
        # no half-recorded inventory: every object, the failed sync in the history, the revision not advanced
        recorded = inventory(kubectl, namespace)
        assert recorded["names"] == ["ConfigMap/first", "ConfigMap/second"] == ours(kubectl, namespace)
        assert recorded["revision"] == "r1" and recorded["history"][-1]["result"] == "Failed"
        assert kubectl.get("configmap", "first", "-n", namespace)["data"] == {"v": "2"}  # wave 0 was applied
        assert kubectl.get("configmap", "second", "-n", namespace)["data"] == {"v": "1"}

        # the API server recovers: the next run converges
        proxy.inject = lambda method, path: None
        healed = run_playbook(tmp_path, [sync_task("healed", str(kubeconfig), namespace, changed, revision="r2")])["healed"]
        assert not healed.get("failed"), healed.get("msg")
        assert inventory(kubectl, namespace)["revision"] == "r2"
        assert kubectl.get("configmap", "second", "-n", namespace)["data"] == {"v": "2"}
    finally:
        proxy.close()


# --------------------------------------------------------------------------
# Git: unreachable, revision deleted, force-pushed, corrupt cache


def test_git_faults_fail_clearly_leave_the_cluster_untouched_and_a_corrupt_cache_is_rebuilt(
        kubectl, namespace, git_repo, ansible_playbook, tmp_path):
    repo = git_repo("faulty-git")
    repo.commit({"apps/config.yaml": yaml.safe_dump(configmap("settings", mode="v1")),
                 "feature/config.yaml": yaml.safe_dump(configmap("feature", mode="v1"))})
    repo.git("branch", "feature")
    cache = tmp_path / "cache"

    def sync(register: str, revision: str = "main") -> dict[str, Any]:
        path = "apps" if revision == "main" else revision
        return {"name": register, "register": register, "ignore_errors": True, "gitops.kubernetes.gitops_sync": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache),
            "application": {"name": f"git-{revision}", "source": {"repo_url": repo.url, "revision": revision, "path": path},
                            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}}}

    def snapshot() -> dict[str, str]:
        items = kubectl.get("configmaps", "-n", namespace)["items"]
        return {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items}

    first = ansible_playbook(yaml.safe_dump([sync("main"), sync("feature_first", "feature")]))
    assert not first["main"].get("failed") and not first["feature_first"].get("failed"), first["main"].get("msg")
    before = snapshot()

    # the remote is gone; the branch is deleted
    away = repo.path.with_name("moved-away")
    repo.path.rename(away)
    unreachable = ansible_playbook(yaml.safe_dump([sync("unreachable")]))["unreachable"]
    away.rename(repo.path)
    repo.git("branch", "-D", "feature")
    deleted = ansible_playbook(yaml.safe_dump([sync("deleted", "feature")]))["deleted"]
    assert unreachable["failed"] and f"listing the refs of {repo.url} failed" in unreachable["msg"]
    assert "does not appear to be a git repository" in unreachable["msg"]
    assert deleted["failed"] and f"revision 'feature' not found in {repo.url}" in deleted["msg"]
    assert snapshot() == before, "a Git fault must leave the cluster untouched"

    # the cached mirror is damaged (truncated objects, broken config) and the remote moved on: rebuilt, synced
    mirror = next(Path(p) for p in glob.glob(str(cache / "git" / "*.git")))
    for loose in mirror.glob("objects/??/*"):
        loose.chmod(0o644)
        loose.write_bytes(b"corrupt")
    for pack in mirror.glob("objects/pack/*.pack"):
        pack.chmod(0o644)
        pack.write_bytes(b"corrupt")
    (mirror / "config").write_text("[[[ not a git config\n")
    shutil.rmtree(cache / "render", ignore_errors=True)
    v2 = repo.commit({"apps/config.yaml": yaml.safe_dump(configmap("settings", mode="v2"))})
    rebuilt = ansible_playbook(yaml.safe_dump([sync("rebuilt")]))["rebuilt"]
    assert not rebuilt.get("failed"), rebuilt.get("msg")
    assert rebuilt["revision"] == v2
    assert kubectl.get("configmap", "settings", "-n", namespace)["data"] == {"mode": "v2"}

    # main is force-pushed to a rewritten history: the new commit is what gets synced
    repo.git("reset", "-q", "--hard", repo.commits[0])
    repo.write({"apps/config.yaml": yaml.safe_dump(configmap("settings", mode="rewritten"))})
    repo.git("commit", "-q", "-a", "-m", "rewritten")
    rewritten = repo.git("rev-parse", "HEAD")
    forced = ansible_playbook(yaml.safe_dump([sync("forced")]))["forced"]
    assert not forced.get("failed"), forced.get("msg")
    assert forced["revision"] == rewritten and rewritten != v2
    assert kubectl.get("configmap", "settings", "-n", namespace)["data"] == {"mode": "rewritten"}
    assert inventory(kubectl, namespace, "git-main")["revision"] == rewritten


# --------------------------------------------------------------------------
# two syncs of one application at once


def test_two_syncs_of_one_application_at_once_are_serialised_by_the_lease(cluster, kubectl, namespace, tmp_path):
    manifests = [deployment("web"), configmap("settings", wave=1), configmap("more", wave=1)]
    tasks = [sync_task("sync", cluster.kubeconfig, namespace, manifests, revision="r1")]
    runs = [start_playbook(tmp_path, tasks), start_playbook(tmp_path, tasks)]
    outcomes = []
    for proc, results in runs:
        output = proc.communicate(timeout=300)[0]
        assert results.exists(), output[-3000:]
        outcomes.append(json.loads(results.read_text())["sync"])
    for outcome in outcomes:
        # the second waited for the first's Lease and found the application in sync, or gave up waiting, clearly
        assert not outcome.get("failed") or "another sync of this application holds Lease" in outcome["msg"], outcome.get("msg")
    assert sum(1 for o in outcomes if o.get("changed") and not o.get("failed")) >= 1
    created = [o["counts"]["created"] for o in outcomes if not o.get("failed")]
    assert sum(created) == 3, f"each object is created exactly once: {created}"
    assert ours(kubectl, namespace) == ["ConfigMap/more", "ConfigMap/settings", "Deployment/web"]
    assert inventory(kubectl, namespace)["names"] == ours(kubectl, namespace)
    assert all(h["result"] == "Succeeded" for h in inventory(kubectl, namespace)["history"])
    assert not kubectl.exists("lease", "gitops-sync-faulty", "-n", namespace)


# --------------------------------------------------------------------------
# a field another manager owns


def test_a_conflict_with_another_field_manager_names_field_and_manager_and_applies_nothing_in_the_wave(
        cluster, kubectl, namespace, ansible_playbook):
    v1 = [configmap("a", x="1"), configmap("b", y="1")]
    first = ansible_playbook(yaml.safe_dump([sync_task("v1", cluster.kubeconfig, namespace, v1)]))["v1"]
    assert not first.get("failed"), first.get("msg")
    kubectl.run("apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", "-",
                input=yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": namespace},
                                      "data": {"x": "by-hand"}}))
    v2 = [configmap("a", x="2"), configmap("b", y="2")]
    run = ansible_playbook(yaml.safe_dump([
        sync_task("refused", cluster.kubeconfig, namespace, v2, force_conflicts=False),
    ]))
    refused = run["refused"]
    assert refused["failed"]
    assert "nothing was applied, because another field manager owns fields this sync would change" in refused["msg"]
    assert f'ConfigMap {namespace}/a' in refused["msg"] and 'conflict with "intruder"' in refused["msg"]
    assert ".data.x" in refused["msg"]
    assert kubectl.get("configmap", "b", "-n", namespace)["data"] == {"y": "1"}, "b was applied although a wave-mate failed"
    assert kubectl.get("configmap", "a", "-n", namespace)["data"] == {"x": "by-hand"}
    assert refused["stats"]["writes"] == 0
    healed = ansible_playbook(yaml.safe_dump([sync_task("healed", cluster.kubeconfig, namespace, v2)]))["healed"]
    assert not healed.get("failed"), healed.get("msg")
    assert kubectl.get("configmap", "a", "-n", namespace)["data"] == {"x": "2"}
    assert kubectl.get("configmap", "b", "-n", namespace)["data"] == {"y": "2"}
