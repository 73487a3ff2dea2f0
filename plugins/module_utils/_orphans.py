# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Orphaned resources (an AppProject's `orphanedResources`): what lives in a namespace and no application owns.

Like Argo CD: top-level objects (no ownerReferences) of every namespaced kind
the API server lists, in the application's destination namespace, that belong
to no application (here: no `applyset.kubernetes.io/part-of` label naming an
ApplySet parent that exists, and no hook label of one). Never listed, as in
Argo CD: the `default` ServiceAccount, the `kube-root-ca.crt` ConfigMap, the
`kubernetes` Service of `default`, kinds the project denies, the project's
`ignore` rules, and the kinds Argo CD excludes from its cache by default
(Events, Endpoints, EndpointSlices, Leases). The inventory parents and sync
Leases of applications are theirs, not orphans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._hooks import HOOK_OF_LABEL
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import ID_LABEL, PART_OF_LABEL

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient
    from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import KindRule
    from ansible_collections.gitops.kubernetes.plugins.module_utils._projects import OrphanedResources

# (group, kind) Argo CD leaves out of its cluster cache by default, and Events
EXCLUDED_KINDS = {("", "Event"), ("events.k8s.io", "Event"), ("", "Endpoints"), ("discovery.k8s.io", "EndpointSlice"),
                  ("coordination.k8s.io", "Lease")}
# objects a namespace has by itself (Argo CD's isKnownOrphanedResourceExclusion)
KNOWN = {("", "ServiceAccount", "default"), ("", "ConfigMap", "kube-root-ca.crt")}


def known_applysets(client: "KubeClient", namespace: str) -> set[str]:
    """The ids of the ApplySet parents that exist (every namespace; this one only without the right to list all)."""
    resource = client.resource_for("v1", "ConfigMap")
    if resource is None:
        return set()
    try:
        parents = client.list_objects(resource, None, label_selector=ID_LABEL)
    except KubeApiError as exc:
        if exc.status != 403:
            raise
        parents = client.list_objects(resource, namespace, label_selector=ID_LABEL)
    return {str(((p.get("metadata") or {}).get("labels") or {}).get(ID_LABEL)) for p in parents}


def _listable(client: "KubeClient") -> list["ApiResource"]:
    """One resource per namespaced (group, kind), in its preferred version, that can be listed."""
    discovery = client.discovery()
    chosen: dict[tuple[str, str], "ApiResource"] = {}
    for resource in discovery.resources:
        key = (resource.group, resource.kind)
        if not resource.namespaced or "list" not in resource.verbs or key in EXCLUDED_KINDS or key in chosen:
            continue
        preferred = discovery.preferred(resource.group, resource.kind)
        chosen[key] = preferred or resource
    return list(chosen.values())


def find_orphans(client: "KubeClient", namespace: str, settings: "OrphanedResources", kinds: "KindRule",
                 known: set[str] | None = None) -> list[dict[str, Any]]:
    """Orphaned objects of the namespace as {group, kind, namespace, name}, sorted."""
    known = known_applysets(client, namespace) if known is None else known

    def one_kind(resource: "ApiResource") -> list[dict[str, Any]]:
        try:
            items = client.list_objects(resource, namespace)
        except KubeApiError as exc:
            if exc.status in (403, 404, 405):  # not ours to read, or not really listable: not reported as orphans
                return []
            raise
        found = []
        for item in items:
            metadata = item.get("metadata") or {}
            labels = metadata.get("labels") or {}
            name = str(metadata.get("name") or "")
            group, kind = resource.group, resource.kind
            if metadata.get("ownerReferences") or (group, kind, name) in KNOWN:
                continue
            if namespace == "default" and (group, kind, name) == ("", "Service", "kubernetes"):
                continue
            if labels.get(PART_OF_LABEL) in known or labels.get(HOOK_OF_LABEL) in known or labels.get(ID_LABEL) in known:
                continue
            if settings.ignored(group, kind, name) or kinds.problem(group, kind, name, kind):
                continue
            found.append({"group": group, "kind": kind, "namespace": namespace, "name": name})
        return found

    orphans = [entry for found in client.map(one_kind, _listable(client)) for entry in found]
    return sorted(orphans, key=lambda o: (o["group"], o["kind"], o["name"]))
