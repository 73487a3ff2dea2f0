# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Eviction of the cache directory: Git mirrors, rendered objects and chart archives, by age and by total size.

Entries, and when each was last used:
- a Git mirror (`git/<name>.git`): the mtime of its `.inuse` file, touched each time a process locks the mirror;
- a render (`render/xx/<key>.json`): its mtime, touched on every cache hit;
- a chart version (`charts/<repository>/<chart>/<version>.tgz` and its `.json`): the archive's mtime, touched on every hit;
- a chart dependency build (`chart-deps/xx/<key>/`): the mtime of its `.complete` file, touched on every hit.

An entry unused for longer than the maximum age goes; then, while the total is
over the maximum size, the least recently used entry goes. A Git mirror or a
repository's charts that a living process uses (the shared lock of
_cache_use.py) are never removed; a mirror is renamed away under its own lock
before it is deleted, so no process ever sees half of one. A render file is
read whole or not at all, so removing it only costs the next run a render; a
dependency build is renamed away whole too, and a reader that loses it
builds again.

It runs at most once per interval per cache directory, decided by the mtime of
a marker file (one stat when it is not due), and one process at a time (a
non-blocking lock: a process that finds another evicting goes on with its work).
Empty lock files stay: removing a lock file someone may be opening would let two
processes hold "the" lock at once.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_use import claimed
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError

DEFAULT_MAX_SIZE = "5GiB"
DEFAULT_MAX_AGE = "14d"
DEFAULT_INTERVAL = 3600.0  # seconds between two evictions of one cache directory
MARKER = ".last-eviction"
LOCK = ".eviction.lock"
TRASH_PREFIX = ".evicted-"
STALE_TEMP_AGE = 24 * 3600.0  # seconds; a temporary file that old was left by a killed process

# the module options; documented by doc_fragments/_cache_eviction.py
CACHE_EVICTION_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "cache_max_size": {"type": "str", "default": DEFAULT_MAX_SIZE},
    "cache_max_age": {"type": "str", "default": DEFAULT_MAX_AGE},
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def parse_size(text: Any, option: str = "cache_max_size") -> int:
    """'5GiB', '500M', '1g', '1048576' -> bytes (binary units, as Ansible's human_to_bytes); 0 means no limit."""
    match = _SIZE.match(str(text if text is not None else ""))
    if not match:
        raise SpecError(f"{option} must be a size such as 5GiB, 500MiB or 0 (no limit), got {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_age(text: Any, option: str = "cache_max_age") -> float:
    """'14d', '12h', '2w', '30m', '90s', '14' (days) -> seconds; 0 means no limit."""
    match = _AGE.match(str(text if text is not None else ""))
    if not match:
        raise SpecError(f"{option} must be an age such as 14d, 12h, 2w or 0 (no limit), got {text!r}")
    return float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class EvictionPolicy:
    """How much the cache may keep: bytes in all (0: no limit), seconds unused (0: no limit)."""

    max_bytes: int
    max_age: float
    interval: float = DEFAULT_INTERVAL

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 or self.max_age > 0

    @classmethod
    def from_options(cls, max_size: Any = DEFAULT_MAX_SIZE, max_age: Any = DEFAULT_MAX_AGE,
                     interval: float = DEFAULT_INTERVAL) -> "EvictionPolicy":
        """From the options (cache_max_size, cache_max_age; the role's gitops_cache_max_*); SpecError naming the bad one."""
        return cls(parse_size(DEFAULT_MAX_SIZE if max_size is None else max_size),
                   parse_age(DEFAULT_MAX_AGE if max_age is None else max_age), interval)


@dataclass
class CacheEntry:
    """Something eviction may remove as a whole."""

    kind: str  # git, render, chart
    path: Path  # the directory or file
    size: int
    last_used: float
    companions: list[Path] = field(default_factory=list)  # files that go with it (a chart archive's digest)
    guard: Path | None = None  # its .inuse file: removed only when no process holds it
    mirror_lock: Path | None = None  # a Git mirror's own lock, taken while it is renamed away


@dataclass
class EvictionResult:
    removed: list[str] = field(default_factory=list)  # paths relative to the cache directory
    freed_bytes: int = 0
    kept_bytes: int = 0
    kept_in_use: list[str] = field(default_factory=list)  # entries over a limit that a process still uses

    def to_dict(self) -> dict[str, Any]:
        return {"removed": self.removed, "freed_bytes": self.freed_bytes, "kept_bytes": self.kept_bytes,
                "kept_in_use": self.kept_in_use}


def evict_if_due(cache_dir: str | Path, policy: EvictionPolicy, now: float | None = None) -> EvictionResult | None:
    """Evict when the last eviction of this directory is older than the interval; None when not due or busy."""
    root = Path(os.path.expanduser(str(cache_dir)))
    if not policy.enabled or not root.is_dir():
        return None
    now = time.time() if now is None else now
    marker = root / MARKER
    if _recent(marker, now, policy.interval):
        return None  # the common case: one stat
    with claimed(root / LOCK) as free:
        if not free:
            return None  # another process is evicting this directory right now
        if _recent(marker, now, policy.interval):
            return None  # it finished while we looked
        marker.touch(mode=0o600)
        os.utime(marker, (now, now))
        return evict(root, policy, now)


def _recent(marker: Path, now: float, interval: float) -> bool:
    try:
        return now - marker.stat().st_mtime < interval
    except OSError:
        return False


def evict(root: Path, policy: EvictionPolicy, now: float | None = None) -> EvictionResult:
    """Remove entries unused for longer than max_age, then the least recently used until under max_bytes."""
    now = time.time() if now is None else now
    result = EvictionResult()
    _remove_leftovers(root, now)
    entries = sorted(_entries(root), key=lambda entry: entry.last_used)
    total = sum(entry.size for entry in entries)
    for entry in entries:
        too_old = policy.max_age > 0 and now - entry.last_used > policy.max_age
        too_big = policy.max_bytes > 0 and total > policy.max_bytes
        if not (too_old or too_big):
            continue
        if _remove(entry):
            total -= entry.size
            result.removed.append(entry.path.relative_to(root).as_posix())
            result.freed_bytes += entry.size
        else:
            result.kept_in_use.append(entry.path.relative_to(root).as_posix())
    result.kept_bytes = total
    return result


def _entries(root: Path) -> Iterator[CacheEntry]:
    git_dir = root / "git"
    for mirror in _children(git_dir):
        if mirror.name.endswith(".git") and not mirror.name.startswith(".") and mirror.is_dir():
            guard = git_dir / f".{mirror.name}.inuse"
            yield CacheEntry("git", mirror, _tree_size(mirror), _mtime(guard) or _mtime(mirror), guard=guard,
                             mirror_lock=git_dir / f".{mirror.name}.lock")
    for bucket in _children(root / "render"):
        for item in _children(bucket):
            if item.suffix == ".json" and not item.name.startswith("."):
                yield CacheEntry("render", item, _size(item), _mtime(item))
    for bucket in _children(root / "chart-deps"):
        for build in _children(bucket):
            if not build.name.startswith(".") and ".partial-" not in build.name and build.is_dir():
                yield CacheEntry("chart-deps", build, _tree_size(build), _mtime(build / ".complete") or _mtime(build))
    for repository in _children(root / "charts"):
        guard = repository / ".inuse"
        for chart in _children(repository):
            for archive in _children(chart):
                if archive.suffix == ".tgz" and not archive.name.startswith("."):
                    digest = archive.with_suffix(".json")
                    yield CacheEntry("chart", archive, _size(archive) + _size(digest), _mtime(archive),
                                     companions=[digest], guard=guard)


def _remove(entry: CacheEntry) -> bool:
    """Remove one entry unless a process uses it; whether it is gone."""
    if entry.guard is None:
        if entry.kind == "chart-deps":
            _rename_and_delete(entry.path)
        else:
            entry.path.unlink(missing_ok=True)
        return True
    with claimed(entry.guard) as free:
        if not free:
            return False
        if entry.mirror_lock is None:
            for path in (entry.path, *entry.companions):
                path.unlink(missing_ok=True)
            return True
        with claimed(entry.mirror_lock) as unlocked:
            if not unlocked:
                return False  # a process is working in it right now
            # atomic: the mirror is whole, or absent and made afresh by the next user
            trash = _rename_away(entry.path)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return True


def _rename_away(directory: Path) -> Path | None:
    """The directory renamed to a hidden name beside it (a killed run's leftover is removed next time); None if gone."""
    trash = directory.with_name(f"{TRASH_PREFIX}{directory.name}-{uuid.uuid4().hex[:8]}")
    try:
        directory.rename(trash)
    except FileNotFoundError:
        return None
    return trash


def _rename_and_delete(directory: Path) -> None:
    trash = _rename_away(directory)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def _remove_leftovers(root: Path, now: float) -> None:
    """Mirrors renamed away by an eviction that was killed, temporary files of killed writers."""
    for item in [*_children(root / "git"), *(build for bucket in _children(root / "chart-deps") for build in _children(bucket))]:
        if item.name.startswith(TRASH_PREFIX) or (".partial-" in item.name and now - _mtime(item) > STALE_TEMP_AGE):
            shutil.rmtree(item, ignore_errors=True)
    for parent in [*_children(root / "render"), *(chart for repo in _children(root / "charts") for chart in _children(repo))]:
        for item in _children(parent):
            if item.name.startswith(".tmp-") and now - _mtime(item) > STALE_TEMP_AGE:
                item.unlink(missing_ok=True)


def _children(directory: Path) -> list[Path]:
    try:
        return [Path(entry.path) for entry in os.scandir(directory)]
    except OSError:
        return []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(directory: Path) -> int:
    total = 0
    for current, dummy, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(current, name)).st_size
            except OSError:
                continue
    return total


def evict_quietly(cache_dir: str | Path, policy: EvictionPolicy | None) -> EvictionResult | None:
    """evict_if_due for the end of a run: a cache that cannot be evicted never fails the work that filled it."""
    if policy is None:
        return None
    try:
        return evict_if_due(cache_dir, policy)
    except (OSError, ValueError):
        return None  # an unreadable or read-only cache directory: the next run tries again
