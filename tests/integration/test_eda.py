"""Continuous reconciliation with the real ansible-rulebook (Java 17) against the real control plane.

Two rulebook activations of gitops.kubernetes.reconcile, each with its own
inventory (the one the sync playbook uses, nothing else): one polls Git every
two seconds, the other takes signed push webhooks only and has a cluster
whose syncs wait for health briefly (so a broken application fails). Every
application has its own repository and namespace. No playbook is run by a
test after the first sync: what changes later is the rulebook's doing.
Counting is done on what the event source logged and on the parent's sync
history; each wait is bounded, and "nothing happened" is proven by a later
change that did happen (a barrier), never by a sleep.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from conftest import GitRepo, Kubectl

import local_cluster  # noqa: E402  # tests/integration/conftest.py puts hack/ on the path

WAIT = 180  # seconds any one expected change may take on a loaded machine
SECRET = "eda-test-secret"
REPO_ROOT = Path(__file__).resolve().parents[2]
LIVE_SOURCE = REPO_ROOT / "extensions" / "eda" / "plugins" / "event_source" / "live_changes.py"


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


def argo_application(name: str, repo: GitRepo, namespace: str, automated: bool = True, self_heal: bool = True) -> dict[str, Any]:
    policy: dict[str, Any] = {"syncOptions": ["CreateNamespace=true"]}
    if automated:
        policy["automated"] = {"prune": True, "selfHeal": self_heal}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
            "spec": {"source": {"repoURL": repo.url, "targetRevision": "main", "path": "app"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                     "syncPolicy": policy}}


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up after {timeout:.0f}s waiting until {what}"
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Activation:
    """One running ansible-rulebook -r gitops.kubernetes.reconcile, and what it logged."""

    proc: subprocess.Popen
    log_path: Path
    webhook_port: int

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def reports(self, app: str) -> list[str]:
        """The drift reports the live source logged for app, in order."""
        return re.findall(rf"application {re.escape(app)} on \S+: (live objects drifted.*|the last sync failed.*)", self.log())

    def wait_for_log(self, pattern: str, timeout: float = WAIT) -> None:
        wait_until(f"the rulebook logs {pattern!r}", lambda: re.search(pattern, self.log()) or self.proc.poll() is not None,
                   timeout)
        assert self.proc.poll() is None, f"ansible-rulebook stopped:\n{self.log()[-3000:]}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


def tool_env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{REPO_ROOT / '.tools' / 'bin'}:{os.environ.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".tools" / "collections"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCALHOST_WARNING": "false"}


def write_inventory(path: Path, kubeconfig: str, apps: list[dict[str, Any]], cache_dir: Path, **host_vars: Any) -> Path:
    path.write_text(yaml.safe_dump({"clusters": {"hosts": {"shared": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "gitops_kubeconfig": kubeconfig, "gitops_cache_dir": str(cache_dir), "gitops_applications": apps,
        "gitops_report_dir": "", **host_vars}}}}))
    return path


def sync_playbook(inventory: Path) -> None:
    """The first sync, as a user would run it (the rulebook does every later one)."""
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "gitops.kubernetes.sync"],
                          capture_output=True, text=True, env=tool_env(), timeout=900, check=False, cwd=inventory.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def start_activation(workdir: Path, inventory: Path, **variables: Any) -> Activation:
    port = free_port()
    vars_file = workdir / "vars.yml"
    vars_file.write_text(yaml.safe_dump({"gitops_webhook_port": port, **variables}))
    log_path = workdir / "rulebook.log"
    log = open(log_path, "w", encoding="utf-8")  # pylint: disable=consider-using-with  # the rulebook writes it while it runs
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ansible-rulebook"), "-r", "gitops.kubernetes.reconcile",
                             "-i", str(inventory), "--vars", str(vars_file), "-v"],
                            stdout=log, stderr=subprocess.STDOUT, env=tool_env(), cwd=workdir, start_new_session=True)
    activation = Activation(proc, log_path, port)
    try:
        activation.wait_for_log(r"live_changes - INFO - watching \d+ applications", timeout=300)
        activation.wait_for_log(r"new_revisions - INFO - watching \d+ repositories", timeout=120)
    except BaseException:
        activation.stop()
        raise
    return activation


def history(kubectl: Kubectl, app: str, namespace: str) -> list[dict[str, Any]]:
    parent = kubectl.get("configmap", f"applyset-{app}", "-n", namespace)
    return json.loads(parent["data"]["inventory"])["history"]


def data_of(kubectl: Kubectl, name: str, namespace: str) -> dict[str, str]:
    return kubectl.get("configmap", name, "-n", namespace).get("data") or {}


def events_on_parent(kubectl: Kubectl, app: str, namespace: str) -> list[dict[str, Any]]:
    found = kubectl.get("events", "-n", namespace, "--field-selector", f"involvedObject.name=applyset-{app}")["items"]
    return sorted(found, key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["creationTimestamp"], e["metadata"]["name"]))


@dataclass
class Fleet:
    """The applications of one activation: name -> (repository, namespace)."""

    activation: Activation
    apps: dict[str, tuple[GitRepo, str]]
    suffix: str

    def app(self, role: str) -> tuple[str, GitRepo, str]:
        name = f"eda-{role}-{self.suffix}"
        repo, namespace = self.apps[name]
        return name, repo, namespace


def make_repo(root: Path, name: str, manifests: list[dict[str, Any]]) -> GitRepo:
    path = root / name
    path.mkdir(parents=True)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.commit({"app/all.yaml": yaml.safe_dump_all(manifests)}, "first")
    return repo


def build_fleet(tmp: Path, kubeconfig: str, roles: dict[str, tuple[list[dict[str, Any]], bool, bool]],
                host_vars: dict[str, Any], variables: dict[str, Any]) -> Fleet:
    suffix = uuid.uuid4().hex[:6]
    apps, specs = {}, []
    for role, (manifests, automated, self_heal) in roles.items():
        name = f"eda-{role}-{suffix}"
        repo = make_repo(tmp / "remotes", name, manifests)
        apps[name] = (repo, name)
        specs.append(argo_application(name, repo, name, automated, self_heal))
    inventory = write_inventory(tmp / "inventory.yml", kubeconfig, specs, tmp / "cache", **host_vars)
    sync_playbook(inventory)
    return Fleet(start_activation(tmp, inventory, **variables), apps, suffix)


@pytest.fixture(scope="module")
def polling(cluster, kubectl, tmp_path_factory):
    """Activation 1: Git polled every 2 s; applications that heal, report, take a burst, ignore status, deploy."""
    tmp = tmp_path_factory.mktemp("eda-polling")
    ten = [configmap(f"item-{i}", value="git") for i in range(10)]
    fleet = build_fleet(tmp, cluster.kubeconfig, {
        "heal": ([configmap("settings", color="blue"), deployment("web")], True, True),
        "report": ([configmap("settings", color="blue")], True, False),
        "burst": (ten, True, True),
        "status": ([configmap("settings", color="blue"), deployment("web")], True, True),
        "deploy": ([configmap("settings", color="blue")], True, False),
    }, {"gitops_wait": False}, {"gitops_poll_interval": 2})
    yield fleet
    fleet.activation.stop()
    for repo, namespace in fleet.apps.values():
        kubectl.run("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def webhooks(cluster, kubectl, tmp_path_factory):
    """Activation 2: no polling, signed push webhooks; syncs wait 5 s for health and hooks, so a broken hook fails."""
    tmp = tmp_path_factory.mktemp("eda-webhooks")
    fleet = build_fleet(tmp, cluster.kubeconfig, {
        "hook": ([configmap("settings", color="blue")], True, False),
        "broken": ([configmap("settings", color="blue")], True, True),
    }, {"gitops_wait": True, "gitops_wait_timeout": 5}, {"gitops_poll_interval": 0, "gitops_webhook_secret": SECRET})
    yield fleet
    fleet.activation.stop()
    for repo, namespace in fleet.apps.values():
        kubectl.run("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_a_hand_edit_of_an_application_with_self_heal_is_reverted_by_the_rulebook(polling, kubectl):
    app, dummy, namespace = polling.app("heal")
    before = len(history(kubectl, app, namespace))
    kubectl.run("patch", "configmap", "settings", "-n", namespace, "-p", json.dumps({"data": {"color": "red"}}))
    wait_until("the edit is reverted", lambda: data_of(kubectl, "settings", namespace).get("color") == "blue")
    kubectl.run("scale", "deployment", "web", "-n", namespace, "--replicas=3")
    wait_until("the scale is reverted", lambda: kubectl.get("deployment", "web", "-n", namespace)["spec"]["replicas"] == 1)
    assert len(history(kubectl, app, namespace)) >= before + 2
    reasons = [(e["reason"], e["type"]) for e in events_on_parent(kubectl, app, namespace)]
    assert ("OperationStarted", "Normal") in reasons and ("ResourceUpdated", "Normal") in reasons
    assert ("OperationCompleted", "Normal") in reasons


def test_drift_of_an_application_without_self_heal_is_reported_and_left(polling, kubectl):
    app, dummy, namespace = polling.app("report")
    before = history(kubectl, app, namespace)
    kubectl.run("patch", "configmap", "settings", "-n", namespace, "-p", json.dumps({"data": {"color": "red"}}))
    polling.activation.wait_for_log(rf"{re.escape(app)} on shared: live objects drifted \(1 changed\); not healed \(selfHeal is off\)")
    assert data_of(kubectl, "settings", namespace)["color"] == "red"
    assert history(kubectl, app, namespace) == before


def test_ten_edits_in_one_second_are_one_report_and_one_sync(polling, kubectl):
    app, dummy, namespace = polling.app("burst")
    before = len(history(kubectl, app, namespace))
    # one kubectl apply of ten objects: ten edits within a fraction of a second, by another field manager
    kubectl.run("apply", "--server-side", "--force-conflicts", "--field-manager=hand", "-n", namespace, "-f", "-",
                input=yaml.safe_dump_all([configmap(f"item-{i}", value="hand") for i in range(10)]))
    wait_until("all ten are reverted", lambda: all(data_of(kubectl, f"item-{i}", namespace)["value"] == "git" for i in range(10)))
    # a barrier: one more edit, reported and healed after the burst was
    kubectl.run("patch", "configmap", "item-0", "-n", namespace, "-p", json.dumps({"data": {"value": "again"}}))
    wait_until("the barrier edit is reverted", lambda: data_of(kubectl, "item-0", namespace)["value"] == "git")
    wait_until("the barrier's sync is recorded", lambda: len(history(kubectl, app, namespace)) >= before + 2)
    reports = polling.activation.reports(app)
    assert reports[0].startswith("live objects drifted (10 changed)"), reports
    assert len(reports) == 2, reports
    assert len(history(kubectl, app, namespace)) == before + 2


def test_a_status_only_update_triggers_nothing(polling, kubectl):
    app, dummy, namespace = polling.app("status")
    kubectl.run("patch", "deployment", "web", "-n", namespace, "--subresource=status", "--type=merge",
                "-p", json.dumps({"status": {"observedGeneration": 77, "conditions": [
                    {"type": "Progressing", "status": "True", "reason": "ByHand", "message": "status only"}]}}))
    kubectl.run("annotate", "deployment", "web", "-n", namespace, "note=not-applied-by-git")  # a field Git never set
    kubectl.run("patch", "configmap", "settings", "-n", namespace, "-p", json.dumps({"data": {"color": "barrier"}}))
    wait_until("the barrier edit is reverted", lambda: data_of(kubectl, "settings", namespace).get("color") == "blue")
    assert polling.activation.reports(app)[0] == "live objects drifted (1 changed) (report 1; the next waits at least 2s)"
    assert len(polling.activation.reports(app)) == 1


def test_a_commit_pushed_to_the_repository_is_deployed_by_polling(polling, kubectl):
    app, repo, namespace = polling.app("deploy")
    sha = repo.commit({"app/all.yaml": yaml.safe_dump(configmap("settings", color="green"))}, "green")
    wait_until("the commit is deployed", lambda: data_of(kubectl, "settings", namespace).get("color") == "green")
    assert history(kubectl, app, namespace)[-1]["revision"] == sha
    completed = [e for e in events_on_parent(kubectl, app, namespace) if e["reason"] == "OperationCompleted"]
    assert completed[-1]["message"] == f"Sync to {sha[:12]} succeeded"


def post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_a_commit_is_deployed_on_a_signed_push_webhook_and_an_unsigned_one_is_refused(webhooks, kubectl):
    app, repo, namespace = webhooks.app("hook")
    sha = repo.commit({"app/all.yaml": yaml.safe_dump(configmap("settings", color="green"))}, "green")
    body = json.dumps({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": repo.url}}).encode()
    assert post(webhooks.activation.webhook_port, body, {})[0] == 401
    wrong = "sha256=" + hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
    assert post(webhooks.activation.webhook_port, body, {"X-Hub-Signature-256": wrong})[0] == 401
    assert data_of(kubectl, "settings", namespace)["color"] == "blue"  # polling is off: nothing moved yet
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    status, text = post(webhooks.activation.webhook_port, body, {"X-Hub-Signature-256": signature})
    assert status == 202 and json.loads(text) == {"applications": [app]}
    wait_until("the commit is deployed", lambda: data_of(kubectl, "settings", namespace).get("color") == "green")
    assert history(kubectl, app, namespace)[-1]["revision"] == sha


def hook_that_never_completes() -> dict[str, Any]:
    """A PreSync hook Job no node can run: every sync with work to do fails waiting for it, before its Sync phase."""
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never", "nodeSelector": {"gitops.test/nowhere": "true"},
                "containers": [{"name": "c", "image": "busybox"}]}}}}


def push_webhook(fleet: Fleet, repo: GitRepo, sha: str) -> tuple[int, str]:
    body = json.dumps({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": repo.url}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return post(fleet.activation.webhook_port, body, {"X-Hub-Signature-256": signature})


def logged_at(log: str, report: str) -> float:
    stamp = re.search(r"^(\S+ \S+),(\d+) - gitops.kubernetes.live_changes - INFO - application \S+ on \S+: " + re.escape(report), log, re.M)
    assert stamp, report
    return time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")) + int(stamp.group(2)) / 1000


def test_an_application_whose_sync_fails_is_retried_with_exponential_backoff(webhooks, kubectl):
    app, repo, namespace = webhooks.app("broken")
    sha = repo.commit({"app/all.yaml": yaml.safe_dump_all([configmap("settings", color="green"), hook_that_never_completes()])},
                      "a migration that cannot run")
    assert push_webhook(webhooks, repo, sha)[0] == 202
    wait_until("three failed syncs were reported", lambda: len(webhooks.activation.reports(app)) >= 3, timeout=600)
    reports = webhooks.activation.reports(app)[:3]
    for number, (report, delay) in enumerate(zip(reports, (2, 6, 18)), start=1):
        assert re.fullmatch(rf"the last sync failed: .*PreSync.*\(report {number}; the next waits at least {delay}s\)", report), reports
    log = webhooks.activation.log()
    times = [logged_at(log, report) for report in reports]
    assert times[1] - times[0] >= 2 and times[2] - times[1] >= 6  # never sooner than the backoff allows
    assert data_of(kubectl, "settings", namespace)["color"] == "blue"  # the Sync phase never ran
    assert [h["result"] for h in history(kubectl, app, namespace)[-3:]] == ["Failed"] * 3
    failures = [e for e in events_on_parent(kubectl, app, namespace) if e["reason"] == "OperationCompleted" and e["type"] == "Warning"]
    assert failures and failures[-1]["message"].startswith(f"Sync to {sha[:12]} failed: ")


# -- the watch itself: a dropped connection ---------------------------------------------------------------------


class CuttableProxy:
    """A TCP relay in front of the API server whose connections can be cut (TLS passes through untouched)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, dummy = self.server.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Drop every connection and refuse new ones until reopen()."""
        self.open.clear()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets = []

    def reopen(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.server.close()


def start_live_source(tmp_path: Path, inventory: Path) -> tuple[subprocess.Popen, Path]:
    """The event source as a process of its own (python live_changes.py INVENTORY prints its events)."""
    log_path = tmp_path / "source.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, str(REPO_ROOT / ".tools" / "collections" / "ansible_collections" / "gitops" /
                                                     "kubernetes" / LIVE_SOURCE.relative_to(REPO_ROOT)), str(inventory)],
                                stdout=log, stderr=subprocess.STDOUT, env=tool_env(), start_new_session=True)
    try:
        wait_until("the source watches", lambda: "watching 1 applications" in log_path.read_text(encoding="utf-8"), timeout=120)
    except BaseException:
        stop_process(proc)
        raise
    return proc, log_path


def stop_process(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def synced_application(tmp_path: Path, kubeconfig: str, namespace: str) -> tuple[str, GitRepo, Path]:
    app = f"eda-watch-{uuid.uuid4().hex[:6]}"
    repo = make_repo(tmp_path / "remotes", app, [configmap("settings", color="blue")])
    inventory = write_inventory(tmp_path / "inventory.yml", kubeconfig, [argo_application(app, repo, namespace)],
                                tmp_path / "cache", gitops_wait=False)
    sync_playbook(inventory)
    return app, repo, inventory


def test_the_live_source_survives_an_api_server_restart(tmp_path):
    """A control plane of this test's own (never the shared one): its kube-apiserver is killed and started again."""
    state_dir = tmp_path / "private-cluster"
    state = local_cluster.start(state_dir, nodes=1)
    try:
        kubectl = Kubectl(state.kubeconfig)
        kubectl.run("create", "namespace", "restarted")
        dummy, dummy_repo, inventory = synced_application(tmp_path, state.kubeconfig, "restarted")
        proc, log_path = start_live_source(tmp_path, inventory)
        try:
            argv = local_cluster.kill_apiserver(state_dir)
            wait_until("the source notices", lambda: "reconnecting" in log_path.read_text(encoding="utf-8"), timeout=60)
            local_cluster.restart_apiserver(state_dir, argv)
            kubectl.run("patch", "configmap", "settings", "-n", "restarted", "-p", json.dumps({"data": {"color": "red"}}))
            wait_until("the change after the restart is reported",
                       lambda: "'changed': ['ConfigMap restarted/settings']" in log_path.read_text(encoding="utf-8"))
            assert proc.poll() is None
        finally:
            stop_process(proc)
    finally:
        local_cluster.stop(state_dir, quiet=True)


def test_the_live_source_resumes_its_watch_after_the_connection_drops(cluster, kubectl, tmp_path, namespace):
    """The event source process through a proxy whose connections are cut while an edit happens."""
    app, repo, inventory = synced_application(tmp_path, cluster.kubeconfig, namespace)
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    upstream = int(config["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1])
    proxy = CuttableProxy(upstream)
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    proxied = tmp_path / "proxied-kubeconfig"
    proxied.write_text(yaml.safe_dump(config))
    write_inventory(inventory, str(proxied), [argo_application(app, repo, namespace)], tmp_path / "cache")
    proc, log_path = start_live_source(tmp_path, inventory)
    try:
        proxy.cut()
        wait_until("the source notices", lambda: "reconnecting" in log_path.read_text(encoding="utf-8"), timeout=60)
        # changed while nobody could watch: the resumed watch (from its resourceVersion) must deliver it
        kubectl.run("patch", "configmap", "settings", "-n", namespace, "-p", json.dumps({"data": {"color": "red"}}))
        proxy.reopen()
        wait_until("the change is reported",
                   lambda: "'changed': ['ConfigMap " + namespace + "/settings']" in log_path.read_text(encoding="utf-8"))
        assert proc.poll() is None
    finally:
        stop_process(proc)
        proxy.close()
