# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where sources are kept on disk, and what a checkout may hold: no path or symlink leads outside it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import normalize_repo_path


class PathNotFoundError(SourceError):
    """The application path does not exist at the resolved commit."""


class PathEscapeError(SourceError):
    """A path or symlink would leave the repository checkout."""


def default_cache_dir() -> str:
    """$GITOPS_CACHE_DIR, else $XDG_CACHE_HOME/gitops-kubernetes, else ~/.cache/gitops-kubernetes."""
    explicit = os.environ.get("GITOPS_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gitops-kubernetes")


def is_within(root: Path, candidate: Path) -> bool:
    """Whether candidate (already resolved) is root or below it."""
    try:
        candidate.relative_to(root)
        return True
    except ValueError:
        return False


def find_escaping_symlink(root: Path) -> str | None:
    """The repository-relative path of the first symlink that resolves outside root, if any."""
    root = root.resolve()
    for current, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            full = Path(current) / name
            if full.is_symlink() and not is_within(root, full.resolve()):
                return full.relative_to(root).as_posix()
    return None


def resolve_in_checkout(root: Path, relative: str, what: str) -> Path:
    """root/relative, refusing '..', absolute paths and symlinks that lead outside root."""
    try:
        normalized = normalize_repo_path(relative, what=what)
    except ValueError as err:
        raise PathEscapeError(str(err)) from None
    root = root.resolve()
    target = (root / normalized).resolve()
    if not is_within(root, target):
        raise PathEscapeError(f"the {what} {relative!r} resolves outside the repository (through a symlink)",
                              file=normalized)
    return target


STALE_CHECKOUT_AGE = 24 * 3600.0  # seconds; no render takes that long, so such a checkout was left by a killed run


def _remove_stale(work: Path) -> None:
    """Remove checkouts that a killed process could not clean up."""
    limit = time.time() - STALE_CHECKOUT_AGE
    for entry in work.iterdir():
        try:
            if entry.stat().st_mtime < limit:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue  # removed by another process meanwhile
