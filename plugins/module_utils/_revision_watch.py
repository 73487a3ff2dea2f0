# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""New revisions of the applications' Git sources (the new_revisions event source's engine).

Applications are grouped by repository: one ``git ls-remote`` per repository
per check, whatever the number of applications using it; each application's
branch, tag or HEAD is looked up in the answer the way a sync resolves it
(_source.git). An application whose commit differs from the one last seen
is reported, once per commit. What was last seen starts as the revision
recorded on the application's inventory (its last successful sync), so a
commit pushed while nothing watched is deployed at the start. A revision
that is a commit SHA never moves and is not polled.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import read_inventory
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.git import GitSource
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application
from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import RepoUrlError, normalize_repo_url

_COMMIT = frozenset("0123456789abcdef")


class WatchedApp(Protocol):
    name: str
    cluster: str
    namespace: str
    spec: Application
    automated: bool
    self_heal: bool


def _pinned(revision: str) -> bool:
    """A commit SHA (never moves) rather than a branch, tag or HEAD."""
    text = revision.strip().lower()
    return len(text) >= 7 and set(text) <= _COMMIT


@dataclass
class _Repository:
    source: GitSource
    apps: list[WatchedApp] = field(default_factory=list)


class RevisionWatcher:
    """Which applications have a new commit, one ls-remote per repository (thread-safe)."""

    def __init__(self, apps: list[WatchedApp], cache_dirs: dict[str, str | None] | None = None,
                 log: Callable[[str], None] = lambda message: None) -> None:
        """cache_dirs: the Git cache of each cluster (inventory host), as its sync uses it (default cache when absent)."""
        self.log = log
        self._lock = threading.Lock()
        self._repositories: dict[str, _Repository] = {}
        self._seen: dict[tuple[str, str], str | None] = {}  # (cluster, application) -> commit
        for app in apps:
            if _pinned(app.spec.source.revision):
                continue
            source = GitSource(app.spec.source, cache_dir=(cache_dirs or {}).get(app.cluster))
            repository = self._repositories.setdefault(str(source.mirror_dir), _Repository(source))
            repository.apps.append(app)
        self.ls_remotes = 0

    @property
    def repositories(self) -> list[str]:
        return sorted(repo.source.display_url for repo in self._repositories.values())

    def baseline(self, clients: dict[str, KubeClient]) -> None:
        """Start from the revision each application's inventory records (its last successful sync)."""
        for repository in self._repositories.values():
            for app in repository.apps:
                client = clients[app.cluster]
                try:
                    inventory = read_inventory(client, app.name, app.namespace or client.default_namespace)
                    self._seen[(app.cluster, app.name)] = inventory.revision
                except GitopsError as exc:
                    self.log(f"application {app.name}: cannot read its inventory ({exc}); its current commit counts as new")
                    self._seen[(app.cluster, app.name)] = None

    def repository_keys(self, url: str) -> list[str]:
        """The repositories (keys for check) a pushed URL names, compared the way sources normalise URLs."""
        try:
            wanted = normalize_repo_url(url.strip()).rstrip("/")
        except RepoUrlError:
            return []
        wanted = wanted[:-4] if wanted.endswith(".git") else wanted
        found = []
        for key, repository in self._repositories.items():
            have = repository.source.url.rstrip("/")
            if (have[:-4] if have.endswith(".git") else have) == wanted:
                found.append(key)
        return found

    def check(self, keys: list[str] | None = None) -> list[dict[str, Any]]:
        """ls-remote each repository (or those of keys) and report the applications whose commit moved."""
        reports = []
        for key, repository in list(self._repositories.items()):
            if keys is not None and key not in keys:
                continue
            try:
                refs = repository.source.remote_refs()
            except GitopsError as exc:
                self.log(f"cannot list the refs of {repository.source.display_url}: {exc}")
                continue
            with self._lock:
                self.ls_remotes += 1
                for app in repository.apps:
                    commit = GitSource.commit_in(app.spec.source.revision, refs)
                    if commit is None:
                        self.log(f"application {app.name}: revision {app.spec.source.revision!r} is not a branch or tag "
                                 f"of {repository.source.display_url}")
                        continue
                    if self._seen.get((app.cluster, app.name)) == commit:
                        continue
                    previous = self._seen.get((app.cluster, app.name))
                    self._seen[(app.cluster, app.name)] = commit
                    reports.append({
                        "type": "revision",
                        "application": app.name,
                        "cluster": app.cluster,
                        "namespace": app.namespace,
                        "automated": app.automated,
                        "self_heal": app.self_heal,
                        "repo_url": repository.source.display_url,
                        "revision": app.spec.source.revision,
                        "commit": commit,
                        "previous_commit": previous,
                        "reason": f"{app.spec.source.revision} of {repository.source.display_url} moved to {commit[:12]}",
                    })
        return reports
