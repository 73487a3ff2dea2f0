#!/usr/bin/python
# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gitops_diff
short_description: Report drift between the desired state and the live cluster, without noise
version_added: 0.1.0
author:
  - gitops.kubernetes maintainers (@gitops-kubernetes)
description:
  - Compares the objects an application wants with the live cluster and reports, per object,
    V(Synced), V(OutOfSync), V(Missing), V(Extraneous) or V(Unknown), with a JSON Patch from live to desired.
  - The comparison asks the API server to predict our own server-side apply (C(dryRun=All), field manager
    C(gitops.kubernetes), forced) and compares that prediction with the live object after dropping
    C(managedFields), C(resourceVersion), C(uid), C(generation), C(creationTimestamp), C(selfLink), C(status)
    and the C(kubectl.kubernetes.io/last-applied-configuration) annotation. Fields the server defaults are
    therefore never drift; a field removed from Git that C(gitops.kubernetes) still owns is drift; a field
    another field manager changed is drift.
  - V(Missing) means the object is not in the cluster (this includes custom resources whose
    CustomResourceDefinition is part of the same application and not installed yet).
    V(Extraneous) means the object is in the application's inventory (the ApplySet parent ConfigMap
    C(applyset-<name>) that M(gitops.kubernetes.gitops_sync) writes) but no longer desired, so a prune candidate.
    V(Unknown) means the kind is not served and no CustomResourceDefinition in the application defines it,
    or the API server rejected the dry-run (the reason is in RV(resources[].message)).
  - Desired objects carrying an C(argocd.argoproj.io/hook) or C(helm.sh/hook) annotation are hooks and are not compared.
    Extraneous objects annotated C(argocd.argoproj.io/compare-options) containing C(IgnoreExtraneous) are
    reported but do not make the application OutOfSync.
  - Secret values never appear in the result, the diff or messages; changed keys are shown with a mask
    (C(++++++++) before, C(++++++++ (changed\)) after; equal values as C(++++++++ (unchanged\))).
  - Read-only. RV(ignore:changed) is always V(false); the module never writes to the cluster.
extends_documentation_fragment:
  - gitops.kubernetes._application
  - gitops.kubernetes._repositories
  - gitops.kubernetes._kube_connection
  - gitops.kubernetes._policy
  - gitops.kubernetes._projects
  - gitops.kubernetes._dry_run_cache
  - gitops.kubernetes._cache_eviction
  - gitops.kubernetes._generators
  - gitops.kubernetes._resource_customizations
  - gitops.kubernetes._preview
attributes:
  check_mode:
    support: full
    description: The module never changes anything, so it behaves the same in check mode.
  diff_mode:
    support: full
    description:
      - With C(--diff), returns before (live) and after (desired) YAML for the objects that drifted only.
      - Ansible's default output callback prints diffs of changed tasks only, and this module never changes
        anything; add C(changed_when) with RV(out_of_sync) to the task to have the drift printed (see the examples).
options:
  application:
    description:
      - Mutually exclusive with O(manifests) and O(applications); one of the three is required.
    required: false
  manifests:
    description:
      - Already rendered objects to compare, as a list of dictionaries or a multi-document YAML string.
      - Requires O(name). Mutually exclusive with O(application) and O(applications).
    type: raw
  name:
    description:
      - Name of the application the O(manifests) belong to; it names the inventory (ApplySet parent) read
        to find V(Extraneous) objects.
    type: str
  destination:
    description: Where the O(manifests) go.
    type: dict
    suboptions:
      namespace:
        description:
          - Namespace given to namespaced objects that name none (cluster-scoped objects never get one),
            and where the application's inventory lives.
          - Defaults to the namespace of the kubeconfig context, else V(default).
        type: str
  revision:
    description: The Git revision the O(manifests) were rendered from; returned as RV(revision).
    type: str
  ignore_differences:
    description:
      - Differences to ignore when comparing O(manifests), as in Argo CD's C(ignoreDifferences).
      - Each entry selects objects by O(ignore_differences[].group) and O(ignore_differences[].kind)
        (V(*) for any) and optionally name and namespace.
    type: list
    elements: dict
    suboptions:
      group:
        description: API group of the objects (V("") for the core group, V(*) for any).
        type: str
        default: ""
      kind:
        description: Kind of the objects (V(*) for any).
        type: str
        required: true
      name:
        description: Only the object with this name.
        type: str
      namespace:
        description: Only objects in this namespace.
        type: str
      json_pointers:
        description: RFC 6901 JSON pointers of fields to ignore, for example V(/spec/replicas).
        type: list
        elements: str
      jq_path_expressions:
        description:
          - jq path expressions of fields to ignore, for example V(.spec.template.spec.containers[].image).
          - Needs the C(jq) Python package on the host that runs the module; without it using this
            option fails with a clear error.
        type: list
        elements: str
      managed_fields_managers:
        description:
          - Ignore every field the live object's C(managedFields) say these field managers own
            (for example a HorizontalPodAutoscaler's C(/spec/replicas)).
        type: list
        elements: str
  applications:
    description:
      - Several applications compared concurrently in one call. Each entry is either an application spec
        (as O(application)) or a dictionary with C(name), C(manifests) and optionally C(destination),
        C(revision) and C(ignore_differences) (as the options of the same names).
      - Mutually exclusive with O(application) and O(manifests).
    type: list
    elements: dict
  parallelism:
    description:
      - How many API requests (dry-runs, GETs, LISTs) run at the same time.
      - Defaults to the number of CPUs plus 4, at most 32.
    type: int
notes:
  - Discovery (the kinds the cluster serves) is cached under O(cache_dir) for 10 minutes, per API server.
  - API cost for N desired objects of an application synced before, in K kinds and namespaces, is two discovery
    requests (or none within the cache lifetime), one GET of the API server version, one GET of the inventory
    parent, K LISTs by label and one dry-run per object that exists and has no reusable verdict (O(dry_run_cache)).
    Objects not found by label cost a GET each, or one LIST per kind and namespace when there are more than 16 of
    them.
  - With O(applications), the parents and the labelled objects of the whole batch are read with one LIST per kind
    (per 100 applications) instead of per application; an identity that may not list cluster-wide falls back to one
    LIST per kind and namespace. The batch's reads are a snapshot taken when the first application needs a kind.
  - Transient API errors (429, 5xx, dropped connections) are retried up to four times with backoff.
requirements:
  - jsonpatch
  - PyYAML
  - jq (Python package; only for O(ignore_differences[].jq_path_expressions))
seealso:
  - module: gitops.kubernetes.gitops_sync
  - module: gitops.kubernetes.gitops_render
"""

EXAMPLES = r"""
- name: Report drift of rendered manifests
  gitops.kubernetes.gitops_diff:
    name: guestbook
    destination:
      namespace: guestbook
    manifests: "{{ lookup('ansible.builtin.file', 'guestbook.yaml') }}"
    ignore_differences:
      - group: apps
        kind: Deployment
        json_pointers: [/spec/replicas]
  register: drift

- name: Fail when anything drifted
  ansible.builtin.assert:
    that: not drift.out_of_sync
    fail_msg: "{{ drift.summary }}"

- name: Compare an application straight from Git, printing what drifted
  gitops.kubernetes.gitops_diff:
    kubeconfig: ~/.kube/prod
    context: prod
    application:
      name: guestbook
      source:
        repo_url: https://github.com/argoproj/argocd-example-apps.git
        revision: HEAD
        path: guestbook
      destination:
        namespace: guestbook
  diff: true
  register: guestbook_drift
  # the module never changes anything; marking drift as a change makes Ansible print the diff
  changed_when: guestbook_drift.out_of_sync

- name: Preview what merging a branch would change (preview.md comes from gitops_report)
  gitops.kubernetes.gitops_diff:
    applications: "{{ gitops_applications }}"
    preview_revision: feature-x
    preview_repo: https://git.example.com/platform/apps.git
  register: preview

- name: Compare many applications in one call
  gitops.kubernetes.gitops_diff:
    applications: "{{ gitops_applications }}"
    parallelism: 16
  register: fleet_drift
"""

RETURN = r"""
name:
  description: Name of the application (single-application form).
  returned: when O(application) or O(manifests) is given
  type: str
  sample: guestbook
revision:
  description: The revision compared (the commit of O(application), or O(revision) for manifests).
  returned: when O(application) or O(manifests) is given
  type: str
  sample: 9f1c2d3e4b5a69788796a5b4c3d2e1f001122334
revisions:
  description: For an application with several C(sources), the commit of every source, in the order of the sources.
  returned: for a multi-source application
  type: list
  elements: str
sync_status:
  description:
    - V(Synced) when nothing drifted, V(OutOfSync) when any object is OutOfSync, Missing or Extraneous,
      V(Unknown) when nothing drifted but some object could not be compared.
    - With O(applications), the worst status over all applications.
  returned: always
  type: str
  sample: OutOfSync
out_of_sync:
  description: Whether RV(sync_status) is anything but V(Synced).
  returned: always
  type: bool
summary:
  description: Number of objects per status (over all applications with O(applications)).
  returned: always
  type: dict
  sample: {Synced: 12, OutOfSync: 1, Missing: 0, Extraneous: 1, Unknown: 0}
resources:
  description: One entry per compared object (single-application form).
  returned: when O(application) or O(manifests) is given
  type: list
  elements: dict
  contains:
    group:
      description: API group (V("") for the core group).
      type: str
    version:
      description: API version within the group.
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
      description: V(Synced), V(OutOfSync), V(Missing), V(Extraneous) or V(Unknown).
      type: str
    patch:
      description:
        - JSON Patch (RFC 6902) turning the live object into the desired one, after normalisation and ignore rules;
          V([]) when synced, V(null) when there is nothing to patch (Missing, Extraneous, Unknown).
        - Secret values are masked.
      type: list
      elements: dict
      sample: [{op: replace, path: /spec/replicas, value: 3}]
    message:
      description: Why the object is Unknown, Missing or Extraneous, when there is more to say.
      type: str
      returned: when there is something to say
    source:
      description: The file (and line) the object came from, when known.
      type: str
      returned: when known
    before:
      description: The live object as YAML, normalised and masked.
      type: str
      returned: in diff mode, for objects that are OutOfSync, Missing or Extraneous
    after:
      description: The desired object as the API server would store it, as YAML, normalised and masked.
      type: str
      returned: in diff mode, for objects that are OutOfSync, Missing or Extraneous
applications:
  description: One entry per application with keys name, revision, namespace, resources, summary, sync_status,
    out_of_sync (as above), error when that application could not be compared, and parent for an application
    another one rendered (app of apps, see M(gitops.kubernetes.gitops_sync)).
  returned: when O(applications) is given, or when the application renders child applications
  type: list
  elements: dict
stats:
  description: API requests this call made (retries included), by HTTP verb, the dry-runs a reusable verdict
    saved (O(dry_run_cache)), and the seconds it took.
  returned: always
  type: dict
  sample: {requests: 14, by_verb: {GET: 5, PATCH: 9}, retries: 0, dry_runs_reused: 0, seconds: 0.42}
preview:
  description:
    - What the change at O(preview_revision) alters, independent of live drift. C(revision) and C(repo) (as given,
      normalised), C(summary) (applications per C(change)) and C(applications), one per application the preview
      concerns, with C(name), C(namespace), C(change) (V(added) or V(removed) by a generator, V(changed),
      V(unchanged)), C(revision) and C(current_revision) (the commits, or chart versions, rendered; every source's,
      space-separated, for a multi-source application), C(counts)
      (objects per change), C(objects) (C(group), C(kind), C(namespace), C(name), C(change) - V(added),
      V(changed) or V(removed) - and C(diff), a unified YAML diff from the current to the previewed object, Secret
      values masked) and C(error) when a side could not be rendered.
    - M(gitops.kubernetes.gitops_report) writes it as C(preview.md).
  returned: when O(preview_revision) is given
  type: dict
  sample: {revision: feature-x, repo: "https://git.example.com/platform/apps.git", summary: {changed: 1},
    applications: [{name: shop, change: changed, counts: {added: 0, changed: 1, removed: 1}}]}
other_clusters:
  description: The applications whose destination is another cluster than O(cluster) (C(name), C(destination)); they
    were not compared.
  returned: when O(applications) or O(generators) is given
  type: list
  elements: dict
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._clusters import CLUSTER_ARGUMENT_SPEC, cluster_name
from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_evict import CACHE_EVICTION_ARGUMENT_SPEC, EvictionPolicy, evict_quietly
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DRY_RUN_CACHE_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import (
    GENERATOR_ARGUMENT_SPEC,
    ApplicationInput,
    DesiredState,
    SharedCompare,
    for_this_cluster,
    inputs_from_params,
    with_children,
    prepare_module,
    run_each,
    scrub_result,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient, kube_connection_argument_spec
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import POLICY_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._preview import PREVIEW_ARGUMENT_SPEC, PreviewPlan
from ansible_collections.gitops.kubernetes.plugins.module_utils._projects import PROJECTS_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_error, scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import default_cache_dir, shared_resolutions
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import REPOSITORIES_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    APPLICATION_ARGUMENT_SPEC,
    RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC,
    parse_resource_customizations,
)

try:
    # needs jsonpatch and PyYAML, which prepare_module() reports with missing_required_lib
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.created import keep_created
    from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import (
        OUT_OF_SYNC,
        STATUSES,
        SYNCED,
        UNKNOWN,
        ApplicationDiff,
        compare_application,
    )
except ImportError:  # prepare_module() fails the task before these are used
    pass

IGNORE_DIFFERENCES_SPEC = {
    "group": {"type": "str", "default": ""},
    "kind": {"type": "str", "required": True},
    "name": {"type": "str"},
    "namespace": {"type": "str"},
    "json_pointers": {"type": "list", "elements": "str"},
    "jq_path_expressions": {"type": "list", "elements": "str"},
    "managed_fields_managers": {"type": "list", "elements": "str"},
}


def argument_spec() -> dict[str, Any]:
    spec: dict[str, Any] = {
        "application": {**APPLICATION_ARGUMENT_SPEC["application"], "required": False},
        "manifests": {"type": "raw"},
        "name": {"type": "str"},
        "destination": {"type": "dict", "options": {"namespace": {"type": "str"}}},
        "revision": {"type": "str"},
        "ignore_differences": {"type": "list", "elements": "dict", "options": IGNORE_DIFFERENCES_SPEC},
        "applications": {"type": "list", "elements": "dict"},
        "parallelism": {"type": "int"},
        "cache_dir": APPLICATION_ARGUMENT_SPEC["cache_dir"],
    }
    spec.update(kube_connection_argument_spec())
    spec.update(REPOSITORIES_ARGUMENT_SPEC)
    spec.update(POLICY_ARGUMENT_SPEC)
    spec.update(PROJECTS_ARGUMENT_SPEC)
    spec.update(CLUSTER_ARGUMENT_SPEC)
    spec.update(DRY_RUN_CACHE_ARGUMENT_SPEC)
    spec.update(CACHE_EVICTION_ARGUMENT_SPEC)
    spec.update(GENERATOR_ARGUMENT_SPEC)
    spec.update(RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC)
    spec.update(PREVIEW_ARGUMENT_SPEC)
    return spec


def _worst(statuses: list[str]) -> str:
    if OUT_OF_SYNC in statuses:
        return OUT_OF_SYNC
    if UNKNOWN in statuses:
        return UNKNOWN
    return SYNCED


def run_module(module: AnsibleModule) -> dict[str, Any]:
    """Compare every requested application and build the result (raises GitopsError)."""
    params = module.params
    started = time.monotonic()
    cache_dir = params["cache_dir"] or default_cache_dir()
    # a preview compares the applications it concerns, rendered at the preview revision
    preview = PreviewPlan.for_params(params, cache_dir)
    applicationsets: dict[str, dict[str, Any]] = {}
    inputs = preview.inputs if preview is not None else inputs_from_params(params, cache_dir, applicationsets)
    customizations = parse_resource_customizations(params["resource_customizations"], params["resource_customizations_dir"])
    # one resolution per repository revision for the whole batch of applications
    with shared_resolutions(), KubeClient.from_params({**params, "cache_dir": cache_dir}) as client:
        # applicationsSync create-only/create-delete: an application created before is compared as it was created
        kept = keep_created(client, inputs, applicationsets, cluster_name(params)) if applicationsets and preview is None else {}
        inputs, elsewhere = for_this_cluster(params, client, inputs)
        # the Applications an application renders (app of apps) are compared as applications of their own
        inputs, states = with_children(params, cache_dir, inputs, client, {})
        state_of = {id(one): state for one, state in zip(inputs, states)}
        if preview is not None:
            preview.place(params, client)
            previewed = preview.result(client, inputs, state_of)
        shared = SharedCompare.for_run(client, inputs, params["dry_run_cache"])

        def compare(one: ApplicationInput) -> ApplicationDiff:
            state = state_of[id(one)]
            if not isinstance(state, DesiredState):
                raise state
            diff = compare_application(client, state.name, state.objects, namespace=state.namespace,
                                       ignore_differences=state.ignore_differences, revision=state.revision,
                                       reads=shared.reads, verdicts=shared.verdicts, source=state.source,
                                       customizations=customizations)
            diff.revisions = state.revisions
            return diff

        outcomes = run_each(inputs, compare)
        stats = shared.finish(client, started)

    with_diff = module._diff
    diffs = [d for outcome in outcomes if isinstance(outcome, ApplicationDiff) for d in outcome.ansible_diffs()]
    secrets = secret_values(
        [obj.manifest for one in inputs for obj in one.objects]
        + [c.live for o in outcomes if isinstance(o, ApplicationDiff) for c in o.resources]
        + [c.predicted for o in outcomes if isinstance(o, ApplicationDiff) for c in o.resources]
    )
    result: dict[str, Any] = {"changed": False, "stats": stats}
    for one in inputs:
        warning = kept[one.name].warning(one.name) if one.name in kept and one.parent is None else None
        if warning:
            module.warn(scrub_text(warning, secrets))
    if preview is not None:
        result["preview"] = previewed
    if params["applications"] is None and len(outcomes) == 1:
        diff = outcomes[0]
        if not isinstance(diff, ApplicationDiff):  # only several applications collect errors
            raise scrub_error(diff, secrets)
        result.update(diff.to_result(with_diff))
    else:
        entries = []
        summary = {status: 0 for status in STATUSES}
        for one, outcome in zip(inputs, outcomes):
            if isinstance(outcome, ApplicationDiff):
                entries.append({**outcome.to_result(with_diff), **({"parent": one.parent} if one.parent else {})})
                for status, count in outcome.summary.items():
                    summary[status] += count
            else:
                entries.append({"name": one.name, "sync_status": UNKNOWN, "out_of_sync": True, "error": str(outcome),
                                **outcome.to_result(), **({"parent": one.parent} if one.parent else {})})
        result["applications"] = entries
        result["other_clusters"] = elsewhere
        result["summary"] = summary
        result["sync_status"] = _worst([entry["sync_status"] for entry in entries])
        result["out_of_sync"] = result["sync_status"] != SYNCED
        failed = [entry for entry in entries if "error" in entry]
        if failed:
            result["failed_applications"] = [entry["name"] for entry in failed]
    if with_diff and diffs:
        result["diff"] = diffs
    for warning in customizations.warnings + [w for o in outcomes if isinstance(o, ApplicationDiff) for w in o.warnings]:
        module.warn(warning)
    return scrub_result(result, secrets)


def main() -> None:
    module = GitopsModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("application", "manifests", "applications"), ("application", "manifests", "generators"),
                            ("application", "manifests", "applicationsets"), ("application", "manifests", "applicationset_files")],
        required_one_of=[("application", "manifests", "applications", "generators", "applicationsets", "applicationset_files")],
        required_by={"manifests": "name"},
        supports_check_mode=True,
    )
    invocation = prepare_module(module)
    try:
        eviction = EvictionPolicy.from_options(module.params["cache_max_size"], module.params["cache_max_age"])
        result = run_module(module)
    except GitopsError as exc:
        module.fail_json(msg=str(exc), changed=False, invocation=invocation, **exc.to_result())
    # the caches this run filled stay bounded (at most once an hour; never what a running process uses)
    evict_quietly(module.params["cache_dir"] or default_cache_dir(), eviction)
    if result.get("failed_applications"):
        module.fail_json(
            msg="could not compare application(s): " + ", ".join(result["failed_applications"]),
            invocation=invocation, **result,
        )
    module.exit_json(invocation=invocation, **result)


if __name__ == "__main__":
    main()
