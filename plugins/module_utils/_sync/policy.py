# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a run syncs an application at all, and how often it tries: Argo CD's automated, selfHeal and retry.

- Manual (no automated policy): a scheduled run reports the drift and writes
  nothing; only a run that selects the application (manual_sync, the role's
  gitops_only) syncs it, as pressing Sync does.
- Automated without self-heal: a sync happens when what is deployed changed
  (the digest of revision and spec differs from the last sync attempted),
  as Argo CD attempts one sync per revision and parameters; drift made live
  alone is reported, not reverted, until Git or the spec changes again.
- Automated with self-heal (our spec's default): every run converges.
- Retry: a failed attempt is attempted again in the same run after Argo CD's
  backoff (duration * factor^n, at most max_duration), up to the limit, and
  never past the run's retry deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy


@dataclass(frozen=True)
class SyncDecision:
    """Sync now, or report only (reason says why, for the result and the report)."""

    sync: bool
    reason: str = ""


def decide(policy: SyncPolicy, manual_sync: bool, digest: str | None, last_sync: dict[str, Any] | None) -> SyncDecision:
    """Whether this run may write to the application; last_sync is what its inventory says was attempted last."""
    if manual_sync:
        return SyncDecision(True)
    if not policy.automated:
        return SyncDecision(False, "manual application (no automated sync policy): drift is reported, not synced; "
                                   "select it by name (gitops_only, or manual_sync) to sync it")
    if policy.self_heal or not digest or not last_sync:
        return SyncDecision(True)
    if last_sync.get("digest") != digest:
        return SyncDecision(True)
    revision = str(last_sync.get("revision") or "")[:12]
    outcome = str(last_sync.get("result") or "")
    attempted = f"the last sync ({revision}, {outcome})" if revision else f"the last sync ({outcome})"
    return SyncDecision(False, f"automated sync without selfHeal: Git and the application spec are unchanged since "
                               f"{attempted}, so live drift is reported, not reverted; a new commit or spec change "
                               "syncs it, as does selecting it by name")
