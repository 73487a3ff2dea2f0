# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client of a sync: the KubeClient, counting write requests."""

from __future__ import annotations

import threading
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient


def _is_dry_run(query: dict[str, Any] | None, body: Any) -> bool:
    if query and query.get("dryRun"):
        return True
    return isinstance(body, dict) and bool(body.get("dryRun"))


class SyncClient(KubeClient):
    """The KubeClient, also counting write requests (a dry-run is not a write), so a no-op sync can prove it wrote nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.writes_by_verb: dict[str, int] = {}
        self._writes_lock = threading.Lock()

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                **kwargs: Any) -> dict[str, Any] | None:
        if method != "GET" and not _is_dry_run(query, body):
            with self._writes_lock:
                self.writes += 1
                self.writes_by_verb[method] = self.writes_by_verb.get(method, 0) + 1
        return super().request(method, path, query=query, body=body, **kwargs)
