# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live drift of the applications of one cluster, from WATCH streams (the live_changes event source's engine).

What is watched follows the inventories: the ApplySet parents of the
applications (ConfigMaps, by their id label, per destination namespace) are
watched, and each parent's member list says which kinds in which namespaces
to watch, by the members' ``applyset.kubernetes.io/part-of`` label; one
stream serves every application with members of that kind there. When a
sync changes an inventory, the streams follow.

A change is drift when an object of the inventory was deleted, or changed a
field the collection applied (see _watch.drift_fingerprint) and the write
was not the collection's own. Changes are coalesced per application: an
application is reported once its changes have been quiet for ``coalesce``
seconds (at most ``coalesce_max`` after the first), so ``kubectl apply`` of
ten objects is one report.

Reports to an application back off as Argo CD's self-heal does: the first
at once, then after ``backoff`` x ``factor`` ** (n - 1) seconds (capped),
and the count starts over once the application stayed quiet for
``backoff_reset`` seconds. A sync that failed (a ``Failed`` entry in the
parent's history) is reported again when the backoff allows, so a broken
application is retried ever more slowly instead of in a loop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    ID_LABEL,
    PARENT_KIND,
    PART_OF_LABEL,
    Inventory,
    application_applyset_id,
    parent_name,
    parse_parent,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._watch import (
    DELETED,
    GIVE_UP_AFTER,
    RELISTED,
    WatchStream,
    drift_fingerprint,
    our_write_time,
)

MAX_REPORTED_OBJECTS = 20


class WatchedApp(Protocol):
    name: str
    cluster: str
    namespace: str
    automated: bool
    self_heal: bool


@dataclass
class Timing:
    """How changes become reports (seconds)."""

    coalesce: float = 0.5  # one kubectl apply's writes land within milliseconds; a heal waits this long
    coalesce_max: float = 5.0
    backoff: float = 2.0
    factor: float = 3.0
    backoff_max: float = 300.0
    backoff_reset: float = 300.0

    def delay(self, attempts: int) -> float:
        """How long after the previous report the next may go, once `attempts` reports went out."""
        return 0.0 if attempts <= 0 else min(self.backoff_max, self.backoff * self.factor ** (attempts - 1))


@dataclass
class _AppState:
    app: WatchedApp
    namespace: str  # where the parent is: the destination, or the connection's default namespace
    set_id: str
    inventory: Inventory | None = None
    last_history_id: int = 0
    changed: set[ObjectRef] = field(default_factory=set)
    deleted: set[ObjectRef] = field(default_factory=set)
    failure: str = ""  # the message of a failed sync to retry
    first_seen: float | None = None
    last_seen: float = 0.0
    attempts: int = 0
    last_report: float | None = None


def _last_entry(inventory: Inventory) -> dict[str, Any]:
    return max(inventory.history, key=lambda h: int(h.get("id") or 0), default={})


class LiveMonitor:
    """Watches one cluster's applications and says which drifted (thread-safe; reports pulled with due())."""

    def __init__(self, client: KubeClient, cluster: str, apps: list[WatchedApp], timing: Timing | None = None,
                 log: Callable[[str], None] = lambda message: None,
                 clock: Callable[[], float] = time.monotonic, give_up_after: float = GIVE_UP_AFTER) -> None:
        self.client = client
        self.cluster = cluster
        self.timing = timing or Timing()
        self.log = log
        self.clock = clock
        self.give_up_after = give_up_after
        self.failures: list[str] = []  # streams that gave up: the source stops with these
        self._lock = threading.RLock()
        self._apps: dict[str, _AppState] = {}
        for app in apps:
            namespace = app.namespace or client.default_namespace
            self._apps[app.name] = _AppState(app, namespace, application_applyset_id(app.name, namespace))
        self._by_set_id = {state.set_id: state for state in self._apps.values()}
        # (group, kind, namespace or '') -> stream; members' fingerprints by set id and object
        self._streams: dict[tuple[str, str, str], WatchStream] = {}
        self._selectors: dict[tuple[str, str, str], str] = {}
        self._fingerprints: dict[tuple[str, ObjectRef], tuple[str, str]] = {}  # (drift fingerprint, our write time)
        self._parent_streams: list[WatchStream] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        configmaps = self.client.resource_for("v1", PARENT_KIND)
        if configmaps is None:
            raise GitopsError("the cluster does not serve v1 ConfigMap, where the inventories are kept")
        by_namespace: dict[str, list[str]] = {}
        for state in self._apps.values():
            by_namespace.setdefault(state.namespace, []).append(state.set_id)
        for namespace, ids in sorted(by_namespace.items()):
            stream = WatchStream(self.client, configmaps, namespace, f"{ID_LABEL} in ({','.join(sorted(ids))})",
                                 self._on_parent_event, on_trouble=self.log, on_failure=self._failed,
                                 give_up_after=self.give_up_after)
            self._parent_streams.append(stream.start())

    def close(self) -> None:
        with self._lock:
            for stream in self._parent_streams + list(self._streams.values()):
                stream.close()

    def _failed(self, message: str) -> None:
        self.log(message)
        with self._lock:
            self.failures.append(message)

    @property
    def applications(self) -> list[str]:
        return sorted(self._apps)

    @property
    def ready(self) -> bool:
        """Every stream listed once: changes from now on are seen (what drifted before is the starting point)."""
        with self._lock:
            return all(stream.relists > 0 for stream in self._parent_streams + list(self._streams.values()))

    # ------------------------------------------------------------------ parents

    def _on_parent_event(self, kind: str, obj: dict[str, Any]) -> None:
        with self._lock:
            parents = obj["items"] if kind == RELISTED else [obj]
            for parent in parents:
                metadata = parent.get("metadata") or {}
                state = self._by_set_id.get((metadata.get("labels") or {}).get(ID_LABEL) or "")
                if state is None or metadata.get("name") != parent_name(state.app.name):
                    continue
                if kind == DELETED:
                    state.inventory = None
                    continue
                try:
                    inventory = parse_parent(parent, state.app.name, state.namespace)
                except GitopsError as exc:
                    self.log(f"application {state.app.name}: {exc}")
                    continue
                first = state.inventory is None and state.last_history_id == 0
                entry = _last_entry(inventory)
                entry_id = int(entry.get("id") or 0)
                if entry_id > state.last_history_id:
                    if not first and entry.get("result") == "Failed":
                        state.failure = str(entry.get("message") or "the sync failed")
                        self._touch(state)
                    elif entry.get("result") == "Succeeded":
                        state.failure = ""
                    state.last_history_id = entry_id
                state.inventory = inventory
            self._follow_inventories()

    def _follow_inventories(self) -> None:
        """Watch exactly the (kind, namespace) pairs the inventories hold, each by the ids of its applications."""
        wanted: dict[tuple[str, str, str], set[str]] = {}
        for state in self._apps.values():
            for ref in (state.inventory.members if state.inventory else ()):
                wanted.setdefault((ref.group, ref.kind, ref.namespace), set()).add(state.set_id)
        discovery = self.client.discovery()
        for key, ids in wanted.items():
            selector = f"{PART_OF_LABEL} in ({','.join(sorted(ids))})"
            if self._selectors.get(key) == selector:
                continue
            resource = discovery.preferred(key[0], key[1])
            if resource is None and self.client.refresh_discovery_if_cached():
                resource = self.client.discovery().preferred(key[0], key[1])
            if resource is None:
                continue  # the kind is gone from the cluster, and its objects with it
            old = self._streams.pop(key, None)
            if old is not None:
                old.close()
            self._selectors[key] = selector
            self._streams[key] = WatchStream(
                self.client, resource, key[2] if resource.namespaced else None, selector,
                lambda kind, obj, key=key: self._on_member_event(key, kind, obj),  # type: ignore[misc]
                on_trouble=self.log, on_failure=self._failed, give_up_after=self.give_up_after).start()
        for key in [key for key in self._streams if key not in wanted]:
            self._streams.pop(key).close()
            self._selectors.pop(key, None)

    # ------------------------------------------------------------------ members

    def _on_member_event(self, key: tuple[str, str, str], kind: str, obj: dict[str, Any]) -> None:
        with self._lock:
            if kind == RELISTED:
                seen = set()
                for item in obj["items"]:
                    seen.add(self._member_changed(item))
                gone = [(set_id, ref) for (set_id, ref) in self._fingerprints
                        if (ref.group, ref.kind, ref.namespace) == key and (set_id, ref) not in seen]
                for set_id, ref in gone:
                    self._member_deleted(set_id, ref)
            elif kind == DELETED:
                set_id = ((obj.get("metadata") or {}).get("labels") or {}).get(PART_OF_LABEL) or ""
                self._member_deleted(set_id, ObjectRef.from_manifest(obj))
            else:
                self._member_changed(obj)

    def _member_changed(self, obj: dict[str, Any]) -> tuple[str, ObjectRef]:
        set_id = ((obj.get("metadata") or {}).get("labels") or {}).get(PART_OF_LABEL) or ""
        ref = ObjectRef.from_manifest(obj)
        state = self._by_set_id.get(set_id)
        seen = (drift_fingerprint(obj), our_write_time(obj))
        previous = self._fingerprints.get((set_id, ref))
        self._fingerprints[(set_id, ref)] = seen
        # an object first seen is the state to watch from (a new member, or the start); our own writes are the sync
        if state is None or previous is None or previous[0] == seen[0] or previous[1] != seen[1]:
            return set_id, ref
        if state.inventory is not None and ref in state.inventory.members:
            state.changed.add(ref)
            self._touch(state)
        return set_id, ref

    def _member_deleted(self, set_id: str, ref: ObjectRef) -> None:
        self._fingerprints.pop((set_id, ref), None)
        state = self._by_set_id.get(set_id)
        if state is not None and state.inventory is not None and ref in state.inventory.members:
            state.deleted.add(ref)
            self._touch(state)

    def _touch(self, state: _AppState) -> None:
        now = self.clock()
        if state.first_seen is None:
            state.first_seen = now
            if state.last_report is not None and now - state.last_report > self.timing.backoff_reset:
                state.attempts = 0  # quiet long enough: the next report goes at once again
        state.last_seen = now

    # ------------------------------------------------------------------ reports

    def due(self) -> list[dict[str, Any]]:
        """The reports whose time has come (each counts as an attempt for the backoff)."""
        now = self.clock()
        reports = []
        with self._lock:
            for state in self._apps.values():
                if state.first_seen is None:
                    continue
                quiet = now - state.last_seen >= self.timing.coalesce or now - state.first_seen >= self.timing.coalesce_max
                if not quiet:
                    continue
                if state.last_report is not None and now < state.last_report + self.timing.delay(state.attempts):
                    continue
                # a deletion the sync itself made (a prune) is no drift once the inventory no longer lists it
                members = state.inventory.members if state.inventory else set()
                deleted = sorted(ref for ref in state.deleted if ref in members)
                changed = sorted(ref for ref in state.changed if ref in members)
                failure = state.failure
                state.changed, state.deleted, state.first_seen, state.failure = set(), set(), None, ""
                if not (deleted or changed or failure):
                    continue
                state.attempts += 1
                state.last_report = now
                reports.append(self._report(state, changed, deleted, failure))
        return reports

    def _report(self, state: _AppState, changed: list[ObjectRef], deleted: list[ObjectRef], failure: str) -> dict[str, Any]:
        app = state.app
        if failure and not (changed or deleted):
            reason = f"the last sync failed: {failure[:300]}"
        else:
            parts = [f"{len(changed)} changed"] if changed else []
            parts += [f"{len(deleted)} deleted"] if deleted else []
            reason = f"live objects drifted ({', '.join(parts)})"
        return {
            "type": "drift",
            "application": app.name,
            "cluster": self.cluster,
            "namespace": state.namespace,
            "automated": app.automated,
            "self_heal": app.self_heal,
            "reason": reason,
            "changed": [str(ref) for ref in changed[:MAX_REPORTED_OBJECTS]],
            "deleted": [str(ref) for ref in deleted[:MAX_REPORTED_OBJECTS]],
            "retry_of_failed_sync": bool(failure),
            "attempt": state.attempts,
            "next_report_not_before_seconds": self.timing.delay(state.attempts),
        }

    def stats(self) -> dict[str, Any]:
        with self._lock:
            streams = self._parent_streams + list(self._streams.values())
            return {"streams": len(streams), "relists": sum(s.relists for s in streams),
                    "reconnects": sum(s.reconnects for s in streams), "api_requests": self.client.stats.to_dict()}
