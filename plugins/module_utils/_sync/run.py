# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run: one sync of a prepared plan under the Lease: apply (or replace, or recreate), hooks, waits, hand-over, prune, records."""

from __future__ import annotations

import time
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import immutable_fields
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import DEGRADED, hook_finished
from ansible_collections.gitops.kubernetes.plugins.module_utils._hooks import delete_own_hook, mark_hook
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import Inventory, application_applyset_id
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import hand_over
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import (
    BEFORE_HOOK_CREATION,
    HOOK_FAILED,
    HOOK_SUCCEEDED,
    SYNC,
    SYNC_FAIL,
    WaveStep,
    kind_rank,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import (
    SyncLease,
    append_history,
    delete_parent,
    history_entry,
    now_iso,
    write_parent,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text, secret_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.prepare import _Prepared
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.replace import FORCE_HINT, put_body
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.results import (
    CONFIGURED,
    CREATED,
    FAILED,
    HANDED_OVER,
    NOT_RUN,
    PRUNE_SKIPPED,
    PRUNED,
    RECREATED,
    REPLACED,
    SUCCEEDED,
    UNCHANGED,
    ObjectResult,
    SyncFailure,
    SyncResult,
    SyncSettings,
)

PROPAGATION = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}
POLL_MAX = 2.0


def _is_immutable_error(error: KubeApiError) -> bool:
    return bool(immutable_fields(error))


class _Run:
    """One sync of one application with a prepared plan."""

    def __init__(self, client: KubeClient, name: str, prepared: _Prepared, policy: SyncPolicy,
                 settings: SyncSettings, result: SyncResult, verdicts: DryRunVerdicts | None = None,
                 source: str | None = None, lease: SyncLease | None = None, digest: str | None = None,
                 attempt: int = 0, labels: dict[str, str] | None = None, finalizer: str | None = None,
                 rollback_of: int | None = None) -> None:
        self.client = client
        self.digest = digest  # of the revision and spec synced (see _sync.policy); recorded as the last sync
        self.attempt = attempt  # 1, 2, ... when the sync policy retries; 0 without retries
        self.labels = labels  # more labels of the inventory parent (the generating ApplicationSet)
        self.finalizer = finalizer  # the application's Argo CD deletion finalizer, recorded on the inventory
        self.rollback_of = rollback_of  # the history id a rollback syncs again
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
            if not resource.namespaced and entry.ref.namespace:
                # a kind not served when compared (SkipDryRunOnMissingResource) was taken for a namespaced one
                (entry.manifest or {}).get("metadata", {}).pop("namespace", None)
                entry.ref = ObjectRef(entry.ref.group, entry.ref.kind, "", entry.ref.name)
            if entry.action == RECREATED:
                self._recreate(entry, resource)
            elif entry.action == REPLACED:
                self._replace(entry, resource)
            else:
                entry.live = self.client.apply(resource, entry.manifest or {}, force_conflicts=self.settings.force_conflicts,
                                               validate=self.policy.validate and entry.options.validate)
            entry.result = SUCCEEDED
            entry.health = self.settings.assess(entry.live)
            if self.verdicts is not None and entry.compared is not None and entry.compared.verdict_key:
                # the apply's response is the live object our manifest gives: a dry-run now would say Synced
                self.verdicts.record(entry.compared.verdict_key, entry.live)
        except KubeApiError as exc:
            entry.result = FAILED
            if exc.status == 409:
                entry.message = (f"{exc.message}. Another field manager owns these fields; set force_conflicts: true "
                                 "to take them over")
            elif _is_immutable_error(exc):
                entry.message = f"{exc.message}. The change needs the object deleted and recreated: {FORCE_HINT}"
            else:
                entry.message = exc.message
        except SyncError as exc:
            entry.result = FAILED
            entry.message = exc.message

    def _replace(self, entry: ObjectResult, resource: ApiResource) -> None:
        """Replace=true: the whole manifest PUT over the live object (kubectl replace), so what Git does not have goes.

        It is applied first: the apply's field ownership lets later compares see a field Git removes (a PUT alone
        would leave the fields to an Update manager, which an apply dry-run does not remove). The PUT then carries
        the applied resourceVersion, so a write by someone else in between fails it instead of being overwritten.
        """
        validate = self.policy.validate and entry.options.validate
        applied = self.client.apply(resource, entry.manifest or {}, force_conflicts=True, validate=validate)
        version = (applied.get("metadata") or {}).get("resourceVersion")
        try:
            entry.live = self.client.replace(resource, put_body(entry.manifest or {}, version))
        except KubeApiError as exc:
            if exc.status == 409:
                raise SyncError(f"not replaced: {entry.ref} was changed by someone else while it was replaced (Git's "
                                "fields are applied); the next sync replaces it", object_ref=str(entry.ref)) from None
            raise

    def _recreate(self, entry: ObjectResult, resource: ApiResource) -> None:
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
        entry.live = self.client.apply(resource, entry.manifest or {}, force_conflicts=True,
                                       validate=self.policy.validate and entry.options.validate)

    def _apply_group(self, entries: list[ObjectResult]) -> None:
        todo = [e for e in entries if e.action in (CREATED, CONFIGURED, REPLACED, RECREATED)]
        if todo:
            self.guard(f"{todo[0].phase} wave {todo[0].wave} ({len(todo)} object(s) from {todo[0].ref})")
        for entry in entries:
            if entry.action == UNCHANGED:
                entry.result = SUCCEEDED
                entry.health = self.settings.assess(entry.live)
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
            entry.health = self.settings.assess(created)
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
            entry.health = self.settings.assess(entry.live)

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

    def prune_waves(self) -> dict[int, list[ObjectResult]]:
        """The Sync wave each prune runs in, as Argo CD orders them: the prune waves reversed (what was created
        first is pruned last), and PruneLast ones (the application's or the object's) after the last wave."""
        candidates = [e for e in self.prepared.prune if e.action == PRUNED]
        waves = sorted({e.wave for e in candidates})
        reverse = dict(zip(waves, reversed(waves)))
        apply_waves = [step.wave for step in self.prepared.plan.steps(SYNC)]
        last = max([0, *apply_waves, *waves]) + 1
        found: dict[int, list[ObjectResult]] = {}
        for entry in candidates:
            wave = last if self.policy.prune_last or entry.options.prune_last else reverse[entry.wave]
            found.setdefault(wave, []).append(entry)
        return found

    def run_sync_phase(self) -> None:
        """The Sync phase wave by wave; in each wave its prunes first, then its applies (gitops-engine's order)."""
        steps = {step.wave: step for step in self.prepared.plan.steps(SYNC)}
        prunes = self.prune_waves()
        for wave in sorted(set(steps) | set(prunes)):
            if wave in prunes:
                self.prune(prunes[wave])
            if wave in steps:
                self.run_step(steps[wave])

    def prune(self, candidates: list[ObjectResult]) -> None:
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
        owner = inventory or self.inventory
        set_id = owner.set_id if owner else ""
        members = {e.ref for e in self.prepared.resources} if owner is self.inventory else set()
        for entry in self.prepared.prune:
            if (entry.inventory_set_id or set_id) != set_id:
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
               previous_namespaces: Iterable[str], last_sync: dict[str, Any] | None = None) -> None:
        owner = self.settings.owner if self.settings.owner is not None else (self.inventory.owner if self.inventory else None)
        write_parent(self.client, self.name, self.namespace, members, revision=revision, history=history,
                     source=self.source or (self.inventory.source if self.inventory else None),
                     previous_namespaces=previous_namespaces, last_sync=last_sync or self._last_sync(), labels=self.labels,
                     owner=owner, finalizer=self.finalizer)

    def _last_sync(self) -> dict[str, Any] | None:
        if self.inventory is not None and self.inventory.last_sync:
            return self.inventory.last_sync
        return next((inv.last_sync for inv in self.prepared.diff.previous if inv.last_sync), None)

    def pre_record(self) -> None:
        members = self.members(final=False)
        previous = [inv.namespace for inv in self.prepared.diff.previous]
        inventory = self.inventory
        if inventory is not None and inventory.exists and members <= inventory.members \
                and set(previous) <= set(inventory.previous_namespaces):
            # the marks (owner, finalizer) are written with the record at the end
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
            initiator=self.settings.initiator, extra={"attempt": self.attempt or None, "digest": self.digest},
            rollback_of=self.rollback_of, revisions=self.result.revisions,
        )
        revision = self.result.revision if outcome == SUCCEEDED else (self.inventory.revision if self.inventory else None)
        left_behind = [inv.namespace for inv in self.prepared.diff.previous
                       if outcome != SUCCEEDED or self.members(final=True, inventory=inv)]
        last_sync = {"digest": self.digest, "revision": self.result.revision, "result": outcome,
                     "finished_at": entry["finished_at"]} if self.digest else None
        self._write(self.members(final=True), revision, append_history(self._history(), entry, self.policy.history_limit),
                    left_behind, last_sync)
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
                         history=inventory.history, source=inventory.source, owner=inventory.owner,
                         finalizer=inventory.finalizer)
            return
        try:
            delete_parent(self.client, self.name, inventory.namespace, ((inventory.parent or {}).get("metadata") or {}).get("uid"))
        except (KubeApiError, SyncError) as exc:
            self.result.warnings.append(f"could not delete the inventory left in namespace {inventory.namespace}: "
                                        f"{exc.message}")
