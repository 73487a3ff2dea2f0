# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generators, only and skip options of gitops_diff and gitops_sync (applications generated in the task).

Private to the collection. Mirrored by GENERATOR_ARGUMENT_SPEC in
plugins/module_utils/_inputs.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  generators:
    description:
      - Generators, as in M(gitops.kubernetes.gitops_applicationset) (C(list) and C(git)); the applications they
        produce are worked on after O(applications), in the same task.
      - Use this rather than passing on the RV(gitops.kubernetes.gitops_applicationset#module:generated) result,
        which shows Helm values masked (task results are printed and stored); the applications generated here are
        rendered with the real values and never returned.
      - The module's arguments, as C(-vvv) shows them, have Helm values and parameters masked.
    type: list
    elements: dict
  applicationsets:
    description:
      - Argo CD ApplicationSet manifests, unchanged, as in M(gitops.kubernetes.gitops_applicationset); their
        applications are worked on after those of O(generators), in the same task.
    type: list
    elements: dict
  applicationset_files:
    description:
      - Files holding ApplicationSet manifests (multi-document YAML), read by the module, so Ansible never templates
        their C({{ }}); see M(gitops.kubernetes.gitops_applicationset).
    type: list
    elements: path
  clusters:
    description:
      - The inventory's clusters for the ApplicationSets' C(clusters) generator and destinations (C(name), C(server),
        C(labels), C(annotations)), as in M(gitops.kubernetes.gitops_applicationset).
    type: list
    elements: dict
  only:
    description: Keep only the applications (those of O(applications) and generated ones) whose name matches one of these glob patterns.
    type: list
    elements: str
  skip:
    description: Leave out the applications (explicit or generated) whose name matches one of these glob patterns (after O(only)).
    type: list
    elements: str
"""
