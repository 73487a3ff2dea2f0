#!/usr/bin/python
# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gitops_info
short_description: List applications in a cluster with their last synced revision, health, resources and sync history
version_added: 0.1.0
author:
  - gitops.kubernetes maintainers (@gitops-kubernetes)
description:
  - What C(argocd app list), C(argocd app get) and C(argocd app history) show, read from the cluster. Applications
    are found through their inventory (the ApplySet parent ConfigMap C(applyset-<name>) that
    M(gitops.kubernetes.gitops_sync) writes, labelled C(gitops.kubernetes/application)), by O(names), by O(owner),
    in O(namespaces) or in the whole cluster.
  - "For each application: the revision of its last successful sync, the last sync (its result, times, message,
    initiator), its health now (the worst health of its resources, V(Missing) when one is gone), the resources of its
    inventory with their live health, the sync history (id, revision, times, result, C(rollback_of) for a rollback),
    the set of applications that manages it (C(owner)) and what deleting it does (its recorded finalizer)."
  - "Without the desired state the sync status is what the cluster alone tells: V(OutOfSync) when a resource of the
    inventory is missing, else V(Unknown). Given the application specs (O(applications)), each is rendered and
    compared the way M(gitops.kubernetes.gitops_diff) compares it, and the sync status and resource statuses are
    the comparison's (V(Synced), V(OutOfSync), V(Missing), V(Extraneous))."
  - "Only reads. Without O(applications) it needs C(get) and C(list) on ConfigMaps (cluster-wide, or in
    O(namespaces)) and C(get) on the kinds of the inventories: a read-only ServiceAccount is enough. The comparison
    with O(applications) needs what M(gitops.kubernetes.gitops_diff) needs (server-side dry-runs)."
  - Secret values never appear in the result.
extends_documentation_fragment:
  - gitops.kubernetes._kube_connection
  - gitops.kubernetes._dry_run_cache
attributes:
  check_mode:
    support: full
    description: The module never changes anything; it runs the same in check mode.
  diff_mode:
    support: none
    description: It reports, it does not change; use M(gitops.kubernetes.gitops_diff) for diffs.
options:
  names:
    description: Only the applications of these names (in every namespace looked in). Unset, every application found.
    type: list
    elements: str
  namespaces:
    description:
      - Look for inventories in these namespaces only (one LIST each), for example with a ServiceAccount that may not
        list ConfigMaps cluster-wide. Unset, one cluster-wide LIST.
    type: list
    elements: str
  owner:
    description: Only the applications recorded as managed by this set of applications (the role's C(gitops_owner)).
    type: str
  applications:
    description:
      - Application specs (or Argo CD Application manifests) to compare with the cluster; each is reported, with or
        without an inventory. Mutually exclusive with O(names).
    type: list
    elements: dict
  history:
    description: Include each application's sync history (C(argocd app history)).
    type: bool
    default: true
  resources:
    description: Include each application's resources with their status and health (C(argocd app get)).
    type: bool
    default: true
  parallelism:
    description: How many API requests run at the same time. Defaults to the number of CPUs plus 4, at most 32.
    type: int
  cache_dir:
    description: Directory for the Git mirrors and the render cache, used with O(applications).
    type: path
notes:
  - The history lists the syncs that changed something, oldest first, as many as the inventory keeps (10).
requirements:
  - PyYAML (and jsonpatch with O(applications))
seealso:
  - module: gitops.kubernetes.gitops_sync
  - module: gitops.kubernetes.gitops_diff
"""

EXAMPLES = r"""
- name: Every application of the cluster (argocd app list)
  gitops.kubernetes.gitops_info:
    kubeconfig: ~/.kube/prod
    history: false
    resources: false
  register: apps

- name: One application with its resources and history (argocd app get / history)
  gitops.kubernetes.gitops_info:
    names: [guestbook]
    namespaces: [guestbook]
  register: guestbook

- name: The previous successful revision, to roll back to it
  ansible.builtin.set_fact:
    previous_id: "{{ (guestbook.applications[0].history | selectattr('result', 'equalto', 'Succeeded') | list)[-2].id }}"

- name: The applications a role run manages, compared with their specs
  gitops.kubernetes.gitops_info:
    applications: "{{ gitops_applications }}"
  register: compared
"""

RETURN = r"""
applications:
  description: One entry per application found (or given), sorted by name and namespace.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The application's name.
      type: str
    namespace:
      description: The namespace of its inventory (its destination namespace).
      type: str
    revision:
      description: The revision (commit) of its last successful sync; null for rendered manifests without one.
      type: str
    sync_status:
      description: V(Synced), V(OutOfSync) or V(Unknown) (not compared, and nothing missing).
      type: str
    health_status:
      description: The worst health of its resources (V(Healthy), V(Suspended), V(Progressing), V(Missing),
        V(Degraded), V(Unknown)).
      type: str
    last_sync:
      description: The last sync recorded (the last history entry), null when none was.
      type: dict
    source:
      description: Repository URL (without credentials) and path it was synced from, when recorded.
      type: str
    owner:
      description: The set of applications (the role's C(gitops_owner)) that manages it, when recorded.
      type: str
    finalizer:
      description: The Argo CD deletion finalizer recorded at its last sync, if any.
      type: str
    on_delete:
      description: What deleting it does to its resources with C(cascade=finalizer) (V(foreground), V(background),
        or V(orphan) when it has no finalizer).
      type: str
    resource_count:
      description: How many resources its inventory lists.
      type: int
    resources:
      description: Its resources (with O(resources)).
      type: list
      elements: dict
      contains:
        group:
          description: API group (V("") for the core group).
          type: str
        kind:
          description: Kind.
          type: str
        namespace:
          description: Namespace (V("") for cluster-scoped objects).
          type: str
        name:
          description: Name.
          type: str
        status:
          description: The comparison's status with O(applications); without, V(Missing) or V(Unknown).
          type: str
        health:
          description: C(status) and C(message) of its live health.
          type: dict
        exists:
          description: Whether it exists in the cluster.
          type: bool
        owned:
          description: Whether it still carries this application's C(applyset.kubernetes.io/part-of) label.
          type: bool
    history:
      description: Its sync history, oldest first (with O(history)). Each entry has C(id) (an incrementing integer,
        what C(rollback) of M(gitops.kubernetes.gitops_sync) takes), C(revision), C(started_at), C(finished_at),
        C(result), C(counts), and when known C(message), C(job_id), C(user), C(rollback_of).
      type: list
      elements: dict
    error:
      description: Why this application could not be compared (with O(applications)).
      type: str
      returned: when it failed
names:
  description: The names of the applications found.
  returned: always
  type: list
  elements: str
stats:
  description: API requests this call made by HTTP verb, and the seconds it took.
  returned: always
  type: dict
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DRY_RUN_CACHE_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._info import (
    ResourceInfo,
    application_info,
    find_applications,
    live_resources,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import (
    ApplicationInput,
    SharedCompare,
    inputs_from_params,
    prepare_module,
    run_each,
    scrub_result,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL, Inventory, application_applyset_id
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient, kube_connection_argument_spec
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import default_cache_dir, shared_resolutions

try:
    # needs jsonpatch and PyYAML, which prepare_module() reports with missing_required_lib
    from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import ApplicationDiff, compare_application
    from ansible_collections.gitops.kubernetes.plugins.module_utils._health import assess
except ImportError:  # prepare_module() fails the task before these are used
    pass


def argument_spec() -> dict[str, Any]:
    spec: dict[str, Any] = {
        "names": {"type": "list", "elements": "str"},
        "namespaces": {"type": "list", "elements": "str"},
        "owner": {"type": "str"},
        "applications": {"type": "list", "elements": "dict"},
        "history": {"type": "bool", "default": True},
        "resources": {"type": "bool", "default": True},
        "parallelism": {"type": "int"},
        "cache_dir": {"type": "path"},
    }
    spec.update(kube_connection_argument_spec())
    spec.update(DRY_RUN_CACHE_ARGUMENT_SPEC)
    return spec


def _compared_info(diff: "ApplicationDiff", params: dict[str, Any]) -> dict[str, Any]:
    """An application's entry from its comparison with the desired state."""
    inventory = diff.inventory or Inventory(diff.name, diff.namespace, application_applyset_id(diff.name, diff.namespace))
    resources = []
    for compared in diff.resources:
        info = ResourceInfo(compared.ref, compared.api_version, exists=compared.live is not None, status=compared.status)
        info.owned = bool(compared.live) and (((compared.live or {}).get("metadata") or {}).get("labels") or {}).get(
            PART_OF_LABEL) == inventory.set_id
        info.health = assess(compared.live).to_dict() if compared.live is not None else {"status": "Missing", "message": ""}
        resources.append(info)
    entry = application_info(inventory, resources, history=params["history"], with_resources=params["resources"])
    entry["namespace"] = diff.namespace
    entry["sync_status"] = diff.sync_status
    return entry


def run_module(module: AnsibleModule) -> dict[str, Any]:
    """Find (or compare) the applications and build the result."""
    params = module.params
    started = time.monotonic()
    cache_dir = params["cache_dir"] or default_cache_dir()
    entries: list[dict[str, Any]] = []
    secrets: list[str] = []
    with shared_resolutions(), KubeClient.from_params({**params, "cache_dir": cache_dir}) as client:
        if params["applications"] is not None:
            inputs = inputs_from_params({"applications": params["applications"]}, cache_dir)
            shared = SharedCompare.for_run(client, inputs, params["dry_run_cache"])

            def compare(one: ApplicationInput) -> ApplicationDiff:
                state = one.desired(client)
                return compare_application(client, state.name, state.objects, namespace=state.namespace,
                                           ignore_differences=state.ignore_differences, revision=state.revision,
                                           reads=shared.reads, verdicts=shared.verdicts, source=state.source)

            outcomes = run_each(inputs, compare)
            for one, outcome in zip(inputs, outcomes):
                if isinstance(outcome, ApplicationDiff):
                    entries.append(_compared_info(outcome, params))
                    secrets += secret_values([c.live for c in outcome.resources] + [c.desired for c in outcome.resources])
                else:
                    entries.append({"name": one.name, "sync_status": "Unknown", "error": str(outcome), **outcome.to_result()})
            if params["owner"]:
                entries = [e for e in entries if "error" in e or e.get("owner") == params["owner"]]
        else:
            inventories = find_applications(client, names=params["names"], namespaces=params["namespaces"],
                                            owner=params["owner"])
            for inventory in inventories:
                resources = live_resources(client, inventory)  # health needs them, even when not returned
                entries.append(application_info(inventory, resources, history=params["history"],
                                                with_resources=params["resources"]))
        stats = client.stats.to_dict()
    stats["requests"] = stats.pop("total")
    stats["seconds"] = round(time.monotonic() - started, 3)
    result = {"changed": False, "applications": entries, "names": [e["name"] for e in entries], "stats": stats}
    failed = [e["name"] for e in entries if "error" in e]
    if failed:
        result["failed_applications"] = failed
    return scrub_result(result, secrets)


def main() -> None:
    module = GitopsModule(argument_spec=argument_spec(), mutually_exclusive=[("names", "applications")],
                          supports_check_mode=True)
    invocation = prepare_module(module)
    try:
        result = run_module(module)
    except GitopsError as exc:
        module.fail_json(msg=str(exc), changed=False, invocation=invocation, **exc.to_result())
    if result.get("failed_applications"):
        module.fail_json(msg="could not compare application(s): " + ", ".join(result["failed_applications"]),
                         invocation=invocation, **result)
    module.exit_json(invocation=invocation, **result)


if __name__ == "__main__":
    main()
