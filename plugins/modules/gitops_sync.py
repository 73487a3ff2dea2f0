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
  - "App of apps: Argo CD C(Application) and C(ApplicationSet) manifests (C(argoproj.io)) among an application's
    rendered objects are not applied (a cluster without Argo CD has no such resource types): each becomes an
    application of the same run, rendered and synced with its own C(syncPolicy), recursively up to 5 levels. An
    application that would render one of its ancestors is a cycle and fails, as does a child already listed in the
    run. Children are synced on the parent's cluster: a child whose destination is another inventory cluster fails
    the parent. C(AppProject) manifests among them are refused. Children an application stops rendering are not
    deleted by this version. the C(parent) of each entry of RV(applications) gives the tree."
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
    status.phase / state words, replica counts). A custom resource without any status is V(Progressing) for as
    long as it has none when its kind's controller is known to report one (a catalogue of the kinds whose Argo CD
    health check waits for a status, such as cert-manager's Certificate, as Argo CD waits); of any other kind, it is
    V(Progressing) in the first 30 seconds after its creation (its controller has not written one yet) and then
    V(Healthy), so a wave never waits longer for a kind whose controller writes no status. Otherwise V(Healthy) with a message saying
    no health information was found when nothing says anything (Argo CD gives such a kind no health). A wave waits
    while an object is V(Progressing), V(Missing) or V(Unknown) and fails at once on V(Degraded).
    C(argocd.argoproj.io/ignore-healthcheck=true) leaves an object out of RV(health_status)."
  - "Hook objects are labelled C(gitops.kubernetes/hook-of) with the application's ApplySet id. A named hook
    replaces (V(BeforeHookCreation)) or deletes (V(HookSucceeded), V(HookFailed)) only an object carrying that
    label of the same application, and deletes it by its uid; if its name is taken by any other object (an
    unlabelled one, another application's, an ordinary resource), the sync fails before anything is written,
    naming the hook and the object's owner, and nothing is deleted. Hooks obey O(policy) like every other object."
  - "Per object C(argocd.argoproj.io/sync-options): C(Prune=false) (and C(Prune=confirm)) keeps the object when it
    leaves Git; C(Replace=true) (or C(sync_policy.replace)) writes an object out of sync with a PUT of its whole
    manifest (C(kubectl replace), action V(replaced)), so what another manager added and Git does not have is
    dropped, and a change the PUT cannot make (an immutable field) fails the sync before anything is applied;
    C(Force=true,Replace=true) deletes and recreates an object out of sync (action V(recreated));
    C(Force=true) alone (or C(sync_policy.force)) applies, and deletes and recreates only an object whose change
    touches an immutable field (without either such a change fails the sync before anything is applied, naming
    the field). A CustomResourceDefinition or Namespace is updated with a PUT and never deleted. An
    immutable field is recognised from the API server's per-field causes, a PUT is dry-run first, and the new
    version is validated (a server-side dry-run create) before the live object is deleted, by its uid: an invalid
    new version fails the sync before anything is applied, and the live object stays;
    C(ServerSideApply=true) is what the module always does (C(ServerSideApply=false) is refused); C(Validate=false)
    applies that object with C(fieldValidation=Ignore). An unknown option fails the task, naming the object."
  - "Inventory and prune: each application owns an ApplySet (KEP-3659) parent ConfigMap C(applyset-<name>) in its
    destination namespace; its members carry the label C(applyset.kubernetes.io/part-of). The parent holds the exact
    inventory and the last 10 syncs (C(revision_history_limit)) that changed something (revision, start and end time, result, counts, AWX job
    id and user when known). It is written before the first apply (old and new members, so an interrupted sync
    leaves nothing untracked) and after the sync. With C(sync_policy.prune), inventory members no longer in Git are
    deleted in the Sync phase, per wave (see sync options below), in reverse kind order, with the
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
  - "Sync policy as in Argo CD. A manual application (C(sync_policy.automated=false), or an Argo CD Application
    without C(syncPolicy.automated) or with C(automated.enabled=false)) is not written by a run without
    O(manual_sync): its drift is reported (RV(skipped) says why, RV(resources[].result) is V(Planned)) and
    C(changed) stays false. An automated application without self-heal is synced when the digest of its revision
    and spec differs from the one its last sync recorded on the inventory (a new commit, or a change of the
    application); live drift alone is reported, not reverted. With self-heal (our spec's default) every run
    converges. O(manual_sync) syncs them all, as pressing Sync does."
  - "C(retry) of the sync policy: a failed attempt (before or after writes) is attempted again in the same task,
    with fresh discovery and reads, after Argo CD's backoff; every attempt is in RV(attempts) and, when it got as
    far as writing, in the sync history with its attempt number. Without C(retry), a failed sync is not retried
    (Argo CD's automated sync retries 5 times by default; here the next run does)."
  - "C(revision_history_limit) (Argo CD's C(revisionHistoryLimit)) sets how many syncs the inventory's history
    keeps (default 10; 0 keeps none). The last sync attempted (revision, digest, result) is kept apart from the
    history, whatever its length."
  - "Sync options of the application (C(syncPolicy.syncOptions)) and of objects (C(argocd.argoproj.io/sync-options)),
    as Argo CD documents them: C(Validate=false) applies and dry-runs with C(fieldValidation=Ignore);
    C(SkipDryRunOnMissingResource=true) lets an object whose kind is not served yet (its CRD comes from elsewhere)
    skip the dry-run - it is applied when its wave comes, and fails the sync, naming the kind, if the kind is still
    not served then; C(RespectIgnoreDifferences=true) (application) applies fields that C(ignore_differences)
    selects with their live values; C(FailOnSharedResource=true) (application) fails the sync on an object of
    another application without marking it as claimed; C(Prune=false) / C(Prune=confirm) on the application sets
    it for objects without their own; a C(Prune=confirm) object is pruned only when its application is listed in
    O(confirm); prunes run per wave as Argo CD orders them - the waves of the objects to prune (their live
    C(sync-wave)) reversed, each wave's prunes before that wave's applies - and C(PruneLast=true) (application or
    object) prunes after the last wave, once everything else is applied and healthy;
    C(CreateNamespace=true) with C(managedNamespaceMetadata) labels and annotates the destination namespace;
    C(ServerSideApply=false) is refused (every object is server-side applied)."
  - Secret values never appear in results, diffs or messages.
  - "Deleting an application (O(state=absent)), as Argo CD deletes an Application: with a cascade (O(cascade)) its
    inventory's objects are deleted highest C(argocd.argoproj.io/sync-wave) first (read from the live objects),
    inside a wave in reverse kind order, each wave gone before the next starts (V(foreground): with its dependents;
    V(background): the objects themselves, their dependents are collected later), bounded by O(wait_timeout); then
    the inventory and with it the sync history. Only objects that still carry the application's part-of label are
    touched. Left in place, no longer labelled as the application's (so any application may take them over; Argo CD
    leaves its own label, which nothing else reads): objects annotated C(argocd.argoproj.io/sync-options:
    Delete=false) or C(helm.sh/resource-policy: keep), CustomResourceDefinitions (Argo CD never deletes them with
    an application), and every object without a cascade (V(orphan)). An object annotated C(Delete=confirm) needs
    O(confirm); without it nothing at all is deleted. With a cascade, the hook Jobs and Pods earlier syncs left
    (labelled C(gitops.kubernetes/hook-of)) are deleted too; hook objects of other kinds stay. A deletion that stops
    keeps the inventory, so running it again resumes. PreDelete and PostDelete hooks are not run (an Argo CD
    Application with their finalizers is refused)."
  - "Dependencies (not an Argo CD feature; argo-cd#3517): an application with C(depends_on) (our spec, an entry of
    O(applications) with C(manifests)) or the annotation C(gitops.kubernetes/depends-on) (an Argo CD manifest,
    comma-separated names) starts only after every application it names has finished its sync without error and is
    V(Healthy); one still V(Progressing) is waited for, at most O(wait_timeout) seconds, even with O(wait=false).
    Applications that do not depend on each other still run concurrently (at most 4 at a time), and a dependant starts
    as soon as its own dependencies are done, not after the whole run's first wave. A dependency that failed, is not
    V(Healthy), or is not V(Synced) and not synced by this run (a manual application, a sync window) skips its
    dependants, transitively, without reading or writing anything of them: their entry in RV(applications) has
    RV(skipped) V(skipped: depends on db, which failed: ...) and C(sync_status) and C(health_status) V(Unknown); the
    task does not fail for a skip. Names are looked up among the applications of the run, app of apps children
    and generated applications included; an unknown name, a name two applications share, or a cycle fails the task
    before anything is written, naming the applications (when an application's render failed, its children are
    unknown: who depends on a name not found is then skipped with that reason). A dependency that O(only) or
    O(skip) leaves out is rendered and compared, never written: it must be V(Synced) and V(Healthy) on the cluster
    as it is (RV(dependencies_not_selected)), else its dependants are skipped. RV(sync_order) gives the waves (in
    check mode too, where only an error or an application the real run would not sync skips a dependant). A
    deletion (O(state=absent)) does not follow C(depends_on)."
  - "Rollback (O(rollback)), as C(argocd app rollback): the application is synced at exactly the commit a
    successful entry of its sync history recorded, and the new entry says which (C(rollback_of)). Argo CD refuses a
    rollback while automated sync is on, since its controller would move forward again at once; here nothing runs
    between two Ansible runs, so the rollback holds until the next sync without it, which syncs the spec's target
    revision again. Pin the revision in the spec to stay at the rolled-back commit."
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
    description:
      - Name of the application the O(manifests) belong to; it names the inventory and the Lease.
      - With O(state=absent), the application to delete (no O(manifests) needed).
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
        description: Prune after the last wave of the Sync phase (Argo CD's C(PruneLast)) instead of per wave.
        type: bool
        default: false
      replace:
        description:
          - Argo CD's C(Replace=true) for every object - an object out of sync is written with a PUT of its whole
            manifest (C(kubectl replace)), dropping what Git does not have; an immutable change fails unless
            C(force) is set too. A CustomResourceDefinition or Namespace is updated, never deleted.
        type: bool
        default: false
      force:
        description:
          - Argo CD's C(Force=true) for every object (C(argocd app sync --force)) - with C(replace), an object out of
            sync is deleted and recreated; alone, only an object whose change touches an immutable field is.
        type: bool
        default: false
      prune_propagation_policy:
        description: How pruned objects' dependents are deleted.
        type: str
        choices: [foreground, background, orphan]
        default: foreground
      automated:
        description: V(false) makes the O(manifests) a manual application (synced only with O(manual_sync)).
        type: bool
        default: true
      self_heal:
        description: V(false) syncs only when O(revision) or the O(manifests) changed since the last sync.
        type: bool
        default: true
      skip_dry_run_on_missing_resource:
        description: Objects whose kind is not served yet are applied without a dry-run (Argo CD's sync option).
        type: bool
        default: false
      fail_on_shared_resource:
        description: An object of another application fails the sync without being claimed.
        type: bool
        default: false
      respect_ignore_differences:
        description: Fields O(ignore_differences) selects keep their live values when an object is applied.
        type: bool
        default: false
      validate:
        description: V(false) applies with C(fieldValidation=Ignore) (Argo CD's C(Validate=false)).
        type: bool
        default: true
      object_prune:
        description: The C(Prune=) sync option of objects that carry none.
        type: str
        choices: ["true", "false", confirm]
        default: "true"
  ignore_differences:
    description: Differences to ignore when comparing O(manifests), as in M(gitops.kubernetes.gitops_diff).
    type: list
    elements: dict
  applications:
    description:
      - Several applications synced concurrently in one call (at most 4 at a time), each as O(application) or as a
        dictionary with C(name), C(manifests) and optionally C(destination), C(revision), C(sync_policy),
        C(ignore_differences) and C(depends_on). One failing application does not stop the others; the task fails
        after all ran. C(depends_on) orders them (see the description).
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
  manual_sync:
    description:
      - Pressing Sync - also sync manual applications, and automated ones without self-heal whose Git and spec did
        not change (their live drift is reverted), and pass the project's deny windows that all have C(manualSync).
      - Without it the run is an automated sync, also when O(only) selects applications (as the
        C(gitops.kubernetes.auto_sync) playbook runs one).
      - V(false) (a scheduled run) reports the drift of manual applications and writes nothing to them.
      - The applications role sets it when C(gitops_only) selects applications by name.
    type: bool
    default: false
  confirm:
    description:
      - Names of applications whose objects may be deleted where Argo CD asks a human to confirm it, in this run -
        objects marked C(Prune=confirm) (the object's C(argocd.argoproj.io/sync-options) annotation, or the
        application's sync options) are pruned, as Argo CD's "Confirm Pruning", and objects marked C(Delete=confirm)
        are deleted with the application (O(state=absent)). App of apps - the parent's name confirms pruning a child
        it no longer renders that says C(Prune=confirm); the child's name confirms its C(Delete=confirm) objects.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) syncs the applications. V(absent) deletes them (see the description), each named by O(name) and
        O(destination), by O(application), or by the entries of O(applications) (specs, or C(name) and
        C(destination.namespace)). Nothing is rendered for a deletion; what is deleted is the inventory.
    type: str
    choices: [present, absent]
    default: present
  cascade:
    description:
      - With O(state=absent), what happens to the application's objects. V(foreground) (C(argocd app delete)'s
        default) and V(background) delete them with that propagation policy; V(orphan) leaves them in place (Argo CD's
        deletion without the resources finalizer) and deletes only the inventory.
      - "V(finalizer) does what the application's Argo CD finalizer says, the one of its spec when O(application) or
        O(applications) give specs, else the one its last sync recorded on its inventory:
        C(resources-finalizer.argocd.argoproj.io) (or C(/foreground)) is V(foreground),
        C(resources-finalizer.argocd.argoproj.io/background) is V(background), none is V(orphan)."
    type: str
    choices: [foreground, background, orphan, finalizer]
    default: foreground
  owner:
    description:
      - The set of applications the synced applications belong to (a label value), recorded on their inventories
        (label C(gitops.kubernetes/owner)) so that one removed from the set can be found and deleted (the role's
        C(gitops_owner)). Unset, what the inventory records is kept.
      - The application's Argo CD finalizer (C(metadata.finalizers) of an Argo CD Application, C(finalizers) of our
        spec) is recorded with it, so a deletion after the application left the list knows its cascade.
    type: str
  rollback:
    description:
      - Sync again what an entry of the sync history recorded (see M(gitops.kubernetes.gitops_info)), named by its id
        (an integer) or by its revision (a commit, at least 7 characters; the latest entry with it). For one
        application a single value; for O(applications) a mapping of application name to id or revision.
      - Only successful entries, and only application specs (rendered manifests have no source to render again).
    type: raw
notes:
  - Transient API errors (429, 5xx, dropped connections) are retried up to four times with backoff; any other
    error fails the application with a message naming the object.
  - API cost of an application already in sync is the cost of M(gitops.kubernetes.gitops_diff) and no write.
  - A task that runs on the controller (connection C(local), the controller's own Python interpreter, no become, no
    task environment, not async), as the applications role's sync task delegated to localhost, runs this module in
    the task's worker process, with the same parameters and result, instead of packing it and starting a new Python
    for it; any other task runs the module as usual.
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

- name: Delete an application and its resources, highest sync wave first (argocd app delete)
  gitops.kubernetes.gitops_sync:
    state: absent
    name: guestbook
    destination:
      namespace: guestbook
    cascade: foreground

- name: Roll back to the sync recorded with history id 3 (argocd app rollback guestbook 3)
  gitops.kubernetes.gitops_sync:
    application: "{{ guestbook }}"
    rollback: 3

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
revisions:
  description:
    - For an application with several C(sources), the commit of every source, in the order of the sources
      (RV(revision) is the first). Also recorded in the sync history of the inventory.
  returned: for a multi-source application
  type: list
  elements: str
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
  description: Objects per action, hooks run and failures (with O(state=absent), deleted, orphaned, kept, gone and
    failed).
  returned: always
  type: dict
  sample: {created: 3, configured: 1, replaced: 0, recreated: 0, pruned: 1, prune_skipped: 0, handed_over: 0, unchanged: 12,
    hooks: 2, failed: 0}
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
      description: V(created), V(configured), V(replaced) (a PUT of the whole manifest, C(Replace=true)), V(recreated)
        (deleted and created again, C(Force=true)), V(pruned), V(prune skipped), V(unchanged), V(hook run), or
        V(handed over) (no longer in this application and wanted by another one, which takes it over without it
        being deleted). With O(state=absent), V(deleted), V(orphaned) (left in place, no longer the application's),
        V(kept) (not the application's any more, untouched) or V(gone) (already absent).
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
      description: Why an object failed, was replaced or recreated, or was not pruned.
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
skipped:
  description:
    - Why this run did not sync the application although it drifted (a manual application, or automated
      without self-heal and nothing new in Git); its drift is reported in RV(resources).
    - "For an application a dependency kept from running (see C(depends_on)), V(skipped: depends on <name>, which ...);
      nothing of it was read or written."
  returned: when the run did not sync a drifted application
  type: str
attempts:
  description: One entry per attempt (C(attempt), C(started_at), C(finished_at), C(result), C(message)) when the sync
    policy has C(retry).
  returned: when the application's sync policy retries
  type: list
  elements: dict
rollback_of:
  description: The history id a rollback synced again (also recorded in the new history entry).
  returned: when O(rollback) named this application
  type: int
state:
  description: V(absent) for a deletion.
  returned: with O(state=absent)
  type: str
cascade:
  description: The cascade a deletion used (V(foreground), V(background) or V(orphan)).
  returned: with O(state=absent)
  type: str
inventory_found:
  description: Whether the application had an inventory to delete (false, nothing was done).
  returned: with O(state=absent)
  type: bool
info:
  description: The application's C(info) (Argo CD's C(spec.info)), C(name) and C(value) pairs.
  returned: when the application has some
  type: list
  elements: dict
applications:
  description:
    - One entry per application (keys as above), with C(error) when that application failed, and C(parent) for an
      application rendered by another one (app of apps).
    - "C(applicationset_kept) for an application of an ApplicationSet with C(applicationsSync: create-only) or
      C(create-delete), which is synced as it was first created (recorded on its inventory ConfigMap): C(applicationset),
      C(applications_sync), C(created_now) (no record yet: synced as generated, recorded by this sync),
      C(generated_differs) and C(differences) (the paths where the newly generated Application differs and was not
      applied, values never shown; a warning says it too)."
  returned: when O(applications) is given, or when the application renders child applications
  type: list
  elements: dict
removed_children:
  description:
    - "App of apps: the child applications this application rendered at an earlier sync (their inventories record
      it) and no longer renders. Each has C(name), C(namespace), C(parent) and C(action): C(pruned) when the
      parent prunes it, as Argo CD's parent prunes a child Application (its sync ran, its sync policy prunes, no
      C(Prune=false) or unconfirmed C(Prune=confirm) on the child Application or in the parent's syncOptions;
      the parent's name in O(confirm) confirms): the child is then deleted as O(state=absent) with
      O(cascade=finalizer) deletes it (C(cascade), C(counts), C(resources); in check mode what would go), so its
      objects go only when it carried the resources finalizer. Otherwise C(prune skipped) with the reason in
      C(message): nothing is deleted and the parent stays C(OutOfSync), as an Application requiring pruning.
      C(error) when the deletion failed (C(Delete=confirm) objects need the child's name in O(confirm))."
  returned: when the application rendered children before that it no longer renders
  type: list
  elements: dict
  sample: [{name: web, namespace: web, parent: apps, action: pruned, cascade: foreground, changed: true}]
removed_applications:
  description:
    - "With O(applicationsets), the applications an ApplicationSet generated for this cluster before (their inventory
      parents carry its label) and no longer generates. Each has C(name), C(namespace), C(applicationset),
      C(resources) (C(deleted), or C(preserved) with C(syncPolicy.preserveResourcesOnDeletion)), C(pruned) (the
      objects deleted, or that would be in check mode), C(changed), and C(error) when it failed. Their inventory is
      removed. An ApplicationSet with C(applicationsSync: create-update) or C(create-only) keeps them. Nothing is
      removed when an application of the run failed."
  returned: when O(applicationsets) or O(applicationset_files) is given
  type: list
  elements: dict
sync_order:
  description:
    - When an application of the run has C(depends_on), the order the run uses, as waves of application names - an
      application is in the first wave after every application it depends on (it starts as soon as those are done).
      Applications O(only) or O(skip) left out are not listed.
  returned: when an application depends on another
  type: list
  elements: list
  sample: [[db, cache], [api], [web]]
dependencies_not_selected:
  description:
    - The dependencies O(only) or O(skip) left out (C(name), C(namespace), C(sync_status), C(health_status), C(error)
      when they could not be compared); they were compared, not synced.
  returned: when a selected application depends on one the selection left out
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
preview:
  description:
    - What the change at O(preview_revision) alters, independent of live drift, as M(gitops.kubernetes.gitops_diff)
      returns it; M(gitops.kubernetes.gitops_report) writes it as C(preview.md).
  returned: when O(preview_revision) is given (check mode only)
  type: dict
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

import time
from dataclasses import replace
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._clusters import CLUSTER_ARGUMENT_SPEC, cluster_name
from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_evict import CACHE_EVICTION_ARGUMENT_SPEC, EvictionPolicy, evict_quietly
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DRY_RUN_CACHE_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import (
    APPLICATION_WORKERS,
    GENERATOR_ARGUMENT_SPEC,
    SYNC_POLICY_SPEC,
    ApplicationInput,
    DesiredState,
    SharedCompare,
    for_this_cluster,
    inputs_from_params,
    with_children,
    prepare_module,
    run_each,
    run_ownership,
    scrub_result,
    selection_dependencies,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import LABEL_VALUE
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import kube_connection_argument_spec
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import POLICY_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._preview import PREVIEW_ARGUMENT_SPEC, PreviewOverride, PreviewPlan, refuse_real_sync
from ansible_collections.gitops.kubernetes.plugins.module_utils._projects import PROJECTS_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._rollback import find_entry, rollback_targets
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import default_cache_dir, shared_resolutions
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import REPOSITORIES_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    APPLICATION_ARGUMENT_SPEC,
    PROPAGATION_POLICIES,
    RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC,
    parse_resource_customizations,
)

try:
    # needs jsonpatch and PyYAML, which prepare_module() reports with missing_required_lib
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.created import forget_records, keep_created, record_created
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.disappeared import find_disappeared, remove_disappeared
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.removed_children import prune_removed_children
    from ansible_collections.gitops.kubernetes.plugins.module_utils._orphans import find_orphans
    from ansible_collections.gitops.kubernetes.plugins.module_utils._delete import (
        DeletionResult,
        DeletionSettings,
        delete_application,
        deletion_targets,
    )
    from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import read_inventory
    from ansible_collections.gitops.kubernetes.plugins.module_utils._record import initiator_from_env
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import (
        SyncClient,
        SyncResult,
        SyncSettings,
        sync_application,
    )
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.dependencies import (
        DependencyGraph,
        build_graph,
        dependency_block,
        run_in_order,
        sync_order,
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
        "manual_sync": {"type": "bool", "default": False},
        "confirm": {"type": "list", "elements": "str", "default": []},
        "cache_dir": APPLICATION_ARGUMENT_SPEC["cache_dir"],
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "cascade": {"type": "str", "choices": ["foreground", "background", "orphan", "finalizer"], "default": "foreground"},
        "owner": {"type": "str"},
        "rollback": {"type": "raw"},
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


def check_lifecycle_params(params: dict[str, Any], check_mode: bool) -> None:
    """Refuse option combinations that mean nothing, before any Git or cluster work."""
    owner = params["owner"]
    if owner is not None and owner != "" and not LABEL_VALUE.match(owner):
        raise SpecError(f"owner {owner!r} must be a valid label value (letters, digits, '-', '_', '.', at most 63 characters)")
    preview = PreviewOverride.from_params(params)
    refuse_real_sync(preview, check_mode)
    if params["state"] == "absent":
        if preview is not None:
            raise SpecError("preview_revision previews the applications of a revision; it cannot be combined with state=absent")
        if params["generators"] or params["only"] or params["skip"]:
            raise SpecError("state=absent takes the applications to delete by application, applications or name; "
                            "generators, only and skip are not accepted with it")
        if params["rollback"] not in (None, "", {}):
            raise SpecError("rollback syncs an application; it cannot be combined with state=absent")
    if preview is not None and params["rollback"] not in (None, "", {}):
        raise SpecError("rollback syncs a revision of the history; it cannot be combined with preview_revision")
    if params["state"] != "absent" and params["name"] is not None and params["manifests"] is None \
            and params["application"] is None and params["applications"] is None and not params["generators"]:
        raise SpecError("name without manifests: give the manifests to sync (or state=absent to delete the application)")


def delete_module(module: AnsibleModule) -> dict[str, Any]:
    """state=absent: delete every named application and build the result."""
    params = module.params
    started = time.monotonic()
    if params["applications"] is not None:
        raws = params["applications"]
    elif params["application"] is not None:
        raws = [params["application"]]
    else:
        raws = [{"name": params["name"], "destination": params["destination"] or {}}]
    targets = deletion_targets(raws)
    settings = DeletionSettings(cascade=params["cascade"], check_mode=module.check_mode,
                                wait_timeout=float(params["wait_timeout"]))
    confirmed = set(params["confirm"] or [])
    with SyncClient.from_params(params) as client:
        outcomes = run_each(targets, lambda target: delete_application(  # type: ignore[arg-type]
            client, target, replace(settings, confirm=target.name in confirmed)))
        stats = client.stats.to_dict()
        stats["requests"] = stats.pop("total")
        stats.update(writes=client.writes, writes_by_verb=dict(client.writes_by_verb),
                     seconds=round(time.monotonic() - started, 3))
    entries = []
    for target, outcome in zip(targets, outcomes):
        if isinstance(outcome, DeletionResult):
            entries.append(outcome.to_result())
            continue
        partial = getattr(outcome, "result", None)
        entry = partial.to_result() if partial is not None else {"name": target.name, "state": "absent"}
        entry.update({"error": str(outcome), **outcome.to_result()})
        entries.append(entry)
    result: dict[str, Any] = {"changed": any(e.get("changed") for e in entries), "stats": stats}
    if params["applications"] is None:
        result.update(entries[0])
    else:
        result["applications"] = entries
    failed = [entry["name"] for entry in entries if "error" in entry]
    if failed:
        result["failed_applications"] = failed
    return result


def apply_rollbacks(client: Any, params: dict[str, Any], inputs: list[ApplicationInput]) -> dict[int, int]:
    """Point each application the rollback option names at the commit of its history entry; {id(input): entry id}."""
    targets = rollback_targets(params["rollback"], [one.name for one in inputs])
    chosen: dict[int, int] = {}
    for one in inputs:
        if one.name not in targets:
            continue
        if one.app is None:
            raise SpecError("rendered manifests cannot be rolled back (there is no source to render again): give the "
                            "manifests of that revision, or an application spec", application=one.name)
        inventory = read_inventory(client, one.name, one.namespace or client.default_namespace)
        entry = find_entry(inventory.history, targets[one.name], one.name)
        one.app.source.revision = str(entry["revision"])
        chosen[id(one)] = int(entry["id"])
    return chosen


def run_module(module: AnsibleModule) -> dict[str, Any]:
    """Sync every requested application and build the result."""
    params = module.params
    check_lifecycle_params(params, module.check_mode)
    if params["state"] == "absent":
        return delete_module(module)
    started = time.monotonic()
    cache_dir = params["cache_dir"] or default_cache_dir()
    applicationsets: dict[str, dict[str, Any]] = {}
    excluded: list[dict[str, Any]] = []
    # a preview (check mode only) plans the applications it concerns, rendered at the preview revision
    preview = PreviewPlan.for_params(params, cache_dir, applicationsets)
    inputs = preview.inputs if preview is not None else inputs_from_params(params, cache_dir, applicationsets, excluded)
    # dependencies the selection (only, skip) left out are compared, never synced: they must be Synced and Healthy
    inputs += selection_dependencies(inputs, excluded)
    initiator = {k: v for k, v in (params["initiator"] or {}).items() if v} or initiator_from_env()
    # argocd-cm's customizations are checked (scripts compiled) before any Git or cluster work
    customizations = parse_resource_customizations(params["resource_customizations"], params["resource_customizations_dir"])
    settings = SyncSettings(
        check_mode=module.check_mode, force_conflicts=params["force_conflicts"], wait=params["wait"],
        wait_timeout=float(params["wait_timeout"]), hooks=params["hooks"],
        prune_propagation_policy=params["prune_propagation_policy"], initiator=initiator, customizations=customizations,
        manual_sync=params["manual_sync"], owner=params["owner"],
    )
    confirmed = set(params["confirm"] or [])
    # one resolution per repository revision for the whole batch of applications
    # manual_sync is pressing Sync (the role sets it when gitops_only names applications); without it the run is an
    # automated sync for the windows as for the sync policy, as gitops.kubernetes.auto_sync runs one application
    manual = params["manual_sync"]
    with shared_resolutions(), SyncClient.from_params({**params, "cache_dir": cache_dir}) as client:
        # applicationsSync create-only/create-delete: an application created before is synced as it was created
        kept = keep_created(client, inputs, applicationsets, cluster_name(params)) if applicationsets and preview is None else {}
        inputs, elsewhere = for_this_cluster(params, client, inputs)
        unselected = {one.name for one in inputs if not one.selected}
        elsewhere = [entry for entry in elsewhere if entry["name"] not in unselected]
        rollbacks = apply_rollbacks(client, params, inputs)
        # every application is rendered before any is synced, so objects Git moved between two of them pass over;
        # the Applications they render (app of apps) join the run
        inputs, states = with_children(params, cache_dir, inputs, client, applicationsets)
        # a preview writes nothing and plans only the applications the change concerns: no order to keep
        graph = dependency_graph(inputs, states, with_dependencies=preview is None)
        graph_inputs = list(inputs)
        shared = SharedCompare.for_run(client, inputs, params["dry_run_cache"])
        ownership = run_ownership(client, [s for s in states if isinstance(s, DesiredState)])
        state_of = {id(one): state for one, state in zip(inputs, states)}
        if preview is not None:
            preview.place(params, client)
            previewed = preview.result(client, inputs, state_of)

        def sync(one: ApplicationInput) -> SyncResult:
            state = state_of[id(one)]
            if not isinstance(state, DesiredState):
                raise state
            window = one.sync_window(manual)
            # a sync the project's windows block is planned like a check-mode run (its drift is reported), not written
            blocked = not window.allowed and not settings.check_mode and one.selected
            # a dependency the selection left out (not selected) is compared, never written
            synced = sync_application(client, state.name, state.objects, namespace=state.namespace,
                                      policy=one.sync_policy, ignore_differences=state.ignore_differences,
                                      revision=state.revision,
                                      # an app of apps child is listed by its parent's render, not by the owner's
                                      # list: recorded as the owner's, it would be deleted as removed from that list
                                      settings=replace(settings, confirmed=one.name in confirmed,
                                                       check_mode=settings.check_mode or blocked or not one.selected,
                                                       owner=None if one.parent else settings.owner),
                                      reads=shared.reads, verdicts=shared.verdicts, source=state.source,
                                      ownership=ownership, digest=state.digest, info=one.info,
                                      labels=one.parent_labels, finalizer=one.finalizer,
                                      rollback_of=rollbacks.get(id(one)), revisions=state.revisions)
            if not window.allowed:
                synced.sync_blocked_by = window.to_result()
            if blocked:
                synced.changed = False
                synced.sync_skipped = f"sync skipped: {window.reason()}"
                synced.warnings.append(f"application {one.name}: {synced.sync_skipped}")
            orphaned = one.project.orphaned_resources if one.project is not None and one.selected else None
            if orphaned is not None:
                namespace = state.namespace or client.default_namespace
                synced.orphaned_resources = find_orphans(client, namespace, orphaned, one.project.rules.namespaced)
                if orphaned.warn and synced.orphaned_resources:
                    synced.warnings.append(f"application {one.name} has {len(synced.orphaned_resources)} orphaned "
                                           f"resources in namespace {namespace}")
            return synced

        if graph.empty:
            outcomes = run_each(inputs, sync)
        else:
            outcomes = run_in_order(
                graph, inputs, sync, workers=APPLICATION_WORKERS,
                gate=lambda one, outcome: dependency_block(client, outcome, settings, one.selected),
                skip=lambda one, reason: skipped_result(one, reason, client.default_namespace, settings.check_mode))
        kept_warnings = [] if settings.check_mode or preview is not None else \
            record_created(client, inputs, outcomes, kept) + forget_records(client, applicationsets, cluster_name(params))
        # applications the ApplicationSets generated here before and no longer do
        removed = remove_disappeared(client, find_disappeared(client, applicationsets, cluster_name(params)), settings) \
            if applicationsets and not any(isinstance(o, GitopsError) for o in outcomes) else []
        # app of apps children their parent no longer renders: pruned as the parent's sync policy says
        removed_children = prune_removed_children(client, inputs, states, outcomes, cluster=cluster_name(params),
                                                  applicationsets=set(applicationsets), manual=manual, confirmed=confirmed,
                                                  check_mode=settings.check_mode, wait_timeout=settings.wait_timeout)
        stats = shared.finish(client, started, writes=client.writes, writes_by_verb=dict(client.writes_by_verb))

    with_diff = module._diff
    results = [o if isinstance(o, SyncResult) else getattr(o, "result", None) for o in outcomes]
    secrets = secret_values(
        [obj.manifest for one in inputs for obj in one.objects]
        + [e.live for r in results if r is not None for e in r.resources]
    )
    # the dependencies only compared are reported apart: they are not applications of this run's selection
    outside = [(one, outcome) for one, outcome in zip(inputs, outcomes) if not one.selected]
    chosen = [index for index, one in enumerate(inputs) if one.selected]
    inputs, outcomes, results = [inputs[i] for i in chosen], [outcomes[i] for i in chosen], [results[i] for i in chosen]
    warnings = customizations.warnings + [w for r in results if r is not None for w in r.warnings] + kept_warnings
    warnings += [w for one in inputs if one.name in kept for w in [kept[one.name].warning(one.name)] if w]
    children_removed = [child for entries in removed_children.values() for child in entries]
    result: dict[str, Any] = {"changed": any(r.changed for r in results if r is not None) or any(r["changed"] for r in removed)
                              or any(child["changed"] for child in children_removed), "stats": stats}
    if applicationsets:
        result["removed_applications"] = removed
    if not graph.empty:
        result["sync_order"] = sync_order(graph, include=lambda index: graph_inputs[index].selected)
    if outside:
        result["dependencies_not_selected"] = [dependency_entry(one, outcome) for one, outcome in outside]
    if preview is not None:
        result["preview"] = previewed
    entries = []
    for one, outcome, synced in zip(inputs, outcomes, results):
        entry = synced.to_result(with_diff) if synced is not None else {"name": one.name, "sync_status": "Unknown"}
        if one.parent:
            entry["parent"] = one.parent
        if id(one) in rollbacks:
            entry["rollback_of"] = rollbacks[id(one)]
        if one.name in kept and one.parent is None:
            entry["applicationset_kept"] = kept[one.name].to_result()
        if not isinstance(outcome, SyncResult):
            entry.update({"error": str(outcome), **outcome.to_result()})
        if one.name in removed_children:
            entry["removed_children"] = removed_children[one.name]
            # a child still to prune (or, in check mode, to be pruned) is drift of its parent, as in Argo CD
            if any(child["action"] != "pruned" or settings.check_mode for child in removed_children[one.name]):
                entry["sync_status"] = "OutOfSync"
            entry["changed"] = entry.get("changed") or any(child["changed"] for child in removed_children[one.name])
        entries.append(entry)
    if params["applications"] is None and len(entries) == 1:
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
    failed = [entry for entry in entries + removed + children_removed if "error" in entry]
    if failed:
        result["failed_applications"] = [entry["name"] for entry in failed]
    if with_diff:
        diffs = [d for r in results if r is not None for d in r.ansible_diffs()]
        if diffs:
            result["diff"] = diffs
    for warning in warnings:
        module.warn(scrub_text(warning, secrets))
    return scrub_result(result, secrets)


def dependency_graph(inputs: list[ApplicationInput], states: list[Any], with_dependencies: bool = True) -> DependencyGraph:
    """The run's depends_on graph (SpecError on an unknown name or a cycle, before any write); children of an
    application left out of the selection are left out with it."""
    unselected = {one.name for one in inputs if not one.selected}
    for one in inputs:  # parents come before their children
        if one.parent in unselected:
            one.selected = False
            unselected.add(one.name)
    failed = [one.name for one, state in zip(inputs, states) if isinstance(state, GitopsError)]
    reason = f"the render of {', '.join(failed)} failed, so the applications it renders are not known" if failed else ""
    return build_graph([(one.name, one.depends_on if with_dependencies else []) for one in inputs], unknown_reason=reason)


def skipped_result(one: ApplicationInput, reason: str, default_namespace: str, check_mode: bool) -> SyncResult:
    """The result of an application its dependencies kept from running: nothing read, nothing written."""
    return SyncResult(one.name, one.namespace or default_namespace, None, [], check_mode=check_mode, sync_status="Unknown",
                      health_status="Unknown", skipped=reason, warnings=[f"application {one.name}: {reason}"])


def dependency_entry(one: ApplicationInput, outcome: Any) -> dict[str, Any]:
    """How a dependency the selection left out was found (compared only, never synced)."""
    if isinstance(outcome, SyncResult):
        return {"name": one.name, "namespace": outcome.namespace, "sync_status": outcome.sync_status,
                "health_status": outcome.health_status}
    return {"name": one.name, "sync_status": "Unknown", "health_status": "Unknown", "error": str(outcome)}


def main() -> None:
    module = GitopsModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("application", "manifests", "applications"), ("application", "manifests", "generators"),
                            ("application", "manifests", "applicationsets"), ("application", "manifests", "applicationset_files")],
        required_one_of=[("application", "manifests", "applications", "generators", "applicationsets", "applicationset_files",
                          "name")],
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
        failed = result["failed_applications"]
        verb = "delete" if module.params["state"] == "absent" else "sync"
        message = result.get("error") if len(failed) == 1 and "error" in result else \
            f"could not {verb} application(s): " + ", ".join(failed)
        module.fail_json(msg=message, invocation=invocation, **{k: v for k, v in result.items() if k != "msg"})
    module.exit_json(invocation=invocation, **result)


if __name__ == "__main__":
    main()
