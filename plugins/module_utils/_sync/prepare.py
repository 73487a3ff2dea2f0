# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preparation: compare, then decide what to do with every object, and refuse before any write what cannot sync.

Refused before anything is written: objects of another application (claimed
for this one instead), immutable-field changes that may not or cannot be
recreated, PUTs (Replace=true) the API server would refuse, objects that cannot be compared, hooks that would replace what they
do not own, and (without force_conflicts) fields another field manager owns.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import ResourceCustomizations
from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import (
    EXTRANEOUS,
    MISSING,
    OUT_OF_SYNC,
    SYNCED,
    UNKNOWN,
    ApplicationDiff,
    ComparedObject,
    IgnoreRule,
    compare_application,
    keep_ignored_fields,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SpecError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._hooks import refuse_hook_clashes
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import application_applyset_id, parent_name
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import LiveReads
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import (
    CLAIM_ANNOTATION,
    RunOwnership,
    claim,
    claimant_of,
    owner_of,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import (
    HELM_CRD_INSTALL,
    HELM_HOOK_ANNOTATION,
    HookSpec,
    SyncPlan,
    SyncTask,
    SyncOptions,
    build_plan,
    hook_spec,
    parse_sync_options,
    sync_wave,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.results import (
    CONFIGURED,
    CREATED,
    HANDED_OVER,
    HOOK_RUN,
    PRUNE_SKIPPED,
    PRUNED,
    RECREATED,
    REPLACED,
    UNCHANGED,
    ObjectResult,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.replace import decide_write, recreation_problem, replace_problem


@dataclass
class _Prepared:
    diff: ApplicationDiff
    resources: list[ObjectResult]  # desired, non-hook, in compare order
    prune: list[ObjectResult]  # inventory members no longer desired
    hooks: list[tuple[dict[str, Any], HookSpec, DesiredObject]]
    plan: SyncPlan
    desired_namespace_object: ObjectResult | None
    validate: bool = True  # the application's Validate sync option (objects may turn it off for themselves)


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
    customizations: ResourceCustomizations | None = None,
    confirmed: bool = False,
) -> _Prepared:
    """Compare, then decide an action for every object; raises before any write if something cannot sync.

    `ownership` lists the applications of this run and what each wants, so an
    object Git moved between two of them passes without being deleted;
    `confirmed` lets Prune=confirm objects be pruned in this run; check_mode
    writes nothing (not even a claim).
    """
    resources, hooks = _split_hooks(name, objects)
    ignore_differences = list(ignore_differences)
    rules = [IgnoreRule.from_any(raw) for raw in ignore_differences] if policy.respect_ignore_differences else []
    diff = compare_application(client, name, resources, namespace=namespace, ignore_differences=ignore_differences,
                               validate=policy.validate,
                               revision=revision, reads=reads, verdicts=verdicts, source=source,
                               customizations=customizations)
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
            # FailOnSharedResource: the sync fails, and nothing is claimed either
            if not ownership.in_run(owner) and claimant_of(compared.live) != set_id and not policy.fail_on_shared_resource:
                to_claim.append(entry)
        elif compared.status == OUT_OF_SYNC and compared.live is not None:
            # Replace=true / Force=true decide how (and whether) an object out of sync is written
            decision = decide_write(compared.ref, compared.immutable_fields if immutable else [], compared.message,
                                    options, policy)
            problem = decision.refusal or (recreation_problem(client, compared) if decision.action == RECREATED else "")
            if problem:
                problems.append(f"{compared.ref}{where}: {problem}")
            else:
                entry.action = decision.action
                entry.message = decision.message or entry.message
        elif compared.status == SYNCED:
            entry.action = UNCHANGED
        elif compared.status == MISSING:
            entry.action = CREATED
        elif compared.status == OUT_OF_SYNC:
            entry.action = CONFIGURED
        elif compared.status == UNKNOWN and _skips_dry_run(compared, options, policy):
            entry.action = CREATED
            entry.message = "not validated: its kind is not served yet (SkipDryRunOnMissingResource); applied when it is"
        elif compared.status == UNKNOWN:
            problems.append(f"{compared.ref}{where}: {compared.message or 'cannot be compared'}")
        if entry.action in (CONFIGURED, REPLACED, RECREATED) and policy.respect_ignore_differences and rules:
            entry.manifest = keep_ignored_fields(rules, compared.ref, compared.desired or {}, compared.live or {})
        if entry.action == REPLACED:
            # the PUT is dry-run now: a field only the server fills in fails it before anything is written
            problem = replace_problem(client, compared, entry.manifest or {})
            if problem:
                problems.append(f"{compared.ref}{where}: {problem}")
        if compared.status == EXTRANEOUS:
            _decide_prune(entry, compared, policy, set_id, ours, ownership, desired_count, confirmed)
            entry.wave = _live_wave(compared.live or {})
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
    return _Prepared(diff, desired, prune, hooks, plan, dest_ns, policy.validate)


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


def _live_wave(live: dict[str, Any]) -> int:
    """The sync wave a prune candidate had (its live annotation); a malformed one counts as 0, it is being removed."""
    try:
        return sync_wave(live)
    except SpecError:
        return 0


def _skips_dry_run(compared: ComparedObject, options: SyncOptions, policy: SyncPolicy) -> bool:
    """SkipDryRunOnMissingResource: a new object whose kind is not served (its CRD comes from elsewhere) is applied
    without a dry-run; the apply fails, naming the kind, if it is still not served then."""
    return (compared.live is None and compared.resource is None and compared.predicted is None
            and (options.skip_dry_run_on_missing_resource or policy.skip_dry_run_on_missing_resource))


def _object_prune(options: SyncOptions, policy: SyncPolicy) -> str:
    """The object's Prune sync option: its own annotation, else the application's syncOptions Prune=."""
    own = dict(options.raw).get("Prune")
    return own if own is not None else policy.object_prune


def _decide_prune(entry: ObjectResult, compared: ComparedObject, policy: SyncPolicy, set_id: str, ours: set[str],
                  ownership: RunOwnership, desired_count: int, confirmed: bool = False) -> None:
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
    elif _object_prune(entry.options, policy) == "false":
        entry.message = "not pruned: " + ("annotated argocd.argoproj.io/sync-options: Prune=false"
                                          if dict(entry.options.raw).get("Prune") else "the application's syncOptions Prune=false")
    elif _object_prune(entry.options, policy) == "confirm" and not confirmed:
        entry.message = ("not pruned: Prune=confirm needs a confirmation: run again with the application in confirm "
                         "(gitops_confirm)")
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
    customizations: ResourceCustomizations | None = None
    confirmed: bool = False

    def __call__(self, client: KubeClient, reads: LiveReads | None = None) -> _Prepared:
        return _prepare(client, self.name, self.objects, self.namespace, self.policy, self.ignore_differences,
                        self.revision, reads, self.verdicts, self.source, self.ownership, self.check_mode,
                        self.customizations, self.confirmed)


def _leaves_previous_parents(prepared: _Prepared) -> bool:
    """Whether a parent left in another namespace lists something it would no longer list after this sync."""
    for inventory in prepared.diff.previous:
        kept = {e.ref for e in prepared.prune
                if e.inventory_set_id == inventory.set_id and e.action == PRUNE_SKIPPED and e.keep_in_inventory}
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
