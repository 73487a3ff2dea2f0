# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verdicts of earlier server-side-apply dry-runs, reused while nothing they depend on changed.

Compare sends one dry-run per live object: the API server's own prediction of
our apply. When the prediction equalled the live object (Synced), the same
dry-run gives the same answer as long as its inputs are the same:

- the manifest we apply, the field manager and the ignore rules (one hash),
- the live object: same uid and resourceVersion, or, when only its status
  changed (controllers write status all the time), the same content and
  field ownership apart from status and timestamps (a fingerprint),
- the API server's version (defaults can change with it),
- and for at most VERDICT_TTL: admission webhooks or CRD defaults that would
  change what an apply does, without touching the object, are seen within it.

So a Synced verdict is reused instead of sending the dry-run again, as Argo CD
caches its server-side diffs. gitops_sync records what it applied (the apply
returns the live object that matches the manifest). Only Synced verdicts are
kept: anything else is compared afresh every time.

One JSON file per API server under cache_dir/dry-runs, holding hashes, uids,
resourceVersions and times, never object content. Concurrent runs merge their
verdicts under a file lock; a corrupt or foreign file is ignored.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

VERDICT_TTL = 24 * 3600.0
# the module option, documented by doc_fragments/_dry_run_cache.py
DRY_RUN_CACHE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {"dry_run_cache": {"type": "bool", "default": True}}
# part of every key: verdicts of an older compare (normalisation, labels) are never reused
FORMAT = "gitops.kubernetes/dry-run-verdicts/2"


class DryRunVerdicts:
    """Synced verdicts of one API server: key -> [uid, resourceVersion, fingerprint, when]."""

    def __init__(self, path: Path | None, server_version: str, field_manager: str) -> None:
        self.path = path
        self.context = json.dumps([FORMAT, server_version, field_manager])
        self._known: dict[str, list[Any]] = {}
        self._recorded: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self.reused = 0
        if path is not None:
            self._known = _read(path)

    @classmethod
    def for_client(cls, client: Any, enabled: bool = True) -> "DryRunVerdicts | None":
        """The verdicts of the client's API server (kept in its cache_dir), or None when disabled."""
        if not enabled:
            return None
        directory = Path(client.cache_dir) / "dry-runs" if client.cache_dir else None
        path = directory / (hashlib.sha256(client.server.encode("utf-8")).hexdigest()[:24] + ".json") if directory else None
        return cls(path, client.server_version(), client.field_manager)

    def key(self, manifest: dict[str, Any], rules: str) -> str:
        """The hash of everything but the live object that decides a dry-run's outcome."""
        text = json.dumps([self.context, rules, manifest], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def still_synced(self, key: str, live: dict[str, Any]) -> bool:
        """True if this exact manifest was Synced with this live object (or one differing in status only), recently."""
        entry = self._known.get(key)
        if entry is None or time.time() - entry[3] >= VERDICT_TTL:
            return False
        metadata = live.get("metadata") or {}
        if entry[0] != metadata.get("uid"):
            return False
        if entry[1] != metadata.get("resourceVersion"):
            if entry[2] != fingerprint(live):
                return False
            # only status moved on: the verdict holds for the new resourceVersion too (saved, so the next hit is cheap)
            self._remember(key, live, entry[2], entry[3])
        with self._lock:
            self.reused += 1
        return True

    def record(self, key: str, live: dict[str, Any] | None) -> None:
        """Remember that the manifest behind key matches this live object (a Synced dry-run, or our apply)."""
        if live is not None:
            self._remember(key, live, fingerprint(live), time.time())

    def _remember(self, key: str, live: dict[str, Any], live_print: str, when: float) -> None:
        metadata = live.get("metadata") or {}
        if metadata.get("uid") and metadata.get("resourceVersion"):
            with self._lock:
                self._recorded[key] = [metadata["uid"], metadata["resourceVersion"], live_print, when]

    def save(self) -> None:
        """Merge this run's verdicts into the file (expired ones dropped); a failure only costs speed."""
        if self.path is None or not self._recorded:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(self.path.with_suffix(".lock"), "a", encoding="utf-8") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                merged = {**_read(self.path), **self._recorded}
                now = time.time()
                merged = {key: entry for key, entry in merged.items() if now - entry[3] < VERDICT_TTL}
                temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
                temporary.write_text(json.dumps({"format": FORMAT, "verdicts": merged}, separators=(",", ":")),
                                     encoding="utf-8")
                temporary.replace(self.path)
        except OSError:
            pass


def _read(path: Path) -> dict[str, list[Any]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("verdicts"), dict):
        return {}
    return {key: entry for key, entry in document["verdicts"].items()
            if isinstance(entry, list) and len(entry) == 4 and isinstance(entry[3], (int, float))}


def fingerprint(live: dict[str, Any]) -> str:
    """The live object as far as a dry-run's outcome can depend on it: everything but status, the
    resourceVersion and field-ownership timestamps; status-subresource ownership left out."""
    metadata = live.get("metadata") or {}
    owners = sorted(
        json.dumps({name: value for name, value in entry.items() if name != "time"}, sort_keys=True, default=str)
        for entry in metadata.get("managedFields") or [] if isinstance(entry, dict) and entry.get("subresource") != "status"
    )
    content = {name: value for name, value in live.items() if name != "status"}
    content["metadata"] = {name: value for name, value in metadata.items() if name not in ("resourceVersion", "managedFields")}
    text = json.dumps([content, owners], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
