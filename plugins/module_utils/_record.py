# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Record stage: write the ApplySet parent (inventory + sync history) and hold a Lease.

The parent's shape is _inventory.build_parent's; this module decides *when*
it is written and with what: before the first apply with every object the
sync may create (so an interrupted sync never leaves an object nobody
tracks), and at the end with the exact inventory and one more history entry.

A Lease (coordination.k8s.io/v1) named ``gitops-sync-<application>`` in the
destination namespace serialises syncs of one application: a second sync
waits (bounded) while the first holds it, and takes it over only when the
holder stopped renewing it. Liveness is judged by renewals alone, never by
process ids: a holder in another PID namespace on the same host (a container,
an AWX execution node) is as alive as one on another host. The holder renews
every LEASE_RENEW_EVERY seconds and gives up (`lost`) when the Lease was taken
or no renewal succeeded for LEASE_RENEW_DEADLINE, before any taker may take it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, KubeApiError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PARENT_KIND, build_parent, parent_name
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef

HISTORY_LIMIT = 10
LEASE_PREFIX = "gitops-sync-"
LEASE_DURATION = 30  # seconds without renewal after which another sync may take the Lease over
LEASE_RENEW_EVERY = 5.0
# the holder stops writing this long after its last successful renewal: well before a taker may take the Lease
LEASE_RENEW_DEADLINE = 20.0
LEASE_POLL = 1.0


def now_iso() -> str:
    """UTC now as Kubernetes writes times (RFC 3339, microseconds for Lease MicroTime)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        try:
            return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z").timestamp()
        except ValueError:
            return None


def initiator_from_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Who started the sync, as far as the environment tells (AWX job id and user, else the local user)."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    job_id = env.get("AWX_JOB_ID") or env.get("TOWER_JOB_ID") or env.get("JOB_ID")
    if job_id:
        found["job_id"] = str(job_id)
    user = env.get("AWX_USER_NAME") or env.get("TOWER_USER_NAME") or env.get("USER") or env.get("LOGNAME")
    if user:
        found["user"] = user
    return found


def history_entry(
    *,
    revision: str | None,
    started_at: str,
    finished_at: str,
    result: str,
    message: str = "",
    counts: dict[str, int] | None = None,
    initiator: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    rollback_of: int | None = None,
    revisions: list[str] | None = None,
) -> dict[str, Any]:
    """One sync as the parent records it (extra: the attempt number, the digest of what was synced, ...;
    rollback_of: the id of the entry a rollback synced again; revisions: every source's, for a multi-source
    application)."""
    entry: dict[str, Any] = {
        "revision": revision,
        "started_at": started_at,
        "finished_at": finished_at,
        "result": result,
        "counts": dict(counts or {}),
    }
    if rollback_of is not None:
        entry["rollback_of"] = int(rollback_of)
    if revisions:
        entry["revisions"] = list(revisions)
    if message:
        entry["message"] = message[:1000]
    for key, value in (initiator or {}).items():
        if value:
            entry[key] = str(value)
    entry.update({key: value for key, value in (extra or {}).items() if value not in (None, "")})
    return entry


def append_history(previous: list[dict[str, Any]], entry: dict[str, Any], limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """previous + entry (numbered after the last id), oldest first, the last `limit` kept (none for 0)."""
    last_id = max((int(h.get("id", 0)) for h in previous if str(h.get("id", "0")).isdigit()), default=0)
    return (list(previous) + [{"id": last_id + 1, **entry}])[-limit:] if limit > 0 else []


def _configmaps(client: KubeClient) -> ApiResource:
    resource = client.resource_for("v1", PARENT_KIND)
    if resource is None:
        raise SyncError("the cluster does not serve v1 ConfigMap, where the inventory is kept")
    return resource


def write_parent(
    client: KubeClient,
    app_name: str,
    namespace: str,
    members: Iterable[ObjectRef],
    *,
    revision: str | None,
    history: list[dict[str, Any]],
    source: str | None = None,
    previous_namespaces: Iterable[str] = (),
    last_sync: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    owner: str | None = None,
    finalizer: str | None = None,
) -> dict[str, Any]:
    """Server-side apply the application's ApplySet parent with this inventory and history (see build_parent)."""
    manifest = build_parent(app_name, namespace, members, revision=revision, history=history, source=source,
                            previous_namespaces=previous_namespaces, last_sync=last_sync, labels=labels,
                            owner=owner, finalizer=finalizer)
    try:
        return client.apply(_configmaps(client), manifest, force_conflicts=True)
    except KubeApiError as exc:
        raise SyncError(f"could not record the inventory in ConfigMap {namespace}/{manifest['metadata']['name']}: {exc.message}",
                        application=app_name) from None


def delete_parent(client: KubeClient, app_name: str, namespace: str, uid: str | None) -> None:
    """Delete the application's parent in namespace: only the object of that uid (it may have been recreated)."""
    client.delete(_configmaps(client), namespace, parent_name(app_name), uid=uid)


# --------------------------------------------------------------------------
# the Lease


class LeaseLost(SyncError):
    """This sync no longer holds its Lease: it must not write anything more."""


def _lapsed(spec: dict[str, Any], unchanged_for: float) -> bool:
    """Whether the holder stopped renewing: its Lease did not change for a whole duration while we watched, or its
    renewTime is older than twice the duration (a sync killed long ago; a skew of the two clocks up to one duration
    cannot make a live holder look like that)."""
    duration = float(spec.get("leaseDurationSeconds") or LEASE_DURATION)
    renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime")) or 0.0
    return unchanged_for > duration or renewed + 2 * duration < time.time()


@dataclass
class SyncLease:
    """Exclusive right to sync one application, held while the sync runs."""

    client: KubeClient
    app_name: str
    namespace: str
    wait_timeout: float = 120.0
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}")
    _resource: ApiResource | None = None
    _version: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _renewer: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _renewed_at: float = 0.0  # time.monotonic() of the last successful acquire or renewal
    lost: str | None = None  # why this sync may no longer write (the Lease was taken, or renewals failed)

    @property
    def name(self) -> str:
        return f"{LEASE_PREFIX}{self.app_name}"[:253]

    def _leases(self) -> ApiResource:
        if self._resource is None:
            self._resource = self.client.resource_for("coordination.k8s.io/v1", "Lease")
            if self._resource is None:
                raise SyncError("the cluster does not serve coordination.k8s.io/v1 Lease", application=self.app_name)
        return self._resource

    def _body(self, current: dict[str, Any] | None) -> dict[str, Any]:
        stamp = now_iso()
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace,
                                    "labels": {"app.kubernetes.io/managed-by": "gitops.kubernetes"}}
        spec: dict[str, Any] = {"holderIdentity": self.identity, "leaseDurationSeconds": LEASE_DURATION,
                                "acquireTime": stamp, "renewTime": stamp}
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
            transitions = int((current.get("spec") or {}).get("leaseTransitions") or 0)
            spec["leaseTransitions"] = transitions + 1
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    def acquire(self) -> None:
        """Take the Lease, waiting at most wait_timeout while another sync holds it and renews it."""
        resource = self._leases()
        deadline = time.monotonic() + self.wait_timeout
        what = f"Lease {self.namespace}/{self.name}"
        # the holder's last renewal as we saw it, and when (our clock): a Lease that did not change for its whole
        # duration while we watched has lapsed, whatever the clocks of the two hosts say
        seen_version, seen_at = None, time.monotonic()
        while True:
            current = self.client.get(resource, self.namespace, self.name)
            spec: dict[str, Any] = {}
            holder = None
            try:
                if current is None:
                    created = self.client.request("POST", resource.path(self.namespace), body=self._body(None),
                                                  what=f"create {what}")
                    self._taken(created)
                    return
                spec = current.get("spec") or {}
                holder = spec.get("holderIdentity")
                version = current["metadata"].get("resourceVersion")
                if version != seen_version:
                    seen_version, seen_at = version, time.monotonic()
                if not holder or holder == self.identity or _lapsed(spec, time.monotonic() - seen_at):
                    updated = self.client.request("PUT", resource.path(self.namespace, self.name),
                                                  body=self._body(current), what=f"take over {what}")
                    self._taken(updated)
                    return
            except KubeApiError as exc:
                if exc.status == 404:
                    raise SyncError(f"cannot create {what}: namespace {self.namespace} does not exist "
                                    "(set sync_policy.create_namespace, or create it first)",
                                    application=self.app_name) from None
                if exc.status != 409:  # 409: another sync won the race; look again
                    raise
            if time.monotonic() >= deadline:
                raise SyncError(
                    f"another sync of this application holds {what} (holder {holder}, renewed "
                    f"{spec.get('renewTime')}, held until {spec.get('leaseDurationSeconds') or LEASE_DURATION}s "
                    f"without renewal); gave up after {self.wait_timeout:.0f}s. Two syncs of one "
                    "application never run at the same time; retry when the other has finished",
                    application=self.app_name,
                )
            time.sleep(LEASE_POLL)

    def _taken(self, lease: dict[str, Any] | None) -> None:
        self._version = ((lease or {}).get("metadata") or {}).get("resourceVersion")
        self._renewed_at = time.monotonic()
        self.lost = None
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name=f"lease-{self.app_name}", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        # a sync longer than the lease duration keeps it by renewing it
        while not self._stop.wait(LEASE_RENEW_EVERY) and self.lost is None:
            self._renew()

    def _renew(self) -> None:
        with self._lock:
            try:
                current = self.client.get(self._leases(), self.namespace, self.name)
                holder = (current or {}).get("spec", {}).get("holderIdentity")
                if current is None or holder != self.identity:
                    self.lost = f"another sync ({holder}) took it over" if holder else "it was deleted by someone else"
                    return
                current["spec"]["renewTime"] = now_iso()
                updated = self.client.request("PUT", self._leases().path(self.namespace, self.name), body=current,
                                              what=f"renew Lease {self.namespace}/{self.name}")
                self._version = ((updated or {}).get("metadata") or {}).get("resourceVersion")
                self._renewed_at = time.monotonic()
            except GitopsError as exc:  # the next renewal may work; past the deadline the Lease counts as lost
                if time.monotonic() - self._renewed_at > LEASE_RENEW_DEADLINE:
                    self.lost = f"it could not be renewed for {LEASE_RENEW_DEADLINE:.0f}s ({exc})"

    def check(self, before: str) -> None:
        """Raise LeaseLost unless this sync still holds the Lease: called before every write.

        One GET: a takeover between two renewals is seen before the next write, not after it.
        """
        with self._lock:
            if self.lost is None:
                try:
                    current = self.client.get(self._leases(), self.namespace, self.name)
                    holder = (current or {}).get("spec", {}).get("holderIdentity")
                    if current is None or holder != self.identity:
                        self.lost = f"another sync ({holder}) took it over" if holder else "it was deleted by someone else"
                except KubeApiError as exc:
                    if time.monotonic() - self._renewed_at > LEASE_RENEW_DEADLINE:
                        self.lost = f"it could not be read or renewed for {LEASE_RENEW_DEADLINE:.0f}s ({exc.message})"
            if self.lost is None and time.monotonic() - self._renewed_at > LEASE_RENEW_DEADLINE:
                self.lost = f"it was not renewed for {LEASE_RENEW_DEADLINE:.0f}s"
            if self.lost is not None:
                raise LeaseLost(
                    f"lost the Lease {self.namespace}/{self.name}: {self.lost}; stopped before writing {before} "
                    "and recorded nothing more. The other sync, or the next one, converges the application",
                    application=self.app_name,
                )

    def release(self) -> None:
        """Stop renewing and delete the Lease if we still hold it."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=30)
            self._renewer = None
        with self._lock:
            if self._version is None or self.lost is not None:
                return  # not ours any more: the other sync's Lease is left alone
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": self._version}}
            try:
                self.client.request("DELETE", self._leases().path(self.namespace, self.name), body=body, not_found_ok=True,
                                    what=f"release Lease {self.namespace}/{self.name}")
            except KubeApiError:
                pass  # 409: someone took it over after it lapsed; nothing of ours to release
            self._version = None

    def __enter__(self) -> "SyncLease":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
