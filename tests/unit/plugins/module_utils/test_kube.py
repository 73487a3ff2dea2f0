"""Unit tests for the cluster client (_kube): options, HTTP behaviour, discovery.

The API server is replaced at the narrowest boundary, the urllib3 pool's
request(); everything above it (retries, errors, paging, discovery cache)
is the real code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
import yaml
from kube_fixtures import KUBECONFIG, TOKEN

from ansible_collections.gitops.kubernetes.plugins.module_utils import _kube
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError, KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import (
    ApiResource,
    ConnectionSettings,
    KubeClient,
    kube_connection_argument_spec,
    resolve_connection,
)

REPO = Path(__file__).resolve().parents[4]

DEPLOYMENTS = ApiResource("apps", "v1", "Deployment", "deployments", True, ("get", "list", "patch"))
NAMESPACES = ApiResource("", "v1", "Namespace", "namespaces", False, ("get", "list"))


class Response:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.data = json.dumps(body).encode() if body is not None else b""
        self.headers = headers or {}


class FakePool:
    """Stands in for urllib3.PoolManager.request: answers from a queue, records every call."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None, **_: Any) -> Response:
        self.calls.append({"method": method, "url": url, "body": body, "headers": headers or {}})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def clear(self) -> None:
        pass


def make_client(pool: FakePool, **kwargs: Any) -> KubeClient:
    connection = resolve_connection(ConnectionSettings(kubeconfig=KUBECONFIG))
    kwargs.setdefault("parallelism", 2)
    return KubeClient(connection, pool_manager=pool, **kwargs)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(_kube.time, "sleep", slept.append)
    return slept


# ---------------------------------------------------------------- options (the connection itself: test_kubeconfig.py)


def test_argument_spec_mirrors_the_doc_fragment() -> None:
    from ansible_collections.gitops.kubernetes.plugins.doc_fragments._kube_connection import ModuleDocFragment

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = kube_connection_argument_spec()
    assert set(documented) == set(spec)
    for name, option in documented.items():
        assert option["type"] == spec[name]["type"], name
        assert sorted(option.get("aliases", [])) == sorted(spec[name].get("aliases", [])), name
    assert spec["api_key"]["no_log"] is True


# ---------------------------------------------------------------- requests


def test_transient_errors_are_retried_a_bounded_number_of_times(no_sleep: list[float]) -> None:
    pool = FakePool(Response(503), Response(429, headers={"Retry-After": "2"}), Response(200, {"kind": "Namespace"}))
    client = make_client(pool)
    assert client.request("GET", "/api/v1/namespaces/x") == {"kind": "Namespace"}
    assert client.stats.total == 3 and client.stats.retries == 2
    assert no_sleep[1] >= 1.5  # Retry-After honoured (with jitter)
    assert pool.calls[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_persistent_5xx_gives_up_with_the_server_message() -> None:
    pool = FakePool(*[Response(500, {"message": "etcdserver: request timed out", "reason": "InternalError"})] * 5)
    client = make_client(pool)
    with pytest.raises(KubeApiError, match="etcdserver: request timed out") as info:
        client.get(DEPLOYMENTS, "ns", "web")
    assert info.value.status == 500
    assert len(pool.calls) == 5


def test_a_schema_rejection_reported_as_500_is_not_retried() -> None:
    message = "failed to create typed patch object (ns/web; apps/v1, Kind=Deployment): .spec.replicass: field not declared in schema"
    pool = FakePool(Response(500, {"message": message, "reason": "InternalError"}))
    with pytest.raises(KubeApiError, match="field not declared in schema"):
        make_client(pool).request("PATCH", "/apis/apps/v1/namespaces/ns/deployments/web", body={})
    assert len(pool.calls) == 1


def test_unreachable_server_is_a_clear_connection_error() -> None:
    refused = urllib3.exceptions.MaxRetryError(None, "/api", reason=urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"))
    client = make_client(FakePool(*[refused] * 5))
    with pytest.raises(ClusterConnectionError) as info:
        client.request("GET", "/api")
    message = str(info.value)
    assert "cannot reach the Kubernetes API server at https://10.1.2.3:6443" in message
    assert "Connection refused" in message
    assert TOKEN not in message


def test_certificate_errors_are_not_retried_and_say_what_to_do() -> None:
    pool = FakePool(urllib3.exceptions.MaxRetryError(None, "/api", reason=urllib3.exceptions.SSLError("certificate verify failed")))
    with pytest.raises(ClusterConnectionError, match="TLS verification .* set ca_cert"):
        make_client(pool).request("GET", "/api")
    assert len(pool.calls) == 1


def test_401_names_the_server_not_the_token() -> None:
    client = make_client(FakePool(Response(401, {"message": "Unauthorized", "reason": "Unauthorized"})))
    with pytest.raises(ClusterConnectionError, match="rejected the credentials") as info:
        client.request("GET", "/api")
    assert TOKEN not in str(info.value)


def test_403_on_discovery_is_a_connection_error_but_on_an_object_an_api_error() -> None:
    denied = {"message": 'deployments.apps "web" is forbidden: User "bob" cannot get', "reason": "Forbidden"}
    client = make_client(FakePool(Response(403, denied), Response(403, denied)))
    with pytest.raises(ClusterConnectionError, match="denied access"):
        client.request("GET", "/apis")
    with pytest.raises(KubeApiError, match="access denied .403 Forbidden.*cannot get") as info:
        client.get(DEPLOYMENTS, "ns", "web")
    assert info.value.status == 403


def test_get_returns_none_for_404() -> None:
    client = make_client(FakePool(Response(404, {"reason": "NotFound"})))
    assert client.get(DEPLOYMENTS, "ns", "web") is None
    assert client.stats.by_verb == {"GET": 1}


def test_list_pages_and_fills_in_kind() -> None:
    pool = FakePool(
        Response(200, {"metadata": {"continue": "tok"}, "items": [{"metadata": {"name": "a"}}]}),
        Response(200, {"metadata": {}, "items": [{"metadata": {"name": "b"}}]}),
    )
    items = make_client(pool).list_objects(DEPLOYMENTS, "ns", label_selector="applyset.kubernetes.io/part-of=x")
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert {(i["apiVersion"], i["kind"]) for i in items} == {("apps/v1", "Deployment")}
    first, second = (parse_qs(urlsplit(c["url"]).query) for c in pool.calls)
    assert first["labelSelector"] == ["applyset.kubernetes.io/part-of=x"] and "continue" not in first
    assert second["continue"] == ["tok"]
    assert urlsplit(pool.calls[0]["url"]).path == "/apis/apps/v1/namespaces/ns/deployments"


def test_cluster_scoped_paths_ignore_the_namespace() -> None:
    assert NAMESPACES.path("ignored", "team-a") == "/api/v1/namespaces/team-a"
    assert DEPLOYMENTS.path("ns", "web") == "/apis/apps/v1/namespaces/ns/deployments/web"


def test_server_side_apply_request_shape() -> None:
    pool = FakePool(Response(200, {"kind": "Deployment"}))
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}}
    make_client(pool).apply(DEPLOYMENTS, manifest, dry_run=True, force_conflicts=True)
    call = pool.calls[0]
    query = parse_qs(urlsplit(call["url"]).query)
    assert call["method"] == "PATCH"
    assert call["headers"]["Content-Type"] == "application/apply-patch+yaml"
    assert query == {"fieldManager": ["gitops.kubernetes"], "force": ["true"], "dryRun": ["All"]}
    assert json.loads(call["body"]) == manifest


def test_apply_without_dry_run_or_force_sends_neither() -> None:
    pool = FakePool(Response(200, {}))
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}}
    make_client(pool).apply(DEPLOYMENTS, manifest, field_manager="someone")
    assert parse_qs(urlsplit(pool.calls[0]["url"]).query) == {"fieldManager": ["someone"]}


def test_create_and_replace_request_shapes() -> None:
    pool = FakePool(Response(201, {}), Response(200, {}))
    client = make_client(pool)
    hook = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "migrate-", "namespace": "ns"}}
    jobs = ApiResource("batch", "v1", "Job", "jobs", True)
    client.create(jobs, hook, dry_run=True)
    client.replace(DEPLOYMENTS, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7"}})
    create, replace = pool.calls
    assert create["method"] == "POST" and urlsplit(create["url"]).path == "/apis/batch/v1/namespaces/ns/jobs"
    assert parse_qs(urlsplit(create["url"]).query) == {"fieldManager": ["gitops.kubernetes"], "dryRun": ["All"]}
    assert replace["method"] == "PUT" and urlsplit(replace["url"]).path == "/apis/apps/v1/namespaces/ns/deployments/web"
    assert json.loads(replace["body"])["metadata"]["resourceVersion"] == "7"


def test_delete_sends_propagation_policy_and_tolerates_404() -> None:
    pool = FakePool(Response(200, {"kind": "Status"}), Response(404, {}))
    client = make_client(pool)
    client.delete(DEPLOYMENTS, "ns", "web", propagation_policy="foreground", dry_run=True)
    assert json.loads(pool.calls[0]["body"]) == {
        "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground", "dryRun": ["All"],
    }
    assert client.delete(DEPLOYMENTS, "ns", "gone") is None


def test_delete_with_a_uid_deletes_only_that_object() -> None:
    pool = FakePool(Response(200, {"kind": "Status"}))
    make_client(pool).delete(DEPLOYMENTS, "ns", "web", uid="0b6d-uid")
    assert json.loads(pool.calls[0]["body"])["preconditions"] == {"uid": "0b6d-uid"}


def test_a_rejection_keeps_the_status_reason_and_causes() -> None:
    cause = {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0", "field": "spec.replicas"}
    status = {"kind": "Status", "status": "Failure", "reason": "Invalid", "code": 422,
              "message": 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
              "details": {"name": "web", "group": "apps", "kind": "Deployment", "causes": [cause]}}
    with pytest.raises(KubeApiError) as raised:
        make_client(FakePool(Response(422, status))).apply(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": "ns"}})
    assert raised.value.status == 422 and raised.value.reason == "Invalid"
    assert raised.value.causes == [cause] and raised.value.details["kind"] == "Deployment"


def test_map_keeps_order_and_bounds_threads() -> None:
    client = make_client(FakePool(), parallelism=3)
    assert client.map(lambda x: x * 2, range(20)) == [x * 2 for x in range(20)]
    assert client._executor is not None and client._executor._max_workers == 3
    client.close()


# ---------------------------------------------------------------- discovery

AGGREGATED_CORE = {
    "kind": "APIGroupDiscoveryList",
    "items": [{"metadata": {}, "versions": [{"version": "v1", "resources": [
        {"resource": "configmaps", "responseKind": {"kind": "ConfigMap"}, "scope": "Namespaced", "verbs": ["get"]},
        {"resource": "namespaces", "responseKind": {"kind": "Namespace"}, "scope": "Cluster", "verbs": ["get"]},
    ]}]}],
}
AGGREGATED_GROUPS = {
    "kind": "APIGroupDiscoveryList",
    "items": [{"metadata": {"name": "autoscaling"}, "versions": [
        {"version": "v2", "resources": [{"resource": "horizontalpodautoscalers", "responseKind": {"kind": "HorizontalPodAutoscaler"}, "scope": "Namespaced"}]},
        {"version": "v1", "resources": [{"resource": "horizontalpodautoscalers", "responseKind": {"kind": "HorizontalPodAutoscaler"}, "scope": "Namespaced"}]},
    ]}],
}


def test_aggregated_discovery_costs_two_requests_and_keeps_preference() -> None:
    pool = FakePool(Response(200, AGGREGATED_CORE), Response(200, AGGREGATED_GROUPS))
    client = make_client(pool)
    discovery = client.discovery()
    assert client.stats.total == 2
    assert "apidiscovery.k8s.io" in pool.calls[0]["headers"]["Accept"]
    assert discovery.find("v1", "Namespace").namespaced is False
    assert discovery.preferred("autoscaling", "HorizontalPodAutoscaler").version == "v2"
    assert discovery.find("autoscaling/v1", "HorizontalPodAutoscaler").plural == "horizontalpodautoscalers"
    assert discovery.find("apps/v1", "Deployment") is None
    client.discovery()
    assert client.stats.total == 2  # once per process


def test_legacy_discovery_when_the_server_has_no_aggregated_documents() -> None:
    pool = FakePool(
        Response(200, {"kind": "APIVersions", "versions": ["v1"]}),
        Response(200, {"kind": "APIGroupList", "groups": [{"name": "apps", "versions": [{"version": "v1"}], "preferredVersion": {"version": "v1"}}]}),
        Response(200, {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True}, {"name": "pods/log", "kind": "Pod", "namespaced": True}]}),
        Response(200, {"resources": [{"name": "deployments", "kind": "Deployment", "namespaced": True}]}),
    )
    discovery = make_client(pool, parallelism=1).discovery()
    assert discovery.find("apps/v1", "Deployment").plural == "deployments"
    assert [r.plural for r in discovery.resources if r.kind == "Pod"] == ["pods"]


def test_discovery_is_cached_on_disk_for_a_short_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make_client(FakePool(Response(200, AGGREGATED_CORE), Response(200, AGGREGATED_GROUPS)), cache_dir=str(tmp_path))
    first.discovery()
    second = make_client(FakePool(), cache_dir=str(tmp_path))
    assert second.discovery().from_cache and second.stats.total == 0
    assert second.discovery().find("v1", "ConfigMap") is not None
    # after the TTL the server is asked again
    now = _kube.time.time()
    monkeypatch.setattr(_kube.time, "time", lambda: now + _kube.DISCOVERY_TTL + 1)
    third = make_client(FakePool(Response(200, AGGREGATED_CORE), Response(200, AGGREGATED_GROUPS)), cache_dir=str(tmp_path))
    assert not third.discovery().from_cache and third.stats.total == 2


def test_a_kind_missing_from_cached_discovery_triggers_one_refresh(tmp_path: Path) -> None:
    make_client(FakePool(Response(200, AGGREGATED_CORE), Response(200, AGGREGATED_GROUPS)), cache_dir=str(tmp_path)).discovery()
    with_crd = json.loads(json.dumps(AGGREGATED_GROUPS))
    with_crd["items"].append({"metadata": {"name": "example.org"}, "versions": [{"version": "v1", "resources": [
        {"resource": "widgets", "responseKind": {"kind": "Widget"}, "scope": "Namespaced"}]}]})
    client = make_client(FakePool(Response(200, AGGREGATED_CORE), Response(200, with_crd)), cache_dir=str(tmp_path))
    assert client.resource_for("example.org/v1", "Widget").plural == "widgets"
    assert client.stats.total == 2
    assert client.resource_for("example.org/v1", "Gadget") is None
    assert client.stats.total == 2  # fresh discovery is not refetched for every miss
