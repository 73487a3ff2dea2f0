"""Unit tests for the pure parts of the sync and its record: hook split, prune guards, history, write counting.

The behaviour against a cluster is proven in tests/integration/test_gitops_sync.py;
these cover the decisions that do not need one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import EXTRANEOUS, ComparedObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ConnectionSettings, resolve_connection
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import CLAIM_ANNOTATION, RunOwnership
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import parse_sync_options
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import (
    HISTORY_LIMIT,
    _parse_time,
    append_history,
    history_entry,
    initiator_from_env,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import (
    HANDED_OVER,
    PRUNE_SKIPPED,
    PRUNED,
    ObjectResult,
    SyncClient,
    _decide_prune,
    _ownership_conflict,
    _split_hooks,
)

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
         SyncPolicy(prune=True), 3, PRUNE_SKIPPED, True, "manual deletion"),
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
