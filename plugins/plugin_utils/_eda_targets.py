# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The applications Event-Driven Ansible watches: read from the role's own Ansible inventory.

The event sources are given the inventory ``ansible-rulebook -i`` runs the
playbooks with (or an ``inventory`` argument naming one): each host of the
``hosts`` group (default ``clusters``, as in the sync playbook) is a cluster,
with the role's variables: ``gitops_kubeconfig`` (and the other connection
variables), ``gitops_applications``, ``gitops_generators``, ``gitops_only``,
``gitops_skip``, ``gitops_cache_dir``, ``gitops_cache_max_size``,
``gitops_cache_max_age`` and ``gitops_repositories``. Host and group variables are
templated as ansible-playbook would (lookups included), so nothing is
configured twice.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_evict import EvictionPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import generate_applications
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential, parse_repositories
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, parse_application

# role variable -> connection option of the modules (as roles/applications/tasks/main.yml passes them)
CONNECTION_VARIABLES = {
    "gitops_kubeconfig": "kubeconfig", "gitops_context": "context", "gitops_host": "host", "gitops_api_key": "api_key",
    "gitops_ca_cert": "ca_cert", "gitops_client_cert": "client_cert", "gitops_client_key": "client_key",
    "gitops_validate_certs": "validate_certs",
}
# Ansible's plugin loader is not thread-safe: event sources starting side by side read inventories one at a time
_ANSIBLE_LOCK = threading.Lock()
ROLE_VARIABLES = ("gitops_applications", "gitops_generators", "gitops_only", "gitops_skip", "gitops_cache_dir",
                  "gitops_cache_max_size", "gitops_cache_max_age", "gitops_repositories", *CONNECTION_VARIABLES)


@dataclass
class WatchedApplication:
    """One application as the event sources see it."""

    name: str
    cluster: str  # the inventory host: the rulebook limits its sync to it
    namespace: str  # the destination namespace ('' until the cluster connection supplies its default)
    spec: Application
    automated: bool  # a new revision is deployed without being asked
    self_heal: bool  # live drift is reverted without being asked


@dataclass
class ClusterTarget:
    """One inventory host: how to reach the cluster, and its applications."""

    host: str
    connection: dict[str, Any]
    cache_dir: str | None = None
    applications: list[WatchedApplication] = field(default_factory=list)
    # the chart repositories' credentials (gitops_repositories), as the sync is given them
    repositories: list[RepositoryCredential] = field(default_factory=list)
    # gitops_cache_max_size / gitops_cache_max_age, as the sync evicts the cache
    eviction: EvictionPolicy = field(default_factory=EvictionPolicy.from_options)


def reconcile_policy(raw: dict[str, Any], spec: Application) -> tuple[bool, bool]:
    """(automated, self_heal) of an application.

    The model's SyncPolicy says it when it carries the fields; until then an Argo CD manifest's
    spec.syncPolicy.automated (enabled unless ``enabled: false``) and its selfHeal do.
    """
    policy = spec.sync_policy
    if hasattr(policy, "automated") and hasattr(policy, "self_heal"):
        automated = bool(getattr(policy, "automated"))
        return automated, automated and bool(getattr(policy, "self_heal"))
    automated_spec = ((raw.get("spec") or {}).get("syncPolicy") or {}).get("automated") if "kind" in raw else None
    if not isinstance(automated_spec, dict) or automated_spec.get("enabled") is False:
        return False, False
    return True, bool(automated_spec.get("selfHeal"))


def inventory_sources(given: Any = None, argv: list[str] | None = None, environ: dict[str, str] | None = None) -> list[str]:
    """The inventory to read: the argument, else the one ansible-rulebook was started with (-i), else ANSIBLE_INVENTORY."""
    if given:
        return [str(item) for item in given] if isinstance(given, list) else [str(given)]
    argv = sys.argv if argv is None else argv
    for position, word in enumerate(argv):
        if word in ("-i", "--inventory") and position + 1 < len(argv):
            return [argv[position + 1]]
        if word.startswith("--inventory="):
            return [word.split("=", 1)[1]]
    env = os.environ if environ is None else environ
    if env.get("ANSIBLE_INVENTORY"):
        return [item for item in env["ANSIBLE_INVENTORY"].split(",") if item]
    raise SpecError("no inventory to read the applications from: run ansible-rulebook with -i INVENTORY "
                    "or give the event source an `inventory` argument")


def _host_variables(sources: list[str], pattern: str) -> dict[str, dict[str, Any]]:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    with _ANSIBLE_LOCK:
        loader = DataLoader()
        inventory = InventoryManager(loader=loader, sources=sources)
        variables = VariableManager(loader=loader, inventory=inventory)
        hosts = inventory.get_hosts(pattern)
        if not hosts:
            raise SpecError(f"the inventory {', '.join(shlex.quote(s) for s in sources)} has no host in {pattern!r} "
                            "(the clusters the sync playbook syncs)")
        found: dict[str, dict[str, Any]] = {}
        for host in hosts:
            host_vars = variables.get_vars(host=host)
            templar = Templar(loader=loader, variables=host_vars)
            found[host.name] = {name: templar.template(host_vars[name]) for name in ROLE_VARIABLES if name in host_vars}
        return found


def load_targets(sources: list[str], pattern: str = "clusters") -> list[ClusterTarget]:
    """The clusters and their applications, as the role would sync them (raises SpecError naming what is wrong)."""
    targets = []
    for host, host_vars in _host_variables(sources, pattern).items():
        connection = {option: host_vars[name] for name, option in CONNECTION_VARIABLES.items() if host_vars.get(name) is not None}
        try:
            target = ClusterTarget(host, connection, host_vars.get("gitops_cache_dir") or None,
                                   repositories=parse_repositories(host_vars.get("gitops_repositories") or []),
                                   eviction=EvictionPolicy.from_options(host_vars.get("gitops_cache_max_size"),
                                                                        host_vars.get("gitops_cache_max_age")))
        except GitopsError as exc:
            raise SpecError(f"inventory host {host}: {exc}") from None
        raw_apps = host_vars.get("gitops_applications") or []
        try:
            selection = generate_applications(raw_apps, host_vars.get("gitops_generators") or [],
                                              list(host_vars.get("gitops_only") or []), list(host_vars.get("gitops_skip") or []),
                                              target.cache_dir)
        except GitopsError as exc:
            raise SpecError(f"inventory host {host}: {exc}") from None
        for raw in [raw_apps[i] for i in selection.explicit] + list(selection.generated):
            try:
                spec = parse_application(raw)
            except GitopsError as exc:
                raise SpecError(f"inventory host {host}: {exc}") from None
            automated, self_heal = reconcile_policy(raw, spec)
            target.applications.append(WatchedApplication(spec.name, host, spec.destination.namespace, spec, automated, self_heal))
        targets.append(target)
    return targets
