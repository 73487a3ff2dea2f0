"""Fixtures for tests against a real control plane, real git and ansible-playbook.

One local control plane serves the whole test run (hack/local_cluster.py); with
pytest-xdist the first worker starts it under a file lock, the others reuse it,
and the controlling process stops it at the end. To test against a cluster of
your own, set GITOPS_TEST_KUBECONFIG (a stray KUBECONFIG is deliberately not
used, so a test run never touches a cluster you did not name for it).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
import local_cluster  # noqa: E402
from role_helpers import role_runner  # noqa: E402

CLUSTER_STATE_DIR = REPO / "tests" / "output" / "cluster"
STARTED_MARKER = CLUSTER_STATE_DIR / "started-by-tests"
ANSIBLE_TIMEOUT = 600


@dataclass
class Cluster:
    kubeconfig: str
    server: str


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    integration_dir = Path(__file__).parent
    for item in items:
        if integration_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # only the controlling process (not an xdist worker) stops what the tests started
    if hasattr(session.config, "workerinput") or not STARTED_MARKER.exists():
        return
    if not os.environ.get("GITOPS_TEST_KEEP_CLUSTER"):
        local_cluster.stop(CLUSTER_STATE_DIR, quiet=True)
    STARTED_MARKER.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    external = os.environ.get("GITOPS_TEST_KUBECONFIG")
    if external:
        config = yaml.safe_load(Path(external).read_text())
        return Cluster(kubeconfig=external, server=config["clusters"][0]["cluster"]["server"])
    CLUSTER_STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CLUSTER_STATE_DIR / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = local_cluster.running(CLUSTER_STATE_DIR)
        if state is None:
            state = local_cluster.start(CLUSTER_STATE_DIR)
            STARTED_MARKER.touch()
    return Cluster(kubeconfig=state.kubeconfig, server=state.server)


@dataclass
class Kubectl:
    """The real kubectl (built with the control plane) as an independent observer."""

    kubeconfig: str

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [local_cluster.find_binary("kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input, capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.run("get", "-o", "json", *args).stdout)

    def exists(self, *args: str) -> bool:
        return self.run("get", *args, check=False).returncode == 0

    def apply(self, manifest: str | dict | list, *args: str) -> None:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump_all(manifest if isinstance(manifest, list) else [manifest])
        self.run("apply", "--server-side", "-f", "-", *args, input=text)

    def wait(self, condition: str, target: str, namespace: str | None = None, timeout: int = 90) -> None:
        ns = ["-n", namespace] if namespace else []
        self.run("wait", f"--for={condition}", target, *ns, f"--timeout={timeout}s", timeout=timeout + 30)


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    return Kubectl(cluster.kubeconfig)


@pytest.fixture
def run_role(tmp_path: Path, cluster: Cluster) -> Any:
    """The applications role through ansible-playbook against the test cluster (role_helpers.role_runner)."""
    return role_runner(tmp_path, cluster)


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@dataclass
class GitRepo:
    """A real git repository in a temporary directory, built commit by commit."""

    path: Path
    commits: list[str] = field(default_factory=list)

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.org",
            "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.org",
        }
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, env=env, timeout=60, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, for None, delete) files relative to the repository root."""
        for relative, content in files.items():
            target = self.path / relative
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(content).lstrip("\n"))

    def commit(self, files: dict[str, str | None], message: str = "update") -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        sha = self.git("rev-parse", "HEAD")
        self.commits.append(sha)
        return sha

    @property
    def url(self) -> str:
        return f"file://{self.path}"


@pytest.fixture
def git_repo(tmp_path: Path):
    """Factory: git_repo() -> an empty repository on branch main."""

    def make(name: str = "apps") -> GitRepo:
        path = tmp_path / "remotes" / name
        path.mkdir(parents=True)
        repo = GitRepo(path)
        repo.git("init", "-q", "-b", "main")
        return repo

    return make


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: dict[str, Any]  # every registered variable listed in `register_names`

    def __getitem__(self, name: str) -> Any:
        return self.results[name]


@pytest.fixture
def playbook_vars(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Play vars for ansible_playbook: gitops_test_kubeconfig only for tests that use the cluster
    (through cluster, kubectl or namespace), so render-only tests never start one."""
    if "cluster" not in request.fixturenames:
        return {}
    return {"gitops_test_kubeconfig": request.getfixturevalue("cluster").kubeconfig}


@pytest.fixture
def ansible_playbook(tmp_path: Path, playbook_vars: dict[str, Any]):
    """Run tasks through the real ansible-playbook and return registered results.

    ``run(tasks, extra_vars=None, check=False, diff=False, verbosity=0)``: tasks
    is YAML text (a task list); every ``register:`` name is dumped to JSON
    after the play, even when a task failed, so tests can read what it said.
    """

    def run(tasks: str, extra_vars: dict | None = None, check: bool = False, diff: bool = False,
            verbosity: int = 0, env: dict[str, str] | None = None) -> PlaybookRun:
        task_list = yaml.safe_load(textwrap.dedent(tasks)) or []
        registered = sorted({task["register"] for task in _walk_tasks(task_list) if "register" in task})
        out = tmp_path / f"results-{uuid.uuid4().hex[:8]}.json"
        dump = {
            "name": "Dump registered results",
            "ansible.builtin.copy": {
                "dest": str(out),
                "content": "{{ {" + ", ".join(f"'{n}': ({n} | default(None))" for n in registered) + "} | to_json }}",
                "mode": "0600",
            },
            "check_mode": False,
        }
        play = [{
            "name": "test play", "hosts": "localhost", "connection": "local", "gather_facts": False,
            "vars": dict(playbook_vars),
            "tasks": [{"block": task_list, "always": [dump]}],
        }]
        playbook = tmp_path / f"play-{uuid.uuid4().hex[:8]}.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", "localhost,"]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if verbosity:
            argv.append("-" + "v" * verbosity)
        run_env = {
            **os.environ,
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            **(env or {}),
        }
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=run_env, timeout=ANSIBLE_TIMEOUT, check=False)
        results = json.loads(out.read_text()) if out.exists() else {}
        if os.environ.get("GITOPS_TEST_SHOW_PLAYBOOK"):
            print(f"ansible-playbook took {time.monotonic() - started:.1f}s\n{proc.stdout}\n{proc.stderr}")
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, results)

    return run


def _walk_tasks(tasks: list[dict]) -> list[dict]:
    found = []
    for task in tasks:
        found.append(task)
        for key in ("block", "rescue", "always"):
            found += _walk_tasks(task.get(key, []))
    return found
