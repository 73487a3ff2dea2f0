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

Chart sources (a Helm chart repository or an OCI registry, with a version
constraint) are polled by _chart_watch.py the same way: one request per
repository per check, one report per application whose resolved version moved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ansible_collections.gitops.kubernetes.plugins.module_utils._chart_watch import ChartWatcher, recorded_version, revision_event
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import read_inventory
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential
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
                 log: Callable[[str], None] = lambda message: None,
                 credentials: dict[str, list[RepositoryCredential]] | None = None) -> None:
        """cache_dirs: the Git cache of each cluster (inventory host), as its sync uses it (default cache when absent);
        credentials: the chart repositories' entries of each cluster (the repositories option its sync is given)."""
        self.log = log
        self._lock = threading.Lock()
        self._charts_lock = threading.Lock()
        self._repositories: dict[str, _Repository] = {}
        self._seen: dict[tuple[str, str], str | None] = {}  # (cluster, application) -> commit
        self.charts = ChartWatcher(apps, credentials, log)
        # (cluster, application, source index) -> chart version
        self._seen_versions: dict[tuple[str, str, int], str | None] = {}
        for app in apps:
            if app.spec.source.chart or _pinned(app.spec.source.revision):
                continue  # a chart source is the chart watcher's
            source = GitSource(app.spec.source, cache_dir=(cache_dirs or {}).get(app.cluster))
            repository = self._repositories.setdefault(str(source.mirror_dir), _Repository(source))
            repository.apps.append(app)
        self.ls_remotes = 0

    @property
    def repositories(self) -> list[str]:
        return sorted(repo.source.display_url for repo in self._repositories.values()) + self.charts.repositories

    @property
    def chart_requests(self) -> int:
        return self.charts.requests

    def baseline(self, clients: dict[str, KubeClient]) -> None:
        """Start from the revision each application's inventory records (its last successful sync)."""
        inventories: dict[tuple[str, str], Any] = {}

        def inventory_of(app: WatchedApp) -> Any:
            """The application's inventory, or the GitopsError reading it: read once for all its sources."""
            key = (app.cluster, app.name)
            if key not in inventories:
                client = clients[app.cluster]
                try:
                    inventories[key] = read_inventory(client, app.name, app.namespace or client.default_namespace)
                except GitopsError as exc:
                    inventories[key] = exc
            return inventories[key]

        for repository in self._repositories.values():
            for app in repository.apps:
                inventory = inventory_of(app)
                if isinstance(inventory, GitopsError):
                    self.log(f"application {app.name}: cannot read its inventory ({inventory}); its current commit "
                             "counts as new")
                    self._seen[(app.cluster, app.name)] = None
                else:
                    self._seen[(app.cluster, app.name)] = inventory.revision
        for user in self.charts.users():
            inventory = inventory_of(user.app)
            if isinstance(inventory, GitopsError):
                self.log(f"application {user.app.name}: cannot read its inventory ({inventory}); its current chart version "
                         f"counts as new")
                self._seen_versions[user.key] = None
                continue
            # a multi-source application records every source's revision in its last history entry
            latest = inventory.history[-1] if inventory.history else {}
            revisions = latest.get("revisions") if isinstance(latest.get("revisions"), list) else [inventory.revision]
            recorded = revisions[user.index] if user.index < len(revisions) else None
            self._seen_versions[user.key] = recorded_version(str(recorded)) if recorded else None

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
        """ls-remote each repository (or those of keys, from a push webhook) and ask each chart repository (not for
        keys), and report the applications whose commit or chart version moved."""
        reports = []
        if keys is None:
            with self._charts_lock:  # not self._lock: a push webhook's Git check need not wait for chart servers
                reports += self.charts.check(self._seen_versions)
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
                    shown = repository.source.display_url
                    reports.append(revision_event(app, shown, app.spec.source.revision,
                                                  f"{app.spec.source.revision} of {shown} moved to {commit[:12]}",
                                                  commit=commit, previous_commit=previous))
        return reports
