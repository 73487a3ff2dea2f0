# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads of live state for the compare stage: per application, or shared by a batch.

Comparing an application needs its ApplySet parent and its labelled members.
For one application that is a GET and one LIST per kind and namespace
(LiveReads). A module run with a batch of applications shares one LIST per
kind for all of them instead (BatchLiveReads): a set-based label selector
(``part-of in (id1, id2, ...)``) across the namespaces of the batch, so 100
applications of 4 kinds cost 5 LISTs rather than 500 requests. Identities
without namespace-wide LIST rights (403 on a cluster-wide LIST) fall back to
one LIST per namespace; a parent the LIST did not return (a new application, or
a ConfigMap of that name that is not our parent) is still read by name.

The batch's reads are a snapshot taken when the first application needs a
kind; gitops_sync compares again with fresh per-application reads when
another sync recorded the application meanwhile.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    ID_LABEL,
    PART_OF_LABEL,
    application_applyset_id,
    part_of_selector,
)

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient

# ApplySet ids per set-based selector: ~57 characters each keeps a LIST's URL near 6 KB
IDS_PER_SELECTOR = 100


class LiveReads:
    """One application's reads: its parent by name, its members by its own part-of label."""

    def __init__(self, client: "KubeClient") -> None:
        self.client = client

    def parent(self, resource: "ApiResource", namespace: str, name: str) -> dict[str, Any] | None:
        """The parent object, or None if it does not exist."""
        return self.client.get(resource, namespace, name)

    def labelled(self, resource: "ApiResource", namespace: str | None, set_id: str) -> list[dict[str, Any]]:
        """Live objects of resource in namespace (None: cluster-scoped) labelled as members of set_id."""
        return self.client.list_objects(resource, namespace, label_selector=part_of_selector(set_id))


class BatchLiveReads(LiveReads):
    """Reads shared by the applications of one module run: one LIST per kind (per 100 applications)."""

    def __init__(self, client: "KubeClient", applications: Iterable[tuple[str, str]]) -> None:
        """applications: (name, destination namespace) of every application in the batch."""
        super().__init__(client)
        applications = list(applications)
        self.set_ids = sorted({application_applyset_id(name, namespace) for name, namespace in applications})
        namespaces = {namespace for dummy, namespace in applications}
        # a batch in one namespace lists there; a batch across namespaces lists cluster-wide
        self.namespace = next(iter(namespaces)) if len(namespaces) == 1 else None
        self._indexes: dict[tuple[str, "ApiResource", str | None], dict[tuple[str, str], list[dict[str, Any]]]] = {}
        self._locks: dict[tuple[str, "ApiResource", str | None], threading.Lock] = {}
        self._denied_cluster_wide: set["ApiResource"] = set()
        self._guard = threading.Lock()

    def parent(self, resource: "ApiResource", namespace: str, name: str) -> dict[str, Any] | None:
        for item in self._index(ID_LABEL, resource, namespace).get((namespace, name), []):
            return item
        # not listed: no parent yet, or a ConfigMap of that name that is not ours (read_inventory says so)
        return super().parent(resource, namespace, name)

    def labelled(self, resource: "ApiResource", namespace: str | None, set_id: str) -> list[dict[str, Any]]:
        if set_id not in self.set_ids:  # not an application of this batch
            return super().labelled(resource, namespace, set_id)
        return list(self._index(PART_OF_LABEL, resource, namespace).get((namespace or "", set_id), []))

    def _index(self, label: str, resource: "ApiResource", namespace: str | None) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """(namespace, label value) -> objects, from the LIST covering namespace (made on first use)."""
        while True:  # at most twice: a refused cluster-wide LIST turns into one in the namespace
            scope = self._scope(resource, namespace)
            key = (label, resource, scope)
            with self._guard:
                lock = self._locks.setdefault(key, threading.Lock())
            with lock:  # the other applications wait for the one LIST instead of sending their own
                if key in self._indexes:
                    return self._indexes[key]
                if scope != self._scope(resource, namespace):
                    continue  # refused cluster-wide while this thread waited: list in the namespace
                try:
                    self._indexes[key] = self._list(label, resource, scope)
                    return self._indexes[key]
                except KubeApiError as exc:
                    if exc.status != 403 or scope is not None or namespace is None:
                        raise
                    with self._guard:
                        self._denied_cluster_wide.add(resource)

    def _scope(self, resource: "ApiResource", namespace: str | None) -> str | None:
        """Where to LIST: the batch's one namespace, everywhere, or (without cluster-wide rights) namespace."""
        if not resource.namespaced:
            return None
        if namespace == self.namespace:
            return namespace
        with self._guard:
            denied = resource in self._denied_cluster_wide
        return namespace if denied else None

    def _list(self, label: str, resource: "ApiResource", scope: str | None) -> dict[tuple[str, str], list[dict[str, Any]]]:
        index: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for start in range(0, len(self.set_ids), IDS_PER_SELECTOR):
            selector = f"{label} in ({','.join(self.set_ids[start:start + IDS_PER_SELECTOR])})"
            for item in self.client.list_objects(resource, scope, label_selector=selector):
                metadata = item.get("metadata") or {}
                value = metadata.get("name") if label == ID_LABEL else (metadata.get("labels") or {}).get(label)
                index.setdefault((metadata.get("namespace") or "", value or ""), []).append(item)
        return index
