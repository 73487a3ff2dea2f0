# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The projects and cluster options of gitops_diff and gitops_sync (Argo CD AppProjects, destination clusters).

Private to the collection. Mirrored by PROJECTS_ARGUMENT_SPEC in
plugins/module_utils/_projects.py and CLUSTER_ARGUMENT_SPEC in
plugins/module_utils/_clusters.py; keep them in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  projects:
    description:
      - Argo CD C(AppProject) manifests (C(argoproj.io/v1alpha1)), unchanged, each a dictionary or a YAML text holding one
        or more of them (for example read with C(lookup('ansible.builtin.file', 'projects/team-a.yaml'))).
      - Every application is checked against the project its C(spec.project) (or C(project)) names, with Argo CD's
        rules, before anything is fetched or written. C(sourceRepos) globs (a C(*) does not cross C(/); C(**) does; a
        leading C(!) denies) match the repository URL normalised as Argo CD does. C(destinations) (C(server), C(name)
        and C(namespace) globs, C(!) negation) match the destination cluster and namespace and the namespace of every
        namespaced object. C(namespaceResourceWhitelist) (unset allows every kind, an empty list none) and
        C(namespaceResourceBlacklist), C(clusterResourceWhitelist) (unset or empty allows no cluster-scoped kind, as in
        Argo CD; entries may narrow by C(name)) and C(clusterResourceBlacklist) limit the kinds. An application that
        breaks a rule fails as a whole, naming each object and the rule; nothing of it is applied.
      - The C(default) project allows everything unless a manifest named C(default) is given. A project that is not
        given is an error naming the application.
      - "C(syncWindows): C(kind) (V(allow) or V(deny)), C(schedule) (five-field cron), C(duration) (V(1h), V(30m),
        V(1h30m); at most 31 days), C(timeZone) (IANA name, default UTC), C(applications), C(namespaces) and
        C(clusters) globs (any of them matches, all of those given with C(andOperator)), C(manualSync),
        C(description), C(syncOverrun) (a sync is checked once, when it starts, and a window never stops a sync that
        runs, whatever its value). As in Argo CD, an active deny window blocks; otherwise an active allow window lets
        the sync run; otherwise matching allow windows that are all inactive block. With C(manualSync) on every
        blocking window, a manual sync passes: a task given O(only) (the applications selected by name) is manual.
        M(gitops.kubernetes.gitops_sync) then writes nothing for the blocked application; it reports its drift and
        C(sync_skipped) with the windows, and does not fail. A malformed window fails the task before anything is
        written."
      - "C(orphanedResources) (C(warn), C(ignore) entries of C(group), C(kind), C(name) globs): M(gitops.kubernetes.gitops_sync)
        lists the top-level objects of the destination namespace that no application owns in C(orphaned_resources);
        with C(warn: true) also as a warning."
      - Refused by name when they ask for anything, because they would change what is deployed and are not done here
        C(signatureKeys), C(sourceNamespaces), C(destinationServiceAccounts), C(permitOnlyProjectScopedClusters).
        C(roles) (who may use the project in Argo CD's API) and C(description) are accepted and have no effect; who
        may run a job is decided by AWX.
    type: list
    elements: raw
  cluster:
    description:
      - The cluster of this task, as an Argo CD cluster Secret names one. An application whose C(destination.server)
        is O(cluster.server) or whose C(destination.name) is O(cluster.name) is handled here; the in-cluster
        destination (C(https://kubernetes.default.svc), C(in-cluster), or none) means this cluster. The others are not
        touched and are listed in C(other_clusters), so a list of applications can be given once for several hosts.
      - With O(application) alone, an application for another cluster is an error.
    type: dict
    suboptions:
      name:
        description: The cluster's name. Unset, only the in-cluster name and the server match.
        type: str
      server:
        description:
          - The cluster's API server URL, compared without a trailing C(/), scheme and host case-insensitive.
          - Defaults to the server of the kubeconfig context (or O(host)).
        type: str
"""
