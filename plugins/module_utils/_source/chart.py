# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Helm chart from a chart repository or an OCI registry, as a verified archive in the cache.

`fetch_chart(source, credentials, cache_dir)` resolves the source's revision
(an exact version, or a constraint resolved to the highest matching version
as Argo CD does) and returns the chart archive. Archives are kept under
`<cache_dir>/charts/<repository key>/<chart>/<version>.tgz` with their sha256
digest beside them: a pinned version already there costs no network request
at all, and the digest is checked on every use. A constraint costs one index
(or tag list) request per repository and process, shared by every
application of a module run. helm_repo.py and oci.py speak the two protocols.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_use import hold
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential, find_credential
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.semver import SemverError, Version, is_version, max_version

MAX_CHART_BYTES = 100 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class ChartArchive:
    """One chart version, verified, on disk."""

    repo_url: str
    chart: str
    version: str
    digest: str  # "sha256:<hex>" of the archive
    path: Path
    fetched: bool  # whether the network was used

    @property
    def revision(self) -> str:
        """What the application records where a Git source records its commit."""
        return f"{self.version}@{self.digest}"

    @property
    def label(self) -> str:
        """How files of the chart are named in messages: '<repoURL> <chart>@<version>'."""
        return f"{self.repo_url} {self.chart}@{self.version}"


def is_oci(repo_url: str) -> bool:
    return repo_url.lower().startswith("oci://")


def credential_kind(repo_url: str) -> str:
    return "oci" if is_oci(repo_url) else "helm"


def check_chart_name(chart: str) -> None:
    if not _SAFE_NAME.match(chart) or ".." in chart:
        raise SourceError(f"chart name {chart!r} is not valid (letters, digits, '.', '_', '-', '+')")


def pick_version(revision: str, available: list[str], what: str) -> str:
    """The version the revision selects among `available`; SourceError naming the versions there are."""
    try:
        chosen = max_version(revision, available)
    except SemverError as err:
        raise SourceError(f"{revision!r} is neither a chart version nor a version constraint ({err})") from None
    if chosen is None:
        newest = sorted((entry for entry in available if is_version(entry)), key=_version_key, reverse=True)[:10]
        listed = ", ".join(newest) if newest else "none"
        wanted = f"version {revision!r}" if is_version(revision) else f"version matching {revision!r}"
        raise SourceError(f"{what} has no {wanted} (newest versions: {listed})")
    return chosen


def _version_key(text: str) -> Version:
    return Version.parse(text)


class ChartCache:
    """Verified chart archives on disk, by repository, chart and version."""

    def __init__(self, cache_dir: str, repo_url: str) -> None:
        key = hashlib.sha256(repo_url.rstrip("/").encode()).hexdigest()[:16]
        self.directory = Path(os.path.expanduser(cache_dir)) / "charts" / key

    def _hold(self) -> None:
        """This process renders from the repository's archives: cache eviction leaves them until it exits."""
        hold(self.directory / ".inuse")

    def _paths(self, chart: str, version: str) -> tuple[Path, Path]:
        safe_version = version.replace("/", "_")
        base = self.directory / chart / safe_version
        return base.with_name(f"{safe_version}.tgz"), base.with_name(f"{safe_version}.json")

    def load(self, chart: str, version: str) -> tuple[Path, str] | None:
        """(archive, digest) when the archive is there and still has the digest recorded for it."""
        archive, meta = self._paths(chart, version)
        try:
            self._hold()
            digest = json.loads(meta.read_text(encoding="utf-8"))["digest"]
            if sha256_digest(archive.read_bytes()) == digest:
                os.utime(archive)  # last used: cache eviction removes the least recently used archives first
                return archive, digest
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def store(self, chart: str, version: str, content: bytes) -> tuple[Path, str]:
        archive, meta = self._paths(chart, version)
        digest = sha256_digest(content)
        try:
            archive.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._hold()
            for path, data in ((archive, content), (meta, json.dumps({"digest": digest}).encode())):
                handle, temp = tempfile.mkstemp(dir=archive.parent, prefix=".tmp-")
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                os.replace(temp, path)  # atomic: a concurrent reader sees the old file or the whole new one
        except OSError as err:
            raise SourceError(f"the chart cache {self.directory} cannot be written: {err.strerror}") from None
        return archive, digest


def sha256_digest(content: bytes) -> str:
    return f"sha256:{hashlib.sha256(content).hexdigest()}"


def fetch_chart(repo_url: str, chart: str, revision: str, credentials: list[RepositoryCredential], cache_dir: str,
                pass_credentials: bool = False) -> ChartArchive:
    """Resolve and fetch a chart; SourceError naming the repository and chart on any failure."""
    from ansible_collections.gitops.kubernetes.plugins.module_utils._source import helm_repo, oci

    check_chart_name(chart)
    credential = find_credential(repo_url, credential_kind(repo_url), credentials)
    cache = ChartCache(cache_dir, repo_url)
    if is_version(revision):
        cached = cache.load(chart, revision)
        if cached is not None:
            return ChartArchive(repo_url, chart, revision, cached[1], cached[0], fetched=False)
    if is_oci(repo_url):
        return oci.fetch(repo_url, chart, revision, credential, cache)
    return helm_repo.fetch(repo_url, chart, revision, credential, cache, pass_credentials)
