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

Files by concern: results.py (the actions and results of objects, the
settings, the outcome and the failure of a sync), prepare.py (compare and
decide per object; everything refused before a write), namespaces.py (the
namespaces a sync creates and validates in), run.py (the run under the Lease:
apply, replace, hooks, waits, hand-over, prune, records), client.py (the
client counting writes), dependencies.py (the order of the applications of
a run: depends_on, and the skips it causes). The entry point,
sync_application, is here.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import OUT_OF_SYNC, SYNCED
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, KubeApiError, PolicyError, SpecError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._events import SyncEvents
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import counts_for_application, worst
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import APP_OF_APPS_LABELS, Inventory, read_inventory
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import LiveReads
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import RunOwnership
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import POST_SYNC, PRE_SYNC, SYNC, SYNC_FAIL
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import LeaseLost, SyncLease, now_iso, write_parent
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.client import SyncClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.namespaces import (
    _ensure_namespace,
    _validate_in_new_namespaces,
    namespace_metadata_drift,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.policy import SyncDecision, decide
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.prepare import (
    _leaves_previous_parents,
    _Prepared,
    _Preparation,
    _recheck,
    _refuse_conflicts,
    _refuse_hook_clashes,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.results import (
    CONFIGURED,
    CREATED,
    FAILED,
    HANDED_OVER,
    HOOK_RUN,
    HOOKS_ALWAYS,
    HOOKS_AUTO,
    NOT_RUN,
    PLANNED,
    PRUNE_SKIPPED,
    PRUNED,
    RECREATED,
    REPLACED,
    SUCCEEDED,
    UNCHANGED,
    WRITE_ACTIONS,
    ObjectResult,
    SyncFailure,
    SyncResult,
    SyncSettings,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.run import POLL_MAX, PROPAGATION, _Run

__all__ = [
    "CONFIGURED",
    "CREATED",
    "FAILED",
    "HANDED_OVER",
    "HOOK_RUN",
    "HOOKS_ALWAYS",
    "HOOKS_AUTO",
    "NOT_RUN",
    "PLANNED",
    "POLL_MAX",
    "PROPAGATION",
    "PRUNE_SKIPPED",
    "PRUNED",
    "RECREATED",
    "REPLACED",
    "SUCCEEDED",
    "UNCHANGED",
    "WRITE_ACTIONS",
    "ObjectResult",
    "SyncClient",
    "SyncFailure",
    "SyncResult",
    "SyncSettings",
    "sync_application",
]


def _finish(result: SyncResult, prepared: _Prepared, started: float, hook_results: list[ObjectResult],
            settings: SyncSettings) -> None:
    ran = {id(entry) for entry in hook_results}
    result.resources = [t.payload for t in prepared.plan.ordered() if not t.is_hook or id(t.payload) in ran] + prepared.prune
    for entry in prepared.resources:
        if entry.health is None:
            entry.health = settings.assess(entry.live)
    healths = [e.health.status for e in prepared.resources if e.health and counts_for_application(e.live)]
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
    digest: str | None = None,
    info: Iterable[dict[str, str]] = (),
    labels: dict[str, str] | None = None,
    finalizer: str | None = None,
    rollback_of: int | None = None,
    revisions: list[str] | None = None,
) -> SyncResult:
    """Sync one application (or, in check mode, say what a sync would do).

    `reads` shares the live reads of a batch of applications for the first
    comparison; `verdicts` reuses Synced dry-runs and records what is
    applied. `source` identifies where the application comes from (recorded
    on its inventory; see _inventory); `ownership` names the applications
    synced in the same run and what each wants (see _ownership). `digest`
    identifies the revision and spec synced: without self-heal, a run syncs
    only when it differs from the last sync's (see _sync.policy). A failed
    attempt is retried as policy.retry says (each attempt in result.attempts
    and the history). `labels` are recorded on the inventory parent (the
    ApplicationSet that generated it), so is `finalizer`, the application's
    Argo CD deletion finalizer (see _delete); `rollback_of` is the history id
    a rollback syncs again, recorded in the new history entry; `revisions`
    every source's revision of a multi-source application (recorded with
    `revision`, the first). Raises GitopsError (nothing written)
    when the application cannot be compared or planned, and SyncFailure (with
    the partial result) when the sync started and failed.
    """
    settings = settings or SyncSettings()
    policy = policy or SyncPolicy()
    retry = policy.retry if policy.retry is not None and not settings.check_mode else None
    attempts: list[dict[str, Any]] = []
    # retrying stops at the limit, or when the next attempt would start later than this after the first
    deadline = time.monotonic() + settings.wait_timeout
    while True:
        number = len(attempts) + 1
        started_at = now_iso()
        try:
            result = _sync_once(client, name, objects, namespace, policy, list(ignore_differences), revision, settings,
                                reads, verdicts, source, ownership, digest, attempt=number if retry else 0,
                                # a retry continues the sync the run decided on; the decision is made once
                                decide_first=number == 1, labels=labels, finalizer=finalizer, rollback_of=rollback_of,
                                revisions=revisions)
        except (SpecError, PolicyError):
            raise
        except GitopsError as exc:
            attempts.append({"attempt": number, "started_at": started_at, "finished_at": now_iso(), "result": FAILED,
                             "message": exc.message[:1000]})
            retries = number - 1
            wait = retry.wait_before(retries) if retry is not None else 0.0
            if retry is None or not retry.allows(retries) or time.monotonic() + wait > deadline:
                if retry is not None:
                    failed_result = getattr(exc, "result", None)
                    if isinstance(failed_result, SyncResult):
                        failed_result.attempts = attempts
                    exc.message = f"{exc.message} (attempt {number}; {_retry_end(retry, retries)})"
                    exc.args = (str(exc),)
                raise
            time.sleep(wait)
            # what failed may be fixed by now: a kind served since, a namespace created; nothing cached is trusted
            client.discovery(refresh=True)
            reads = None
            continue
        result.info = list(info)
        if retry is not None and not result.skipped:
            result.attempts = attempts + [{"attempt": number, "started_at": started_at, "finished_at": now_iso(),
                                           "result": SUCCEEDED}]
        return result


def _retry_end(retry: Any, retries: int) -> str:
    if retry.limit == 0:
        return "the retry policy allows no retries"
    if not retry.allows(retries):
        return f"the retry limit of {retry.limit} is reached"
    return "no time left for another retry within wait_timeout"


def _sync_once(client: KubeClient, name: str, objects: list[DesiredObject], namespace: str | None, policy: SyncPolicy,
               ignore_differences: list[Any], revision: str | None, settings: SyncSettings, reads: LiveReads | None,
               verdicts: DryRunVerdicts | None, source: str | None, ownership: RunOwnership | None, digest: str | None,
               attempt: int, decide_first: bool, labels: dict[str, str] | None = None, finalizer: str | None = None,
               rollback_of: int | None = None, revisions: list[str] | None = None) -> SyncResult:
    started = time.monotonic()
    started_at = now_iso()
    try:
        # a manual application is not written by this run: not even an object it wants is marked as claimed
        report_first = decide_first and not settings.manual_sync and not policy.automated
        prepare = _Preparation(name, objects, namespace, policy, list(ignore_differences), revision, verdicts, source,
                               ownership, settings.check_mode or report_first, settings.customizations, settings.confirmed)
        prepared = prepare(client, reads)
        if not settings.force_conflicts:
            _refuse_conflicts(client, name, prepared)
        result = SyncResult(name, prepared.diff.namespace, revision, [], check_mode=settings.check_mode, started_at=started_at,
                            revisions=list(revisions or []))
        result.warnings += prepared.diff.warnings  # objects of kinds argocd-cm's resource.exclusions leave out
        if prepared.diff.inventory is not None and prepared.diff.inventory.exists:
            result.recorded_labels = dict(((prepared.diff.inventory.parent or {}).get("metadata") or {}).get("labels") or {})
        work = any(e.action in WRITE_ACTIONS or e.action == HANDED_OVER for e in prepared.resources + prepared.prune) \
            or _leaves_previous_parents(prepared) or namespace_metadata_drift(client, prepared, policy) \
            or _parent_lacks(prepared, labels)
        run_hooks = work or settings.hooks == HOOKS_ALWAYS
        decision = decide(policy, settings.manual_sync, digest, prepared.diff.inventory.last_sync
                          if prepared.diff.inventory else None) if decide_first else SyncDecision(True)
        if not decision.sync and (work or run_hooks):
            result.skipped = decision.reason
        report_only = settings.check_mode or bool(result.skipped)
        hook_tasks = [t.payload for t in prepared.plan.tasks if t.is_hook and t.phase != SYNC_FAIL] if run_hooks else []
        if run_hooks and not result.skipped:  # a hook must never replace an object it does not own: refused before any write
            _refuse_hook_clashes(client, name, prepared)
        if (work or run_hooks) and not result.skipped:
            created = _ensure_namespace(client, prepared, policy, settings, result)
            if not settings.check_mode:
                _validate_in_new_namespaces(client, prepared, created, settings)
        marks = _parent_marks(prepared, settings, finalizer)
        if marks is not None and not (work or run_hooks):
            # only what the inventory records about the application changed (its owner or finalizer)
            result.changed = True
            if not settings.check_mode:
                with SyncLease(client, name, prepared.diff.namespace, wait_timeout=settings.wait_timeout):
                    _record_marks(client, name, read_inventory(client, name, prepared.diff.namespace), marks, labels)
        if report_only or not (work or run_hooks):
            for entry in prepared.resources + prepared.prune + hook_tasks:
                if entry.action in WRITE_ACTIONS or entry.action == HANDED_OVER or entry.hook is not None:
                    entry.result = PLANNED if report_only else entry.result
                elif entry.action == UNCHANGED:
                    entry.result = SUCCEEDED
            # a skipped application changed nothing (but its recorded marks); in check mode, changed is the drift
            result.changed = result.changed or (settings.check_mode and (work or bool(hook_tasks) or result.namespace_created))
            result.sync_status = prepared.diff.sync_status
            _finish(result, prepared, started, hook_tasks, settings)
            return result
        with SyncLease(client, name, prepared.diff.namespace, wait_timeout=settings.wait_timeout) as lease:
            prepared = _recheck(client, prepare, prepared)
            events = SyncEvents(client, name, prepared.diff.namespace, revision, dict(settings.initiator or {}))
            events.started()
            try:
                result = _execute(client, name, prepared, policy, settings, result, started, verdicts, source, lease,
                                  digest, attempt, labels, finalizer, rollback_of)
            except SyncFailure as failure:
                _tell(events, prepared, failure.result, failure.message)
                raise
            _tell(events, prepared, result, None)
            return result
    except SyncFailure:
        raise
    except GitopsError as exc:
        raise exc.with_application(name)


def _parent_lacks(prepared: _Prepared, labels: dict[str, str] | None) -> bool:
    """Whether an existing inventory parent misses labels it should carry (an application an ApplicationSet adopted),
    or carries one of the run's labels it no longer should (an app of apps child now listed on its own)."""
    inventory = prepared.diff.inventory
    if inventory is None or not inventory.exists:
        return False
    labels = labels or {}
    current = ((inventory.parent or {}).get("metadata") or {}).get("labels") or {}
    return any(current.get(key) != value for key, value in labels.items()) or \
        any(key in current and key not in labels for key in APP_OF_APPS_LABELS)


def _tell(events: SyncEvents, prepared: _Prepared, result: SyncResult, failure: str | None) -> None:
    """The sync's Events: what it updated and pruned, and how it ended (secrets scrubbed as in the history)."""
    updated = [str(e.ref) for e in prepared.resources if e.action in (CREATED, CONFIGURED, REPLACED, RECREATED)
               and e.result == SUCCEEDED]
    pruned = [str(e.ref) for e in prepared.prune if e.action == PRUNED and e.result == SUCCEEDED]
    events.resources(updated, pruned)
    if failure is not None:
        entries = prepared.resources + prepared.prune
        failure = scrub_text(failure, secret_values([e.manifest for e in entries] + [e.live for e in entries]
                                                    + [manifest for manifest, dummy, dummy_obj in prepared.hooks]))
    events.completed(failure)
    result.warnings.extend(events.warnings)


def _parent_marks(prepared: _Prepared, settings: SyncSettings, finalizer: str | None) -> tuple[str | None, str | None] | None:
    """(owner, finalizer) to record on an existing inventory whose marks differ from them; None when they match."""
    inventory = prepared.diff.inventory
    if inventory is None or not inventory.exists:
        return None
    owner = settings.owner if settings.owner is not None else inventory.owner
    if (owner or None, finalizer or None) == (inventory.owner, inventory.finalizer):
        return None
    return owner, finalizer


def _record_marks(client: KubeClient, name: str, inventory: Inventory, marks: tuple[str | None, str | None],
                  labels: dict[str, str] | None = None) -> None:
    """Rewrite the inventory (read again under the Lease) with new marks; members and history unchanged."""
    if not inventory.exists:
        return
    write_parent(client, name, inventory.namespace, inventory.members, revision=inventory.revision,
                 history=inventory.history, source=inventory.source, previous_namespaces=inventory.previous_namespaces,
                 owner=marks[0], finalizer=marks[1], last_sync=inventory.last_sync, labels=labels)


def _execute(client: KubeClient, name: str, prepared: _Prepared, policy: SyncPolicy, settings: SyncSettings,
             result: SyncResult, started: float, verdicts: DryRunVerdicts | None = None,
             source: str | None = None, lease: SyncLease | None = None, digest: str | None = None,
             attempt: int = 0, labels: dict[str, str] | None = None, finalizer: str | None = None,
             rollback_of: int | None = None) -> SyncResult:
    run = _Run(client, name, prepared, policy, settings, result, verdicts, source, lease, digest, attempt, labels,
               finalizer, rollback_of)
    result.changed = True
    try:
        run.guard("the inventory")
        run.pre_record()
        run.run_phase(PRE_SYNC)
        run.run_sync_phase()
        run.hand_over()
        run.run_phase(POST_SYNC)
        remaining = [e for e in prepared.prune if e.action == PRUNE_SKIPPED and e.keep_in_inventory
                     and (e.compared is None or e.compared.counts_as_drift)]
        result.sync_status = OUT_OF_SYNC if remaining else SYNCED
        _finish(result, prepared, started, run.hook_results, settings)
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
        _finish(result, prepared, started, run.hook_results, settings)
        if not lost:
            try:
                run.guard("the inventory and the sync history")
                run.record(FAILED, message)
            except GitopsError as record_error:
                result.warnings.append(str(record_error))
        raise SyncFailure(message, result, application=name) from None
    run.record(SUCCEEDED, "")
    return result
