"""Unit tests for the sync plan (_plan): order, hooks, Helm mapping, options."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import (
    BEFORE_HOOK_CREATION,
    HOOK_FAILED,
    HOOK_SUCCEEDED,
    KIND_ORDER,
    OTHER_KIND_RANK,
    POST_SYNC,
    PRE_SYNC,
    SYNC,
    SYNC_FAIL,
    build_plan,
    hook_spec,
    kind_rank,
    parse_compare_options,
    parse_sync_options,
    sync_wave,
)


def obj(kind: str, name: str, api_version: str = "v1") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}


def annotated(kind: str, name: str, annotations: dict[str, str], api_version: str = "v1") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "annotations": annotations}}


def test_kind_order_matches_argo_cd():
    assert KIND_ORDER[0] == "Namespace" and KIND_ORDER[-1] == "APIService"
    assert kind_rank("Namespace") < kind_rank("CustomResourceDefinition") < kind_rank("ClusterRole")
    assert kind_rank("ServiceAccount") < kind_rank("Secret") < kind_rank("ConfigMap") < kind_rank("PersistentVolumeClaim")
    assert kind_rank("Service") < kind_rank("Deployment") < kind_rank("Job") < kind_rank("Ingress")
    assert kind_rank("Widget") == kind_rank("Certificate") == OTHER_KIND_RANK > kind_rank("APIService")


def test_plan_orders_by_wave_then_kind_then_name():
    resources = [
        annotated("Deployment", "web", {"argocd.argoproj.io/sync-wave": "1"}, "apps/v1"),
        obj("Service", "web"),
        obj("ConfigMap", "b-config"),
        obj("ConfigMap", "a-config"),
        annotated("Secret", "db-password", {"argocd.argoproj.io/sync-wave": "-2"}),
        obj("Namespace", "shop"),
        obj("Widget", "w", "example.com/v1"),
        obj("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io/v1"),
    ]
    plan = build_plan([(m, None) for m in resources], [])
    order = [(t.wave, t.kind, t.name) for t in plan.ordered()]
    assert order == [
        (-2, "Secret", "db-password"),
        (0, "Namespace", "shop"),
        (0, "ConfigMap", "a-config"),
        (0, "ConfigMap", "b-config"),
        (0, "CustomResourceDefinition", "widgets.example.com"),
        (0, "Service", "web"),
        (0, "Widget", "w"),
        (1, "Deployment", "web"),
    ]
    steps = list(plan.steps(SYNC))
    assert [s.wave for s in steps] == [-2, 0, 1]
    # inside a wave, one group per kind rank, in apply order
    assert [[t.name for t in group] for group in steps[1].groups] == [
        ["shop"], ["a-config", "b-config"], ["widgets.example.com"], ["web"], ["w"],
    ]


def test_hooks_run_in_their_phases_and_skip_is_left_out():
    hooks = [
        annotated("Job", "migrate", {"argocd.argoproj.io/hook": "PreSync"}, "batch/v1"),
        annotated("Job", "smoke", {"argocd.argoproj.io/hook": "PostSync", "argocd.argoproj.io/sync-wave": "5"}, "batch/v1"),
        annotated("Job", "both", {"argocd.argoproj.io/hook": "PreSync,PostSync"}, "batch/v1"),
        annotated("Job", "alert", {"argocd.argoproj.io/hook": "SyncFail"}, "batch/v1"),
        annotated("ConfigMap", "skipped", {"argocd.argoproj.io/hook": "Skip"}),
        annotated("Job", "cleanup", {"argocd.argoproj.io/hook": "PostDelete"}, "batch/v1"),
    ]
    plan = build_plan([(obj("ConfigMap", "app"), None)], [(m, None) for m in hooks])
    assert [(t.phase, t.name) for t in plan.ordered()] == [
        (PRE_SYNC, "both"), (PRE_SYNC, "migrate"), (SYNC, "app"), (POST_SYNC, "both"), (POST_SYNC, "smoke"),
        (SYNC_FAIL, "alert"),
    ]
    assert [t.name for t in plan.hooks(PRE_SYNC)] == ["both", "migrate"]
    assert not plan.tasks[0].is_hook and plan.hooks()[0].is_hook


def test_hook_delete_policies_default_to_before_hook_creation():
    default = hook_spec(annotated("Job", "j", {"argocd.argoproj.io/hook": "PreSync"}))
    assert default is not None and default.delete_policies == {BEFORE_HOOK_CREATION}
    explicit = hook_spec(annotated("Job", "j", {
        "argocd.argoproj.io/hook": "PostSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded, HookFailed",
    }))
    assert explicit is not None and explicit.delete_policies == {HOOK_SUCCEEDED, HOOK_FAILED}
    assert hook_spec(obj("Job", "plain")) is None


@pytest.mark.parametrize(
    "helm_type, phases",
    [
        ("pre-install", (PRE_SYNC,)),
        ("pre-upgrade", (PRE_SYNC,)),
        ("pre-install,pre-upgrade", (PRE_SYNC,)),
        ("post-install,post-upgrade", (POST_SYNC,)),
        ("pre-install,post-install", (PRE_SYNC, POST_SYNC)),
        ("test", ()),  # a hook, but one a sync never runs
        ("pre-delete", ()),
    ],
)
def test_helm_hooks_map_like_argo_cd(helm_type: str, phases: tuple[str, ...]):
    spec = hook_spec(annotated("Job", "j", {"helm.sh/hook": helm_type, "helm.sh/hook-delete-policy": "hook-succeeded"}))
    assert spec is not None and spec.source == "helm"
    assert spec.phases == phases
    assert spec.delete_policies == {HOOK_SUCCEEDED}


def test_helm_crd_install_is_an_ordinary_resource_and_argo_annotation_wins():
    assert hook_spec(annotated("CustomResourceDefinition", "c", {"helm.sh/hook": "crd-install"})) is None
    both = hook_spec(annotated("Job", "j", {"helm.sh/hook": "post-install", "argocd.argoproj.io/hook": "Sync"}))
    assert both is not None and both.phases == (SYNC,) and both.source == "argocd"


def test_helm_hook_weight_is_the_wave_unless_sync_wave_is_set():
    assert sync_wave(annotated("Job", "j", {"helm.sh/hook-weight": "-5"})) == -5
    assert sync_wave(annotated("Job", "j", {"helm.sh/hook-weight": "-5", "argocd.argoproj.io/sync-wave": "3"})) == 3
    assert sync_wave(obj("Job", "j")) == 0


def test_bad_annotations_name_the_object():
    with pytest.raises(SpecError, match=r"ConfigMap cm: argocd.argoproj.io/sync-wave 'one' is not an integer"):
        sync_wave(annotated("ConfigMap", "cm", {"argocd.argoproj.io/sync-wave": "one"}))
    with pytest.raises(SpecError, match="'Presync' is not one of PreSync"):
        hook_spec(annotated("Job", "j", {"argocd.argoproj.io/hook": "Presync"}))
    with pytest.raises(SpecError, match="'OnSuccess' is not one of HookSucceeded"):
        hook_spec(annotated("Job", "j", {"argocd.argoproj.io/hook": "Sync", "argocd.argoproj.io/hook-delete-policy": "OnSuccess"}))


def test_sync_options():
    assert parse_sync_options(obj("ConfigMap", "c")).prune is True
    options = parse_sync_options(annotated("ConfigMap", "c", {
        "argocd.argoproj.io/sync-options": "Prune=false, Replace=true,ServerSideApply=true,Validate=false",
    }))
    assert options.prune is False and options.replace is True and options.validate is False
    assert options.server_side_apply is True
    confirm = parse_sync_options(annotated("ConfigMap", "c", {"argocd.argoproj.io/sync-options": "Prune=confirm"}))
    assert confirm.prune is False and confirm.prune_confirm is True
    # Replace and Force are two options, as in gitops-engine: Force alone is not a replace
    assert options.force is False
    force = parse_sync_options(annotated("Job", "j", {"argocd.argoproj.io/sync-options": "Force=true"}))
    assert (force.force, force.replace) == (True, False)
    both = parse_sync_options(annotated("Job", "j", {"argocd.argoproj.io/sync-options": "Force=true,Replace=true"}))
    assert (both.force, both.replace) == (True, True)
    with pytest.raises(SpecError, match="option 'Prnue' is unknown"):
        parse_sync_options(annotated("ConfigMap", "c", {"argocd.argoproj.io/sync-options": "Prnue=false"}))
    with pytest.raises(SpecError, match="Replace=yes must be true or false"):
        parse_sync_options(annotated("ConfigMap", "c", {"argocd.argoproj.io/sync-options": "Replace=yes"}))
    with pytest.raises(SpecError, match="is not Key=value"):
        parse_sync_options(annotated("ConfigMap", "c", {"argocd.argoproj.io/sync-options": "Replace"}))


def test_compare_options():
    manifest = annotated("ConfigMap", "c", {"argocd.argoproj.io/compare-options": "IgnoreExtraneous,ServerSideDiff=false"})
    assert parse_compare_options(manifest) == {"IgnoreExtraneous"}
    with pytest.raises(SpecError, match="'IgnoreAll' is unknown"):
        parse_compare_options(annotated("ConfigMap", "c", {"argocd.argoproj.io/compare-options": "IgnoreAll"}))
