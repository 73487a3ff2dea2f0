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
client counting writes). The entry point, sync_application, is here.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import OUT_OF_SYNC, SYNCED
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, KubeApiError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import assess, worst
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import LiveReads
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import RunOwnership
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import POST_SYNC, PRE_SYNC, SYNC, SYNC_FAIL
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import LeaseLost, SyncLease, now_iso
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.client import SyncClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.namespaces import _ensure_namespace, _validate_in_new_namespaces
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
    revisions: list[str] | None = None,
) -> SyncResult:
    """Sync one application (or, in check mode, say what a sync would do).

    `reads` shares the live reads of a batch of applications for the first
    comparison; `verdicts` reuses Synced dry-runs and records what is
    applied. `source` identifies where the application comes from (recorded
    on its inventory; see _inventory); `ownership` names the applications
    synced in the same run and what each wants (see _ownership); `revisions` every source's revision
    of a multi-source application (recorded with `revision`, the first). Raises GitopsError (nothing written) when the application cannot
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
        result = SyncResult(name, prepared.diff.namespace, revision, [], check_mode=settings.check_mode, started_at=started_at,
                            revisions=list(revisions or []))
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
