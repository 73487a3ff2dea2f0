# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""New chart versions for the new_revisions event source: one request per chart repository per check.

A Helm chart repository is one index.yaml for all its charts; an OCI registry
has one repository (a tag list) per chart. Each is asked once per check,
whatever the number of applications using it, with If-None-Match (its ETag)
or If-Modified-Since (its Last-Modified) when the server gave them, so an
unchanged index costs a 304 and no parsing. Each application's constraint is
resolved as a sync resolves it (_source.chart.pick_version: the highest
matching version, prereleases only when asked for), and an application is
reported when that version differs from the one last seen, which starts as
the version its last successful sync recorded. An exact version never moves
and is not polled, as a commit SHA is not.

Credentials are the ones a sync uses (the repositories option, the role's
gitops_repositories, matched by URL prefix); messages and events name
repositories without them.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import helm_repo, oci
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.chart import credential_kind, is_oci, pick_version
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential, find_credential
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.semver import is_version
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.transport import Response
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SourceSpec

# a Last-Modified this close to the answer's Date may be followed by a change within the same second,
# which If-Modified-Since (one-second resolution) would hide: such a date is not used
LAST_MODIFIED_MARGIN = 2.0  # seconds


@dataclass
class ChartUser:
    """One chart source of one application."""

    app: Any  # a WatchedApp (see _revision_watch)
    source: SourceSpec
    index: int  # the source's position among the application's sources

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.app.cluster, self.app.name, self.index)


@dataclass
class ChartPoll:
    """One request per check: a chart repository's index.yaml, or an OCI repository's tag list."""

    repo_url: str  # as the applications give it
    chart: str  # OCI: the chart whose repository is listed; a chart repository: '' (one index for every chart)
    credential: RepositoryCredential | None
    users: list[ChartUser] = field(default_factory=list)
    validators: dict[str, str] = field(default_factory=dict)  # If-None-Match / If-Modified-Since for the next request
    versions: dict[str, list[str]] = field(default_factory=dict)  # chart -> versions of the last full answer

    @property
    def display_url(self) -> str:
        shown = strip_url_credentials(self.repo_url)
        return f"{shown.rstrip('/')}/{self.chart}" if self.chart else shown


def chart_sources(app: Any) -> list[tuple[int, SourceSpec]]:
    """The application's chart sources that follow a constraint (an exact version is never polled)."""
    return [(index, source) for index, source in enumerate(app.spec.sources)
            if source.chart and not source.ref_only and not is_version(source.revision.strip())]


class ChartWatcher:
    """Which applications have a new chart version, one request per repository (called under the caller's lock)."""

    def __init__(self, apps: list[Any], credentials: dict[str, list[RepositoryCredential]] | None = None,
                 log: Callable[[str], None] = lambda message: None) -> None:
        """credentials: the repositories entries of each cluster (inventory host), as its sync uses them."""
        self.log = log
        self.polls: dict[tuple[Any, ...], ChartPoll] = {}
        self.requests = 0
        for app in apps:
            for index, source in chart_sources(app):
                url = source.repo_url.strip()
                credential = find_credential(url, credential_kind(url), (credentials or {}).get(app.cluster) or [])
                chart = source.chart if is_oci(url) else ""
                key = (url.rstrip("/"), chart, credential)
                poll = self.polls.setdefault(key, ChartPoll(url, chart, credential))
                poll.users.append(ChartUser(app, source, index))

    @property
    def repositories(self) -> list[str]:
        return sorted({poll.display_url for poll in self.polls.values()})

    def users(self) -> list[ChartUser]:
        return [user for poll in self.polls.values() for user in poll.users]

    def check(self, seen: dict[tuple[str, str, int], str | None]) -> list[dict[str, Any]]:
        """Ask each repository once; report the applications whose resolved version moved (seen is updated)."""
        reports = []
        for poll in self.polls.values():
            try:
                changed = self._refresh(poll)
            except GitopsError as exc:
                self.log(f"cannot read the chart versions of {poll.display_url}: {exc}")
                continue
            if not changed and all(user.key in seen for user in poll.users):
                continue  # 304: nothing can have moved
            for user in poll.users:
                report = self._resolve(poll, user, seen)
                if report is not None:
                    reports.append(report)
        return reports

    def _refresh(self, poll: ChartPoll) -> bool:
        """Ask the repository; whether its answer changed (False on a 304)."""
        headers = dict(poll.validators)
        self.requests += 1
        if poll.chart:
            registry = oci.registry_for(poll.repo_url, poll.chart, poll.credential)
            tags, response = oci.fetch_tags(registry, headers or None)
            if tags is None:
                return False
            poll.versions = {poll.chart: tags}
        else:
            response = helm_repo.get_index(poll.repo_url, poll.credential, headers or None)
            if response.status == 304:
                return False
            entries = helm_repo.parse_index(poll.display_url, response.body)
            poll.versions = {str(name): [str(entry.get("version")) for entry in versions if isinstance(entry, dict)]
                             for name, versions in entries.items() if isinstance(versions, list)}
        poll.validators = _validators(response)
        return True

    def _resolve(self, poll: ChartPoll, user: ChartUser, seen: dict[tuple[str, str, int], str | None]) -> dict[str, Any] | None:
        app, source = user.app, user.source
        available = poll.versions.get(source.chart)
        if not available:
            self.log(f"application {app.name}: chart {source.chart!r} is not in {poll.display_url}")
            return None
        try:
            version = pick_version(source.revision.strip(), available, f"chart {source.chart!r} in {poll.display_url}")
        except GitopsError as exc:
            self.log(f"application {app.name}: {exc}")
            return None
        previous = seen.get(user.key)
        if previous == version:
            return None
        seen[user.key] = version
        shown = strip_url_credentials(source.repo_url.strip())
        return revision_event(app, shown, source.revision,
                              f"chart {source.chart} {source.revision} of {shown} resolves to {version}"
                              + (f" (was {previous})" if previous else ""),
                              chart=source.chart, version=version, previous_version=previous, commit=None,
                              previous_commit=None)


def revision_event(app: Any, repo_url: str, revision: str, reason: str, **details: Any) -> dict[str, Any]:
    """The new_revisions event of one application (a new commit, or a new chart version): repo_url is shown, so it
    carries no credentials; details say what moved."""
    return {"type": "revision", "application": app.name, "cluster": app.cluster, "namespace": app.namespace,
            "automated": app.automated, "self_heal": app.self_heal, "repo_url": repo_url, "revision": revision,
            "reason": reason, **details}


def _validators(response: Response | None) -> dict[str, str]:
    """The conditional headers for the next request: the ETag, else a Last-Modified safely older than the answer."""
    if response is None:
        return {}
    etag = response.headers.get("etag")
    if etag:
        return {"If-None-Match": etag}
    modified, date = response.headers.get("last-modified"), response.headers.get("date")
    try:
        if modified and date and (email.utils.parsedate_to_datetime(date) - email.utils.parsedate_to_datetime(modified)
                                  ).total_seconds() >= LAST_MODIFIED_MARGIN:
            return {"If-Modified-Since": modified}
    except (TypeError, ValueError):
        pass
    return {}


def recorded_version(revision: str | None) -> str | None:
    """The chart version of a recorded revision ('1.2.5@sha256:...' -> '1.2.5')."""
    return revision.split("@", 1)[0] if revision else None
