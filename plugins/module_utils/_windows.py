# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sync windows (an AppProject's `syncWindows`): whether an application may sync now.

A window opens at every time its cron `schedule` fires (five fields, as Argo
CD parses them: minute, hour, day of month, month, day of week; no
descriptors) in its time zone and stays open for `duration` (Go duration
syntax: `1h30m`). Argo CD's rules, from its SyncWindows.CanSync:

- an active deny window blocks, unless the sync is manual and every active
  deny window has `manualSync`;
- otherwise an active allow window lets it through;
- otherwise, if allow windows match the application but none is active, it is
  blocked (unless manual and every one of them has `manualSync`);
- otherwise it syncs.

A window matches an application by its `applications`, `clusters` (the
destination's server or name) and `namespaces` globs: any one of them, or
every one that is given with `andOperator`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._glob import glob_match

ALLOW = "allow"
DENY = "deny"
# the longest window looked back over, minute by minute (a month); longer durations are refused
MAX_DURATION = timedelta(days=31)

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))
_NAMES = {
    3: {name: index + 1 for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))},
    4: {name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class WindowError(ValueError):
    """A schedule, duration or time zone that cannot be read."""


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron schedule (robfig/cron's standard parser, as Argo CD uses it)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    # robfig/cron: when both day fields are restricted (not '*' or '?'), either one matching is enough
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, text: str) -> "CronSchedule":
        fields = text.split()
        if len(fields) != 5:
            raise WindowError(f"schedule {text!r} must have 5 fields (minute hour day-of-month month day-of-week), "
                              f"got {len(fields)}")
        sets = []
        for index, (spec, (what, low, high)) in enumerate(zip(fields, _FIELDS)):
            sets.append(frozenset(_parse_field(spec, what, low, high, _NAMES.get(index, {}), text)))
        weekdays = frozenset(day % 7 for day in sets[4])  # 7 is Sunday too
        return cls(text, sets[0], sets[1], sets[2], sets[3], weekdays, not _is_star(fields[2]), not _is_star(fields[4]))

    def fires_at(self, moment: datetime) -> bool:
        """Whether the schedule fires at this wall-clock minute."""
        if moment.minute not in self.minutes or moment.hour not in self.hours or moment.month not in self.months:
            return False
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day or weekday
        return day and weekday


def _is_star(spec: str) -> bool:
    """robfig/cron's star bit: a part '*' or '?' without a step above 1."""
    for part in spec.split(","):
        base, dummy, step = part.partition("/")
        if base in ("*", "?") and (not step or step == "1"):
            return True
    return False


def _parse_field(spec: str, what: str, low: int, high: int, names: dict[str, int], text: str) -> set[int]:
    values: set[int] = set()
    top = 7 if what == "day of week" else high  # 7 is Sunday too

    def number(token: str) -> int:
        token = token.lower()
        if token in names:
            return names[token]
        if not token.isdigit():
            raise WindowError(f"schedule {text!r}: {token!r} is not a valid {what}")
        value = int(token)
        if not low <= value <= top:
            raise WindowError(f"schedule {text!r}: {what} {value} is outside {low}-{top}")
        return value

    for part in spec.split(","):
        base, dummy, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise WindowError(f"schedule {text!r}: step {step_text!r} of the {what} must be a positive number")
            step = int(step_text)
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, dummy, last = base.partition("-")
            start, end = number(first), number(last)
            if start > end:
                raise WindowError(f"schedule {text!r}: range {base!r} of the {what} runs backwards")
        else:
            start = number(base)
            end = high if step_text else start  # 'N/step' runs to the end, as in robfig/cron
        values.update(range(start, end + 1, step))
    return values


def parse_duration(text: str) -> timedelta:
    """Go's time.ParseDuration for the positive durations a window takes ('1h', '90m', '1h30m')."""
    compact = text.strip()
    if not compact or _DURATION_PART.sub("", compact) != "":
        raise WindowError(f"duration {text!r} is not a Go duration such as 1h, 30m or 1h30m")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(compact))
    duration = timedelta(seconds=seconds)
    if duration <= timedelta(0):
        raise WindowError(f"duration {text!r} must be longer than zero")
    if duration > MAX_DURATION:
        raise WindowError(f"duration {text!r} is longer than {MAX_DURATION.days} days")
    return duration


def load_zone(name: str) -> timezone | object:
    """The time zone of a window (UTC when empty), via zoneinfo."""
    if not name or name == "UTC":
        return timezone.utc
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover - Python < 3.9
        raise WindowError(f"time zone {name!r} needs Python 3.9 or later (zoneinfo)") from None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError(f"time zone {name!r} is not a known IANA time zone") from None


@dataclass
class SyncWindow:
    """One window of a project, in our words."""

    kind: str  # ALLOW or DENY
    schedule: CronSchedule
    duration: timedelta
    duration_text: str
    time_zone: str = "UTC"
    applications: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    manual_sync: bool = False
    and_operator: bool = False
    description: str = ""

    def describe(self) -> str:
        text = f"{self.kind} window '{self.schedule.text}' for {self.duration_text}"
        text += f" ({self.time_zone})" if self.time_zone and self.time_zone != "UTC" else ""
        return text + (f": {self.description}" if self.description else "")

    def matches(self, application: str, namespace: str, cluster_server: str, cluster_name: str) -> bool:
        """Argo CD's SyncWindows.Matches for one window."""
        checks = []
        if self.applications:
            checks.append(any(glob_match(p, application) for p in self.applications))
        if self.clusters:
            checks.append(any((cluster_name and glob_match(p, cluster_name))
                              or (cluster_server and glob_match(p, cluster_server)) for p in self.clusters))
        if self.namespaces:
            checks.append(any(glob_match(p, namespace) for p in self.namespaces))
        if not checks:
            return False
        return all(checks) if self.and_operator else any(checks)

    def active(self, now: datetime) -> bool:
        """Whether the window is open at `now`: the schedule fired less than `duration` ago (strictly before now)."""
        zone = load_zone(self.time_zone)
        local_now = now.astimezone(zone)  # type: ignore[arg-type]
        moment = local_now.replace(second=0, microsecond=0)
        if moment == local_now:
            moment -= timedelta(minutes=1)  # a firing exactly now opens the window only after now, as in Argo CD
        earliest = local_now - self.duration
        while moment > earliest:
            if self.schedule.fires_at(moment):
                return True
            moment = (moment.astimezone(timezone.utc) - timedelta(minutes=1)).astimezone(zone)  # type: ignore[arg-type]
        return False


@dataclass
class WindowVerdict:
    """Whether a sync may run now, and the windows that decided it."""

    allowed: bool
    windows: list[SyncWindow] = field(default_factory=list)

    def reason(self) -> str:
        """Why the sync is skipped ('' when it may run)."""
        if self.allowed:
            return ""
        if any(window.kind == DENY for window in self.windows):
            return "inside " + ", ".join(w.describe() for w in self.windows)
        return "outside every allow window: " + ", ".join(w.describe() for w in self.windows)

    def to_result(self) -> list[dict[str, object]]:
        return [{"kind": w.kind, "schedule": w.schedule.text, "duration": w.duration_text, "time_zone": w.time_zone,
                 "manual_sync": w.manual_sync, **({"description": w.description} if w.description else {})}
                for w in self.windows]


def can_sync(windows: Iterable[SyncWindow], application: str, namespace: str, cluster_server: str, cluster_name: str,
             manual: bool, now: datetime | None = None) -> WindowVerdict:
    """Argo CD's CanSync over the windows that match the application."""
    now = now or datetime.now(timezone.utc)
    matching = [w for w in windows if w.matches(application, namespace, cluster_server, cluster_name)]
    if not matching:
        return WindowVerdict(True)
    active = [w for w in matching if w.active(now)]
    denies = [w for w in active if w.kind == DENY]
    if denies:
        return WindowVerdict(manual and all(w.manual_sync for w in denies), denies)
    allows = [w for w in active if w.kind == ALLOW]
    if allows:
        return WindowVerdict(True, allows)
    inactive_allows = [w for w in matching if w.kind == ALLOW]
    if inactive_allows:
        return WindowVerdict(manual and all(w.manual_sync for w in inactive_allows), inactive_allows)
    return WindowVerdict(True)
