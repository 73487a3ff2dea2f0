# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health statuses, the Health verdict and the small readers of an object's status every check uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

HEALTHY = "Healthy"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
SUSPENDED = "Suspended"
MISSING = "Missing"
UNKNOWN = "Unknown"
# Argo CD's order, least to most severe
HEALTH_ORDER = (HEALTHY, SUSPENDED, PROGRESSING, MISSING, DEGRADED, UNKNOWN)
# a wave is done when each object is in one of these
SETTLED = frozenset({HEALTHY, SUSPENDED})


@dataclass(frozen=True)
class Health:
    """Health of one object and the reason, in words a user understands."""

    status: str
    message: str = ""

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "message": self.message}


def worst(statuses: Iterable[str]) -> str:
    """The most severe status (Healthy for none)."""
    found = [s for s in statuses if s in HEALTH_ORDER]
    return max(found, key=HEALTH_ORDER.index) if found else HEALTHY


def status_of(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The status condition of this type, if any."""
    for item in status_of(obj).get("conditions") or []:
        if isinstance(item, dict) and item.get("type") == kind:
            return item
    return None


def integer(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
