"""Unit tests for the cluster_server filter and _kubeconfig.cluster_server: an inventory host's API server is
gitops_cluster_server, else what its connection variables resolve to, read without connecting or running a
credential plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.gitops.kubernetes.plugins.filter.cluster_server import FilterModule, host_cluster_server
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ConnectionSettings, cluster_server

KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "east",
    "clusters": [{"name": "east", "cluster": {"server": "https://east.example:6443/"}},
                 {"name": "west", "cluster": {"server": "https://west.example:6443"}}],
    "contexts": [{"name": "east", "context": {"cluster": "east", "user": "admin"}},
                 {"name": "west", "context": {"cluster": "west", "user": "sso"}}],
    # an exec plugin that must never run just to know the server
    "users": [{"name": "admin", "user": {"token": "s3cret-token"}},
              {"name": "sso", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/false"}}}],
}


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    return str(path)


def test_the_current_context_server_is_the_default(kubeconfig):
    assert host_cluster_server({"gitops_kubeconfig": kubeconfig}) == "https://east.example:6443"


def test_gitops_context_chooses_the_cluster_without_running_its_exec_plugin(kubeconfig):
    assert host_cluster_server({"gitops_kubeconfig": kubeconfig, "gitops_context": "west"}) == "https://west.example:6443"


def test_gitops_cluster_server_wins_then_gitops_host(kubeconfig):
    assert host_cluster_server({"gitops_kubeconfig": kubeconfig, "gitops_cluster_server": "https://lb.example/"}) == \
        "https://lb.example"
    assert host_cluster_server({"gitops_kubeconfig": kubeconfig, "gitops_host": "https://direct.example:6443"}) == \
        "https://direct.example:6443"


def test_a_kubeconfig_given_as_a_dict_is_read_too():
    assert cluster_server(ConnectionSettings(kubeconfig=KUBECONFIG, context="west")) == "https://west.example:6443"


def test_an_unknown_context_names_the_host_and_never_a_credential(kubeconfig):
    with pytest.raises(AnsibleFilterError) as caught:
        host_cluster_server({"gitops_kubeconfig": kubeconfig, "gitops_context": "north", "inventory_hostname": "edge"})
    assert "inventory host edge" in str(caught.value) and "north" in str(caught.value)
    assert "s3cret-token" not in str(caught.value)


def test_a_missing_kubeconfig_file_is_an_error(tmp_path):
    with pytest.raises(ClusterConnectionError, match="does not exist"):
        cluster_server(ConnectionSettings(kubeconfig=str(tmp_path / "absent")))


def test_the_filter_is_registered():
    assert FilterModule().filters()["cluster_server"] is host_cluster_server
