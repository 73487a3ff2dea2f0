"""Unit tests for argocd-cm's resource customizations in the comparison (_compare with _argocd_cm)."""

from __future__ import annotations

import copy

from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import parse_resource_customizations
from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import compare_application
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import build_parent
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef

from test_compare import NS, SET_ID, FakeCluster, deployment, desired, live_deployment, statuses


def test_system_level_ignore_rule_of_argocd_cm_hides_drift_the_application_does_not_ignore() -> None:
    cluster = FakeCluster(live_deployment(replicas=5))
    assert compare_application(cluster, "shop", [desired(deployment(replicas=2))], namespace=NS).sync_status == "OutOfSync"
    settings = parse_resource_customizations({"resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n"})
    diff = compare_application(cluster, "shop", [desired(deployment(replicas=2))], namespace=NS, customizations=settings)
    assert statuses(diff) == {"Deployment/web": "Synced"}


def test_all_key_applies_to_every_kind_and_merges_with_application_rules() -> None:
    cluster = FakeCluster(live_deployment(replicas=5, labels={"team": "a"}))
    settings = parse_resource_customizations({"resource.customizations.ignoreDifferences.all": "jsonPointers:\n- /metadata/labels/team\n"})
    app_rules = [{"group": "apps", "kind": "Deployment", "json_pointers": ["/spec/replicas"]}]
    diff = compare_application(cluster, "shop", [desired(deployment(replicas=2, labels={"team": "b"}))], namespace=NS,
                               ignore_differences=app_rules, customizations=settings)
    assert statuses(diff) == {"Deployment/web": "Synced"}


def test_excluded_kind_in_git_is_left_out_with_a_warning_and_its_live_member_is_never_pruned() -> None:
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": NS,
                                                                 "labels": {"applyset.kubernetes.io/part-of": SET_ID}}}
    members = [ObjectRef.from_manifest(m) for m in (deployment(), old)]
    cluster = FakeCluster(live_deployment(), old, build_parent("shop", NS, members))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}}
    settings = parse_resource_customizations({"resource.exclusions": "- apiGroups: ['']\n  kinds: [ConfigMap]\n"})
    diff = compare_application(cluster, "shop", [desired(deployment()), DesiredObject(config, "app/config.yaml", 3)],
                               namespace=NS, customizations=settings)
    assert statuses(diff) == {"Deployment/web": "Synced"}
    assert diff.warnings == ["ConfigMap new (app/config.yaml:3) is excluded by resource.exclusions / resource.inclusions: "
                             "not compared, applied or pruned"]
    assert diff.to_result()["warnings"] == diff.warnings


def test_status_is_compared_when_ignore_resource_status_field_is_none() -> None:
    live = live_deployment()
    cluster = FakeCluster(live)
    manifest = copy.deepcopy(deployment())
    manifest["status"] = {"observedGeneration": 7}  # the fake API server keeps what is applied, status included
    settings = parse_resource_customizations({"resource.compareoptions": "ignoreResourceStatusField: none"})
    ignored = compare_application(cluster, "shop", [desired(manifest)], namespace=NS)
    compared = compare_application(cluster, "shop", [desired(manifest)], namespace=NS, customizations=settings)
    assert ignored.sync_status == "Synced" and compared.sync_status == "OutOfSync"
    assert compared.resources[0].patch == [{"op": "replace", "path": "/status/observedGeneration", "value": 7}]
