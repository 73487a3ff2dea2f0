# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm charts in OCI registries, through the OCI distribution API (what `helm pull oci://` does).

`oci://host/path` + chart `name` is the repository `path/name` on `host`.
Tags are listed once per repository and process (`/v2/<name>/tags/list`,
following pagination); Helm stores a version's `+` as `_` in a tag, and this
reads it back the same way. The chart is the manifest's layer of media type
`application/vnd.cncf.helm.chart.content.v1.tar+gzip`, checked against its
digest. Registries answer 401 with a challenge: Basic is answered with the
credentials, Bearer with a token fetched from the realm (with the
credentials), cached per scope for the process.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import urlencode, urljoin

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.chart import (
    MAX_CHART_BYTES,
    ChartArchive,
    ChartCache,
    pick_version,
    sha256_digest,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.semver import is_version
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.transport import (
    AccessDeniedError,
    NotFoundError,
    Response,
    basic_auth,
    http_get,
)

CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_TAG_PAGES = 50
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')

# (registry, repository) -> its tags, and (registry, scope) -> bearer token, for the life of the process
_tags: dict[tuple[str, str], list[str]] = {}
_tokens: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def split_oci_url(repo_url: str, chart: str) -> tuple[str, str]:
    """('https://host', 'path/chart') for oci://host/path and chart."""
    rest = repo_url[len("oci://"):].strip("/")
    host, dummy, path = rest.partition("/")
    if not host:
        raise SourceError(f"{repo_url} names no registry host")
    return f"https://{host}", f"{path}/{chart}" if path else chart


class _Registry:
    def __init__(self, base: str, repository: str, credential: RepositoryCredential | None, shown: str) -> None:
        self.base, self.repository, self.credential, self.shown = base, repository, credential, shown
        self.scope = f"repository:{repository}:pull"

    def get(self, path: str, what: str, max_bytes: int, headers: dict[str, str] | None = None,
            allow_status: tuple[int, ...] = ()) -> Response:
        url = urljoin(self.base, path)
        with _lock:
            token = _tokens.get((self.base, self.scope))
        authorization = {"Authorization": f"Bearer {token}"} if token else basic_auth(self.credential)
        response = http_get(url, self.credential, what=what, max_bytes=max_bytes, headers=headers,
                            authorization=authorization, auth_origin=self.base, allow_status=(401, *allow_status))
        if response.status != 401:
            return response
        challenge = response.headers.get("www-authenticate", "")
        if challenge.lower().startswith("bearer "):
            token = self._token(challenge)
            response = http_get(url, self.credential, what=what, max_bytes=max_bytes, headers=headers,
                                authorization={"Authorization": f"Bearer {token}"}, auth_origin=self.base,
                                allow_status=(401, *allow_status))
        if response.status == 401:
            given = "the credentials given were refused" if (self.credential and self.credential.username) else \
                "no credentials matched this URL (see the repositories option)"
            raise AccessDeniedError(f"OCI registry {self.shown} refused access (HTTP 401): {given}")
        return response

    def _token(self, challenge: str) -> str:
        fields = dict(_CHALLENGE.findall(challenge))
        realm = fields.get("realm")
        if not realm:
            raise SourceError(f"OCI registry {self.shown} asked for a token without saying where to get one")
        query = urlencode({"service": fields.get("service", ""), "scope": fields.get("scope") or self.scope})
        response = http_get(f"{realm}?{query}", self.credential, what="OCI registry token service",
                            max_bytes=MAX_MANIFEST_BYTES, auth_origin=realm)
        try:
            body = json.loads(response.body)
            token = str(body.get("token") or body.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise SourceError(f"the token service of OCI registry {self.shown} gave no token")
        with _lock:
            _tokens[(self.base, self.scope)] = token
        return token


def list_tags(registry: _Registry) -> list[str]:
    """Every tag of the repository, `_` read back as `+`; once per process."""
    key = (registry.base, registry.repository)
    with _lock:
        if key in _tags:
            return _tags[key]
    tags, dummy = fetch_tags(registry)
    with _lock:
        _tags[key] = tags or []
    return tags or []


def fetch_tags(registry: _Registry, headers: dict[str, str] | None = None) -> tuple[list[str] | None, Response | None]:
    """(every tag, the first page's response), uncached; (None, response) when conditional headers got a 304."""
    tags: list[str] = []
    first: Response | None = None
    path = f"/v2/{registry.repository}/tags/list"
    for dummy in range(MAX_TAG_PAGES):
        try:
            response = registry.get(path, "OCI registry", MAX_MANIFEST_BYTES, headers=headers if first is None else None,
                                    allow_status=(304,) if headers and first is None else ())
        except NotFoundError:
            raise SourceError(f"chart {registry.repository.rsplit('/', 1)[-1]!r} is not in OCI registry {registry.shown} "
                              f"(no repository {registry.repository})") from None
        if first is None:
            first = response
            if response.status == 304:
                return None, response
        try:
            tags += [str(tag).replace("_", "+") for tag in json.loads(response.body).get("tags") or []]
        except (ValueError, AttributeError):
            raise SourceError(f"OCI registry {registry.shown} answered the tag list with something that is not JSON") from None
        match = re.search(r"<([^>]+)>;\s*rel=\"?next\"?", response.headers.get("link", ""))
        if not match:
            break
        path = match.group(1)
    return tags, first


def fetch(repo_url: str, chart: str, revision: str, credential: RepositoryCredential | None, cache: ChartCache) -> ChartArchive:
    base, repository = split_oci_url(repo_url, chart)
    registry = _Registry(base, repository, credential, repo_url)
    if is_version(revision):
        version = revision  # Argo CD pulls a pinned version by its tag without listing the others
    else:
        version = pick_version(revision, list_tags(registry), f"chart {chart!r} in {repo_url}")
    cached = cache.load(chart, version)
    if cached is not None:
        return ChartArchive(repo_url, chart, version, cached[1], cached[0], fetched=True)
    tag = version.replace("+", "_")
    try:
        manifest_response = registry.get(f"/v2/{repository}/manifests/{tag}", f"chart {chart!r} {version} in OCI registry",
                                         MAX_MANIFEST_BYTES, headers={"Accept": MANIFEST_TYPES})
    except NotFoundError:
        raise SourceError(f"chart {chart!r} has no version {version!r} in OCI registry {repo_url}") from None
    layer = _chart_layer(manifest_response.body, chart, version, repo_url)
    blob = registry.get(f"/v2/{repository}/blobs/{layer['digest']}", f"chart {chart!r} {version} archive", MAX_CHART_BYTES)
    if sha256_digest(blob.body) != layer["digest"]:
        raise SourceError(f"chart {chart!r} {version} from {repo_url}: the archive does not have the digest its manifest "
                          f"gives; refused")
    path, digest = cache.store(chart, version, blob.body)
    return ChartArchive(repo_url, chart, version, digest, path, fetched=True)


def _chart_layer(body: bytes, chart: str, version: str, repo_url: str) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
        layers = [layer for layer in manifest.get("layers") or [] if layer.get("mediaType") == CHART_LAYER]
    except (ValueError, AttributeError):
        layers = []
    if not layers or not str(layers[0].get("digest", "")).startswith("sha256:"):
        raise SourceError(f"{repo_url}/{chart}:{version} is no Helm chart (its manifest has no {CHART_LAYER} layer)")
    return layers[0]


def registry_for(repo_url: str, chart: str, credential: RepositoryCredential | None) -> _Registry:
    """The OCI repository of a chart (oci://host/path + chart), for callers that list its tags themselves."""
    base, repository = split_oci_url(repo_url, chart)
    return _Registry(base, repository, credential, repo_url)
