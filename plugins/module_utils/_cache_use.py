# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which cache entries a process is using: a shared lock it keeps until it exits, so eviction leaves them alone.

A process that uses a Git mirror or a repository's chart archives takes a
shared flock on the entry's `.inuse` file the first time, and keeps it: a
module run resolves a revision, renders, then checks out again minutes
later, and the mirror must not vanish in between. Eviction removes an entry
only when it gets the exclusive lock at once, so never one that any living
process holds; a process that wants the entry while eviction has it waits
the few milliseconds eviction needs to rename it away, then starts afresh.
The same open file also records when the entry was last used (its mtime).
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

HOLD_TIMEOUT = 60.0  # seconds to wait for an eviction to finish with the entry (it needs milliseconds)

_held: dict[str, int] = {}  # path of an .inuse file -> the descriptor that holds its shared lock
_held_lock = threading.Lock()


def hold(marker: Path) -> None:
    """Mark the entry of this .inuse file as used by this process until it exits, and as used now."""
    key = str(marker)
    with _held_lock:
        if key not in _held:
            marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = os.open(key, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                _lock(handle, fcntl.LOCK_SH, HOLD_TIMEOUT)
            except BaseException:
                os.close(handle)
                raise
            _held[key] = handle
    try:
        os.utime(key)  # last used: now
    except OSError:
        pass  # a cache that cannot be written only loses its order of eviction


def release_all() -> None:
    """Let go of every entry held (a long-running process between two uses, and the tests)."""
    with _held_lock:
        for handle in _held.values():
            os.close(handle)
        _held.clear()


@contextmanager
def claimed(marker: Path) -> Iterator[bool]:
    """Whether the entry is free: true while this holds it exclusively; false (at once) when anyone uses it."""
    try:
        handle = os.open(str(marker), os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            yield False
            return
        yield True
    finally:
        os.close(handle)  # releases the lock


def _lock(handle: int, operation: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, operation | fcntl.LOCK_NB)
            return
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
