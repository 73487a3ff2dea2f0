"""The event sources read the applications from the role's own inventory."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_targets import inventory_sources, load_targets

ARGO = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "healed"},
        "spec": {"source": {"repoURL": "{{ repo }}", "path": "app"}, "destination": {"namespace": "shop"},
                 "syncPolicy": {"automated": {"selfHeal": True}}}}


def test_clusters_connections_and_applications_come_from_the_inventory_with_group_vars_templated(tmp_path):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "clusters.yml").write_text(yaml.safe_dump({
        "repo": "https://git.example.org/apps.git",
        "gitops_applications": [ARGO, {"name": "plain", "source": {"repo_url": "{{ repo }}"}},
                                {**ARGO, "metadata": {"name": "manual"}, "spec": {**ARGO["spec"], "syncPolicy": {}}}],
        "gitops_skip": ["plain"]}))
    hosts = {"prod": {"gitops_kubeconfig": "/etc/kube/prod", "gitops_context": "admin"}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"clusters": {"hosts": hosts}}))
    [target] = load_targets([str(tmp_path / "hosts.yml")])
    assert target.host == "prod" and target.connection == {"kubeconfig": "/etc/kube/prod", "context": "admin"}
    found = {(a.name, a.namespace, a.automated, a.self_heal, a.spec.source.repo_url) for a in target.applications}
    assert found == {("healed", "shop", True, True, "https://git.example.org/apps.git"),
                     ("manual", "shop", False, False, "https://git.example.org/apps.git")}


def test_a_bad_application_names_the_inventory_host(tmp_path):
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"clusters": {"hosts": {"prod": {"gitops_applications": [{"name": "x"}]}}}}))
    with pytest.raises(SpecError, match="inventory host prod: .*source"):
        load_targets([str(tmp_path / "hosts.yml")])


def test_the_inventory_is_the_one_ansible_rulebook_was_given_unless_named():
    assert inventory_sources("mine.yml") == ["mine.yml"]
    assert inventory_sources(None, ["ansible-rulebook", "-r", "x", "-i", "inv.yml"], {}) == ["inv.yml"]
    assert inventory_sources(None, ["ansible-rulebook", "--inventory=inv"], {}) == ["inv"]
    assert inventory_sources(None, ["ansible-rulebook"], {"ANSIBLE_INVENTORY": "a,b"}) == ["a", "b"]
    with pytest.raises(SpecError, match="run ansible-rulebook with -i"):
        inventory_sources(None, ["ansible-rulebook"], {})
