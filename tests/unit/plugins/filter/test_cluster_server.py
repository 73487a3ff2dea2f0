"""Unit tests for the cluster_server filter and _kubeconfig.cluster_server: an inventory host's API server is
gitops_cluster_server, else what its connection variables resolve to, read without connecting or running a
credential plugin."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def test_through_ansible_every_host_gets_its_server_and_an_unknown_context_names_the_host(kubeconfig, tmp_path):
    # the real templating of hostvars (in a separate process: Ansible's controller code changes how modules warn)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        "east": {"gitops_kubeconfig": kubeconfig},
        "edge": {"gitops_kubeconfig": kubeconfig, "gitops_context": "north"}}}}))
    # tests/conftest.py points ANSIBLE_COLLECTIONS_PATH at this checkout
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_LOCALHOST_WARNING": "false"}
    template = "{{ hostvars[inventory_hostname] | gitops.kubernetes.cluster_server }}"
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible"), "all", "-i", str(inventory), "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", "-m", "ansible.builtin.debug",
                           "-a", json.dumps({"msg": template})],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    # the ad hoc output: "host | SUCCESS => {json}" per host
    results = {match.group(1): json.loads(match.group(2))
               for match in re.finditer(r"^(\S+) \| \S+ => (\{.*?^\})$", proc.stdout, re.MULTILINE | re.DOTALL)}
    assert set(results) == {"east", "edge"}, proc.stdout + proc.stderr
    assert results["east"]["msg"] == "https://east.example:6443"
    assert proc.returncode != 0 and "edge | FAILED!" in proc.stdout
    assert "inventory host edge: the API server of its cluster is not known" in results["edge"]["msg"]
    assert "north" in results["edge"]["msg"] and "s3cret-token" not in proc.stdout + proc.stderr


def test_an_unknown_context_is_an_error_of_the_connection(kubeconfig):
    with pytest.raises(ClusterConnectionError, match="north"):
        cluster_server(ConnectionSettings(kubeconfig=kubeconfig, context="north"))


def test_a_missing_kubeconfig_file_is_an_error(tmp_path):
    with pytest.raises(ClusterConnectionError, match="does not exist"):
        cluster_server(ConnectionSettings(kubeconfig=str(tmp_path / "absent")))


def test_the_filter_is_registered():
    assert FilterModule().filters()["cluster_server"] is host_cluster_server
