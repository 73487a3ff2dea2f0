"""RevisionWatcher: one ls-remote per repository, one report per application and new commit."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._revision_watch import RevisionWatcher
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, SourceSpec


@dataclass
class App:
    name: str
    spec: Application
    cluster: str = "prod"
    namespace: str = "shop"
    automated: bool = True
    self_heal: bool = False


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def repository(tmp_path: Path) -> Path:
    path = tmp_path / "remote"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "a.yaml").write_text("a: 1\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "one")
    git(path, "tag", "v1")
    return path


def app(name: str, remote: Path, revision: str) -> App:
    return App(name, Application(name, SourceSpec(repo_url=f"file://{remote}", revision=revision)))


def test_one_ls_remote_per_repository_and_one_report_per_new_commit(tmp_path):
    remote = repository(tmp_path)
    first = git(remote, "rev-parse", "HEAD")
    watcher = RevisionWatcher([app("a", remote, "main"), app("b", remote, "HEAD"), app("c", remote, "v1"),
                               app("pinned", remote, first)], {"prod": str(tmp_path / "cache")})
    assert [r["application"] for r in watcher.check()] == ["a", "b", "c"]  # nothing seen yet: the current commit is new
    assert watcher.ls_remotes == 1
    assert watcher.check() == []
    (remote / "a.yaml").write_text("a: 2\n")
    git(remote, "commit", "-qam", "two")
    second = git(remote, "rev-parse", "HEAD")
    reports = watcher.check()
    assert [(r["application"], r["commit"], r["previous_commit"]) for r in reports] == [("a", second, first), ("b", second, first)]
    assert watcher.ls_remotes == 3


def test_a_pushed_url_finds_its_repository_whatever_its_spelling(tmp_path):
    remote = repository(tmp_path)
    watcher = RevisionWatcher([app("a", remote, "main")], {"prod": str(tmp_path / "cache")})
    assert watcher.repository_keys(f"file://{remote}/") == watcher.repository_keys(f"file://{remote}.git") != []
    assert watcher.repository_keys("https://example.org/other.git") == []
