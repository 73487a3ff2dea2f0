# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a sync does and did: the actions and results of objects, the settings of a sync, its outcome and its failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import SYNCED, ComparedObject, normalise, to_yaml
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import ResourceCustomizations
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import HEALTHY, Health
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import SYNC, HookSpec, SyncOptions
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import is_secret, mask_secret

CREATED = "created"
CONFIGURED = "configured"
REPLACED = "replaced"  # Replace=true: a PUT of the whole manifest (kubectl replace)
RECREATED = "recreated"  # Force=true: deleted and created again (kubectl replace --force, kubectl apply --force)
PRUNED = "pruned"
PRUNE_SKIPPED = "prune skipped"
HANDED_OVER = "handed over"  # no longer ours, not deleted: another application took it or claimed it
UNCHANGED = "unchanged"
HOOK_RUN = "hook run"
WRITE_ACTIONS = frozenset({CREATED, CONFIGURED, REPLACED, RECREATED, PRUNED})

SUCCEEDED = "Succeeded"
FAILED = "Failed"
NOT_RUN = "NotRun"
PLANNED = "Planned"

HOOKS_AUTO = "auto"
HOOKS_ALWAYS = "always"


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
    # argocd-cm's resource customizations: health scripts, system-level ignore rules, excluded kinds
    customizations: ResourceCustomizations = field(default_factory=ResourceCustomizations)
    # pressing Sync: also a manual application, and an automated one without self-heal whose Git did not change
    manual_sync: bool = False
    # Prune=confirm objects of this application may be pruned in this run (the module's confirm names it)
    confirmed: bool = False
    # the set of applications (the role's gitops_owner) the synced applications are recorded as managed by;
    # None keeps what the inventory records
    owner: str | None = None

    def assess(self, obj: dict[str, Any] | None) -> Health:
        """Health of a live object with this run's checks (users' Lua scripts over the built-in ones)."""
        return self.customizations.health.assess(obj)


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

    @property
    def inventory_set_id(self) -> str:
        """A prune candidate's ApplySet: the application's own, or one it left in another namespace ('' if unknown)."""
        return self.compared.inventory_set_id if self.compared is not None else ""

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
                "before_header": f"{self.ref} (live)", "after_header": f"{self.ref} ({self.action})"}


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
    # sync windows: why a real sync was skipped (nothing written), and the windows that block a sync now
    sync_skipped: str = ""
    sync_blocked_by: list[dict[str, Any]] = field(default_factory=list)
    # the project's orphanedResources: objects of the destination namespace no application owns (None: not asked)
    orphaned_resources: list[dict[str, Any]] | None = None
    # why a scheduled run did not sync (manual application, or no self-heal and nothing new in Git): drift reported
    skipped: str = ""
    # one entry per attempt when the sync policy retries (attempt, started_at, finished_at, result, message)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    info: list[dict[str, str]] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)  # every source's, for a multi-source application
    # the labels of the inventory parent as this sync found it (what earlier syncs recorded: app of apps children)
    recorded_labels: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        counts = {action.replace(" ", "_"): 0
                  for action in (CREATED, CONFIGURED, REPLACED, RECREATED, PRUNED, PRUNE_SKIPPED, HANDED_OVER, UNCHANGED)}
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
        if self.revisions:
            result["revisions"] = list(self.revisions)
        if self.message:
            result["message"] = self.message
        if self.sync_skipped:
            result["sync_skipped"] = self.sync_skipped
        if self.sync_blocked_by:
            result["sync_blocked_by"] = self.sync_blocked_by
        if self.orphaned_resources is not None:
            result["orphaned_resources"] = self.orphaned_resources
        if self.skipped:
            result["skipped"] = self.skipped
        if self.attempts:
            result["attempts"] = self.attempts
        if self.info:
            result["info"] = self.info
        return result

    def ansible_diffs(self) -> list[dict[str, str]]:
        """Ansible `diff` entries for every object written (or that would be)."""
        return [obj.ansible_diff() for obj in self.resources if obj.hook is None and obj.action in WRITE_ACTIONS]
