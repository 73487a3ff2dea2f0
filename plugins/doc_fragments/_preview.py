# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preview options of gitops_diff and gitops_sync (preview a branch before it merges).

Private to the collection. Mirrored by PREVIEW_ARGUMENT_SPEC in
plugins/module_utils/_preview.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  preview_revision:
    description:
      - Preview a change before it merges. Every application with a source in O(preview_repo) (without
        O(preview_repo), every Git source; chart sources only when O(preview_repo) names their chart repository,
        since the preview revision is then a chart version) is rendered at this revision (branch, tag or commit)
        and compared with the live cluster, the usual drift check. Applications the preview does not concern are
        left out of the task.
      - The same applications are rendered at their current revision too, and RV(preview) lists what the change
        itself alters, object by object (added, changed, removed, with a YAML diff, Secret values masked),
        independent of live drift.
      - A multi-source application takes the preview revision on the sources in O(preview_repo) only.
        Git generators (O(generators), ApplicationSets) that read O(preview_repo) read it at the preview revision,
        so the applications a branch adds or removes are listed as V(added) or V(removed).
      - The children an app of apps renders at the preview revision are compared with the live cluster, and have no
        object list of their own in RV(preview).
      - Nothing is written to the cluster. M(gitops.kubernetes.gitops_sync) takes it in check mode only and refuses
        a real sync with it. The live objects are read with GET and LIST; the drift check also sends server-side
        apply dry-runs, which the API server authorises as the write they predict, so an identity that may only
        get and list sees the objects' drift as V(Unknown) while RV(preview) is complete.
    type: str
  preview_repo:
    description:
      - The repository O(preview_revision) belongs to (a Git repository, or the chart repository of chart sources),
        matched after the same normalisation as O(policy.allowed_repos) uses (scheme and host
        lower-cased, credentials, C(.) and C(..) segments and a trailing C(/) removed).
      - Requires O(preview_revision).
    type: str
"""
