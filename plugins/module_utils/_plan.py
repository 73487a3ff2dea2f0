# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Plan stage: in which order a sync touches objects, read from Argo CD's annotations.

Order, as Argo CD does it: phase (PreSync, Sync, PostSync; SyncFail only on
failure), then sync wave (``argocd.argoproj.io/sync-wave``, else
``helm.sh/hook-weight``, default 0, negatives allowed), then kind rank
(Namespaces first, CRDs before anything that may use them, workloads after
their configuration), then name.

Hooks are objects annotated ``argocd.argoproj.io/hook`` or (when that is
absent) ``helm.sh/hook``; Helm hook types map to phases the way Argo CD maps
them. Per-object options come from ``argocd.argoproj.io/sync-options`` and
``argocd.argoproj.io/compare-options``. Everything here is pure: no cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef

PRE_SYNC = "PreSync"
SYNC = "Sync"
POST_SYNC = "PostSync"
SYNC_FAIL = "SyncFail"
SKIP = "Skip"
# PostDelete hooks belong to deleting an application, which a sync never does
POST_DELETE = "PostDelete"
PHASES = (PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL)
HOOK_TYPES = (*PHASES, SKIP, POST_DELETE)

HOOK_ANNOTATION = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY_ANNOTATION = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS_ANNOTATION = "argocd.argoproj.io/compare-options"
HELM_HOOK_ANNOTATION = "helm.sh/hook"
HELM_HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY_ANNOTATION = "helm.sh/hook-delete-policy"

HOOK_SUCCEEDED = "HookSucceeded"
HOOK_FAILED = "HookFailed"
BEFORE_HOOK_CREATION = "BeforeHookCreation"
DELETE_POLICIES = (HOOK_SUCCEEDED, HOOK_FAILED, BEFORE_HOOK_CREATION)

# Argo CD's mapping of Helm hook types; every other Helm type (pre-delete,
# rollback, test...) makes the object a hook that a sync never runs.
HELM_HOOK_PHASES = {
    "pre-install": PRE_SYNC,
    "pre-upgrade": PRE_SYNC,
    "post-install": POST_SYNC,
    "post-upgrade": POST_SYNC,
}
# Helm marks CRDs with crd-install; Argo CD treats them as ordinary resources
HELM_CRD_INSTALL = "crd-install"
HELM_DELETE_POLICIES = {
    "hook-succeeded": HOOK_SUCCEEDED,
    "hook-failed": HOOK_FAILED,
    "before-hook-creation": BEFORE_HOOK_CREATION,
}

# Argo CD's kind order (gitops-engine syncTasks); kinds not listed come after, by name
KIND_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
    "CronJob", "IngressClass", "Ingress", "APIService",
)
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
OTHER_KIND_RANK = len(KIND_ORDER)

# sync-options this collection honours, and those that only restate what it always does
_BOOL_SYNC_OPTIONS = {
    "Replace", "ServerSideApply", "Validate", "CreateNamespace", "PruneLast", "SkipDryRunOnMissingResource",
    "ApplyOutOfSyncOnly", "RespectIgnoreDifferences", "FailOnSharedResource", "Force",
}
_CONFIRMABLE_SYNC_OPTIONS = {"Prune", "Delete"}
_TEXT_SYNC_OPTIONS = {"PrunePropagationPolicy"}
KNOWN_COMPARE_OPTIONS = {"IgnoreExtraneous", "ServerSideDiff", "IncludeMutationWebhook"}


def kind_rank(kind: str) -> int:
    """Position of a kind in Argo CD's apply order (unlisted kinds share the last rank)."""
    return _KIND_RANK.get(kind, OTHER_KIND_RANK)


def _annotations(manifest: dict[str, Any]) -> dict[str, str]:
    return (manifest.get("metadata") or {}).get("annotations") or {}


def _split(text: str) -> list[str]:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def describe(manifest: dict[str, Any]) -> str:
    """'Job ns/name' (or 'Job ns/prefix*' for generateName) for messages."""
    metadata = manifest.get("metadata") or {}
    name = metadata.get("name") or (f"{metadata['generateName']}*" if metadata.get("generateName") else "?")
    namespace = metadata.get("namespace")
    return f"{manifest.get('kind') or '?'} {namespace + '/' if namespace else ''}{name}"


# --------------------------------------------------------------------------
# hooks


@dataclass(frozen=True)
class HookSpec:
    """What the hook annotations of one object say."""

    phases: tuple[str, ...]  # the phases it runs in; empty: a hook that never runs (e.g. Helm test)
    delete_policies: frozenset[str]
    source: str  # "argocd" or "helm"

    @property
    def skip(self) -> bool:
        """argocd.argoproj.io/hook: Skip: not applied at all."""
        return SKIP in self.phases


def hook_spec(manifest: dict[str, Any], where: str = "") -> HookSpec | None:
    """The hook an object declares, or None for an ordinary resource.

    Argo CD's annotation wins over Helm's. Unknown Argo CD hook types and
    delete policies raise SpecError (a typo would otherwise turn a hook into
    an ordinary, inventoried resource); unknown Helm types are hooks that
    never run, as in Argo CD.
    """
    annotations = _annotations(manifest)
    argocd = annotations.get(HOOK_ANNOTATION)
    if argocd is not None:
        phases = tuple(_split(argocd))
        for phase in phases:
            if phase not in HOOK_TYPES:
                raise SpecError(
                    f"{describe(manifest)}: {HOOK_ANNOTATION} {phase!r} is not one of {', '.join(HOOK_TYPES)}",
                    object_ref=where or None,
                )
        policies = _split(annotations.get(HOOK_DELETE_POLICY_ANNOTATION, ""))
        for policy in policies:
            if policy not in DELETE_POLICIES:
                raise SpecError(
                    f"{describe(manifest)}: {HOOK_DELETE_POLICY_ANNOTATION} {policy!r} is not one of "
                    f"{', '.join(DELETE_POLICIES)}",
                    object_ref=where or None,
                )
        return HookSpec(tuple(p for p in phases if p != POST_DELETE),
                        frozenset(policies) or frozenset({BEFORE_HOOK_CREATION}), "argocd")
    helm = annotations.get(HELM_HOOK_ANNOTATION)
    if helm is None:
        return None
    types = _split(helm)
    if types == [HELM_CRD_INSTALL] or not types:
        return None
    phases = []
    for helm_type in types:
        phase = HELM_HOOK_PHASES.get(helm_type)
        if phase and phase not in phases:
            phases.append(phase)
    policies = {
        HELM_DELETE_POLICIES[p] for p in _split(annotations.get(HELM_HOOK_DELETE_POLICY_ANNOTATION, ""))
        if p in HELM_DELETE_POLICIES
    }
    # an Argo CD policy annotation also applies to Helm hooks
    policies |= {p for p in _split(annotations.get(HOOK_DELETE_POLICY_ANNOTATION, "")) if p in DELETE_POLICIES}
    return HookSpec(tuple(phases), frozenset(policies) or frozenset({BEFORE_HOOK_CREATION}), "helm")


def sync_wave(manifest: dict[str, Any]) -> int:
    """The object's sync wave: argocd.argoproj.io/sync-wave, else helm.sh/hook-weight, else 0."""
    annotations = _annotations(manifest)
    for key in (SYNC_WAVE_ANNOTATION, HELM_HOOK_WEIGHT_ANNOTATION):
        if key in annotations:
            text = str(annotations[key]).strip()
            try:
                return int(text)
            except ValueError:
                raise SpecError(f"{describe(manifest)}: {key} {text!r} is not an integer") from None
    return 0


# --------------------------------------------------------------------------
# options


@dataclass(frozen=True)
class SyncOptions:
    """argocd.argoproj.io/sync-options of one object."""

    prune: bool = True  # Prune=false (or Prune=confirm, which needs a human) keeps the object
    prune_confirm: bool = False
    replace: bool = False  # Replace=true: written with a PUT of the whole manifest (kubectl replace), not applied
    force: bool = False  # Force=true: deleted and recreated (with Replace) or when its change cannot be made in place
    server_side_apply: bool = True
    validate: bool = True
    prune_last: bool = False
    skip_dry_run_on_missing_resource: bool = False
    raw: tuple[tuple[str, str], ...] = ()


def parse_sync_options(manifest: dict[str, Any]) -> SyncOptions:
    """Parse 'Prune=false,Replace=true' style options; unknown or malformed ones raise SpecError."""
    text = _annotations(manifest).get(SYNC_OPTIONS_ANNOTATION)
    if not text:
        return SyncOptions()
    values: dict[str, str] = {}
    for item in _split(text):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise SpecError(f"{describe(manifest)}: {SYNC_OPTIONS_ANNOTATION} entry {item!r} is not Key=value")
        if key in _BOOL_SYNC_OPTIONS:
            if value.lower() not in ("true", "false"):
                raise SpecError(f"{describe(manifest)}: {SYNC_OPTIONS_ANNOTATION} {key}={value} must be true or false")
        elif key in _CONFIRMABLE_SYNC_OPTIONS:
            if value.lower() not in ("true", "false", "confirm"):
                raise SpecError(
                    f"{describe(manifest)}: {SYNC_OPTIONS_ANNOTATION} {key}={value} must be true, false or confirm"
                )
        elif key not in _TEXT_SYNC_OPTIONS:
            known = sorted(_BOOL_SYNC_OPTIONS | _CONFIRMABLE_SYNC_OPTIONS | _TEXT_SYNC_OPTIONS)
            raise SpecError(
                f"{describe(manifest)}: {SYNC_OPTIONS_ANNOTATION} option {key!r} is unknown (known: {', '.join(known)})"
            )
        values[key] = value.lower() if key not in _TEXT_SYNC_OPTIONS else value
    if values.get("ServerSideApply") == "false":
        raise SpecError(f"{describe(manifest)}: {SYNC_OPTIONS_ANNOTATION} ServerSideApply=false is not supported: every "
                        "object is server-side applied (client-side apply is not done)")
    prune = values.get("Prune", "true")
    return SyncOptions(
        prune=prune == "true",
        prune_confirm=prune == "confirm",
        replace=values.get("Replace") == "true",
        force=values.get("Force") == "true",
        server_side_apply=values.get("ServerSideApply", "true") == "true",
        validate=values.get("Validate", "true") == "true",
        prune_last=values.get("PruneLast") == "true",
        skip_dry_run_on_missing_resource=values.get("SkipDryRunOnMissingResource") == "true",
        raw=tuple(sorted(values.items())),
    )


def parse_compare_options(manifest: dict[str, Any]) -> frozenset[str]:
    """argocd.argoproj.io/compare-options as a set ('IgnoreExtraneous', ...); unknown ones raise SpecError."""
    found = set()
    for item in _split(_annotations(manifest).get(COMPARE_OPTIONS_ANNOTATION, "")):
        key, value = item.partition("=")[::2]
        if key not in KNOWN_COMPARE_OPTIONS:
            raise SpecError(f"{describe(manifest)}: {COMPARE_OPTIONS_ANNOTATION} option {key!r} is unknown")
        if value.lower() != "false":
            found.add(key)
    return frozenset(found)


# --------------------------------------------------------------------------
# the plan


@dataclass
class SyncTask:
    """One object in one phase of the sync; `payload` carries what the sync engine attaches."""

    manifest: dict[str, Any]
    phase: str
    wave: int
    hook: HookSpec | None = None
    options: SyncOptions = field(default_factory=SyncOptions)
    payload: Any = None

    @property
    def kind(self) -> str:
        return self.manifest.get("kind") or ""

    @property
    def name(self) -> str:
        metadata = self.manifest.get("metadata") or {}
        return metadata.get("name") or metadata.get("generateName") or ""

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.from_manifest(self.manifest)

    @property
    def is_hook(self) -> bool:
        return self.hook is not None

    def sort_key(self) -> tuple[int, int, int, str, str, str]:
        return (PHASES.index(self.phase), self.wave, kind_rank(self.kind), self.name, self.kind,
                (self.manifest.get("metadata") or {}).get("namespace") or "")


@dataclass
class WaveStep:
    """The tasks of one (phase, wave), grouped by kind rank in apply order."""

    phase: str
    wave: int
    groups: list[list[SyncTask]]

    @property
    def tasks(self) -> list[SyncTask]:
        return [task for group in self.groups for task in group]


@dataclass
class SyncPlan:
    """Every task of a sync, sorted the way they run."""

    tasks: list[SyncTask] = field(default_factory=list)

    def add(self, task: SyncTask) -> None:
        self.tasks.append(task)

    def steps(self, phase: str) -> Iterator[WaveStep]:
        """The waves of a phase in order, each with its kind-rank groups."""
        selected = sorted((t for t in self.tasks if t.phase == phase), key=SyncTask.sort_key)
        waves: dict[int, list[SyncTask]] = {}
        for task in selected:
            waves.setdefault(task.wave, []).append(task)
        for wave in sorted(waves):
            groups: dict[int, list[SyncTask]] = {}
            for task in waves[wave]:
                groups.setdefault(kind_rank(task.kind), []).append(task)
            yield WaveStep(phase, wave, [groups[rank] for rank in sorted(groups)])

    def ordered(self) -> list[SyncTask]:
        """All tasks in run order (SyncFail last)."""
        return sorted(self.tasks, key=SyncTask.sort_key)

    def hooks(self, phase: str | None = None) -> list[SyncTask]:
        return [t for t in self.ordered() if t.is_hook and (phase is None or t.phase == phase)]


def build_plan(resources: Iterable[tuple[dict[str, Any], Any]], hooks: Iterable[tuple[dict[str, Any], Any]]) -> SyncPlan:
    """A SyncPlan from (manifest, payload) pairs of ordinary resources and of hooks.

    Resources run in the Sync phase at their wave; a hook runs once per phase it
    names. Skip hooks and hooks without a phase a sync runs are left out.
    """
    plan = SyncPlan()
    for manifest, payload in resources:
        plan.add(SyncTask(manifest, SYNC, sync_wave(manifest), None, parse_sync_options(manifest), payload))
    for manifest, payload in hooks:
        spec = hook_spec(manifest)
        if spec is None or spec.skip:
            continue
        wave = sync_wave(manifest)
        options = parse_sync_options(manifest)
        for phase in spec.phases:
            plan.add(SyncTask(manifest, phase, wave, spec, options, payload))
    return plan
