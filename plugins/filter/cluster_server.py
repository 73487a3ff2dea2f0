# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_server
short_description: The API server URL an inventory host (a cluster) is known by
version_added: 0.2.0
author:
  - gitops.kubernetes maintainers (@gitops-kubernetes)
description:
  - "The host's C(gitops_cluster_server), else the server its connection variables name, as the modules resolve
    them: C(gitops_host), else the cluster of C(gitops_context) (or the current context) in C(gitops_kubeconfig)
    (a path or a dict; unset, C($KUBECONFIG) or C(~/.kube/config)), else the in-cluster service account's."
  - Nothing is contacted and no credential plugin is run; credentials never appear in the value or in errors.
  - The role C(gitops.kubernetes.applications) uses it to give every host of the play its server in the C(clusters)
    of the ApplicationSets (the C(server) parameter of the C(clusters) generator, destinations by server).
options:
  _input:
    description: The host's variables, for example C(hostvars[host]).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The servers of the play's clusters
  ansible.builtin.debug:
    msg: "{{ ansible_play_hosts_all | map('extract', hostvars) | map('gitops.kubernetes.cluster_server') | list }}"
"""

RETURN = r"""
_value:
  description: The API server URL, without a trailing C(/).
  type: str
"""

from collections.abc import Mapping
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ConnectionSettings, cluster_server

# role variable -> connection setting: only what decides the server (credentials are not read)
SERVER_VARIABLES = {"gitops_kubeconfig": "kubeconfig", "gitops_context": "context", "gitops_host": "host"}


def _filter_error(message: str) -> Exception:
    # imported when needed: importing Ansible's controller errors switches module warnings to the controller's display
    from ansible.errors import AnsibleFilterError

    return AnsibleFilterError(message)


def host_cluster_server(host_vars: Any) -> str:
    """gitops_cluster_server, else the server of the host's connection variables."""
    if not isinstance(host_vars, Mapping):
        raise _filter_error(f"cluster_server expects a host's variables (hostvars[host]), got {type(host_vars).__name__}")
    explicit = host_vars.get("gitops_cluster_server")
    if explicit:
        return str(explicit).rstrip("/")
    settings = ConnectionSettings(**{option: host_vars.get(variable) or None for variable, option in SERVER_VARIABLES.items()})
    try:
        return cluster_server(settings)
    except ClusterConnectionError as exc:
        host = host_vars.get("inventory_hostname") or "(unknown host)"
        raise _filter_error(f"inventory host {host}: the API server of its cluster is not known (set "
                            f"gitops_cluster_server, or fix its connection variables): {exc}") from None


class FilterModule:
    """gitops.kubernetes filters."""

    def filters(self) -> dict[str, Any]:
        return {"cluster_server": host_cluster_server}
