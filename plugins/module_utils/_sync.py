# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sync: converge the cluster to an application's desired objects, in order.

Stages, each reusing the one before it:

1. Compare (_compare): the API server predicts our apply for every object;
   that decides Synced / OutOfSync / Missing / Extraneous. Any object that
   cannot be compared (kind not served, dry-run rejected) fails the sync
   before anything is written, unless it is an immutable-field change the
   object (or the application) allows to be replaced.
2. Plan (_plan): phases PreSync, Sync, PostSync; waves; kind rank; name.
3. Apply: server-side apply (our field manager) of what drifted only, one
   kind-rank group at a time inside a wave, in the client's thread pool;
   CRDs are waited for until Established before what follows them.
4. Health (_health): every wave waits until its objects are healthy and its
   hooks finished, bounded by wait_timeout; Degraded fails at once.
5. Prune: inventory members no longer desired, after the Sync phase, with
   every safety guard (label still ours, Prune=false, allow_empty).
6. Record (_record): ApplySet parent written before the first apply (old and
   new members, so an interrupted sync leaves nothing untracked) and at the
   end (exact inventory, one more history entry).

An application already in sync is never written to: no apply, no Lease, no
record, no hooks (unless hooks='always'). Writes happen under a Lease.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import (
    EXTRANEOUS,
    MISSING,
    OUT_OF_SYNC,
    SYNCED,
    UNKNOWN,
    ApplicationDiff,
    ComparedObject,
    compare_application,
    immutable_fields,
    normalise,
    to_yaml,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, KubeApiError, SpecError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import (
    DEGRADED,
    HEALTHY,
    Health,
    assess,
    hook_finished,
    worst,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._hooks import delete_own_hook, mark_hook, refuse_hook_clashes
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import Inventory, application_applyset_id, parent_name
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import LiveReads
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import (
    CLAIM_ANNOTATION,
    RunOwnership,
    claim,
    claimant_of,
    hand_over,
    owner_of,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import (
    BEFORE_HOOK_CREATION,
    HELM_CRD_INSTALL,
    HELM_HOOK_ANNOTATION,
    HOOK_FAILED,
    HOOK_SUCCEEDED,
    POST_SYNC,
    PRE_SYNC,
    SYNC,
    SYNC_FAIL,
    HookSpec,
    SyncOptions,
    SyncPlan,
    SyncTask,
    WaveStep,
    build_plan,
    hook_spec,
    kind_rank,
    parse_sync_options,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import (
    LeaseLost,
    SyncLease,
    append_history,
    history_entry,
    now_iso,
    write_parent,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import is_secret, mask_secret, scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy

CREATED = "created"
CONFIGURED = "configured"
REPLACED = "replaced"
PRUNED = "pruned"
PRUNE_SKIPPED = "prune skipped"
HANDED_OVER = "handed over"  # no longer ours, not deleted: another application took it or claimed it
UNCHANGED = "unchanged"
HOOK_RUN = "hook run"
WRITE_ACTIONS = frozenset({CREATED, CONFIGURED, REPLACED, PRUNED})

SUCCEEDED = "Succeeded"
FAILED = "Failed"
NOT_RUN = "NotRun"
PLANNED = "Planned"

HOOKS_AUTO = "auto"
HOOKS_ALWAYS = "always"
PROPAGATION = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}
POLL_MAX = 2.0


@dataclass
class SyncSettings:
    """How to sync (module options other than the application itself)."""

    check_mode: bool = False
    # Argo CD and Flux both take over fields another manager (kubectl edit) changed: drift is healed
    force_conflicts: bool = True
    wait: bool = True
    wait_timeout: float = 300.0
    hooks: str = HOOKS_AUTO
    prune_propagation_policy: str | None = None  # overrides the application's sync_policy
    poll_interval: float = 0.5
    initiator: dict[str, str] = field(default_factory=dict)


class SyncFailure(SyncError):
    """The sync started and failed; `result` says what was done before it stopped."""

    def __init__(self, message: str, result: "SyncResult", **kwargs: Any) -> None:
        self.result = result
        super().__init__(message, **kwargs)


@dataclass
class ObjectResult:
    """What the sync does (or did) to one object."""

    ref: ObjectRef
    api_version: str
    action: str
    manifest: dict[str, Any] | None = None  # what is applied / created (labelled, namespaced)
    resource: ApiResource | None = None
    phase: str = SYNC
    wave: int = 0
    hook: HookSpec | None = None
    options: SyncOptions = field(default_factory=SyncOptions)
    compared: ComparedObject | None = None
    live: dict[str, Any] | None = None
    result: str = NOT_RUN
    health: Health | None = None
    message: str = ""
    source: str = ""
    keep_in_inventory: bool = True  # for prune candidates that are not deleted
    hand_over_to: str = ""  # HANDED_OVER: the ApplySet id to relabel it for ('' when another application applies it)

    def to_result(self, with_diff: bool = False) -> dict[str, Any]:
        """The module's view of this object (masked)."""
        entry: dict[str, Any] = {
            **self.ref.identity(self.api_version),
            "action": self.action,
            "result": self.result,
            "phase": self.phase,
            "wave": self.wave,
            "hook": self.hook is not None,
            "health": self.health.to_dict() if self.health else None,
        }
        if self.message:
            entry["message"] = self.message
        if self.source:
            entry["source"] = self.source
        if with_diff and self.action in WRITE_ACTIONS:
            diff = self.ansible_diff()
            entry["before"], entry["after"] = diff["before"], diff["after"]
        return entry

    def ansible_diff(self) -> dict[str, str]:
        """One entry of Ansible's `diff` list (Secrets masked)."""
        compared = self.compared
        if compared is not None and self.action in (CREATED, CONFIGURED, PRUNED):
            return compared.ansible_diff()
        before = _masked(normalise(compared.live)) if compared is not None and compared.live else None
        after = _masked(normalise(self.manifest)) if self.manifest else None
        return {"before": to_yaml(before), "after": to_yaml(after),
                "before_header": f"{self.ref} (live)", "after_header": f"{self.ref} (recreated)"}


def _masked(document: dict[str, Any]) -> dict[str, Any]:
    return mask_secret(document) if is_secret(document) else document


@dataclass
class SyncResult:
    """The outcome of syncing one application."""

    name: str
    namespace: str
    revision: str | None
    resources: list[ObjectResult]
    changed: bool = False
    check_mode: bool = False
    sync_status: str = SYNCED
    health_status: str = HEALTHY
    started_at: str = ""
    finished_at: str = ""
    duration: float = 0.0
    failed: bool = False
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    namespace_created: bool = False

    @property
    def counts(self) -> dict[str, int]:
        counts = {action.replace(" ", "_"): 0
                  for action in (CREATED, CONFIGURED, REPLACED, PRUNED, PRUNE_SKIPPED, HANDED_OVER, UNCHANGED)}
        counts["hooks"] = 0
        counts["failed"] = 0
        for obj in self.resources:
            if obj.hook is not None:
                counts["hooks"] += obj.result in (SUCCEEDED, FAILED, PLANNED)
            else:
                counts[obj.action.replace(" ", "_")] += 1
            counts["failed"] += obj.result == FAILED
        return counts

    def to_result(self, with_diff: bool = False) -> dict[str, Any]:
        """The module's view of this application."""
        result = {
            "name": self.name,
            "namespace": self.namespace,
            "revision": self.revision,
            "changed": self.changed,
            "sync_status": self.sync_status,
            "health_status": self.health_status,
            "counts": self.counts,
            "resources": [obj.to_result(with_diff) for obj in self.resources],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration": round(self.duration, 3),
        }
        if self.namespace_created:
            result["namespace_created"] = True
        if self.message:
            result["message"] = self.message
        return result

    def ansible_diffs(self) -> list[dict[str, str]]:
        """Ansible `diff` entries for every object written (or that would be)."""
        return [obj.ansible_diff() for obj in self.resources if obj.hook is None and obj.action in WRITE_ACTIONS]


# --------------------------------------------------------------------------
# preparation: compare and decide


@dataclass
class _Prepared:
    diff: ApplicationDiff
    resources: list[ObjectResult]  # desired, non-hook, in compare order
    prune: list[ObjectResult]  # inventory members no longer desired
    hooks: list[tuple[dict[str, Any], HookSpec, DesiredObject]]
    plan: SyncPlan
    desired_namespace_object: ObjectResult | None


def _split_hooks(name: str, objects: Iterable[DesiredObject]) -> tuple[list[DesiredObject], list[tuple[dict[str, Any], HookSpec, DesiredObject]]]:
    resources: list[DesiredObject] = []
    hooks: list[tuple[dict[str, Any], HookSpec, DesiredObject]] = []
    for obj in objects:
        manifest = obj.manifest
        try:
            spec = hook_spec(manifest) if isinstance(manifest, dict) else None
            if spec is None:
                parse_sync_options(manifest)  # fail on a bad annotation before any work
                annotations = (manifest.get("metadata") or {}).get("annotations") or {}
                if annotations.get(HELM_HOOK_ANNOTATION, "").strip() == HELM_CRD_INSTALL:
                    # Argo CD applies crd-install objects as ordinary resources; the compare engine skips hook
                    # annotations, so it gets the object without it
                    manifest = copy.deepcopy(manifest)
                    del manifest["metadata"]["annotations"][HELM_HOOK_ANNOTATION]
                    obj = DesiredObject(manifest, obj.source_file, obj.source_line)
                resources.append(obj)
            elif not spec.skip and spec.phases:
                metadata = manifest.get("metadata") or {}
                if not metadata.get("name") and not metadata.get("generateName"):
                    raise SpecError(f"hook {manifest.get('kind')} has neither metadata.name nor metadata.generateName")
                hooks.append((manifest, spec, obj))
        except SpecError as exc:
            if not exc.file and obj.source_file:
                exc.file, exc.line = obj.source_file, obj.source_line
            raise exc.with_application(name)
    return resources, hooks


def _is_immutable_error(error: KubeApiError) -> bool:
    return bool(immutable_fields(error))


def _replacement_problem(client: KubeClient, compared: ComparedObject) -> str:
    """Why the new version cannot replace the live object ('' if it can), asked before anything is deleted.

    A dry-run create with the real name: the API server defaults, validates
    and admits the object before it looks for the name, so a valid object
    answers 409 AlreadyExists and an invalid one 422 (a generated name would
    fail objects whose name is checked, such as CustomResourceDefinitions).
    """
    try:
        client.create(compared.resource, compared.desired or {}, dry_run=True)  # type: ignore[arg-type]
    except KubeApiError as exc:
        if exc.status == 409 and exc.reason == "AlreadyExists":
            return ""
        secrets = secret_values([compared.desired])
        return scrub_text(f"its new version is invalid, so the live object was not deleted: {exc.message}", secrets)
    return ""


def _prepare(
    client: KubeClient,
    name: str,
    objects: list[DesiredObject],
    namespace: str | None,
    policy: SyncPolicy,
    ignore_differences: Iterable[Any],
    revision: str | None,
    reads: LiveReads | None = None,
    verdicts: DryRunVerdicts | None = None,
    source: str | None = None,
    ownership: RunOwnership | None = None,
    check_mode: bool = False,
) -> _Prepared:
    """Compare, then decide an action for every object; raises before any write if something cannot sync.

    `ownership` lists the applications of this run and what each wants, so an
    object Git moved between two of them passes without being deleted.
    """
    resources, hooks = _split_hooks(name, objects)
    diff = compare_application(client, name, resources, namespace=namespace, ignore_differences=ignore_differences,
                               revision=revision, reads=reads, verdicts=verdicts, source=source)
    foreign = diff.inventory.tool_problem() if diff.inventory else ""
    if foreign:
        raise SyncError("nothing was applied: " + foreign, application=name)
    set_id = diff.inventory.set_id if diff.inventory else ""
    ours = diff.set_ids
    ownership = ownership or RunOwnership()
    desired: list[ObjectResult] = []
    prune: list[ObjectResult] = []
    problems: list[str] = []
    to_claim: list[ObjectResult] = []
    desired_count = sum(1 for c in diff.resources if c.status != EXTRANEOUS)
    for compared in diff.resources:
        manifest = compared.desired if compared.status != EXTRANEOUS else compared.live
        options = parse_sync_options(manifest or {})
        entry = ObjectResult(
            ref=compared.ref, api_version=compared.api_version, action=UNCHANGED, manifest=compared.desired,
            resource=compared.resource, options=options, compared=compared, live=compared.live,
            source=compared.source, message=compared.message,
        )
        where = f" ({compared.source})" if compared.source else ""
        # the dry-run was rejected because Git changes a field that cannot change in place
        immutable = (compared.status == OUT_OF_SYNC and compared.live is not None and compared.predicted is None
                     and compared.resource is not None and bool(compared.immutable_fields))
        owner = owner_of(compared.live)
        conflict = ""
        if compared.status != EXTRANEOUS and owner and set_id and owner not in ours:
            conflict = _ownership_conflict(compared.ref, owner, set_id, ownership, check_mode)
            if not conflict:
                entry.message = f"taken over from application {ownership.names[owner]}, which no longer has it"
        if conflict:
            # taking it over would make two applications undo each other's syncs (Argo CD's SharedResourceWarning)
            problems.append(f"{compared.ref}{where} {conflict}")
            if not ownership.in_run(owner) and claimant_of(compared.live) != set_id:
                to_claim.append(entry)
        elif immutable:
            replace_problem = _replacement_problem(client, compared) if options.replace or policy.replace else ""
            if replace_problem:
                problems.append(f"{compared.ref}{where}: {replace_problem}")
            elif options.replace or policy.replace:
                entry.action = REPLACED
                entry.message = (f"an immutable field changed ({', '.join(compared.immutable_fields)}): "
                                 "deleted and recreated (Replace=true)")
            else:
                problems.append(
                    f"{compared.ref}{where}: {compared.message}. The change needs the object deleted and recreated: "
                    "annotate it argocd.argoproj.io/sync-options: Replace=true, or set sync_policy.replace"
                )
        elif compared.status == SYNCED:
            entry.action = UNCHANGED
        elif compared.status == MISSING:
            entry.action = CREATED
        elif compared.status == OUT_OF_SYNC:
            entry.action = CONFIGURED
        elif compared.status == UNKNOWN:
            problems.append(f"{compared.ref}{where}: {compared.message or 'cannot be compared'}")
        if compared.status == EXTRANEOUS:
            _decide_prune(entry, compared, policy, set_id, ours, ownership, desired_count)
            prune.append(entry)
        else:
            desired.append(entry)
    if problems:
        if not check_mode:
            problems += _claim_all(client, to_claim, set_id)
        raise SyncError("nothing was applied, because " + ("these objects cannot be synced: " if len(problems) > 1 else "")
                        + "; ".join(problems), application=name)
    plan = build_plan([(entry.manifest or {}, entry) for entry in desired], [(hook[0], hook[2]) for hook in hooks])
    for task in plan.tasks:
        entry = task.payload
        if task.is_hook:
            obj: DesiredObject = entry
            task.payload = _hook_result(client, task, obj, diff.namespace)
        else:
            entry.wave = task.wave
    dest_ns = next((e for e in desired if e.ref.kind == "Namespace" and not e.ref.group and e.ref.name == diff.namespace), None)
    return _Prepared(diff, desired, prune, hooks, plan, dest_ns)


def _ownership_conflict(ref: ObjectRef, owner: str, set_id: str, ownership: RunOwnership, check_mode: bool) -> str:
    """Why this application may not take over ref from the application owner ('' when it may: the owner is
    synced in this run and no longer wants it)."""
    others = ownership.others_wanting(ref, set_id)
    if ownership.in_run(owner):
        if not others:
            return ""
        return (f"is wanted by application(s) {', '.join(others)} of this run as well; an object belongs to one "
                "application: remove it from all but one of them in Git")
    claimed = "would be claimed" if check_mode else "is now claimed"
    return (f"belongs to another application (ApplySet {owner}); it {claimed} for this one ({CLAIM_ANNOTATION}): "
            "when the other application's render no longer has it, its next sync hands it over without deleting it "
            "and the next sync of this application takes it (syncing both in one run does both at once). "
            "If both should have it, remove it from one of them in Git")


def _claim_all(client: KubeClient, entries: list[ObjectResult], set_id: str) -> list[str]:
    """Mark objects of other applications as claimed by this one; the problems met (nothing else is written)."""
    def one(entry: ObjectResult) -> str:
        try:
            if entry.resource is not None and entry.live is not None:
                claim(client, entry.resource, entry.live, set_id)
        except KubeApiError as exc:
            return f"{entry.ref} could not be claimed: {exc.message}"
        return ""

    return [problem for problem in client.map(one, entries) if problem]


def _decide_prune(entry: ObjectResult, compared: ComparedObject, policy: SyncPolicy, set_id: str, ours: set[str],
                  ownership: RunOwnership, desired_count: int) -> None:
    live = compared.live or {}
    owner = owner_of(live)
    claimant = claimant_of(live)
    others = ownership.others_wanting(entry.ref, set_id)
    entry.action = PRUNE_SKIPPED
    entry.manifest = None
    if owner != (compared.inventory_set_id or set_id):
        # the label was removed or another application took the object over: not ours to delete any more
        entry.message = ("not pruned: it now belongs to ApplySet " + owner) if owner else \
            "not pruned: it no longer carries this application's applyset.kubernetes.io/part-of label"
        entry.keep_in_inventory = False
    elif others:
        entry.action = HANDED_OVER
        entry.message = f"handed over to application {', '.join(others)} of this run, not deleted"
    elif claimant and claimant not in ours:
        entry.action = HANDED_OVER
        entry.hand_over_to = claimant
        entry.message = f"handed over to the application that claimed it (ApplySet {claimant}), not deleted"
    elif not entry.options.prune:
        entry.message = "not pruned: " + ("Prune=confirm needs a manual deletion" if entry.options.prune_confirm
                                          else "annotated argocd.argoproj.io/sync-options: Prune=false")
    elif not policy.prune:
        entry.message = "not pruned: pruning is off (sync_policy.prune)"
    elif desired_count == 0 and not policy.allow_empty:
        entry.message = ("not pruned: the application rendered no objects, and pruning everything it owns "
                         "needs sync_policy.allow_empty")
    else:
        entry.action = PRUNED
        entry.message = ""


def _hook_result(client: KubeClient, task: SyncTask, obj: DesiredObject, namespace: str) -> ObjectResult:
    manifest = copy.deepcopy(task.manifest)
    resource = client.resource_for(obj.api_version, obj.kind)
    metadata = manifest.setdefault("metadata", {})
    if resource is None or resource.namespaced:  # a CRD of the application defines it: namespaced is the usual case
        metadata["namespace"] = metadata.get("namespace") or namespace
    return ObjectResult(
        ref=ObjectRef.from_manifest(manifest), api_version=obj.api_version, action=HOOK_RUN, manifest=manifest,
        resource=resource, phase=task.phase, wave=task.wave, hook=task.hook, options=task.options,
        source=obj.location(),
    )


def _refuse_hook_clashes(client: KubeClient, name: str, prepared: _Prepared) -> None:
    inventory = prepared.diff.inventory
    set_id = inventory.set_id if inventory else application_applyset_id(name, prepared.diff.namespace)
    refuse_hook_clashes(client, name, [t.payload for t in prepared.plan.ordered() if t.is_hook], set_id)


# --------------------------------------------------------------------------
# the run


class _Run:
    """One sync of one application with a prepared plan."""

    def __init__(self, client: KubeClient, name: str, prepared: _Prepared, policy: SyncPolicy,
                 settings: SyncSettings, result: SyncResult, verdicts: DryRunVerdicts | None = None,
                 source: str | None = None, lease: SyncLease | None = None) -> None:
        self.client = client
        self.lease = lease
        self.verdicts = verdicts
        self.name = name
        self.prepared = prepared
        self.policy = policy
        self.settings = settings
        self.result = result
        self.namespace = prepared.diff.namespace
        self.inventory = prepared.diff.inventory
        self.source = source
        self.hook_results: list[ObjectResult] = []

    # ---------------------------------------------------------------- helpers

    def _fail(self, message: str) -> None:
        raise SyncFailure(message, self.result, application=self.name)

    def guard(self, before: str) -> None:
        """Raise LeaseLost if another sync holds the Lease now: two syncs never write at once."""
        if self.lease is not None:
            self.lease.check(before)

    def _resource(self, entry: ObjectResult) -> ApiResource:
        if entry.resource is None:
            entry.resource = self.client.resource_for(entry.api_version, entry.ref.kind)
            if entry.resource is None:
                self.client.discovery(refresh=True)
                entry.resource = self.client.resource_for(entry.api_version, entry.ref.kind)
        if entry.resource is None:
            raise SyncError(f"{entry.api_version} {entry.ref.kind} is not served by the cluster", object_ref=str(entry.ref))
        return entry.resource

    def _namespace_of(self, entry: ObjectResult) -> str | None:
        return entry.ref.namespace or None

    def _wait_gone(self, entry: ObjectResult, deadline: float) -> None:
        resource = self._resource(entry)
        delay = self.settings.poll_interval
        while self.client.get(resource, self._namespace_of(entry), entry.ref.name) is not None:
            if time.monotonic() >= deadline:
                raise SyncError(f"{entry.ref} was still being deleted after {self.settings.wait_timeout:.0f}s "
                                "(finalizers or dependents?)", object_ref=str(entry.ref))
            time.sleep(delay)
            delay = min(POLL_MAX, delay * 1.5)

    # ---------------------------------------------------------------- apply

    def _apply_one(self, entry: ObjectResult) -> None:
        try:
            resource = self._resource(entry)
            if entry.action == REPLACED:
                self._replace(entry, resource)
            else:
                entry.live = self.client.apply(resource, entry.manifest or {}, force_conflicts=self.settings.force_conflicts)
            entry.result = SUCCEEDED
            entry.health = assess(entry.live)
            if self.verdicts is not None and entry.compared is not None and entry.compared.verdict_key:
                # the apply's response is the live object our manifest gives: a dry-run now would say Synced
                self.verdicts.record(entry.compared.verdict_key, entry.live)
        except KubeApiError as exc:
            entry.result = FAILED
            if exc.status == 409:
                entry.message = (f"{exc.message}. Another field manager owns these fields; set force_conflicts: true "
                                 "to take them over")
            elif _is_immutable_error(exc):
                entry.message = (f"{exc.message}. The change needs the object deleted and recreated: annotate it "
                                 "argocd.argoproj.io/sync-options: Replace=true, or set sync_policy.replace")
            else:
                entry.message = exc.message
        except SyncError as exc:
            entry.result = FAILED
            entry.message = exc.message

    def _replace(self, entry: ObjectResult, resource: ApiResource) -> None:
        # foreground: a replaced Job's pods (or a Deployment's ReplicaSets) go before the new object comes;
        # the uid: only the object that was compared (and whose replacement was validated) is deleted
        uid = ((entry.live or {}).get("metadata") or {}).get("uid")
        try:
            self.client.delete(resource, self._namespace_of(entry), entry.ref.name, propagation_policy="Foreground", uid=uid)
        except KubeApiError as exc:
            if exc.status == 409:
                raise SyncError(f"not replaced: {entry.ref} was deleted and created again by someone else since it was "
                                "compared; nothing deleted, the next sync compares the new object", object_ref=str(entry.ref)) from None
            raise
        self._wait_gone(entry, time.monotonic() + self.settings.wait_timeout)
        entry.live = self.client.apply(resource, entry.manifest or {}, force_conflicts=True)

    def _apply_group(self, entries: list[ObjectResult]) -> None:
        todo = [e for e in entries if e.action in (CREATED, CONFIGURED, REPLACED)]
        if todo:
            self.guard(f"{todo[0].phase} wave {todo[0].wave} ({len(todo)} object(s) from {todo[0].ref})")
        for entry in entries:
            if entry.action == UNCHANGED:
                entry.result = SUCCEEDED
                entry.health = assess(entry.live)
        self.client.map(self._apply_one, todo)

    # ---------------------------------------------------------------- hooks

    def _hook_owner_id(self) -> str:
        return self.inventory.set_id if self.inventory else application_applyset_id(self.name, self.namespace)

    def _start_hook(self, entry: ObjectResult) -> None:
        try:
            resource = self._resource(entry)
            manifest = entry.manifest or {}
            if not resource.namespaced:
                manifest.get("metadata", {}).pop("namespace", None)
            if entry.ref.name and entry.hook and BEFORE_HOOK_CREATION in entry.hook.delete_policies:
                # only an earlier run of this hook of this application; the preparation checked, this re-checks
                if delete_own_hook(self.client, resource, entry.ref, self._hook_owner_id(), entry.source):
                    self._wait_gone(entry, time.monotonic() + self.settings.wait_timeout)
            mark_hook(manifest, self._hook_owner_id())
            created = self.client.create(resource, manifest)
            entry.live = created
            entry.ref = ObjectRef.from_manifest(created or manifest)  # generateName hooks get their name here
            entry.health = assess(created)
        except (KubeApiError, SyncError) as exc:
            entry.result = FAILED
            entry.message = f"hook could not be created: {exc.message}"

    def _finish_hook(self, entry: ObjectResult, succeeded: bool) -> None:
        entry.result = SUCCEEDED if succeeded else FAILED
        if not succeeded and not entry.message:
            entry.message = f"hook failed: {entry.health.message if entry.health else ''}".rstrip(": ")
        policies = entry.hook.delete_policies if entry.hook else frozenset()
        if (succeeded and HOOK_SUCCEEDED in policies) or (not succeeded and HOOK_FAILED in policies):
            self.guard(f"the deletion of hook {entry.ref}")
            try:
                delete_own_hook(self.client, self._resource(entry), entry.ref, self._hook_owner_id(), entry.source)
                entry.message = (entry.message + "; " if entry.message else "") + "deleted by its hook-delete-policy"
            except (KubeApiError, SyncError) as exc:
                entry.message = (entry.message + "; " if entry.message else "") + f"could not delete it: {exc.message}"

    # ---------------------------------------------------------------- waits

    def _refresh(self, entries: list[ObjectResult]) -> None:
        def fetch(entry: ObjectResult) -> None:
            entry.live = self.client.get(self._resource(entry), self._namespace_of(entry), entry.ref.name)
            entry.health = assess(entry.live)

        self.client.map(fetch, entries)

    def _wait(self, resources: list[ObjectResult], hooks: list[ObjectResult], what: str) -> None:
        """Until resources are healthy and hooks finished; fails on Degraded, a failed hook or the timeout."""
        deadline = time.monotonic() + self.settings.wait_timeout
        delay = self.settings.poll_interval
        pending_resources = [e for e in resources if not (e.health and e.health.settled)]
        pending_hooks = [e for e in hooks if e.result == NOT_RUN]
        while True:
            for entry in list(pending_hooks):
                finished = hook_finished(entry.health) if entry.health else None
                if finished is not None:
                    self._finish_hook(entry, finished)
                    pending_hooks.remove(entry)
            failed_hooks = [e for e in hooks if e.result == FAILED]
            if failed_hooks:
                self._fail(f"{what}: hook {failed_hooks[0].ref} failed: {failed_hooks[0].message}")
            degraded = [e for e in pending_resources if e.health and e.health.status == DEGRADED]
            if degraded:
                self._fail(f"{what}: " + "; ".join(f"{e.ref} is Degraded: {e.health.message}" for e in degraded if e.health))
            pending_resources = [e for e in pending_resources if not (e.health and e.health.settled)]
            if not pending_resources and not pending_hooks:
                return
            if time.monotonic() >= deadline:
                waiting = pending_resources + pending_hooks
                for entry in pending_hooks:
                    entry.result = FAILED
                    entry.message = f"did not finish within {self.settings.wait_timeout:.0f}s"
                self._fail(
                    f"{what}: not healthy after {self.settings.wait_timeout:.0f}s: "
                    + "; ".join(f"{e.ref} is {e.health.status if e.health else 'Unknown'}"
                                f"{': ' + e.health.message if e.health and e.health.message else ''}" for e in waiting[:10])
                )
            time.sleep(delay)
            delay = min(POLL_MAX, delay * 1.5)
            self._refresh(pending_resources + pending_hooks)

    # ---------------------------------------------------------------- phases

    def run_step(self, step: WaveStep) -> None:
        wave_resources: list[ObjectResult] = []
        wave_hooks: list[ObjectResult] = []
        label = f"{step.phase} wave {step.wave}"
        for group in step.groups:
            resources = [t.payload for t in group if not t.is_hook]
            hooks = [t.payload for t in group if t.is_hook]
            self._apply_group(resources)
            if hooks:
                self.guard(f"{label}: hook {hooks[0].ref}")
            self.client.map(self._start_hook, hooks)
            self.hook_results += hooks
            failed = [e for e in resources + hooks if e.result == FAILED]
            if failed:
                self._fail(f"{label}: " + "; ".join(f"{e.ref}: {e.message}" for e in failed[:10]))
            crds = [e for e in resources if e.ref.kind == "CustomResourceDefinition" and e.action != UNCHANGED]
            if crds:
                # custom resources later in the plan need the new kinds served
                self._wait(crds, [], f"{label}: CustomResourceDefinitions")
                self.client.discovery(refresh=True)
            wave_resources += resources
            wave_hooks += hooks
        self._wait(wave_resources if self.settings.wait else [], wave_hooks, label)

    def run_phase(self, phase: str) -> None:
        for step in self.prepared.plan.steps(phase):
            self.run_step(step)

    def hand_over(self) -> None:
        """Objects another application takes: relabelled for the one that claimed them (one taken by an application
        of this run is relabelled by its apply), never deleted."""
        def one(entry: ObjectResult) -> None:
            try:
                if entry.hand_over_to and entry.live is not None:
                    hand_over(self.client, self._resource(entry), entry.live, entry.hand_over_to)
                entry.result = SUCCEEDED
            except (KubeApiError, SyncError) as exc:
                entry.result = FAILED
                entry.message = f"hand-over failed (kept in the inventory, retried next sync): {exc.message}"

        entries = [e for e in self.prepared.prune if e.action == HANDED_OVER]
        if any(e.hand_over_to for e in entries):
            self.guard(f"the hand-over of {entries[0].ref}")
        self.client.map(one, entries)
        failed = [e for e in entries if e.result == FAILED]
        if failed:
            self._fail("hand-over: " + "; ".join(f"{e.ref}: {e.message}" for e in failed[:10]))

    def prune(self) -> None:
        candidates = [e for e in self.prepared.prune if e.action == PRUNED]
        if not candidates:
            return
        policy = self.settings.prune_propagation_policy or self.policy.prune_propagation_policy or "foreground"
        propagation = PROPAGATION.get(policy.lower(), "Foreground")

        def delete(entry: ObjectResult) -> None:
            uid = ((entry.live or {}).get("metadata") or {}).get("uid")
            try:
                # only the object compared: a name that now holds another object (recreated, or the same object
                # recreated under another API group) is not deleted
                self.client.delete(self._resource(entry), self._namespace_of(entry), entry.ref.name,
                                   propagation_policy=propagation, uid=uid)
                entry.result = SUCCEEDED
                entry.health = None
            except KubeApiError as exc:
                if exc.status == 409 and uid:
                    entry.action, entry.result, entry.keep_in_inventory = PRUNE_SKIPPED, SUCCEEDED, False
                    entry.message = "not pruned: the name now holds another object than the one compared"
                    return
                entry.result = FAILED
                entry.message = f"prune failed (kept in the inventory, retried next sync): {exc.message}"
            except SyncError as exc:
                entry.result = FAILED
                entry.message = f"prune failed (kept in the inventory, retried next sync): {exc.message}"

        # reverse apply order: workloads go before the configuration and namespaces they use
        by_rank: dict[int, list[ObjectResult]] = {}
        for entry in candidates:
            by_rank.setdefault(kind_rank(entry.ref.kind), []).append(entry)
        for rank in sorted(by_rank, reverse=True):
            self.guard(f"prune ({len(by_rank[rank])} object(s) from {by_rank[rank][0].ref})")
            self.client.map(delete, by_rank[rank])
        failed = [e for e in candidates if e.result == FAILED]
        if failed:
            self._fail("prune: " + "; ".join(f"{e.ref}: {e.message}" for e in failed[:10]))

    def run_sync_fail_hooks(self) -> None:
        """Best effort: SyncFail hooks after a failure (their own failure is reported, not raised)."""
        for step in self.prepared.plan.steps(SYNC_FAIL):
            hooks = [t.payload for t in step.tasks]
            self.guard(f"SyncFail wave {step.wave}")
            self.client.map(self._start_hook, hooks)
            self.hook_results += hooks
            try:
                self._wait([], [h for h in hooks if h.result != FAILED], f"SyncFail wave {step.wave}")
            except SyncFailure:
                return

    # ---------------------------------------------------------------- inventory

    def members(self, final: bool, inventory: Inventory | None = None) -> set[ObjectRef]:
        """An inventory after the sync (by default the application's own): desired objects, plus its prune
        candidates not (yet) deleted or handed over; final=False keeps every candidate (the sync may stop early)."""
        own = inventory is None or inventory is self.inventory
        set_id = (inventory or self.inventory).set_id if (inventory or self.inventory) else ""
        members = {e.ref for e in self.prepared.resources} if own else set()
        for entry in self.prepared.prune:
            if ((entry.compared.inventory_set_id if entry.compared else "") or set_id) != set_id:
                continue
            if entry.action in (PRUNED, HANDED_OVER) and (not final or entry.result != SUCCEEDED):
                members.add(entry.ref)
            elif entry.action == PRUNE_SKIPPED and entry.keep_in_inventory:
                members.add(entry.ref)
        return members

    def _history(self) -> list[dict[str, Any]]:
        # an application moved to another namespace keeps its history
        if self.inventory is not None and self.inventory.exists:
            return self.inventory.history
        return next((inv.history for inv in self.prepared.diff.previous if inv.history), [])

    def _write(self, members: set[ObjectRef], revision: str | None, history: list[dict[str, Any]],
               previous_namespaces: Iterable[str]) -> None:
        write_parent(self.client, self.name, self.namespace, members, revision=revision, history=history,
                     source=self.source or (self.inventory.source if self.inventory else None),
                     previous_namespaces=previous_namespaces)

    def pre_record(self) -> None:
        members = self.members(final=False)
        previous = [inv.namespace for inv in self.prepared.diff.previous]
        inventory = self.inventory
        if inventory is not None and inventory.exists and members <= inventory.members \
                and set(previous) <= set(inventory.previous_namespaces):
            return
        self._write(members | (inventory.members if inventory else set()), inventory.revision if inventory else None,
                    self._history(), set(previous) | set(inventory.previous_namespaces if inventory else []))

    def record(self, outcome: str, message: str) -> None:
        # the history lives in a ConfigMap: an API server error quoting a Secret's value must not land there
        entries = self.prepared.resources + self.prepared.prune
        secrets = secret_values([e.manifest for e in entries] + [e.live for e in entries]
                                + [manifest for manifest, dummy, dummy_obj in self.prepared.hooks])
        entry = history_entry(
            revision=self.result.revision, started_at=self.result.started_at, finished_at=now_iso(), result=outcome,
            message=scrub_text(message, secrets), counts={k: v for k, v in self.result.counts.items() if v},
            initiator=self.settings.initiator,
        )
        revision = self.result.revision if outcome == SUCCEEDED else (self.inventory.revision if self.inventory else None)
        left_behind = [inv.namespace for inv in self.prepared.diff.previous
                       if outcome != SUCCEEDED or self.members(final=True, inventory=inv)]
        self._write(self.members(final=True), revision, append_history(self._history(), entry), left_behind)
        if outcome == SUCCEEDED:
            for inventory in self.prepared.diff.previous:
                self._tidy_previous(inventory)

    def _tidy_previous(self, inventory: Inventory) -> None:
        """A parent left behind in another namespace keeps only what was not pruned there; empty, it goes."""
        remaining = self.members(final=True, inventory=inventory)
        if remaining == inventory.members:
            return
        if remaining:
            write_parent(self.client, self.name, inventory.namespace, remaining, revision=inventory.revision,
                         history=inventory.history, source=inventory.source)
            return
        uid = ((inventory.parent or {}).get("metadata") or {}).get("uid")
        try:
            self.client.delete(self.client.resource_for("v1", "ConfigMap"), inventory.namespace,  # type: ignore[arg-type]
                               parent_name(self.name), uid=uid)
        except KubeApiError as exc:
            self.result.warnings.append(f"could not delete the inventory left in namespace {inventory.namespace}: "
                                        f"{exc.message}")


# --------------------------------------------------------------------------
# entry point


def _ensure_namespace(client: KubeClient, prepared: _Prepared, policy: SyncPolicy, settings: SyncSettings,
                      result: SyncResult) -> list[dict[str, Any]]:
    """The destination namespace must exist before the Lease and the inventory can live in it; so must the
    namespaces of objects the compare could not validate because theirs did not exist yet. A real run creates
    them and returns what it created (for _validate_in_new_namespaces); check mode only reports."""
    destination = prepared.diff.namespace
    resource = client.resource_for("v1", "Namespace")
    if resource is None:
        return []
    waiting = {e.compared.unvalidated_namespace for e in prepared.resources if e.compared and e.compared.unvalidated_namespace}
    created: list[dict[str, Any]] = []
    for namespace in [destination] + sorted(waiting - {destination}):
        try:
            if client.get(resource, None, namespace) is not None:
                continue
        except KubeApiError as exc:
            if exc.status == 403:
                continue  # an identity with namespaced rights only may not read Namespaces; writes into it tell if it is missing
            raise
        own = prepared.desired_namespace_object if namespace == destination else next(
            (e for e in prepared.resources if e.ref.kind == "Namespace" and not e.ref.group and e.ref.name == namespace), None)
        if own is None and namespace != destination:
            objects = ", ".join(str(e.ref) for e in prepared.resources if e.compared and e.compared.unvalidated_namespace == namespace)
            raise SyncError(f"nothing was applied, because namespace {namespace} does not exist and the application does not "
                            f"create it (no Namespace {namespace} in it): {objects}")
        if own is None and not policy.create_namespace:
            raise SyncError(f"the destination namespace {namespace} does not exist; set sync_policy.create_namespace: true "
                            "(CreateNamespace=true) or add the Namespace to the application")
        result.namespace_created = result.namespace_created or namespace == destination
        if settings.check_mode:
            continue
        if own is not None:
            own.live = client.apply(resource, own.manifest or {}, force_conflicts=settings.force_conflicts)
            own.result, own.health = SUCCEEDED, assess(own.live)
            created.append(own.live)
            continue
        # created for the application but not part of it (as Argo CD's CreateNamespace): never pruned
        created.append(client.apply(resource, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                                    force_conflicts=settings.force_conflicts))
    return created


def _validate_in_new_namespaces(client: KubeClient, prepared: _Prepared, created: list[dict[str, Any]],
                                settings: SyncSettings) -> None:
    """Dry-run the objects whose namespace did not exist when they were compared, now that it does. If the API
    server rejects one, the namespaces this run just created (empty, ours) are deleted again and the sync fails
    before anything else is written: a new namespace is never left half applied."""
    entries = [e for e in prepared.resources if e.compared and e.compared.unvalidated_namespace and e.resource is not None]

    def validate(entry: ObjectResult) -> str:
        try:
            client.apply(entry.resource, entry.manifest or {}, dry_run=True, force_conflicts=True)  # type: ignore[arg-type]
        except KubeApiError as exc:
            where = f" ({entry.source})" if entry.source else ""
            return scrub_text(f"{entry.ref}{where}: the API server rejected the dry-run apply: {exc.message}",
                              secret_values([entry.manifest]))
        entry.message = ""  # validated now
        return ""

    problems = [found for found in client.map(validate, entries) if found]
    if not problems:
        return
    removed = _remove_namespaces(client, created, settings)
    raise SyncError("nothing was applied, because " + ("these objects cannot be synced: " if len(problems) > 1 else "")
                    + "; ".join(problems) + removed)


def _remove_namespaces(client: KubeClient, created: list[dict[str, Any]], settings: SyncSettings) -> str:
    """Delete the namespaces a failed validation created (by uid: only those very objects); says what became of them."""
    resource = client.resource_for("v1", "Namespace")
    if resource is None or not created:
        return ""
    names = [str((ns.get("metadata") or {}).get("name")) for ns in created]
    try:
        for namespace in created:
            metadata = namespace.get("metadata") or {}
            client.delete(resource, None, metadata.get("name") or "", uid=metadata.get("uid"))
        deadline = time.monotonic() + min(settings.wait_timeout, 60.0)
        while any(client.get(resource, None, name) is not None for name in names) and time.monotonic() < deadline:
            time.sleep(settings.poll_interval)
    except KubeApiError as exc:
        return f" (namespace {', '.join(names)}, created to validate them, could not be deleted again: {exc.message})"
    return f" (namespace {', '.join(names)}, created to validate them, was deleted again)"


def _finish(result: SyncResult, prepared: _Prepared, started: float, hook_results: list[ObjectResult]) -> None:
    ran = {id(entry) for entry in hook_results}
    result.resources = [t.payload for t in prepared.plan.ordered() if not t.is_hook or id(t.payload) in ran] + prepared.prune
    for entry in prepared.resources:
        if entry.health is None:
            entry.health = assess(entry.live)
    healths = [e.health.status for e in prepared.resources if e.health]
    result.health_status = worst(healths)
    result.finished_at = now_iso()
    result.duration = time.monotonic() - started


def sync_application(
    client: KubeClient,
    name: str,
    objects: list[DesiredObject],
    *,
    namespace: str | None = None,
    policy: SyncPolicy | None = None,
    ignore_differences: Iterable[Any] = (),
    revision: str | None = None,
    settings: SyncSettings | None = None,
    reads: LiveReads | None = None,
    verdicts: DryRunVerdicts | None = None,
    source: str | None = None,
    ownership: RunOwnership | None = None,
) -> SyncResult:
    """Sync one application (or, in check mode, say what a sync would do).

    `reads` shares the live reads of a batch of applications for the first
    comparison; `verdicts` reuses Synced dry-runs and records what is
    applied. `source` identifies where the application comes from (recorded
    on its inventory; see _inventory); `ownership` names the applications
    synced in the same run and what each wants (see _ownership). Raises GitopsError (nothing written) when the application cannot
    be compared or planned, and SyncFailure (with the partial result) when the
    sync started and failed.
    """
    settings = settings or SyncSettings()
    policy = policy or SyncPolicy()
    started = time.monotonic()
    started_at = now_iso()
    try:
        prepare = _Preparation(name, objects, namespace, policy, list(ignore_differences), revision, verdicts, source,
                               ownership, settings.check_mode)
        prepared = prepare(client, reads)
        if not settings.force_conflicts:
            _refuse_conflicts(client, name, prepared)
        result = SyncResult(name, prepared.diff.namespace, revision, [], check_mode=settings.check_mode, started_at=started_at)
        work = any(e.action in WRITE_ACTIONS or e.action == HANDED_OVER for e in prepared.resources + prepared.prune) \
            or _leaves_previous_parents(prepared)
        run_hooks = work or settings.hooks == HOOKS_ALWAYS
        hook_tasks = [t.payload for t in prepared.plan.tasks if t.is_hook and t.phase != SYNC_FAIL] if run_hooks else []
        if run_hooks:  # a hook must never replace an object it does not own: refused before any write
            _refuse_hook_clashes(client, name, prepared)
        if work or run_hooks:
            created = _ensure_namespace(client, prepared, policy, settings, result)
            if not settings.check_mode:
                _validate_in_new_namespaces(client, prepared, created, settings)
        if settings.check_mode or not (work or run_hooks):
            for entry in prepared.resources + prepared.prune + hook_tasks:
                if entry.action in WRITE_ACTIONS or entry.action == HANDED_OVER or entry.hook is not None:
                    entry.result = PLANNED if settings.check_mode else entry.result
                elif entry.action == UNCHANGED:
                    entry.result = SUCCEEDED
            result.changed = work or bool(hook_tasks) or result.namespace_created
            result.sync_status = prepared.diff.sync_status
            _finish(result, prepared, started, hook_tasks)
            return result
        with SyncLease(client, name, prepared.diff.namespace, wait_timeout=settings.wait_timeout) as lease:
            prepared = _recheck(client, prepare, prepared)
            return _execute(client, name, prepared, policy, settings, result, started, verdicts, source, lease)
    except SyncFailure:
        raise
    except GitopsError as exc:
        raise exc.with_application(name)


def _refuse_conflicts(client: KubeClient, name: str, prepared: _Prepared) -> None:
    """Without force_conflicts: ask the API server (an unforced dry-run) whether another field manager owns a field
    this sync would change, and fail before anything is written, so no wave is left half applied."""
    changing = [e for e in prepared.resources if e.action == CONFIGURED and e.resource is not None]

    def probe(entry: ObjectResult) -> str:
        try:
            client.apply(entry.resource, entry.manifest or {}, dry_run=True, force_conflicts=False)  # type: ignore[arg-type]
        except KubeApiError as exc:
            if exc.status == 409:
                return f"{entry.ref}{f' ({entry.source})' if entry.source else ''}: {exc.message}"
        return ""

    conflicts = [found for found in client.map(probe, changing) if found]
    if conflicts:
        raise SyncError("nothing was applied, because another field manager owns fields this sync would change "
                        "(set force_conflicts: true to take them over): " + "; ".join(conflicts[:10]), application=name)


@dataclass
class _Preparation:
    """What _prepare needs besides the client and the reads, kept so the sync can prepare again under the Lease."""

    name: str
    objects: list[DesiredObject]
    namespace: str | None
    policy: SyncPolicy
    ignore_differences: list[Any]
    revision: str | None
    verdicts: DryRunVerdicts | None
    source: str | None
    ownership: RunOwnership | None
    check_mode: bool

    def __call__(self, client: KubeClient, reads: LiveReads | None = None) -> _Prepared:
        return _prepare(client, self.name, self.objects, self.namespace, self.policy, self.ignore_differences,
                        self.revision, reads, self.verdicts, self.source, self.ownership, self.check_mode)


def _leaves_previous_parents(prepared: _Prepared) -> bool:
    """Whether a parent left in another namespace lists something it would no longer list after this sync."""
    for inventory in prepared.diff.previous:
        kept = {e.ref for e in prepared.prune if e.compared is not None and e.compared.inventory_set_id == inventory.set_id
                and e.action == PRUNE_SKIPPED and e.keep_in_inventory}
        if kept != inventory.members:
            return True
    return False


def _recheck(client: KubeClient, prepare: _Preparation, prepared: _Prepared) -> _Prepared:
    """Compare again (with fresh reads) if another sync recorded the application while we waited for the Lease."""
    inventory = prepared.diff.inventory
    resource = client.resource_for("v1", "ConfigMap")
    if resource is None:
        return prepared
    parent = client.get(resource, prepared.diff.namespace, parent_name(prepare.name))
    seen = ((inventory.parent if inventory else None) or {}).get("metadata", {}).get("resourceVersion")
    now = (parent or {}).get("metadata", {}).get("resourceVersion")
    if seen == now:
        return prepared
    return prepare(client)


def _execute(client: KubeClient, name: str, prepared: _Prepared, policy: SyncPolicy, settings: SyncSettings,
             result: SyncResult, started: float, verdicts: DryRunVerdicts | None = None,
             source: str | None = None, lease: SyncLease | None = None) -> SyncResult:
    run = _Run(client, name, prepared, policy, settings, result, verdicts, source, lease)
    result.changed = True
    try:
        run.guard("the inventory")
        run.pre_record()
        run.run_phase(PRE_SYNC)
        run.run_phase(SYNC)
        run.hand_over()
        run.prune()
        run.run_phase(POST_SYNC)
        remaining = [e for e in prepared.prune if e.action == PRUNE_SKIPPED and e.keep_in_inventory
                     and (e.compared is None or e.compared.counts_as_drift)]
        result.sync_status = OUT_OF_SYNC if remaining else SYNCED
        _finish(result, prepared, started, run.hook_results)
        run.guard("the inventory and the sync history")
    except (SyncFailure, SyncError, KubeApiError) as exc:
        message = exc.message if isinstance(exc, GitopsError) else str(exc)
        # after losing the Lease nothing more of ours is written: no SyncFail hooks, no history entry
        lost = isinstance(exc, LeaseLost)
        if not lost:
            try:
                run.run_sync_fail_hooks()
            except LeaseLost as lost_error:
                message, lost = f"{message}; then {lost_error.message}", True
        result.failed = True
        result.message = message
        result.sync_status = OUT_OF_SYNC
        _finish(result, prepared, started, run.hook_results)
        if not lost:
            try:
                run.guard("the inventory and the sync history")
                run.record(FAILED, message)
            except GitopsError as record_error:
                result.warnings.append(str(record_error))
        raise SyncFailure(message, result, application=name) from None
    run.record(SUCCEEDED, "")
    return result


# --------------------------------------------------------------------------
# the client, counting writes


def _is_dry_run(query: dict[str, Any] | None, body: Any) -> bool:
    if query and query.get("dryRun"):
        return True
    return isinstance(body, dict) and bool(body.get("dryRun"))


class SyncClient(KubeClient):
    """The KubeClient, also counting write requests (a dry-run is not a write), so a no-op sync can prove it wrote nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.writes_by_verb: dict[str, int] = {}
        self._writes_lock = threading.Lock()

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                **kwargs: Any) -> dict[str, Any] | None:
        if method != "GET" and not _is_dry_run(query, body):
            with self._writes_lock:
                self.writes += 1
                self.writes_by_verb[method] = self.writes_by_verb.get(method, 0) + 1
        return super().request(method, path, query=query, body=body, **kwargs)
