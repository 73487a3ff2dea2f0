# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource_customizations options of gitops_diff and gitops_sync (Argo CD's argocd-cm settings).

Private to the collection. Mirrored by RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC in
plugins/module_utils/_argocd_cm.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  resource_customizations:
    description:
      - "Argo CD's system-level resource settings, as a migrating user has them: the C(data) of the C(argocd-cm)
        ConfigMap, the ConfigMap manifest itself, or either as YAML text (for example
        C(lookup('ansible.builtin.file', 'argocd-cm.yaml')))."
      - "C(resource.customizations.health.<group>_<Kind>) (C(<Kind>) alone for the core group, wildcards such as
        C(*.crossplane.io_*) allowed) and the older C(resource.customizations) block (C(<group>/<Kind>: {health.lua: ...}))
        hold Lua health checks, run as Argo CD runs them: Lua 5.1 (the C(lupa) Python package), the live object as
        the global C(obj), the returned table's C(status) and C(message) as the object's health. A script comes before
        the built-in check of its kind."
      - "Scripts run in a sandbox: the base functions, C(string), C(table), C(math), C(os.time) / C(os.date) /
        C(os.clock); no C(io), C(os.execute), C(require), C(load*), C(dofile), C(debug) or coroutines, so no file,
        process or network access. Each call is bounded (10 million instructions or 1 second, 32 MiB); a script that
        fails or runs too long gives the health V(Unknown) with the error, which a wave waits on until C(wait_timeout).
        A script that does not compile fails the task before any work."
      - "C(resource.customizations.ignoreDifferences.<group>_<Kind>) and C(.all): system-level ignore rules
        (C(jsonPointers), C(jqPathExpressions), C(managedFieldsManagers)), added to every application's own."
      - "C(resource.exclusions) / C(resource.inclusions): objects of excluded kinds (C(apiGroups), C(kinds),
        C(clusters) globs; C(clusters) is matched against the API server URL) are never compared, applied or pruned;
        each one in Git is named in a warning (Argo CD's ExcludedResourceWarning)."
      - "C(resource.compareoptions): C(ignoreAggregatedRoles) leaves out C(rules) of ClusterRoles with an
        C(aggregationRule); C(ignoreResourceStatusField) V(all) (the default), V(crd) or V(none) says whose
        C(status) is compared."
      - "Read and checked, without effect here: C(ignoreResourceUpdates) (it only stops Argo CD's controller from
        refreshing on watch events; every run of this collection compares every object, and skipping comparisons
        on such fields would hide drift), C(actions) (UI actions), C(knownTypeFields) (the API server's dry-run makes
        both sides of a comparison, nothing to normalise), C(useOpenLibs) (every script gets the safe libraries).
        Other C(argocd-cm) keys configure Argo CD's own services and are named in a warning."
    type: raw
  resource_customizations_dir:
    description:
      - A directory laid out as Argo CD's C(resource_customizations), C(<group>/<Kind>/health.lua) (C(<Kind>/health.lua)
        for the core group, C(_) standing for a wildcard as in C(_.crossplane.io/_)), for example a checkout of the
        scripts of the Argo CD version a user ran. Consulted after the scripts of O(resource_customizations), before
        the built-in checks.
      - Test a script with its C(health_test.yaml) by
        C(python -m ansible_collections.gitops.kubernetes.plugins.module_utils._health.testing <dir>).
    type: path
requirements:
  - lupa (only for Lua health scripts)
"""
