"""Unit tests for Replace=true and Force=true: which write an object out of sync gets, and the dry-run PUT check.

The writes against a real API server are proven in tests/integration/test_replace_force.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import OUT_OF_SYNC, ComparedObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import SyncOptions
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import CONFIGURED, RECREATED, REPLACED
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.replace import decide_write, put_body, replace_problem

JOB = ObjectRef("batch", "Job", "shop", "migrate")
CRD = ObjectRef("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.org")
NAMESPACE = ObjectRef("", "Namespace", "", "shop")
REFUSED = "Job.batch \"migrate\" is invalid: spec.template: Invalid value: field is immutable"
NONE, REPLACE, FORCE, BOTH = SyncOptions(), SyncOptions(replace=True), SyncOptions(force=True), SyncOptions(replace=True, force=True)


@pytest.mark.parametrize("options, policy, immutable, action", [
    # no option: an ordinary server-side apply
    (NONE, SyncPolicy(), [], CONFIGURED),
    # Replace=true: a PUT of the whole manifest, every time the object is out of sync
    (REPLACE, SyncPolicy(), [], REPLACED),
    (NONE, SyncPolicy(replace=True), [], REPLACED),
    # Force=true,Replace=true: kubectl replace --force, deleted and recreated
    (BOTH, SyncPolicy(), [], RECREATED),
    (REPLACE, SyncPolicy(force=True), [], RECREATED),
    # Force=true alone: kubectl apply --force, recreated only when the change cannot be made in place
    (FORCE, SyncPolicy(), [], CONFIGURED),
    (FORCE, SyncPolicy(), ["spec.template"], RECREATED),
    (NONE, SyncPolicy(force=True), ["spec.template"], RECREATED),
    (BOTH, SyncPolicy(), ["spec.template"], RECREATED),
])
def test_replace_and_force_choose_the_write_argo_cd_makes(options, policy, immutable, action):
    decision = decide_write(JOB, immutable, REFUSED if immutable else "", options, policy)
    assert (decision.action, decision.refusal) == (action, "")


def test_an_immutable_change_with_replace_alone_is_refused_with_a_hint_to_add_force():
    decision = decide_write(JOB, ["spec.template"], REFUSED, REPLACE, SyncPolicy())
    assert decision.action == ""
    assert decision.refusal.startswith(REFUSED)
    assert "PUT (kubectl replace), which cannot change an immutable field" in decision.refusal
    assert "Force=true,Replace=true" in decision.refusal


def test_an_immutable_change_without_options_is_refused_naming_force():
    decision = decide_write(JOB, ["spec.template"], REFUSED, NONE, SyncPolicy())
    assert decision.action == "" and "sync-options: Force=true" in decision.refusal and "sync_policy.force" in decision.refusal


@pytest.mark.parametrize("ref", [CRD, NAMESPACE])
@pytest.mark.parametrize("options", [REPLACE, BOTH])
def test_a_crd_or_namespace_with_replace_is_updated_never_recreated_even_with_force(ref, options):
    decision = decide_write(ref, [], "", options, SyncPolicy())
    assert decision.action == REPLACED and "never deleted and recreated" in decision.message


@pytest.mark.parametrize("ref, words", [(CRD, "its custom resources"), (NAMESPACE, "everything in it")])
@pytest.mark.parametrize("options", [NONE, FORCE, BOTH])
def test_an_immutable_change_of_a_crd_or_namespace_is_refused_even_with_force(ref, words, options):
    decision = decide_write(ref, ["spec.scope"], "spec.scope: field is immutable", options, SyncPolicy())
    assert decision.action == "" and words in decision.refusal and "never deleted and recreated" in decision.refusal


def test_the_put_carries_the_resource_version_it_replaces_and_leaves_the_manifest_alone():
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    body = put_body(manifest, "42")
    assert body["metadata"]["resourceVersion"] == "42" and "resourceVersion" not in manifest["metadata"]


class _RefusingClient:
    """A KubeClient whose PUT answers like the API server refusing it; records what was sent."""

    def __init__(self, error: KubeApiError | None) -> None:
        self.error = error
        self.sent: list[tuple[dict[str, Any], bool]] = []

    def replace(self, resource: ApiResource, manifest: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        self.sent.append((manifest, dry_run))
        if self.error:
            raise self.error
        return manifest


SECRET_REF = ObjectRef("", "Secret", "shop", "db")
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
          "stringData": {"password": "hunter2-very-secret"}}


def _compared(desired: dict[str, Any]) -> ComparedObject:
    live = {**desired, "metadata": {**desired["metadata"], "resourceVersion": "7", "uid": "u1"}}
    resource = ApiResource(group="", version="v1", kind="Secret", plural="secrets", namespaced=True)
    return ComparedObject(ref=SECRET_REF, status=OUT_OF_SYNC, desired=desired, live=live, resource=resource)


def test_the_put_is_dry_run_against_the_compared_version():
    client = _RefusingClient(None)
    assert replace_problem(client, _compared(SECRET), SECRET) == ""  # type: ignore[arg-type]
    (body, dry_run), = client.sent
    assert dry_run is True and body["metadata"]["resourceVersion"] == "7"


def test_a_refused_put_is_a_problem_naming_force_for_immutable_fields_and_never_a_secret_value():
    error = KubeApiError("Secret \"db\" is invalid: data: Invalid value: \"hunter2-very-secret\": field is immutable",
                         status=422, reason="Invalid", details={"causes": [
                             {"reason": "FieldValueInvalid", "field": "data", "message": "Invalid value: field is immutable"}]})
    problem = replace_problem(_RefusingClient(error), _compared(SECRET), SECRET)  # type: ignore[arg-type]
    assert "refuses its PUT (kubectl replace), nothing was written" in problem
    assert "Force=true,Replace=true" in problem
    assert "hunter2-very-secret" not in problem
