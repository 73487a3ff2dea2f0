"""Unit tests for the translation of argocd-cm's resource customizations (_argocd_cm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import ResourceFilter, parse_resource_customizations
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import DEGRADED, HEALTHY, PROGRESSING, Health

FIXTURES = Path(__file__).parent / "fixtures" / "resource_customizations"
SCRIPT = 'hs = {}\nhs.status = "Degraded"\nhs.message = "from argocd-cm"\nreturn hs\n'
ARGOCD_CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "argocd-cm", "namespace": "argocd"},
    "data": {
        "url": "https://argocd.example.com",
        "resource.customizations.health.example.io_Widget": SCRIPT,
        "resource.customizations.health.Service": 'return {status = "Progressing", message = "core kind"}',
        "resource.customizations.useOpenLibs.example.io_Widget": "true",
        "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n",
        "resource.customizations.ignoreDifferences.all": "managedFieldsManagers:\n- kube-controller-manager\n",
        "resource.customizations.ignoreResourceUpdates.all": "jsonPointers:\n- /status\n",
        "resource.customizations.actions.apps_Deployment": "discovery.lua: return {}\n",
        "resource.customizations": "cert-manager.io/Certificate:\n  health.lua: |\n    return {status = \"Healthy\", message = \"old block\"}\n"
                                   "  ignoreDifferences: |\n    jqPathExpressions:\n    - .spec.duration\n",
        "resource.exclusions": "- apiGroups: [\"cilium.io\"]\n  kinds: [\"CiliumIdentity\"]\n  clusters: [\"*\"]\n",
        "resource.compareoptions": "ignoreAggregatedRoles: true\nignoreResourceStatusField: crd\n",
    },
}


def test_config_map_manifest_gives_health_scripts_of_both_spellings():
    customizations = parse_resource_customizations(ARGOCD_CM)
    checks = customizations.health
    assert checks.assess({"apiVersion": "example.io/v1", "kind": "Widget"}) == Health(DEGRADED, "from argocd-cm")
    assert checks.assess({"apiVersion": "v1", "kind": "Service"}) == Health(PROGRESSING, "core kind")
    assert checks.assess({"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}) == Health(HEALTHY, "old block")


def test_data_alone_and_yaml_text_are_the_same_setting():
    import yaml

    from_data = parse_resource_customizations(ARGOCD_CM["data"])
    from_text = parse_resource_customizations(yaml.safe_dump(ARGOCD_CM))
    assert from_data.ignore_differences == from_text.ignore_differences == parse_resource_customizations(ARGOCD_CM).ignore_differences


def test_ignore_differences_become_system_level_rules_in_our_form():
    rules = parse_resource_customizations(ARGOCD_CM).ignore_differences
    assert {"group": "apps", "kind": "Deployment", "json_pointers": ["/spec/replicas"], "jq_path_expressions": [],
            "managed_fields_managers": []} in rules
    assert {"group": "*", "kind": "*", "json_pointers": [], "jq_path_expressions": [],
            "managed_fields_managers": ["kube-controller-manager"]} in rules
    assert {"group": "cert-manager.io", "kind": "Certificate", "json_pointers": [], "jq_path_expressions": [".spec.duration"],
            "managed_fields_managers": []} in rules
    assert len(rules) == 3  # ignoreResourceUpdates are no ignore rules for the comparison


def test_aggregated_cluster_roles_get_their_rules_ignored_by_name():
    customizations = parse_resource_customizations(ARGOCD_CM)
    aggregated = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "monitoring"},
                  "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}}
    plain = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "plain"}, "rules": []}
    extra = customizations.ignore_rules_for([aggregated, plain])[len(customizations.ignore_differences):]
    assert extra == [{"group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "monitoring", "json_pointers": ["/rules"]}]


def test_status_comparison_follows_ignore_resource_status_field():
    crd_only = parse_resource_customizations(ARGOCD_CM)
    assert crd_only.compares_status("apps", "Deployment") and not crd_only.compares_status("apiextensions.k8s.io", "CustomResourceDefinition")
    assert not parse_resource_customizations({}).compares_status("apps", "Deployment")
    assert parse_resource_customizations({"resource.compareoptions": "ignoreResourceStatusField: off"}).compares_status("", "Pod")
    odd = parse_resource_customizations({"resource.compareoptions": "ignoreResourceStatusField: sometimes"})
    assert not odd.compares_status("", "Pod") and "sometimes" in odd.warnings[0]


def test_exclusions_and_inclusions_as_argo_cd_filters_them():
    customizations = parse_resource_customizations(ARGOCD_CM)
    assert customizations.excluded("cilium.io", "CiliumIdentity", "https://10.0.0.1")
    assert not customizations.excluded("cilium.io", "CiliumNetworkPolicy", "https://10.0.0.1")
    included = parse_resource_customizations({"resource.inclusions": "- apiGroups: ['', apps]\n  kinds: ['*']\n"})
    assert not included.excluded("apps", "Deployment") and included.excluded("batch", "Job")
    assert ResourceFilter(clusters=("https://prod*",)).matches("x", "Y", "https://prod.example") is True
    assert ResourceFilter(clusters=("https://prod*",)).matches("x", "Y", "https://dev.example") is False


def test_other_argocd_cm_keys_are_named_in_a_warning():
    warnings = parse_resource_customizations(ARGOCD_CM).warnings
    assert warnings == ["resource_customizations: these argocd-cm keys configure Argo CD's own services and are not used "
                        "by this collection: url"]


def test_directory_laid_out_as_argo_cds_resource_customizations():
    customizations = parse_resource_customizations(None, str(FIXTURES))
    gadget = {"apiVersion": "health.gitops.test/v1", "kind": "Gadget", "metadata": {"name": "g"}, "status": {"phase": "Ready"}}
    assert customizations.health.assess(gadget) == Health(HEALTHY, "gadget g is ready")


def test_directory_underscore_is_a_wildcard(tmp_path: Path):
    script_dir = tmp_path / "_.crossplane.io" / "_"
    script_dir.mkdir(parents=True)
    (script_dir / "health.lua").write_text('return {status = "Healthy", message = "crossplane"}')
    checks = parse_resource_customizations(None, str(tmp_path)).health
    assert checks.assess({"apiVersion": "s3.aws.crossplane.io/v1", "kind": "Bucket"}).message == "crossplane"


@pytest.mark.parametrize("raw, words", [
    ({"resource.customizations.health.example.io_Widget": "return {"}, "resource.customizations.health.example.io_Widget does not compile"),
    ({"resource.customizations.colour.apps_Deployment": "red"}, "resource customization type colour not supported"),
    ({"resource.customizations.health.a_b_c": "return {}"}, "group kind should be in format"),
    ({"resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers: [spec/replicas]"}, "is not a JSON pointer"),
    ({"resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointer: [/spec]"}, "unknown keys: jsonPointer"),
    ({"resource.exclusions": "- apiGroup: [x]"}, "resource.exclusions[0] must have only apiGroups, kinds and clusters"),
    ({"resource.compareoptions": "ignoreAggregatedRoles: maybe"}, "must be true or false"),
    ({"resource.compareoptions": "ignoreEverything: true"}, "unknown keys: ignoreEverything"),
    (["a list"], "must be the data of the argocd-cm ConfigMap"),
])
def test_broken_settings_fail_naming_the_key(raw, words):
    with pytest.raises(SpecError) as error:
        parse_resource_customizations(raw)
    assert words in str(error.value)


def test_missing_directory_fails(tmp_path: Path):
    with pytest.raises(SpecError, match="is not a directory"):
        parse_resource_customizations(None, str(tmp_path / "nowhere"))


def test_scripts_without_lupa_fail_before_any_work_naming_them(monkeypatch):
    from ansible_collections.gitops.kubernetes.plugins.module_utils import _argocd_cm

    monkeypatch.setattr(_argocd_cm, "HAS_LUPA", False)
    with pytest.raises(SpecError, match="need the 'lupa' Python package .*resource.customizations.health.example.io_Widget"):
        parse_resource_customizations(ARGOCD_CM)
    assert parse_resource_customizations({"resource.exclusions": "[]"}).exclusions == []
