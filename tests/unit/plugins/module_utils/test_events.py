"""SyncEvents: the Events a sync leaves on its inventory parent, and that failing to leave them fails nothing."""

from __future__ import annotations

from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._events import SyncEvents


class Client:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.posted: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        if self.fail:
            raise KubeApiError("create an Event: access denied (403 Forbidden)", status=403)
        self.posted.append((path, body))
        return {}


def test_a_sync_is_started_updates_prunes_and_completes_on_the_parent_with_revision_and_initiator():
    client = Client()
    events = SyncEvents(client, "shop", "prod", "0123456789abcdef", {"user": "alice", "job_id": "42"})  # type: ignore[arg-type]
    events.started()
    events.resources([f"ConfigMap prod/c{i}" for i in range(12)], ["Service prod/old"])
    events.completed("hook migrate failed")
    reasons = [(body["reason"], body["type"]) for dummy, body in client.posted]
    assert reasons == [("OperationStarted", "Normal"), ("ResourceUpdated", "Normal"), ("ResourceDeleted", "Normal"),
                       ("OperationCompleted", "Warning")]
    path, body = client.posted[0]
    assert path == "/api/v1/namespaces/prod/events"
    assert body["involvedObject"] == {"apiVersion": "v1", "kind": "ConfigMap", "name": "applyset-shop", "namespace": "prod"}
    assert body["message"] == "Sync to 0123456789ab (initiated by user alice, job 42) started"
    assert client.posted[1][1]["message"].endswith("c9 and 2 more")
    assert client.posted[3][1]["message"].endswith("failed: hook migrate failed")


def test_events_that_cannot_be_created_become_one_warning():
    events = SyncEvents(Client(fail=True), "shop", "prod", None)  # type: ignore[arg-type]
    events.started()
    events.completed(None)
    assert len(events.warnings) == 1 and "the sync itself is not affected" in events.warnings[0]
