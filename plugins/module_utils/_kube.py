# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster connection: discovery and raw JSON requests.

One KubeClient per module run. The connection comes from _kubeconfig (the
options as kubernetes.core has them); requests go through a urllib3 pool
and return plain dicts: the kubernetes client's model classes are never
built, which keeps large LISTs cheap.

Discovery is fetched once per process (the aggregated v2 document: two
requests for the whole cluster) and cached on disk for DISCOVERY_TTL seconds.
Every request is counted, so callers and benchmarks can report API cost.
Transient failures (429, 5xx, dropped connections) are retried a bounded
number of times; 401/403/unreachable become ClusterConnectionError with a
message naming the server, never a credential.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar
from urllib.parse import quote, urlencode

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import (
    ClusterConnectionError,
    KubeApiError,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import (  # noqa: F401 - part of this API
    ConnectionSettings,
    ResolvedConnection,
    resolve_connection,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef, split_api_version
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials

try:
    import urllib3

    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR: str | None = None
except ImportError:
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR = traceback.format_exc()

T = TypeVar("T")
R = TypeVar("R")

# The field manager every apply of this collection uses; drift is judged
# against the fields it owns.
FIELD_MANAGER = "gitops.kubernetes"
DISCOVERY_TTL = 600.0
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 4
LIST_PAGE_SIZE = 500
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

# Argument spec mirrored by doc_fragments/_kube_connection.py (option names as
# in kubernetes.core, including its K8S_AUTH_* environment fallbacks).
KUBE_CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "kubeconfig": {"type": "raw", "env": "K8S_AUTH_KUBECONFIG"},
    "context": {"type": "str", "env": "K8S_AUTH_CONTEXT"},
    "host": {"type": "str", "env": "K8S_AUTH_HOST"},
    "api_key": {"type": "str", "no_log": True, "env": "K8S_AUTH_API_KEY"},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "env": "K8S_AUTH_SSL_CA_CERT"},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "env": "K8S_AUTH_CERT_FILE"},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False, "env": "K8S_AUTH_KEY_FILE"},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "env": "K8S_AUTH_VERIFY_SSL"},
}


def kube_connection_argument_spec() -> dict[str, dict[str, Any]]:
    """KUBE_CONNECTION_ARGS as an AnsibleModule argument spec (with env fallbacks)."""
    from ansible.module_utils.basic import env_fallback

    spec: dict[str, dict[str, Any]] = {}
    for name, option in KUBE_CONNECTION_ARGS.items():
        option = dict(option)
        env = option.pop("env", None)
        if env:
            option["fallback"] = (env_fallback, [env])
        spec[name] = option
    return spec


# --------------------------------------------------------------------------
# discovery


@dataclass(frozen=True)
class ApiResource:
    """One served resource type (a kind in one group/version)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection (or of one object with name)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
        return base

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group, "version": self.version, "kind": self.kind, "plural": self.plural,
            "namespaced": self.namespaced, "verbs": list(self.verbs),
        }


@dataclass
class Discovery:
    """Served resources indexed by (group, kind); versions in preference order."""

    resources: list[ApiResource]
    fetched_at: float
    from_cache: bool = False
    _by_group_kind: dict[tuple[str, str], list[ApiResource]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for resource in self.resources:
            self._by_group_kind.setdefault((resource.group, resource.kind), []).append(resource)

    def find(self, api_version: str, kind: str) -> ApiResource | None:
        """The resource serving kind at api_version, or None."""
        group, version = split_api_version(api_version)
        for resource in self._by_group_kind.get((group, kind), []):
            if resource.version == version:
                return resource
        return None

    def preferred(self, group: str, kind: str) -> ApiResource | None:
        """The preferred served version of group/kind, or None."""
        found = self._by_group_kind.get((group, kind))
        return found[0] if found else None

    def served_versions(self, group: str, kind: str) -> list[str]:
        return [r.api_version for r in self._by_group_kind.get((group, kind), [])]

    def to_json(self) -> str:
        return json.dumps({"fetched_at": self.fetched_at, "resources": [r.to_dict() for r in self.resources]})

    @classmethod
    def from_json(cls, text: str) -> "Discovery":
        data = json.loads(text)
        resources = [
            ApiResource(r["group"], r["version"], r["kind"], r["plural"], r["namespaced"], tuple(r.get("verbs") or ()))
            for r in data["resources"]
        ]
        return cls(resources, float(data["fetched_at"]), from_cache=True)


AGGREGATED_DISCOVERY_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)


def parse_aggregated_discovery(document: dict[str, Any]) -> list[ApiResource]:
    """Resources from an apidiscovery.k8s.io/v2 APIGroupDiscoveryList."""
    found: list[ApiResource] = []
    for group_entry in document.get("items") or []:
        group = (group_entry.get("metadata") or {}).get("name") or ""
        for version_entry in group_entry.get("versions") or []:
            version = version_entry.get("version") or ""
            for res in version_entry.get("resources") or []:
                kind = (res.get("responseKind") or {}).get("kind")
                if not kind or "/" in (res.get("resource") or "/"):
                    continue
                found.append(ApiResource(
                    group, version, kind, res["resource"], res.get("scope") == "Namespaced", tuple(res.get("verbs") or ()),
                ))
    return found


def parse_resource_list(group: str, version: str, document: dict[str, Any]) -> list[ApiResource]:
    """Resources from a legacy APIResourceList (subresources skipped)."""
    return [
        ApiResource(group, version, res["kind"], res["name"], bool(res.get("namespaced")), tuple(res.get("verbs") or ()))
        for res in document.get("resources") or []
        if "/" not in res.get("name", "/")
    ]


# --------------------------------------------------------------------------
# the client


@dataclass
class RequestStats:
    """Requests sent to the API server (retries included), by verb."""

    total: int = 0
    by_verb: dict[str, int] = field(default_factory=dict)
    retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_verb": dict(sorted(self.by_verb.items())), "retries": self.retries}


def default_parallelism() -> int:
    """Threads for dry-runs and applies: enough to hide latency, bounded for the API server."""
    return min(32, (os.cpu_count() or 1) + 4)


class KubeClient:
    """Raw JSON access to one cluster: discovery, LIST, GET, server-side apply, DELETE."""

    def __init__(
        self,
        connection: ResolvedConnection,
        *,
        parallelism: int | None = None,
        cache_dir: str | None = None,
        field_manager: str = FIELD_MANAGER,
        retries: int = DEFAULT_RETRIES,
        timeout: float = DEFAULT_TIMEOUT,
        pool_manager: Any = None,
    ) -> None:
        self.connection = connection
        self.server = connection.server
        self.default_namespace = connection.default_namespace
        self.parallelism = max(1, parallelism or default_parallelism())
        self.cache_dir = os.path.expanduser(cache_dir) if cache_dir else None
        self.field_manager = field_manager
        self.retries = max(0, retries)
        self.timeout = timeout
        self.stats = RequestStats()
        self._stats_lock = threading.Lock()
        self._discovery: Discovery | None = None
        self._server_version: str | None = None
        self._discovery_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        if pool_manager is None:
            if not HAS_URLLIB3:
                raise ClusterConnectionError("the 'urllib3' Python library (installed with 'kubernetes') is required")
            pool_manager = connection.pool_manager(self.parallelism + 4)
        self._pool = pool_manager

    @classmethod
    def from_params(cls, params: dict[str, Any], **kwargs: Any) -> "KubeClient":
        """A client from module parameters (connection options, parallelism, cache_dir)."""
        parallelism = params.get("parallelism") or default_parallelism()
        connection = resolve_connection(ConnectionSettings.from_params(params))
        return cls(connection, parallelism=parallelism, cache_dir=params.get("cache_dir"), **kwargs)

    # ---------------------------------------------------------------- HTTP

    def _headers(self, content_type: str | None, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": f"{FIELD_MANAGER}/ansible"}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(self.connection.auth_headers())
        return headers

    def _count(self, method: str, retry: bool) -> None:
        with self._stats_lock:
            self.stats.total += 1
            self.stats.by_verb[method] = self.stats.by_verb.get(method, 0) + 1
            if retry:
                self.stats.retries += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        not_found_ok: bool = False,
        what: str | None = None,
    ) -> dict[str, Any] | None:
        """Send one request and return the decoded JSON body.

        Retries 429/5xx and dropped connections up to `retries` times with
        jittered exponential backoff (honouring Retry-After, capped). Returns
        None for 404 when not_found_ok. Raises ClusterConnectionError for an
        unreachable server, 401 and 403 on discovery; KubeApiError otherwise.
        """
        url = self.server + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        payload = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode("utf-8"))
        if payload is not None and content_type is None:
            content_type = "application/json"
        attempt = 0
        while True:
            self._count(method, attempt > 0)
            try:
                response = self._pool.request(
                    method, url, body=payload, headers=self._headers(content_type, accept),
                    timeout=urllib3.Timeout(connect=min(10.0, self.timeout), read=self.timeout),
                    retries=False, preload_content=True, redirect=False,
                )
            except urllib3.exceptions.HTTPError as exc:
                if _is_tls_error(exc):  # retrying will not fix a certificate
                    raise ClusterConnectionError(
                        f"TLS verification with the API server at {self.server} failed ({_short_reason(exc)}); "
                        "set ca_cert to the cluster CA, or validate_certs=false for a test cluster"
                    ) from None
                if attempt < self.retries:
                    attempt += 1
                    self._backoff(attempt, None)
                    continue
                raise ClusterConnectionError(
                    f"cannot reach the Kubernetes API server at {self.server}: {_short_reason(exc)} "
                    f"(after {attempt + 1} attempts; connection from {self.connection.description})"
                ) from None
            status = response.status
            if status in RETRYABLE_STATUS and attempt < self.retries and not _is_permanent(status, response.data):
                attempt += 1
                self._backoff(attempt, response.headers.get("Retry-After"))
                continue
            data = _decode(response.data)
            if 200 <= status < 300:
                return data if isinstance(data, dict) else {}
            if status == 404 and not_found_ok:
                return None
            raise self._error(status, data, method, path, what)

    def stream_lines(self, path: str, *, query: dict[str, Any] | None = None, read_timeout: float = 330.0,
                     what: str | None = None) -> Iterator[bytes]:
        """GET path and yield the response body line by line as it arrives (a WATCH), without retries.

        The caller owns reconnection (it knows the resourceVersion to resume from). A dropped
        connection raises ClusterConnectionError; a refusal raises KubeApiError as request() does.
        """
        url = self.server + path + ("?" + urlencode({k: v for k, v in query.items() if v is not None}) if query else "")
        self._count("WATCH", False)
        try:
            response = self._pool.request(
                "GET", url, headers=self._headers(None, "application/json"),
                timeout=urllib3.Timeout(connect=min(10.0, self.timeout), read=read_timeout),
                retries=False, preload_content=False, redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterConnectionError(f"cannot reach the Kubernetes API server at {self.server}: {_short_reason(exc)}") from None
        try:
            if response.status != 200:
                raise self._error(response.status, _decode(response.read()), "WATCH", path, what)
            pending = b""
            try:
                for chunk in response.stream(64 * 1024, decode_content=True):
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield line
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ClusterConnectionError(f"the watch on {self.server} was interrupted: {_short_reason(exc)}") from None
            if pending.strip():
                yield pending
        finally:
            # a watch stopped midway leaves unread data: the connection is closed, never reused with it
            response.close()
            response.release_conn()

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        delay = min(8.0, 0.2 * (2 ** (attempt - 1)))
        if retry_after:
            try:
                delay = min(10.0, max(delay, float(retry_after)))
            except ValueError:
                pass
        time.sleep(delay * (0.75 + random.random() / 2))

    def _error(self, status: int, data: Any, method: str, path: str, what: str | None) -> Exception:
        reason = data.get("reason") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        details = data.get("details") if isinstance(data, dict) and isinstance(data.get("details"), dict) else None
        if status == 401:
            return ClusterConnectionError(
                f"the API server at {self.server} rejected the credentials (401 Unauthorized) from "
                f"{self.connection.description}; check the token, client certificate or context"
            )
        target = what or f"{method} {path}"
        if status == 403 and what is None:
            return ClusterConnectionError(
                f"the API server at {self.server} denied access (403 Forbidden) to {target} for the identity in "
                f"{self.connection.description}: {message or 'forbidden'}"
            )
        text = message or (data if isinstance(data, str) and data else "") or reason or "no details"
        if status == 403:
            return KubeApiError(
                f"{target}: access denied (403 Forbidden) to the identity in {self.connection.description}: {text}",
                status=status, reason=reason, details=details,
            )
        return KubeApiError(f"{target}: {status} {reason or ''} {text}".replace("  ", " ").strip(), status=status, reason=reason,
                            details=details)

    # ---------------------------------------------------------------- discovery

    def _discovery_cache_file(self) -> Path | None:
        if not self.cache_dir:
            return None
        key = hashlib.sha256(self.server.encode("utf-8")).hexdigest()[:24]
        return Path(self.cache_dir) / "discovery" / f"{key}.json"

    def discovery(self, refresh: bool = False) -> Discovery:
        """Served resources: from memory, the on-disk cache (fresh for DISCOVERY_TTL) or the server."""
        with self._discovery_lock:
            if self._discovery is not None and not refresh:
                return self._discovery
            cache_file = self._discovery_cache_file()
            if not refresh and cache_file is not None and cache_file.exists():
                try:
                    cached = Discovery.from_json(cache_file.read_text())
                    if time.time() - cached.fetched_at < DISCOVERY_TTL:
                        self._discovery = cached
                        return cached
                except (OSError, ValueError, KeyError, TypeError):
                    pass  # a corrupt cache is refetched
            self._discovery = self._fetch_discovery()
            if cache_file is not None:
                try:
                    cache_file.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.{threading.get_ident()}")
                    tmp.write_text(self._discovery.to_json())
                    tmp.replace(cache_file)  # atomic: parallel runs never read half a file
                except OSError:
                    pass  # caching is an optimisation
            return self._discovery

    def refresh_discovery_if_cached(self) -> bool:
        """Refetch discovery if it came from disk (a CRD may have appeared since). True if refetched."""
        if self._discovery is not None and self._discovery.from_cache:
            self.discovery(refresh=True)
            return True
        return False

    def _fetch_discovery(self) -> Discovery:
        resources: list[ApiResource] = []
        core = self.request("GET", "/api", accept=AGGREGATED_DISCOVERY_ACCEPT) or {}
        groups = self.request("GET", "/apis", accept=AGGREGATED_DISCOVERY_ACCEPT) or {}
        if core.get("kind") == "APIGroupDiscoveryList" and groups.get("kind") == "APIGroupDiscoveryList":
            resources += parse_aggregated_discovery(core)
            resources += parse_aggregated_discovery(groups)
            return Discovery(resources, time.time())
        # servers before aggregated discovery (< 1.26): one request per group version
        paths = [("", version, f"/api/{version}") for version in core.get("versions") or ["v1"]]
        for group in groups.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions = [v["version"] for v in group.get("versions") or []]
            versions.sort(key=lambda v: v != preferred)  # preferred first
            paths += [(group["name"], v, f"/apis/{group['name']}/{v}") for v in versions]

        def fetch(entry: tuple[str, str, str]) -> list[ApiResource]:
            group_name, version, path = entry
            try:
                return parse_resource_list(group_name, version, self.request("GET", path) or {})
            except KubeApiError:
                return []  # an unavailable aggregated API must not break discovery of the rest

        for found in self.map(fetch, paths):
            resources += found
        return Discovery(resources, time.time())

    def server_version(self) -> str:
        """The API server's gitVersion (GET /version, once per client)."""
        with self._discovery_lock:
            if self._server_version is None:
                document = self.request("GET", "/version", what="read the API server version") or {}
                self._server_version = str(document.get("gitVersion") or "unknown")
            return self._server_version

    def resource_for(self, api_version: str, kind: str) -> ApiResource | None:
        """The served resource for apiVersion/kind (discovery refreshed once on a miss from the disk cache)."""
        found = self.discovery().find(api_version, kind)
        if found is None and self.refresh_discovery_if_cached():
            found = self.discovery().find(api_version, kind)
        return found

    # ---------------------------------------------------------------- verbs

    def list_objects(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """All objects of a resource (in a namespace, or everywhere), paged, with apiVersion/kind set."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": LIST_PAGE_SIZE, "labelSelector": label_selector}
        what = f"list {resource.plural}.{resource.group or 'core'}" + (f" in namespace {namespace}" if namespace else "")
        restarted = False
        while True:
            try:
                page = self.request("GET", resource.path(namespace), query=query, what=what) or {}
            except KubeApiError as exc:
                if exc.status == 410 and query.get("continue") and not restarted:
                    # the continue token expired under a long listing: start over once
                    items, restarted = [], True
                    query.pop("continue", None)
                    continue
                raise
            for item in page.get("items") or []:
                item.setdefault("apiVersion", resource.api_version)
                item.setdefault("kind", resource.kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def get(self, resource: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """One object, or None if it does not exist."""
        what = f"get {ObjectRef(resource.group, resource.kind, namespace or '', name)}"
        return self.request("GET", resource.path(namespace, name), not_found_ok=True, what=what)

    def apply(
        self,
        resource: ApiResource,
        manifest: dict[str, Any],
        *,
        dry_run: bool = False,
        force_conflicts: bool = False,
        field_manager: str | None = None,
        validate: bool = True,
    ) -> dict[str, Any]:
        """Server-side apply (PATCH application/apply-patch+yaml); dry_run asks for dryRun=All.

        force_conflicts takes over fields other managers own instead of failing with 409; validate=False asks
        for fieldValidation=Ignore (kubectl apply --validate=false, Argo CD's Validate=false).
        """
        metadata = manifest.get("metadata") or {}
        namespace = metadata.get("namespace") if resource.namespaced else None
        query = {
            "fieldManager": field_manager or self.field_manager,
            "force": "true" if force_conflicts else None,
            "dryRun": "All" if dry_run else None,
            "fieldValidation": None if validate else "Ignore",
        }
        what = f"{'dry-run ' if dry_run else ''}apply {ObjectRef(resource.group, resource.kind, namespace or '', metadata.get('name') or '')}"
        # JSON is YAML, and the API server parses it as such
        return self.request(
            "PATCH", resource.path(namespace, metadata.get("name") or ""), query=query, body=manifest,
            content_type="application/apply-patch+yaml", what=what,
        ) or {}

    def create(self, resource: ApiResource, manifest: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """POST a new object (for generateName objects such as hooks, which apply cannot address)."""
        metadata = manifest.get("metadata") or {}
        namespace = metadata.get("namespace") if resource.namespaced else None
        name = metadata.get("name") or f"{metadata.get('generateName') or ''}*"
        what = f"{'dry-run ' if dry_run else ''}create {ObjectRef(resource.group, resource.kind, namespace or '', name)}"
        query = {"fieldManager": self.field_manager, "dryRun": "All" if dry_run else None}
        return self.request("POST", resource.path(namespace), query=query, body=manifest, what=what) or {}

    def replace(self, resource: ApiResource, manifest: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """PUT the whole object (Argo CD's Replace=true); the manifest needs the live resourceVersion."""
        metadata = manifest.get("metadata") or {}
        namespace = metadata.get("namespace") if resource.namespaced else None
        what = f"{'dry-run ' if dry_run else ''}replace {ObjectRef(resource.group, resource.kind, namespace or '', metadata.get('name') or '')}"
        query = {"fieldManager": self.field_manager, "dryRun": "All" if dry_run else None}
        return self.request(
            "PUT", resource.path(namespace, metadata.get("name") or ""), query=query, body=manifest, what=what,
        ) or {}

    def delete(
        self,
        resource: ApiResource,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str = "Background",
        dry_run: bool = False,
        uid: str | None = None,
    ) -> dict[str, Any] | None:
        """Delete one object; None if it was already gone.

        propagation_policy is Foreground, Background or Orphan (any case). With uid, the API server deletes
        only the object of that uid (a precondition) and answers 409 if the name now holds another one.
        """
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation_policy.capitalize()}
        if dry_run:
            body["dryRun"] = ["All"]
        if uid:
            body["preconditions"] = {"uid": uid}
        what = f"delete {ObjectRef(resource.group, resource.kind, namespace or '', name)}"
        return self.request("DELETE", resource.path(namespace, name), body=body, not_found_ok=True, what=what)

    # ---------------------------------------------------------------- concurrency

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """fn over items in the bounded pool, results in input order (first exception re-raised)."""
        items = list(items)
        if len(items) <= 1 or self.parallelism == 1:
            return [fn(item) for item in items]
        with self._executor_lock:  # several applications may start the pool at once
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="gitops-kube")
            executor = self._executor
        return list(executor.map(fn, items))

    def close(self) -> None:
        """Stop the worker threads and drop pooled connections."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        clear = getattr(self._pool, "clear", None)
        if clear:
            clear()

    def __enter__(self) -> "KubeClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _decode(data: bytes | None) -> Any:
    if not data:
        return {}
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")[:500]


def _is_permanent(status: int, data: bytes | None) -> bool:
    """A 500 that is the answer, not a hiccup: server-side apply reports a patch the schema rejects this way."""
    return status == 500 and b"failed to create typed patch object" in (data or b"")


def _is_tls_error(exc: BaseException) -> bool:
    """A certificate problem (retrying will not help), raised bare or wrapped by urllib3."""
    return isinstance(exc, urllib3.exceptions.SSLError) or isinstance(getattr(exc, "reason", None), urllib3.exceptions.SSLError)


def _short_reason(exc: BaseException) -> str:
    """A one-line cause without URLs carrying credentials."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    for marker in ("Failed to establish a new connection: ", "] "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)  # OpenSSL source positions help nobody
    return strip_url_credentials(text).strip(" '\")")[:200]
