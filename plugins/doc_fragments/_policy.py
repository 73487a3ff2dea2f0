# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy option of gitops_diff and gitops_sync (what an application may deploy).

Private to the collection. Mirrored by POLICY_ARGUMENT_SPEC in
plugins/module_utils/_policy.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  policy:
    description:
      - What the applications of this task may deploy, like an Argo CD C(AppProject). Checked before anything is
        written (and, for O(policy.allowed_repos), before anything is fetched). An application that breaks a rule fails
        as a whole with a message naming every object and the rule it breaks; none of its objects is applied or
        pruned. Other applications of the same task are not affected.
      - Rendered objects are checked, hooks included. Without this option nothing is restricted.
    type: dict
    suboptions:
      allowed_repos:
        description:
          - Globs (C(*), C(?), C([...])) the application's repository URL must match, compared without credentials,
            for example V(https://git.example.org/platform/*).
          - The URL is matched in its normalised form, which is also the URL git is given. C(.) and C(..) path
            segments are resolved (also when written C(%2e%2e)), C(//) folded, scheme and host put in lower case. A
            URL whose path climbs above its root, or holds an encoded slash or a backslash, is refused.
          - The URL of every Git submodule the application's checkout uses (recursively, relative URLs resolved
            against the parent's) must match as well, before it is fetched, also when the render is reused from
            the cache.
          - Applications given as rendered O(manifests) have no repository and are not checked against it.
          - Unset, any repository is allowed.
        type: list
        elements: str
      allowed_namespaces:
        description:
          - Globs the destination namespace and the namespace of every namespaced object must match.
          - Unset, any namespace is allowed.
        type: list
        elements: str
      allowed_kinds:
        description:
          - Group/kind patterns of the kinds the application may deploy; anything else is refused.
          - "A pattern is V(group/Kind) (globs allowed: V(apps/*), V(*/Deployment)), V(core/Kind) or V(/Kind) for the
            core group, V(Kind) alone for that kind in any group, or a dictionary with C(kind) and C(group) as in an
            Argo CD C(AppProject)."
          - Unset, every kind is allowed (except O(policy.denied_kinds)).
        type: list
        elements: raw
      denied_kinds:
        description:
          - Group/kind patterns (as in O(policy.allowed_kinds)) the application may not deploy, even if allowed
            there. For example V(rbac.authorization.k8s.io/*) or V(Secret).
        type: list
        elements: raw
        default: []
      allow_cluster_scoped:
        description:
          - Whether the application may deploy cluster-scoped objects (Namespace, ClusterRole,
            CustomResourceDefinition, ...). Off once a policy is given; O(policy.allowed_kinds) and
            O(policy.denied_kinds) still apply to them.
          - Namespaces created by C(sync_policy.create_namespace) are allowed when O(policy.allowed_namespaces) allows
            them.
        type: bool
        default: false
"""
