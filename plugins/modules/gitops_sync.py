#!/usr/bin/python
# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gitops_sync
short_description: Converge the cluster to an application in Git, in order, healing drift and pruning safely
version_added: 0.1.0
author:
  - gitops.kubernetes maintainers (@gitops-kubernetes)
description:
  - Does what an Argo CD sync does, from an Ansible task. It renders the application (or takes rendered
    O(manifests)), compares it with the cluster the way M(gitops.kubernetes.gitops_diff) does, and server-side
    applies, with field manager C(gitops.kubernetes), only the objects that are V(OutOfSync) or V(Missing).
    Objects already in sync are not written at all, so an unchanged application makes no write request, bumps no
    C(resourceVersion), runs no hooks and reports C(changed=false).
  - "Order, as in Argo CD: phases C(PreSync), C(Sync), C(PostSync) (and C(SyncFail) after a failure); inside a phase,
    waves from the C(argocd.argoproj.io/sync-wave) annotation (default 0, negatives allowed; C(helm.sh/hook-weight)
    for Helm hooks); inside a wave, kinds in Argo CD's order (Namespace, NetworkPolicy, ResourceQuota, LimitRange,
    ..., ServiceAccount, Secret, ConfigMap, storage, CustomResourceDefinition, RBAC, Service, workloads, Job,
    CronJob, Ingress, APIService, then other kinds); then name. A wave starts only when the previous one is
    healthy (with O(wait)); a CustomResourceDefinition is always waited for until Established before the
    objects after it."
  - "Hooks: objects annotated C(argocd.argoproj.io/hook) (V(PreSync), V(Sync), V(PostSync), V(SyncFail), V(Skip))
    with C(argocd.argoproj.io/hook-delete-policy) (V(BeforeHookCreation) by default, V(HookSucceeded),
    V(HookFailed)), C(metadata.generateName) allowed. Helm hooks are mapped as Argo CD maps them: C(pre-install),
    C(pre-upgrade) to PreSync, C(post-install), C(post-upgrade) to PostSync, C(crd-install) is an ordinary object,
    other Helm hook types never run. Hooks are created (not applied), waited for until they finish (Jobs complete,
    Pods succeed), are not part of the inventory and are never pruned. A failed hook fails the sync and runs the
    SyncFail hooks. Hooks run only when the sync has something to apply or prune, unless O(hooks=always)."
  - "Health is judged as Argo CD judges it: an object being deleted is V(Progressing); then a Lua script of
    O(resource_customizations) or O(resource_customizations_dir) for its kind; then the built-in checks of
    Argo CD (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, Pod with its restart policy and
    C(argocd.argoproj.io/ignore-restart-policy), PersistentVolumeClaim, Service, Ingress, HorizontalPodAutoscaler
    v1 annotations and v2 conditions, APIService, CronJob, PodDisruptionBudget, Argo CD Application and Workflow)
    and CustomResourceDefinition (Established); any other kind from the evidence controllers write (observed
    generation, conditions such as Ready, Available, Crossplane's Synced, Stalled and Reconciling, failure fields,
    status.phase / state words, replica counts). A custom resource without any status is V(Progressing) in the
    first 30 seconds after its creation (its controller has not written one yet) and then V(Healthy), so a
    wave never waits longer for a kind whose controller writes no status. Otherwise V(Healthy) with a message saying
    no health information was found when nothing says anything (Argo CD gives such a kind no health). A wave waits
    while an object is V(Progressing), V(Missing) or V(Unknown) and fails at once on V(Degraded).
    C(argocd.argoproj.io/ignore-healthcheck=true) leaves an object out of RV(health_status)."
  - "Hook objects are labelled C(gitops.kubernetes/hook-of) with the application's ApplySet id. A named hook
    replaces (V(BeforeHookCreation)) or deletes (V(HookSucceeded), V(HookFailed)) only an object carrying that
    label of the same application, and deletes it by its uid; if its name is taken by any other object (an
    unlabelled one, another application's, an ordinary resource), the sync fails before anything is written,
    naming the hook and the object's owner, and nothing is deleted. Hooks obey O(policy) like every other object."
  - "Per object C(argocd.argoproj.io/sync-options): C(Prune=false) (and C(Prune=confirm)) keeps the object when it
    leaves Git; C(Replace=true) (or C(sync_policy.replace)) deletes and recreates an object whose change touches an
    immutable field (without it such a change fails the sync before anything is applied, naming the field). An
    immutable field is recognised from the API server's per-field causes, and the new version is validated (a
    server-side dry-run create) before the live object is deleted, by its uid: an invalid new version fails the sync
    before anything is applied, and the live object stays;
    C(ServerSideApply=true) is what the module always does; C(Validate=false) is accepted (the API server is never
    asked for strict field validation). An unknown option fails the task, naming the object."
  - "Inventory and prune: each application owns an ApplySet (KEP-3659) parent ConfigMap C(applyset-<name>) in its
    destination namespace; its members carry the label C(applyset.kubernetes.io/part-of). The parent holds the exact
    inventory and the last 10 syncs that changed something (revision, start and end time, result, counts, AWX job
    id and user when known). It is written before the first apply (old and new members, so an interrupted sync
    leaves nothing untracked) and after the sync. With C(sync_policy.prune), inventory members no longer in Git are
    deleted after the Sync phase is applied and healthy (before PostSync hooks), in reverse kind order, with the
    propagation policy of O(prune_propagation_policy). Never deleted: objects that are not in the inventory (even
    with the same labels), objects whose part-of label no longer names this application, objects marked
    C(Prune=false), and anything at all when the application renders zero objects unless
    C(sync_policy.allow_empty). An object whose deletion failed stays in the inventory and is retried next time."
  - "A C(coordination.k8s.io/v1) Lease C(gitops-sync-<name>) in the destination namespace makes two syncs of one
    application wait for each other (at most O(wait_timeout) seconds) instead of interleaving. It is taken only when
    there is something to write. The holder renews it every 5 seconds; another sync takes it over only when it went
    30 seconds without renewal (process ids are never used; a sync in another container on the same host is alive
    while it renews). A sync that lost its Lease (taken over, or not renewed for 20 seconds) stops before its next
    write and says so, and records nothing more."
  - "Nothing is half-applied by construction of the plan; an application whose render fails, or with an object the
    API server cannot dry-run (kind not served, invalid field, immutable field without C(Replace=true)), applies
    nothing and prunes nothing. Objects of a namespace that does not exist yet are validated too; a real run creates
    the namespace first (the destination with C(sync_policy.create_namespace), or a Namespace of the application),
    validates them, and on a rejection deletes the namespace it just created and fails before any other write;
    check mode reports them as not validated yet."
  - Check mode is the drift report. It stops after the plan and reports, per object, what a real run would do;
    C(changed) means a real run would change something.
  - Secret values never appear in results, diffs or messages.
extends_documentation_fragment:
  - gitops.kubernetes._application
  - gitops.kubernetes._kube_connection
  - gitops.kubernetes._policy
  - gitops.kubernetes._projects
  - gitops.kubernetes._dry_run_cache
  - gitops.kubernetes._generators
  - gitops.kubernetes._resource_customizations
attributes:
  check_mode:
    support: full
    description: Compares and plans, writes nothing; RV(resources[].action) says what a real run would do.
  diff_mode:
    support: full
    description: Returns before (live) and after (desired, as the API server would store it) for every object
      the sync writes or would write, masked for Secrets.
options:
  application:
    description:
      - Mutually exclusive with O(manifests) and O(applications); one of the three is required.
    required: false
  manifests:
    description:
      - Already rendered objects to sync, as a list of dictionaries or a multi-document YAML string.
      - Requires O(name). Mutually exclusive with O(application) and O(applications).
    type: raw
  name:
    description: Name of the application the O(manifests) belong to; it names the inventory and the Lease.
    type: str
  destination:
    description: Where the O(manifests) go.
    type: dict
    suboptions:
      namespace:
        description:
          - Namespace for namespaced objects that name none, and where the inventory and Lease live.
          - Defaults to the namespace of the kubeconfig context, else V(default).
        type: str
  revision:
    description: The Git revision the O(manifests) were rendered from; recorded in the sync history.
    type: str
  sync_policy:
    description: Sync policy of the O(manifests), as C(sync_policy) of an application spec.
    type: dict
    suboptions:
      prune:
        description: Delete inventory members that are no longer desired.
        type: bool
        default: false
      allow_empty:
        description: Allow a prune when the application has no objects at all.
        type: bool
        default: false
      create_namespace:
        description: Create the destination namespace when it does not exist.
        type: bool
        default: false
      prune_last:
        description: Accepted for Argo CD compatibility; pruning always happens after the Sync phase is healthy.
        type: bool
        default: false
      replace:
        description: Delete and recreate every object whose change touches an immutable field.
        type: bool
        default: false
      prune_propagation_policy:
        description: How pruned objects' dependents are deleted.
        type: str
        choices: [foreground, background, orphan]
        default: foreground
  ignore_differences:
    description: Differences to ignore when comparing O(manifests), as in M(gitops.kubernetes.gitops_diff).
    type: list
    elements: dict
  applications:
    description:
      - Several applications synced concurrently in one call (at most 4 at a time), each as O(application) or as a
        dictionary with C(name), C(manifests) and optionally C(destination), C(revision), C(sync_policy) and
        C(ignore_differences). One failing application does not stop the others; the task fails after all ran.
    type: list
    elements: dict
  force_conflicts:
    description:
      - Take over fields another field manager owns (for example after C(kubectl edit) or C(kubectl scale)).
      - Defaults to V(true), as Argo CD and Flux do, so drift made by hand is healed. With V(false) such a conflict
        fails the application before anything is written (an unforced server-side dry-run of every object that would
        change), naming the object, the fields and the manager, so no wave is left half applied.
    type: bool
    default: true
  wait:
    description:
      - Wait after each wave until its objects are healthy before the next wave starts (and before pruning).
      - Hooks and CustomResourceDefinitions are always waited for.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait per wave (and for hooks, deletions and the Lease) before the sync fails.
    type: int
    default: 300
  hooks:
    description:
      - V(auto) runs hooks only when the sync applies or prunes something (Argo CD's automated sync).
      - V(always) runs them on every sync, even when the application is already in sync.
    type: str
    choices: [auto, always]
    default: auto
  prune_propagation_policy:
    description: Overrides the application's C(sync_policy.prune_propagation_policy).
    type: str
    choices: [foreground, background, orphan]
  initiator:
    description:
      - Who started the sync, recorded in the sync history. Pass C(awx_job_id) and C(awx_user_name) from AWX.
      - Defaults to E(AWX_JOB_ID) / E(JOB_ID) and E(AWX_USER_NAME) / E(USER) from the environment.
    type: dict
    suboptions:
      job_id:
        description: The job (for example the AWX job id).
        type: str
      user:
        description: The user who started it.
        type: str
  parallelism:
    description: How many API requests run at the same time. Defaults to the number of CPUs plus 4, at most 32.
    type: int
notes:
  - Transient API errors (429, 5xx, dropped connections) are retried up to four times with backoff; any other
    error fails the application with a message naming the object.
  - API cost of an application already in sync is the cost of M(gitops.kubernetes.gitops_diff) and no write.
requirements:
  - jsonpatch
  - PyYAML
seealso:
  - module: gitops.kubernetes.gitops_diff
  - module: gitops.kubernetes.gitops_render
"""

EXAMPLES = r"""
- name: Sync an application from Git, pruning what left it
  gitops.kubernetes.gitops_sync:
    kubeconfig: ~/.kube/prod
    application:
      name: guestbook
      source:
        repo_url: https://github.com/argoproj/argocd-example-apps.git
        revision: HEAD
        path: guestbook
      destination:
        namespace: guestbook
      sync_policy:
        prune: true
        create_namespace: true
    initiator:
      job_id: "{{ awx_job_id | default(omit) }}"
      user: "{{ awx_user_name | default(omit) }}"
  register: sync

- name: Drift report (what a sync would do), with the diff
  gitops.kubernetes.gitops_sync:
    application: "{{ guestbook }}"
  check_mode: true
  diff: true
  register: drift

- name: Sync rendered manifests without waiting for health
  gitops.kubernetes.gitops_sync:
    name: shop
    destination:
      namespace: shop
    manifests: "{{ lookup('ansible.builtin.file', 'shop.yaml') }}"
    wait: false

- name: Sync many applications concurrently
  gitops.kubernetes.gitops_sync:
    applications: "{{ gitops_applications }}"
    wait_timeout: 600
"""

RETURN = r"""
name:
  description: Name of the application (single-application form).
  returned: when O(application) or O(manifests) is given
  type: str
  sample: guestbook
namespace:
  description: The destination namespace, where the inventory lives.
  returned: when O(application) or O(manifests) is given
  type: str
revision:
  description: The revision synced (the commit of O(application), or O(revision)).
  returned: when O(application) or O(manifests) is given
  type: str
sync_status:
  description:
    - After a sync, V(Synced), or V(OutOfSync) when objects no longer desired were kept (prune off, C(Prune=false))
      or the sync failed. In check mode, the status before the sync (as M(gitops.kubernetes.gitops_diff) reports it).
  returned: always
  type: str
  sample: Synced
health_status:
  description: The worst health of the application's objects (V(Healthy), V(Suspended), V(Progressing), V(Missing),
    V(Degraded), V(Unknown)).
  returned: always
  type: str
  sample: Healthy
counts:
  description: Objects per action, hooks run and failures.
  returned: always
  type: dict
  sample: {created: 3, configured: 1, replaced: 0, pruned: 1, prune_skipped: 0, handed_over: 0, unchanged: 12, hooks: 2,
    failed: 0}
resources:
  description: One entry per object, in sync order (hooks in their phase), then prune candidates.
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
      description: Name (the generated name of a C(generateName) hook).
      type: str
    action:
      description: V(created), V(configured), V(replaced), V(pruned), V(prune skipped), V(unchanged), V(hook run), or
        V(handed over) (no longer in this application and wanted by another one, which takes it over without it
        being deleted).
      type: str
    result:
      description: V(Succeeded), V(Failed), V(NotRun) (the sync stopped before it) or V(Planned) (check mode).
      type: str
    phase:
      description: V(PreSync), V(Sync), V(PostSync) or V(SyncFail).
      type: str
    wave:
      description: The sync wave.
      type: int
    hook:
      description: Whether the object is a hook.
      type: bool
    health:
      description: C(status) and C(message) of the object's health after the sync (live health in check mode).
      type: dict
    message:
      description: Why an object failed, was replaced or was not pruned.
      type: str
      returned: when there is something to say
    source:
      description: The file (and line) the object came from.
      type: str
      returned: when known
    before:
      description: The live object as YAML (masked).
      type: str
      returned: in diff mode, for objects written
    after:
      description: The desired object as YAML (masked).
      type: str
      returned: in diff mode, for objects written
started_at:
  description: When the sync started (UTC).
  returned: when O(application) or O(manifests) is given
  type: str
finished_at:
  description: When the sync finished (UTC).
  returned: when O(application) or O(manifests) is given
  type: str
duration:
  description: Seconds the sync of this application took.
  returned: when O(application) or O(manifests) is given
  type: float
namespace_created:
  description: Whether the destination namespace was (or in check mode would be) created.
  returned: when it was
  type: bool
applications:
  description: One entry per application (keys as above), with C(error) when that application failed.
  returned: when O(applications) is given
  type: list
  elements: dict
sync_skipped:
  description:
    - Why the sync of the application was skipped (a sync window of its project blocks it now); nothing was written,
      the other keys report its drift as check mode would. The task does not fail and the application is not changed.
  returned: when a sync window skipped the sync (not in check mode)
  type: str
  sample: "sync skipped: inside deny window '0 22 * * *' for 8h (Europe/Berlin)"
sync_blocked_by:
  description: The sync windows that block a sync of the application now (in check mode, a real run would be skipped).
  returned: when a sync window blocks the application
  type: list
  elements: dict
  sample: [{kind: deny, schedule: "0 22 * * *", duration: 8h, time_zone: Europe/Berlin, manual_sync: false}]
orphaned_resources:
  description: Top-level objects of the destination namespace no application owns (C(group), C(kind), C(namespace),
    C(name)), when the application's project sets C(orphanedResources).
  returned: when the project asks for them
  type: list
  elements: dict
other_clusters:
  description: The applications whose destination is another cluster than O(cluster) (C(name), C(destination)); they
    were not touched.
  returned: when O(applications) or O(generators) is given
  type: list
  elements: dict
  sample: [{name: billing, destination: "name 'staging'"}]
stats:
  description: API requests this call made (retries included) by HTTP verb, write requests (dry-runs excluded),
    the dry-runs a reusable verdict saved (O(dry_run_cache)) and the seconds it took.
  returned: always
  type: dict
  sample: {requests: 14, by_verb: {GET: 5, PATCH: 9}, retries: 0, writes: 0, writes_by_verb: {}, dry_runs_reused: 0,
    seconds: 0.42}
"""

import dataclasses
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._clusters import CLUSTER_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DRY_RUN_CACHE_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import (
    GENERATOR_ARGUMENT_SPEC,
    SYNC_POLICY_SPEC,
    ApplicationInput,
    DesiredState,
    SharedCompare,
    for_this_cluster,
    inputs_from_params,
    prepare_module,
    run_each,
    run_ownership,
    scrub_result,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import kube_connection_argument_spec
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import POLICY_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._projects import PROJECTS_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import default_cache_dir, shared_resolutions
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    APPLICATION_ARGUMENT_SPEC,
    PROPAGATION_POLICIES,
    RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC,
    parse_resource_customizations,
)

try:
    # needs jsonpatch and PyYAML, which prepare_module() reports with missing_required_lib
    from ansible_collections.gitops.kubernetes.plugins.module_utils._orphans import find_orphans
    from ansible_collections.gitops.kubernetes.plugins.module_utils._record import initiator_from_env
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import (
        SyncClient,
        SyncResult,
        SyncSettings,
        sync_application,
    )
except ImportError:  # prepare_module() fails the task before these are used
    pass


def argument_spec() -> dict[str, Any]:
    spec: dict[str, Any] = {
        "application": {**APPLICATION_ARGUMENT_SPEC["application"], "required": False},
        "manifests": {"type": "raw"},
        "name": {"type": "str"},
        "destination": {"type": "dict", "options": {"namespace": {"type": "str"}}},
        "revision": {"type": "str"},
        "sync_policy": {"type": "dict", "options": SYNC_POLICY_SPEC},
        "ignore_differences": {"type": "list", "elements": "dict"},
        "applications": {"type": "list", "elements": "dict"},
        "force_conflicts": {"type": "bool", "default": True},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 300},
        "hooks": {"type": "str", "choices": ["auto", "always"], "default": "auto"},
        "prune_propagation_policy": {"type": "str", "choices": list(PROPAGATION_POLICIES)},
        "initiator": {"type": "dict", "options": {"job_id": {"type": "str"}, "user": {"type": "str"}}},
        "parallelism": {"type": "int"},
        "cache_dir": APPLICATION_ARGUMENT_SPEC["cache_dir"],
    }
    spec.update(kube_connection_argument_spec())
    spec.update(POLICY_ARGUMENT_SPEC)
    spec.update(PROJECTS_ARGUMENT_SPEC)
    spec.update(CLUSTER_ARGUMENT_SPEC)
    spec.update(DRY_RUN_CACHE_ARGUMENT_SPEC)
    spec.update(GENERATOR_ARGUMENT_SPEC)
    spec.update(RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC)
    return spec


def run_module(module: AnsibleModule) -> dict[str, Any]:
    """Sync every requested application and build the result."""
    params = module.params
    started = time.monotonic()
    cache_dir = params["cache_dir"] or default_cache_dir()
    inputs = inputs_from_params(params, cache_dir)
    initiator = {k: v for k, v in (params["initiator"] or {}).items() if v} or initiator_from_env()
    # argocd-cm's customizations are checked (scripts compiled) before any Git or cluster work
    customizations = parse_resource_customizations(params["resource_customizations"], params["resource_customizations_dir"])
    settings = SyncSettings(
        check_mode=module.check_mode, force_conflicts=params["force_conflicts"], wait=params["wait"],
        wait_timeout=float(params["wait_timeout"]), hooks=params["hooks"],
        prune_propagation_policy=params["prune_propagation_policy"], initiator=initiator, customizations=customizations,
    )
    # one resolution per repository revision for the whole batch of applications
    # a run that selects applications by name (only) is the Ansible form of pressing Sync: a manual sync
    manual = bool(params.get("only"))
    with shared_resolutions(), SyncClient.from_params({**params, "cache_dir": cache_dir}) as client:
        inputs, elsewhere = for_this_cluster(params, client, inputs)
        shared = SharedCompare.for_run(client, inputs, params["dry_run_cache"])
        # every application is rendered before any is synced, so objects Git moved between two of them pass over
        states = run_each(inputs, lambda one: one.desired(client))
        ownership = run_ownership(client, [s for s in states if isinstance(s, DesiredState)])
        state_of = {id(one): state for one, state in zip(inputs, states)}

        def sync(one: ApplicationInput) -> SyncResult:
            state = state_of[id(one)]
            if not isinstance(state, DesiredState):
                raise state
            window = one.sync_window(manual)
            # a sync the project's windows block is planned like a check-mode run (its drift is reported), not written
            blocked = not window.allowed and not settings.check_mode
            synced = sync_application(client, state.name, state.objects, namespace=state.namespace,
                                      policy=one.sync_policy, ignore_differences=state.ignore_differences,
                                      revision=state.revision,
                                      settings=dataclasses.replace(settings, check_mode=True) if blocked else settings,
                                      reads=shared.reads, verdicts=shared.verdicts, source=state.source,
                                      ownership=ownership)
            if not window.allowed:
                synced.sync_blocked_by = window.to_result()
            if blocked:
                synced.changed = False
                synced.sync_skipped = f"sync skipped: {window.reason()}"
                synced.warnings.append(f"application {one.name}: {synced.sync_skipped}")
            orphaned = one.project.orphaned_resources if one.project is not None else None
            if orphaned is not None:
                namespace = state.namespace or client.default_namespace
                synced.orphaned_resources = find_orphans(client, namespace, orphaned, one.project.rules.namespaced)
                if orphaned.warn and synced.orphaned_resources:
                    synced.warnings.append(f"application {one.name} has {len(synced.orphaned_resources)} orphaned "
                                           f"resources in namespace {namespace}")
            return synced

        outcomes = run_each(inputs, sync)
        stats = shared.finish(client, started, writes=client.writes, writes_by_verb=dict(client.writes_by_verb))

    with_diff = module._diff
    results = [o if isinstance(o, SyncResult) else getattr(o, "result", None) for o in outcomes]
    secrets = secret_values(
        [obj.manifest for one in inputs for obj in one.objects]
        + [e.live for r in results if r is not None for e in r.resources]
    )
    warnings = customizations.warnings + [w for r in results if r is not None for w in r.warnings]
    result: dict[str, Any] = {"changed": any(r.changed for r in results if r is not None), "stats": stats}
    entries = []
    for one, outcome, synced in zip(inputs, outcomes, results):
        entry = synced.to_result(with_diff) if synced is not None else {"name": one.name, "sync_status": "Unknown"}
        if not isinstance(outcome, SyncResult):
            entry.update({"error": str(outcome), **outcome.to_result()})
        entries.append(entry)
    if params["applications"] is None:
        result.update(entries[0])
        result["changed"] = result["changed"] or bool(results[0] and results[0].changed)
    else:
        result["applications"] = entries
        result["other_clusters"] = elsewhere
        statuses = [e.get("sync_status") for e in entries]
        result["sync_status"] = "Synced" if all(s == "Synced" for s in statuses) else "OutOfSync"
        healths = [e.get("health_status") for e in entries if e.get("health_status")]
        result["health_status"] = max(healths, key=("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown").index) \
            if healths else "Healthy"
        result["counts"] = {}
        for e in entries:
            for key, value in (e.get("counts") or {}).items():
                result["counts"][key] = result["counts"].get(key, 0) + value
    failed = [entry for entry in entries if "error" in entry]
    if failed:
        result["failed_applications"] = [entry["name"] for entry in failed]
    if with_diff:
        diffs = [d for r in results if r is not None for d in r.ansible_diffs()]
        if diffs:
            result["diff"] = diffs
    for warning in warnings:
        module.warn(scrub_text(warning, secrets))
    return scrub_result(result, secrets)


def main() -> None:
    module = GitopsModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("application", "manifests", "applications"), ("application", "manifests", "generators")],
        required_one_of=[("application", "manifests", "applications", "generators")],
        required_by={"manifests": "name"},
        supports_check_mode=True,
    )
    invocation = prepare_module(module)
    try:
        result = run_module(module)
    except GitopsError as exc:
        module.fail_json(msg=str(exc), changed=False, invocation=invocation, **exc.to_result())
    if result.get("failed_applications"):
        failed = result["failed_applications"]
        message = result.get("error") if len(failed) == 1 and "error" in result else \
            "could not sync application(s): " + ", ".join(failed)
        module.fail_json(msg=message, invocation=invocation, **{k: v for k, v in result.items() if k != "msg"})
    module.exit_json(invocation=invocation, **result)


if __name__ == "__main__":
    main()
