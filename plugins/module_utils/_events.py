# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Events about a sync, on the application's ApplySet parent.

``kubectl describe configmap applyset-NAME`` and cluster event pipelines see
what Argo CD's users see on an Application: ``OperationStarted``, then
``ResourceUpdated`` (objects created, configured or replaced) and
``ResourceDeleted`` (objects pruned), then ``OperationCompleted`` (type
Normal when the sync succeeded, Warning with the message when it failed),
each naming the revision and who started the sync. Core v1 Events, served by
every cluster. Emitting is best effort: a failure (no right to create
Events, an API hiccup) is remembered as a warning and never fails the sync.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PARENT_KIND, parent_name
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import now_iso

COMPONENT = "gitops.kubernetes"
OPERATION_STARTED = "OperationStarted"
OPERATION_COMPLETED = "OperationCompleted"
RESOURCE_UPDATED = "ResourceUpdated"
RESOURCE_DELETED = "ResourceDeleted"
NORMAL, WARNING = "Normal", "Warning"
MESSAGE_LIMIT = 1000  # the API server refuses messages over 1 KiB... of what it stores; keep them readable too
LISTED_OBJECTS = 10
REVISION_ANNOTATION = "gitops.kubernetes/revision"
INITIATOR_ANNOTATION = "gitops.kubernetes/initiator"


def describe_initiator(initiator: dict[str, str]) -> str:
    """'user alice, job 42' from the sync's initiator ('' when unknown)."""
    parts = [f"user {initiator['user']}"] if initiator.get("user") else []
    parts += [f"job {initiator['job_id']}"] if initiator.get("job_id") else []
    return ", ".join(parts)


def listed(names: list[str]) -> str:
    """Up to LISTED_OBJECTS names, then how many more."""
    shown = ", ".join(names[:LISTED_OBJECTS])
    return shown + (f" and {len(names) - LISTED_OBJECTS} more" if len(names) > LISTED_OBJECTS else "")


@dataclass
class SyncEvents:
    """The Events of one sync of one application (best effort; see warnings)."""

    client: KubeClient
    app_name: str
    namespace: str
    revision: str | None
    initiator: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    sent: int = 0

    @property
    def _about(self) -> str:
        revision = f" to {self.revision[:12]}" if self.revision else ""
        who = describe_initiator(self.initiator)
        return f"{revision}" + (f" (initiated by {who})" if who else "")

    def started(self) -> None:
        self.emit(OPERATION_STARTED, NORMAL, f"Sync{self._about} started")

    def resources(self, updated: list[str], pruned: list[str]) -> None:
        if updated:
            self.emit(RESOURCE_UPDATED, NORMAL, f"Sync{self._about} updated {len(updated)} object(s): {listed(updated)}")
        if pruned:
            self.emit(RESOURCE_DELETED, NORMAL, f"Sync{self._about} pruned {len(pruned)} object(s): {listed(pruned)}")

    def completed(self, failure: str | None) -> None:
        if failure is None:
            self.emit(OPERATION_COMPLETED, NORMAL, f"Sync{self._about} succeeded")
        else:
            self.emit(OPERATION_COMPLETED, WARNING, f"Sync{self._about} failed: {failure}")

    def body(self, reason: str, kind: str, message: str) -> dict[str, Any]:
        """The core v1 Event (on the parent ConfigMap) for one reason."""
        stamp = now_iso()
        annotations = {REVISION_ANNOTATION: self.revision or ""}
        who = describe_initiator(self.initiator)
        if who:
            annotations[INITIATOR_ANNOTATION] = who
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{parent_name(self.app_name)}."[:200], "namespace": self.namespace,
                         "annotations": annotations},
            "involvedObject": {"apiVersion": "v1", "kind": PARENT_KIND, "name": parent_name(self.app_name),
                               "namespace": self.namespace},
            "reason": reason,
            "message": message[:MESSAGE_LIMIT],
            "type": kind,
            "action": "Sync",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": socket.gethostname()[:128],
            "firstTimestamp": stamp[:19] + "Z",
            "lastTimestamp": stamp[:19] + "Z",
            "count": 1,
        }

    def emit(self, reason: str, kind: str, message: str) -> None:
        """Create one Event; a failure becomes a warning, never an error."""
        if self.warnings:
            return  # one failure says it all: the rest would fail the same way
        try:
            self.client.request("POST", f"/api/v1/namespaces/{quote(self.namespace, safe='')}/events",
                                body=self.body(reason, kind, message), what=f"create an Event about {self.app_name}")
            self.sent += 1
        except GitopsError as exc:
            self.warnings.append(f"could not record the sync as a Kubernetes Event in namespace {self.namespace} "
                                 f"({exc}); the sync itself is not affected")
