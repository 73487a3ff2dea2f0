"""What counts as a change that can be drift, and how a watch resumes and relists."""

from __future__ import annotations

import copy
import json
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource
from ansible_collections.gitops.kubernetes.plugins.module_utils._watch import (
    RELISTED,
    WATCH_TIMEOUT,
    WatchStream,
    drift_fingerprint,
    our_write_time,
)

OURS = {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
    'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "10", "labels": {"app": "web"},
                     "managedFields": [
                         {"manager": "gitops.kubernetes", "operation": "Apply", "time": "2026-01-01T00:00:00Z", "fieldsV1": OURS},
                         {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                          "time": "2026-01-01T00:00:05Z", "fieldsV1": {"f:status": {"f:replicas": {}}}}]},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}},
        "status": {"replicas": 1},
    }


def test_status_resource_version_and_fields_nobody_applied_do_not_change_the_fingerprint():
    before = deployment()
    after = copy.deepcopy(before)
    after["status"] = {"replicas": 3, "conditions": [{"type": "Available"}]}
    after["metadata"]["resourceVersion"] = "11"
    after["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "2"}  # a controller's own annotation
    after["metadata"]["managedFields"][1]["time"] = "2026-01-01T00:09:00Z"
    assert drift_fingerprint(after) == drift_fingerprint(before)


def test_an_applied_value_changed_by_hand_changes_the_fingerprint():
    before = deployment()
    image = copy.deepcopy(before)
    image["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    label = copy.deepcopy(before)
    label["metadata"]["labels"]["app"] = "other"
    assert drift_fingerprint(image) != drift_fingerprint(before)
    assert drift_fingerprint(label) != drift_fingerprint(before)


def test_a_field_whose_ownership_moved_to_another_manager_changes_the_fingerprint():
    before = deployment()
    scaled = copy.deepcopy(before)
    del scaled["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:replicas"]
    assert drift_fingerprint(scaled) != drift_fingerprint(before)


def test_our_write_time_ignores_other_managers_and_subresources():
    obj = deployment()
    obj["metadata"]["managedFields"].append({"manager": "kubectl", "operation": "Update", "subresource": "scale"})  # no time
    assert our_write_time(obj) == "2026-01-01T00:00:00Z"
    assert our_write_time({"metadata": {}}) == ""


class FakeWatchClient:
    """Answers LISTs and WATCHes from scripts; records what was asked."""

    def __init__(self, watches: list[Any]) -> None:
        self.watches = watches
        self.lists = 0
        self.watched_from: list[str | None] = []
        self.timeouts: list[int] = []

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        self.lists += 1
        return {"metadata": {"resourceVersion": f"list-{self.lists}"}, "items": [deployment()]}

    def stream_lines(self, path: str, query: dict[str, Any] | None = None, **kwargs: Any):
        self.watched_from.append((query or {}).get("resourceVersion"))
        self.timeouts.append(int((query or {})["timeoutSeconds"]))
        script = self.watches.pop(0) if self.watches else "stop"
        if script == "drop":
            raise ClusterConnectionError("the watch was interrupted: connection reset")
        if script == "stop":
            stream.stop.set()
            return
        for line in script:
            yield json.dumps(line).encode()


RESOURCE = ApiResource("apps", "v1", "Deployment", "deployments", True)


def modified(version: str) -> dict[str, Any]:
    obj = deployment()
    obj["metadata"]["resourceVersion"] = version
    return {"type": "MODIFIED", "object": obj}


def run_stream(client: FakeWatchClient) -> list[tuple[str, str]]:
    global stream
    seen: list[tuple[str, str]] = []
    stream = WatchStream(client, RESOURCE, "shop", "x=y",  # type: ignore[arg-type]
                         lambda kind, obj: seen.append((kind, obj.get("metadata", {}).get("resourceVersion", ""))))
    stream.stop.wait = lambda timeout=None: False  # type: ignore[method-assign]  # no real backoff sleeps in a unit test
    stream.run()
    return seen


def test_a_dropped_watch_resumes_from_the_last_resource_version_without_relisting():
    client = FakeWatchClient([[modified("12")], "drop", [modified("13")]])
    seen = run_stream(client)
    assert client.lists == 1
    assert client.watched_from[:3] == ["list-1", "12", "12"]
    assert seen == [(RELISTED, ""), ("MODIFIED", "12"), ("MODIFIED", "13")]


def test_each_watch_asks_for_its_own_timeout_between_one_and_two_watch_timeouts():
    client = FakeWatchClient([[modified(str(n))] for n in range(40)])
    run_stream(client)
    assert all(WATCH_TIMEOUT <= timeout < 2 * WATCH_TIMEOUT for timeout in client.timeouts)
    assert len(set(client.timeouts)) > 1  # spread: watches started together do not reconnect together


def test_410_gone_lists_again_and_watches_from_the_new_list():
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}}
    client = FakeWatchClient([[gone], [modified("20")]])
    seen = run_stream(client)
    assert client.lists == 2
    assert client.watched_from[:2] == ["list-1", "list-2"]
    assert [kind for kind, dummy in seen] == [RELISTED, RELISTED, "MODIFIED"]


def test_a_watch_that_cannot_reach_the_server_gives_up_after_its_deadline():
    client = FakeWatchClient(["drop"] * 1000)
    failures: list[str] = []
    global stream
    stream = WatchStream(client, RESOURCE, "shop", "x=y", lambda kind, obj: None,  # type: ignore[arg-type]
                         on_failure=failures.append, give_up_after=0.0)
    stream.stop.wait = lambda timeout=None: False  # type: ignore[method-assign]
    stream.run()
    assert len(failures) == 1 and "gave up after 0s without the API server" in failures[0]


stream: WatchStream
