# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes WATCH streams and what counts as a change that can be drift.

A WatchStream LISTs one resource (in one namespace, by a label selector),
then WATCHes it from the list's resourceVersion: a dropped connection resumes
from the last resourceVersion seen (bookmarks keep it fresh), ``410 Gone``
relists, and an unreachable API server is retried with capped exponential
backoff until it has been unreachable for ``give_up_after`` seconds.

A change can be drift only when it touches what the collection applied:
``drift_fingerprint`` projects an object on the fields its server-side
apply field manager owns (``metadata.managedFields``), so a status update,
a new resourceVersion, a controller's own annotation or a managedFields
reshuffle leave the fingerprint unchanged, while a ``kubectl edit`` or
``kubectl scale`` of an applied field changes it (the value, or the
ownership that moved to kubectl). ``our_write_time`` tells the collection's
own writes (a sync restoring the object) from everyone else's.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError, KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import FIELD_MANAGER, ApiResource, KubeClient

# seconds the API server keeps one watch open before we reconnect (from the same resourceVersion): at least
# this, at most twice this, drawn anew for each request as client-go's reflector does, so that hundreds of
# watches started together do not all reconnect in the same second every few minutes
WATCH_TIMEOUT = 300
GIVE_UP_AFTER = 300.0  # seconds without reaching the API server after which a stream reports failure
BACKOFF_CAP = 15.0

ADDED, MODIFIED, DELETED, RELISTED = "ADDED", "MODIFIED", "DELETED", "RELISTED"


def _project(value: Any, fields: dict[str, Any]) -> Any:
    """The parts of value named by a managedFields fieldsV1 set (missing parts as None)."""
    projected: dict[str, Any] = {}
    for key, sub in sorted(fields.items()):
        if key == ".":
            continue
        kind, text = key[:2], key[2:]
        if kind == "f:":
            child = value.get(text) if isinstance(value, dict) else None
        elif kind == "k:":
            try:
                wanted = json.loads(text)
            except ValueError:
                continue
            child = next((item for item in value or [] if isinstance(item, dict)
                          and all(item.get(k) == v for k, v in wanted.items())), None) if isinstance(value, list) else None
        elif kind == "v:":
            try:
                child = json.loads(text) in value if isinstance(value, list) else False
            except ValueError:
                continue
        elif kind == "i:":
            index = int(text) if text.isdigit() else -1
            child = value[index] if isinstance(value, list) and 0 <= index < len(value) else None
        else:
            continue
        leaf = not any(k != "." for k in (sub or {}))
        projected[key] = child if leaf or child is None else _project(child, sub)
    return projected


def our_fields(obj: dict[str, Any], manager: str = FIELD_MANAGER) -> dict[str, Any]:
    """The union of the fieldsV1 sets the collection's field manager holds on obj (main resource only)."""
    merged: dict[str, Any] = {}

    def merge(into: dict[str, Any], fields: dict[str, Any]) -> None:
        for key, sub in fields.items():
            merge(into.setdefault(key, {}), sub or {})

    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and not entry.get("subresource") and isinstance(entry.get("fieldsV1"), dict):
            merge(merged, entry["fieldsV1"])
    return merged


def drift_fingerprint(obj: dict[str, Any], manager: str = FIELD_MANAGER) -> str:
    """A digest of the values of the fields the collection applied, and of which fields those are."""
    fields = our_fields(obj, manager)
    document = {"fields": fields, "values": _project(obj, fields)}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def our_write_time(obj: dict[str, Any], manager: str = FIELD_MANAGER) -> str:
    """When the collection's field manager last changed obj's main resource ('' if never).

    A change that moved this time is the collection's own write (a sync); one that left it is someone
    else's. Comparing the collection's time with other managers' would not do: a ``kubectl scale``
    entry carries no time at all.
    """
    return max((entry.get("time") or "" for entry in (obj.get("metadata") or {}).get("managedFields") or []
                if entry.get("manager") == manager and not entry.get("subresource")), default="")


@dataclass
class WatchStream:
    """LIST then WATCH of one resource in one namespace (or cluster-wide) by a label selector, in a thread.

    on_event(kind, obj) gets ADDED/MODIFIED/DELETED for each change and, after every (re)list,
    RELISTED with {"items": [...]} so the receiver can see what went away while nobody watched.
    on_trouble(message) hears about reconnects; on_failure(message) once, when the stream gives up.
    """

    client: KubeClient
    resource: ApiResource
    namespace: str | None
    selector: str
    on_event: Callable[[str, dict[str, Any]], None]
    on_trouble: Callable[[str], None] = lambda message: None
    on_failure: Callable[[str], None] = lambda message: None
    watch_timeout: int = WATCH_TIMEOUT
    give_up_after: float = GIVE_UP_AFTER
    stop: threading.Event = field(default_factory=threading.Event)
    resource_version: str | None = None
    relists: int = 0
    reconnects: int = 0
    _thread: threading.Thread | None = None

    @property
    def what(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.resource.plural}.{self.resource.group or 'core'}{where} ({self.selector})"

    def start(self) -> "WatchStream":
        self._thread = threading.Thread(target=self.run, name=f"watch-{self.resource.plural}-{self.namespace}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop after the current read (at most the read timeout; the thread is a daemon)."""
        self.stop.set()

    def run(self) -> None:
        failing_since: float | None = None
        attempt = 0
        while not self.stop.is_set():
            try:
                if self.resource_version is None:
                    self._relist()
                self._watch()
                failing_since, attempt = None, 0
            except (ClusterConnectionError, KubeApiError) as exc:
                status = getattr(exc, "status", None)
                if status == 410:
                    self.resource_version = None  # too old: list again, then watch from there
                    continue
                if status in (401, 403, 404) or isinstance(exc, KubeApiError) and status is not None and status < 500 \
                        and status != 429:
                    self.on_failure(f"watch of {self.what} refused: {exc}")
                    return
                now = time.monotonic()
                failing_since = failing_since if failing_since is not None else now
                if now - failing_since > self.give_up_after:
                    self.on_failure(f"watch of {self.what} gave up after {self.give_up_after:.0f}s without the API server: {exc}")
                    return
                attempt += 1
                self.reconnects += 1
                self.on_trouble(f"watch of {self.what} interrupted ({exc}); reconnecting")
                self.stop.wait(min(BACKOFF_CAP, 0.5 * 2 ** (attempt - 1)) * (0.75 + random.random() / 2))

    def _relist(self) -> None:
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"labelSelector": self.selector, "limit": 500}
        while True:
            page = self.client.request("GET", self.resource.path(self.namespace), query=query, what=f"list {self.what}") or {}
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.resource.api_version)
                item.setdefault("kind", self.resource.kind)
                items.append(item)
            metadata = page.get("metadata") or {}
            if not metadata.get("continue"):
                self.resource_version = metadata.get("resourceVersion")
                break
            query["continue"] = metadata["continue"]
        self.relists += 1
        self.on_event(RELISTED, {"items": items})

    def _watch(self) -> None:
        timeout = self.watch_timeout + random.randrange(max(1, self.watch_timeout))
        query = {"watch": "1", "labelSelector": self.selector, "resourceVersion": self.resource_version,
                 "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout)}
        for line in self.client.stream_lines(self.resource.path(self.namespace), query=query,
                                             read_timeout=timeout + 30, what=f"watch {self.what}"):
            if self.stop.is_set():
                return
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                code = obj.get("code")
                raise KubeApiError(f"watch {self.what}: {obj.get('message') or obj.get('reason')}", status=code,
                                   reason=obj.get("reason"))
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.resource_version = version
            if kind in (ADDED, MODIFIED, DELETED):
                obj.setdefault("apiVersion", self.resource.api_version)
                obj.setdefault("kind", self.resource.kind)
                self.on_event(kind, obj)
