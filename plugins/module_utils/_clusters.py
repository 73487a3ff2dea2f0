# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which cluster an application goes to: its destination against the inventory host running the task.

An inventory host is a cluster. It is known by a server URL (the `cluster.server`
option, default: the server of its kubeconfig context) and a name (the
`cluster.name` option; the role passes the inventory hostname by default),
as an Argo CD cluster Secret is known by its `server` and `name`. An
application whose `destination.server` or `destination.name` names the host is
synced there; Argo CD's in-cluster destination (`https://kubernetes.default.svc`,
`in-cluster`, or none at all) means the host the application is listed on.
Applications for other clusters are left out and listed, never dropped
silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import Cluster
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, Destination

CLUSTER_ARGUMENT_SPEC = {
    "cluster": {"type": "dict", "options": {"name": {"type": "str"}, "server": {"type": "str"}}},
}


def cluster_name(params: dict[str, Any]) -> str | None:
    """The name the module's `cluster` option gives this task's cluster (None: unnamed)."""
    return (params.get("cluster") or {}).get("name") or None


def same_server(first: str, second: str) -> bool:
    """Two API server URLs are the same cluster: scheme and host case-insensitive, default port, trailing '/'."""
    def key(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.strip())
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
        return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path.rstrip("/")
    try:
        return bool(first and second) and key(first) == key(second)
    except ValueError:  # an invalid port: compare as written
        return first.rstrip("/") == second.rstrip("/")


@dataclass(frozen=True)
class HostCluster:
    """The cluster of the inventory host running the task."""

    server: str
    name: str = ""

    def destination_cluster(self, destination: Destination) -> Cluster | None:
        """The cluster as projects and windows see it if the destination is this host, else None."""
        if destination.in_cluster:
            return Cluster(IN_CLUSTER_SERVER, IN_CLUSTER_NAME)
        if destination.server and same_server(destination.server, self.server):
            return Cluster(self.server, self.name)
        if destination.name and self.name and destination.name == self.name:
            return Cluster(self.server, self.name)
        return None

    def describe(self) -> str:
        return f"name {self.name!r}, server {self.server}" if self.name else f"server {self.server}"


def describe_destination(destination: Destination) -> str:
    return f"server {destination.server}" if destination.server else f"name {destination.name!r}"
