# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dry_run_cache option of gitops_diff and gitops_sync (reusing Synced verdicts).

Private to the collection. Mirrored by DRY_RUN_CACHE_ARGUMENT_SPEC in
plugins/module_utils/_dryruns.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  dry_run_cache:
    description:
      - Reuse the verdict of an earlier dry-run for an object found C(Synced), instead of sending the dry-run again,
        while nothing it depends on changed - the same manifest, ignore rules and field manager; the same live
        object (uid and resourceVersion, or the same content and field ownership when only its status changed);
        the same API server version - and for at most 24 hours. M(gitops.kubernetes.gitops_sync) records the
        objects it applies the same way.
      - Drift made by anyone writing to an object, and every change in Git, are always seen. What the cache can miss
        for up to 24 hours is a change of what an apply would do without any write to the object (a new mutating
        admission webhook, new CRD defaults); set V(false) to dry-run every object.
      - Verdicts are kept per API server under O(cache_dir)/dry-runs (hashes, uids and resourceVersions only).
    type: bool
    default: true
"""
