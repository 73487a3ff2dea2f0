# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Health stage: is a live object healthy, still progressing, or broken?

The order is Argo CD's: an object being deleted is Progressing ("Pending
deletion"); then a user's Lua script for its group and kind (the
resource_customizations setting, exact key first, then wildcard keys; then a
directory laid out as Argo CD's resource_customizations); then a built-in
check (builtin.py: the kinds gitops-engine checks in Go, and CronJob,
PodDisruptionBudget and Argo CD Application, which Argo CD ships as Lua);
then the generic judgment (generic.py) for any other kind.

Files: model.py (statuses, Health), builtin.py, generic.py, lua.py (the
sandboxed Lua runtime), testing.py (runs a script's health_test.yaml).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ansible_collections.gitops.kubernetes.plugins.module_utils._health.builtin import CHECKS
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.generic import generic
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.lua import run_health_script
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.model import (
    DEGRADED,
    HEALTH_ORDER,
    HEALTHY,
    MISSING,
    PROGRESSING,
    SETTLED,
    SUSPENDED,
    UNKNOWN,
    Health,
    worst,
)

__all__ = [
    "DEGRADED",
    "HEALTH_ORDER",
    "HEALTHY",
    "MISSING",
    "PROGRESSING",
    "SETTLED",
    "SUSPENDED",
    "UNKNOWN",
    "Health",
    "HealthChecks",
    "HealthScript",
    "assess",
    "counts_for_application",
    "group_kind_key",
    "hook_finished",
    "worst",
]

HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"
# Argo CD leaves an object annotated so out of its application's health (its own health is still judged and waited for)
IGNORE_HEALTHCHECK = "argocd.argoproj.io/ignore-healthcheck"


@dataclass(frozen=True)
class HealthScript:
    """A health.lua and where it comes from (named in every message about it)."""

    source: str
    origin: str


def group_kind_key(group: str, kind: str) -> str:
    """Argo CD's key of a kind: 'group/Kind', or 'Kind' for the core group."""
    return f"{group}/{kind}" if group else kind


@dataclass
class HealthChecks:
    """The health checks of a run: users' Lua scripts by Argo CD key (wildcards allowed), over the built-in ones."""

    scripts: Mapping[str, HealthScript] = field(default_factory=dict)
    # from a resource_customizations directory: consulted after `scripts`, as Argo CD's own scripts are
    directory_scripts: Mapping[str, HealthScript] = field(default_factory=dict)

    def script_for(self, group: str, kind: str) -> HealthScript | None:
        key = group_kind_key(group, kind)
        for table in (self.scripts, self.directory_scripts):
            if key in table:
                return table[key]
            for pattern in sorted(p for p in table if "*" in p or "?" in p or "[" in p):
                if fnmatch.fnmatchcase(key, pattern):
                    return table[pattern]
        return None

    def check_for(self, group: str, kind: str) -> Callable[[dict[str, Any]], Health]:
        script = self.script_for(group, kind)
        if script is not None:
            return lambda obj: run_health_script(script.source, script.origin, obj)
        return CHECKS.get((group, kind), generic)

    def assess(self, obj: dict[str, Any] | None) -> Health:
        """Health of a live object (None: Missing)."""
        if obj is None:
            return Health(MISSING, "object does not exist")
        metadata = obj.get("metadata") or {}
        if metadata.get("deletionTimestamp") and HOOK_FINALIZER not in (metadata.get("finalizers") or []):
            return Health(PROGRESSING, "Pending deletion")
        group = (obj.get("apiVersion") or "").rpartition("/")[0]
        check = self.check_for(group, obj.get("kind") or "")
        try:
            return check(obj)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a malformed status must not stop the sync
            return Health(UNKNOWN, f"cannot assess health: {exc}")


BUILT_IN = HealthChecks()


def assess(obj: dict[str, Any] | None, checks: HealthChecks | None = None) -> Health:
    """Health of a live object (None: Missing), with the built-in checks unless `checks` are given."""
    return (checks or BUILT_IN).assess(obj)


def counts_for_application(live: dict[str, Any] | None) -> bool:
    """Whether an object's health is part of its application's (not when annotated ignore-healthcheck: "true")."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    return annotations.get(IGNORE_HEALTHCHECK) != "true"


def hook_finished(health: Health) -> bool | None:
    """For a hook: True when it succeeded, False when it failed, None while running.

    Jobs and Pods finish; any other kind of hook finishes as soon as it is
    Healthy (a ConfigMap hook succeeds once created).
    """
    if health.status == DEGRADED:
        return False
    if health.status == HEALTHY:
        return True
    return None
