# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP(S) Helm chart repositories: index.yaml, version resolution, the archive checked against the index's digest.

The index is read once per repository and process (every application of a
module run shares it); the archive URL may be relative to the repository or
on another host, which gets the repository's credentials only when the
application sets helm.passCredentials, as in Helm.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urljoin

try:
    import yaml
except ImportError:  # the modules report the missing library with missing_required_lib()
    yaml = None  # type: ignore[assignment]

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.chart import (
    MAX_CHART_BYTES,
    ChartArchive,
    ChartCache,
    pick_version,
    sha256_digest,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.transport import NotFoundError, Response, http_get

MAX_INDEX_BYTES = 256 * 1024 * 1024  # large public repositories publish indexes of tens of MiB

# the index of a large repository is slow to parse in pure Python: libyaml's loader when there is one
_Loader: Any = getattr(yaml, "CSafeLoader", None) or getattr(yaml, "SafeLoader", None)

# repository URL -> its parsed index, for the life of the process (one module run)
_indexes: dict[str, dict[str, Any]] = {}
_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def index_url(repo_url: str) -> str:
    return repo_url.rstrip("/") + "/index.yaml"


def load_index(repo_url: str, credential: RepositoryCredential | None) -> dict[str, Any]:
    """The repository's index entries (chart name -> list of versions), fetched once per process."""
    with _locks_lock:
        lock = _locks.setdefault(repo_url, threading.Lock())
    with lock:
        if repo_url in _indexes:
            return _indexes[repo_url]
        response = get_index(repo_url, credential)
        _indexes[repo_url] = parse_index(repo_url, response.body)
        return _indexes[repo_url]


def get_index(repo_url: str, credential: RepositoryCredential | None, headers: dict[str, str] | None = None) -> Response:
    """The index.yaml response, uncached; with conditional headers a 304 answer is returned as is."""
    try:
        return http_get(index_url(repo_url), credential, what="chart repository index", max_bytes=MAX_INDEX_BYTES,
                        headers=headers, allow_status=(304,) if headers else ())
    except NotFoundError:
        raise SourceError(f"{repo_url} is no Helm chart repository: it has no index.yaml (HTTP 404)") from None


def parse_index(repo_url: str, body: bytes) -> dict[str, Any]:
    """The entries of an index.yaml (chart name -> list of versions); SourceError naming the repository."""
    try:
        document = yaml.load(body, Loader=_Loader)  # nosec: SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SourceError(f"the index of {repo_url} is not valid YAML{where}") from None
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise SourceError(f"the index of {repo_url} has no entries: it is no Helm chart repository index")
    return entries


def fetch(repo_url: str, chart: str, revision: str, credential: RepositoryCredential | None, cache: ChartCache,
          pass_credentials: bool) -> ChartArchive:
    entries = load_index(repo_url, credential)
    versions = entries.get(chart)
    if not isinstance(versions, list) or not versions:
        known = sorted(str(name) for name in entries)[:20]
        raise SourceError(f"chart {chart!r} is not in the index of {repo_url} (charts there: {', '.join(known) or 'none'})")
    by_version = {str(entry.get("version")): entry for entry in versions if isinstance(entry, dict)}
    version = pick_version(revision, list(by_version), f"chart {chart!r} in {repo_url}")
    cached = cache.load(chart, version)
    if cached is not None:
        return ChartArchive(repo_url, chart, version, cached[1], cached[0], fetched=True)
    entry = by_version[version]
    urls = entry.get("urls") if isinstance(entry.get("urls"), list) else []
    if not urls:
        raise SourceError(f"chart {chart!r} {version} in {repo_url} has no download URL in the index")
    url = urljoin(repo_url.rstrip("/") + "/", str(urls[0]))
    response = http_get(url, credential, what=f"chart {chart!r} {version} archive", max_bytes=MAX_CHART_BYTES,
                        auth_origin=repo_url, pass_credentials=pass_credentials)
    expected = str(entry.get("digest") or "")
    if expected and sha256_digest(response.body) != f"sha256:{expected.removeprefix('sha256:')}":
        raise SourceError(f"chart {chart!r} {version} from {repo_url}: the archive does not have the digest the index "
                          f"gives (sha256:{expected.removeprefix('sha256:')[:12]}...); refused")
    path, digest = cache.store(chart, version, response.body)
    return ChartArchive(repo_url, chart, version, digest, path, fetched=True)
