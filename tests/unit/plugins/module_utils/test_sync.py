"""Unit tests for the pure parts of the sync and its record: hook split, prune guards, history, write counting.

The behaviour against a cluster is proven in tests/integration/test_gitops_sync.py;
these cover the decisions that do not need one.
"""

from __future__ import annotations

import copy
import json
import socket
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import EXTRANEOUS, ComparedObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SpecError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, ConnectionSettings, resolve_connection
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import CLAIM_ANNOTATION, RunOwnership
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import parse_sync_options
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import (
    HISTORY_LIMIT,
    LEASE_DURATION,
    LEASE_RENEW_DEADLINE,
    LEASE_RENEW_EVERY,
    LeaseLost,
    SyncLease,
    _lapsed,
    _parse_time,
    append_history,
    history_entry,
    initiator_from_env,
    now_iso,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import (
    HANDED_OVER,
    PRUNE_SKIPPED,
    PRUNED,
    ObjectResult,
    SyncClient,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.prepare import _decide_prune, _ownership_conflict, _split_hooks

SET_ID = "applyset-abc-v1"


def manifest(kind: str, name: str | None, annotations: dict[str, str] | None = None, **metadata: Any) -> dict[str, Any]:
    meta: dict[str, Any] = dict(metadata)
    if name:
        meta["name"] = name
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_split_hooks_separates_hooks_and_keeps_crd_install_as_a_resource():
    objects = [
        DesiredObject(manifest("ConfigMap", "app")),
        DesiredObject(manifest("Pod", None, {"argocd.argoproj.io/hook": "PreSync"}, generateName="check-")),
        DesiredObject(manifest("ConfigMap", "skipped", {"argocd.argoproj.io/hook": "Skip"})),
        DesiredObject(manifest("Pod", "helm-test", {"helm.sh/hook": "test"})),
        DesiredObject(manifest("CustomResourceDefinition", "crd", {"helm.sh/hook": "crd-install", "x": "y"})),
    ]
    resources, hooks = _split_hooks("shop", objects)
    assert [o.manifest["metadata"]["name"] for o in resources] == ["app", "crd"]
    # the compare engine skips hook annotations, so crd-install objects reach it without one
    assert resources[1].manifest["metadata"]["annotations"] == {"x": "y"}
    assert objects[4].manifest["metadata"]["annotations"]["helm.sh/hook"] == "crd-install"  # the input is not changed
    assert [h[0]["metadata"]["generateName"] for h in hooks] == ["check-"]


def test_split_hooks_names_the_file_of_a_bad_annotation():
    bad = DesiredObject(manifest("ConfigMap", "c", {"argocd.argoproj.io/sync-options": "Prune=maybe"}), "app/c.yaml", 4)
    with pytest.raises(SpecError) as raised:
        _split_hooks("shop", [bad])
    assert str(raised.value).startswith("application 'shop', app/c.yaml:4: ConfigMap c:")
    nameless = DesiredObject(manifest("Job", None, {"argocd.argoproj.io/hook": "PostSync"}), "app/j.yaml", 1)
    with pytest.raises(SpecError, match="neither metadata.name nor metadata.generateName"):
        _split_hooks("shop", [nameless])


def extraneous(labels: dict[str, str], annotations: dict[str, str] | None = None) -> tuple[ObjectResult, ComparedObject]:
    live = manifest("ConfigMap", "old", annotations, labels=labels, namespace="shop")
    compared = ComparedObject(ref=ObjectRef("", "ConfigMap", "shop", "old"), status=EXTRANEOUS, api_version="v1", live=live)
    entry = ObjectResult(ref=compared.ref, api_version="v1", action="", options=parse_sync_options(live), compared=compared)
    return entry, compared


@pytest.mark.parametrize(
    "labels, annotations, policy, desired, action, keep, words",
    [
        ({"applyset.kubernetes.io/part-of": SET_ID}, None, SyncPolicy(prune=True), 3, PRUNED, True, ""),
        ({"applyset.kubernetes.io/part-of": SET_ID}, None, SyncPolicy(prune=False), 3, PRUNE_SKIPPED, True, "sync_policy.prune"),
        ({"applyset.kubernetes.io/part-of": SET_ID}, {"argocd.argoproj.io/sync-options": "Prune=false"},
         SyncPolicy(prune=True), 3, PRUNE_SKIPPED, True, "Prune=false"),
        ({"applyset.kubernetes.io/part-of": SET_ID}, {"argocd.argoproj.io/sync-options": "Prune=confirm"},
         SyncPolicy(prune=True), 3, PRUNE_SKIPPED, True, "Prune=confirm needs a confirmation"),
        ({"applyset.kubernetes.io/part-of": SET_ID}, None, SyncPolicy(prune=True, object_prune="false"), 3, PRUNE_SKIPPED, True,
         "the application's syncOptions Prune=false"),
        ({"applyset.kubernetes.io/part-of": SET_ID}, None, SyncPolicy(prune=True, object_prune="confirm"), 3, PRUNE_SKIPPED, True,
         "Prune=confirm needs a confirmation"),
        ({"applyset.kubernetes.io/part-of": SET_ID}, {"argocd.argoproj.io/sync-options": "Prune=true"},
         SyncPolicy(prune=True, object_prune="false"), 3, PRUNED, True, ""),
        ({"applyset.kubernetes.io/part-of": SET_ID}, None, SyncPolicy(prune=True), 0, PRUNE_SKIPPED, True, "allow_empty"),
        ({"applyset.kubernetes.io/part-of": SET_ID}, None, SyncPolicy(prune=True, allow_empty=True), 0, PRUNED, True, ""),
        ({"applyset.kubernetes.io/part-of": "applyset-other-v1"}, None, SyncPolicy(prune=True), 3, PRUNE_SKIPPED, False,
         "belongs to ApplySet applyset-other-v1"),
        ({}, None, SyncPolicy(prune=True), 3, PRUNE_SKIPPED, False, "no longer carries"),
    ],
)
def test_prune_guards(labels, annotations, policy, desired, action, keep, words):
    entry, compared = extraneous(labels, annotations)
    _decide_prune(entry, compared, policy, SET_ID, {SET_ID}, RunOwnership(), desired)
    assert entry.action == action
    assert entry.keep_in_inventory is keep
    assert words in entry.message


@pytest.mark.parametrize("annotations, policy", [
    ({"argocd.argoproj.io/sync-options": "Prune=confirm"}, SyncPolicy(prune=True)),
    (None, SyncPolicy(prune=True, object_prune="confirm")),
])
def test_a_confirmed_prune_confirm_object_is_pruned(annotations, policy):
    entry, compared = extraneous({"applyset.kubernetes.io/part-of": SET_ID}, annotations)
    _decide_prune(entry, compared, policy, SET_ID, {SET_ID}, RunOwnership(), 3, confirmed=True)
    assert entry.action == PRUNED


def test_an_object_another_application_of_the_run_wants_is_handed_over_not_pruned():
    entry, compared = extraneous({"applyset.kubernetes.io/part-of": SET_ID})
    ownership = RunOwnership()
    ownership.add(SET_ID, "shop", [])
    ownership.add("applyset-cart-v1", "cart", [entry.ref])
    _decide_prune(entry, compared, SyncPolicy(prune=True), SET_ID, {SET_ID}, ownership, 3)
    assert entry.action == HANDED_OVER and entry.hand_over_to == ""
    assert "handed over to application cart" in entry.message


def test_a_claimed_object_is_handed_over_to_its_claimant_even_with_pruning_off():
    entry, compared = extraneous({"applyset.kubernetes.io/part-of": SET_ID}, {CLAIM_ANNOTATION: "applyset-cart-v1"})
    _decide_prune(entry, compared, SyncPolicy(prune=False), SET_ID, {SET_ID}, RunOwnership(), 3)
    assert entry.action == HANDED_OVER and entry.hand_over_to == "applyset-cart-v1"


def test_a_member_of_a_parent_left_in_another_namespace_is_judged_by_that_parents_id():
    entry, compared = extraneous({"applyset.kubernetes.io/part-of": "applyset-old-v1"})
    compared.inventory_set_id = "applyset-old-v1"
    _decide_prune(entry, compared, SyncPolicy(prune=True), SET_ID, {SET_ID, "applyset-old-v1"}, RunOwnership(), 3)
    assert entry.action == PRUNED


@pytest.mark.parametrize("owner_in_run, owner_wants, others, expected", [
    (True, False, [], ""),
    (True, True, ["cart"], "wanted by application(s) cart of this run"),
    (False, False, [], "is now claimed for this one"),
])
def test_taking_over_an_object_of_another_application(owner_in_run, owner_wants, others, expected):
    ref = ObjectRef("", "ConfigMap", "shop", "moved")
    ownership = RunOwnership()
    ownership.add(SET_ID, "shop", [ref])
    if owner_in_run:
        ownership.add("applyset-cart-v1", "cart", [ref] if owner_wants else [])
    conflict = _ownership_conflict(ref, "applyset-cart-v1", SET_ID, ownership, check_mode=False)
    assert (expected in conflict) if expected else conflict == ""


def test_history_keeps_the_last_ten_numbered_entries():
    history: list[dict[str, Any]] = []
    for number in range(12):
        entry = history_entry(revision=f"r{number}", started_at="2026-01-01T00:00:00.000000Z",
                              finished_at="2026-01-01T00:00:01.000000Z", result="Succeeded",
                              counts={"created": number}, initiator={"job_id": "42", "user": "alice"})
        history = append_history(history, entry)
    assert len(history) == HISTORY_LIMIT
    assert [h["id"] for h in history] == list(range(3, 13))
    assert history[-1]["revision"] == "r11" and history[-1]["job_id"] == "42" and history[-1]["user"] == "alice"
    json.dumps(history)  # stored as JSON in the parent


def test_initiator_from_awx_environment():
    assert initiator_from_env({"AWX_JOB_ID": "17", "AWX_USER_NAME": "bob", "USER": "runner"}) == {"job_id": "17", "user": "bob"}
    assert initiator_from_env({"JOB_ID": "5", "USER": "runner"}) == {"job_id": "5", "user": "runner"}
    assert initiator_from_env({}) == {}


def test_lease_times_parse_as_kubernetes_writes_them():
    assert _parse_time("2026-11-26T10:00:00.123456Z") == pytest.approx(1795687200.123456)
    assert _parse_time("2026-11-26T10:00:00Z") == 1795687200.0
    assert _parse_time("garbage") is None and _parse_time(None) is None


class Response:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.data = json.dumps(body).encode()
        self.headers: dict[str, str] = {}


class RecordingPool:
    """Stands in for urllib3's pool at the narrowest boundary; every answer is 200 {}."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    def request(self, method: str, url: str, **_: Any) -> Response:
        self.methods.append(method)
        return Response(200, {"metadata": {}})

    def clear(self) -> None:
        pass


def test_sync_client_counts_writes_but_not_dry_runs_or_reads():
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    pool = RecordingPool()
    client = SyncClient(resolve_connection(ConnectionSettings(kubeconfig=kubeconfig)), pool_manager=pool)
    client.request("GET", "/api/v1/namespaces")
    client.request("PATCH", "/api/v1/namespaces/a/configmaps/b", query={"dryRun": "All"}, body={})
    client.request("DELETE", "/api/v1/namespaces/a/configmaps/b", body={"dryRun": ["All"]})
    assert client.writes == 0
    client.request("PATCH", "/api/v1/namespaces/a/configmaps/b", query={"fieldManager": "x"}, body={})
    client.request("POST", "/api/v1/namespaces/a/configmaps", body={})
    client.request("DELETE", "/api/v1/namespaces/a/configmaps/b", body={"propagationPolicy": "Foreground"})
    assert client.writes == 3 and client.writes_by_verb == {"PATCH": 1, "POST": 1, "DELETE": 1}
    assert client.stats.total == 6 == len(pool.methods)


class LeaseCluster:
    """One Lease in memory, with the API server's resourceVersion check on PUT: enough for SyncLease's decisions."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.writes: list[str] = []

    def resource_for(self, api_version: str, kind: str) -> ApiResource:
        return ApiResource("coordination.k8s.io", "v1", "Lease", "leases", True)

    def get(self, resource: ApiResource, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.lease)

    def store(self, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)

    def request(self, method: str, path: str, *, body: Any = None, **_: Any) -> dict[str, Any] | None:
        self.writes.append(method)
        if method == "DELETE":
            if self.lease and body["preconditions"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
                raise KubeApiError("Precondition failed", status=409, reason="Conflict")
            self.lease = None
            return {}
        if method == "PUT" and body["metadata"]["resourceVersion"] != (self.lease or {}).get("metadata", {}).get("resourceVersion"):
            raise KubeApiError("the object has been modified", status=409, reason="Conflict")
        return self.store(body)

    def hold(self, holder: str, renewed: float) -> None:
        stamp = datetime.fromtimestamp(renewed, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.store({"metadata": {"name": "gitops-sync-shop", "namespace": "shop"},
                    "spec": {"holderIdentity": holder, "leaseDurationSeconds": LEASE_DURATION, "renewTime": stamp}})


def test_a_lease_is_lapsed_only_after_a_whole_duration_without_renewal():
    fresh = {"leaseDurationSeconds": 30, "renewTime": now_iso()}
    assert not _lapsed(fresh, unchanged_for=29)
    assert _lapsed(fresh, unchanged_for=31)  # watched it for a whole duration: the holder stopped renewing
    old = {"leaseDurationSeconds": 30, "renewTime": "2020-01-01T00:00:00.000000Z"}
    assert _lapsed(old, unchanged_for=0)  # abandoned long ago (far beyond any clock skew)


def test_a_holder_on_this_host_whose_pid_is_not_visible_is_alive_while_it_renews():
    # a sync in another PID namespace (a container, an AWX execution node) is not seen by os.kill: it is alive
    cluster = LeaseCluster()
    other = f"{socket.gethostname()}/999999999/x"
    cluster.hold(other, time.time())
    lease = SyncLease(cluster, "shop", "shop", wait_timeout=0)  # type: ignore[arg-type]
    with pytest.raises(SyncError, match=f"another sync of this application holds Lease shop/gitops-sync-shop \\(holder {other}"):
        lease.acquire()
    assert cluster.writes == [] and cluster.lease["spec"]["holderIdentity"] == other


def test_a_sync_that_lost_its_lease_stops_before_the_next_write_and_leaves_the_lease_alone():
    cluster = LeaseCluster()
    lease = SyncLease(cluster, "shop", "shop", wait_timeout=0, identity="me")  # type: ignore[arg-type]
    lease.acquire()
    try:
        lease.check("wave 0")  # still ours
        cluster.hold("someone-else", time.time())
        with pytest.raises(LeaseLost) as lost:
            lease.check("Sync wave 1")
        assert str(lost.value) == ("application 'shop': lost the Lease shop/gitops-sync-shop: another sync (someone-else) took it "
                                   "over; stopped before writing Sync wave 1 and recorded nothing more. The other sync, "
                                   "or the next one, converges the application")
    finally:
        lease.release()
    assert cluster.lease["spec"]["holderIdentity"] == "someone-else"  # released nothing of the other's


def test_a_holder_that_could_not_renew_for_the_deadline_stops_writing(monkeypatch: pytest.MonkeyPatch):
    cluster = LeaseCluster()
    lease = SyncLease(cluster, "shop", "shop", wait_timeout=0, identity="me")  # type: ignore[arg-type]
    lease.acquire()
    try:
        lease._renewed_at -= LEASE_RENEW_DEADLINE + 1  # pylint: disable=protected-access
        with pytest.raises(LeaseLost, match="it was not renewed for 20s; stopped before writing prune"):
            lease.check("prune")
    finally:
        lease.release()
    assert LEASE_RENEW_DEADLINE + 2 * LEASE_RENEW_EVERY <= LEASE_DURATION  # gives up well before a taker may take it
