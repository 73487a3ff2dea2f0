#!/usr/bin/python
# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gitops_applicationset
short_description: Generate applications from a list or from the directories of a Git repository, and select them
version_added: 0.1.0
author:
  - gitops.kubernetes maintainers (@gitops-kubernetes)
description:
  - Does for an Ansible run what Argo CD's ApplicationSet does for Argo CD. It returns application specs that
    M(gitops.kubernetes.gitops_sync), M(gitops.kubernetes.gitops_diff) and M(gitops.kubernetes.gitops_render)
    take in their C(applications) option.
  - The applications are O(applications) as given, then those of every generator in O(generators), in order,
    filtered by O(only) and O(skip). Application names must be unique over all of them.
  - O(applications) are not copied into the result, since they may carry Git credentials and task results are
    printed and stored; RV(explicit) gives the indexes of the selected ones.
  - For the same reason RV(generated) shows Helm values (C(values), C(valuesObject), C(parameters) values) masked,
    so it lists what would be synced but cannot be synced itself. To sync or diff generated applications, give
    the same O(generators), O(only) and O(skip) to M(gitops.kubernetes.gitops_sync) or
    M(gitops.kubernetes.gitops_diff), which generate them in the task with the real values, as the role
    C(gitops.kubernetes.applications) does.
  - "B(list generator): C(template) is part of an application spec; each entry of C(elements) is deep-merged over it
    (mappings merge key by key, anything else replaces), so an element only says what differs, for example its
    C(name), C(source.path) and C(destination.namespace)."
  - "B(git generator): the directories of C(repo_url) at C(revision) that match a C(directories) glob (C(*), C(?),
    C([...]); a C(*) never crosses a C(/), as in Argo CD; entries with C(exclude: true) remove matches; hidden
    directories are skipped) each become an application named after the directory (lowercased, characters other than
    letters, digits, C(-) and C(.) replaced by C(-)), with C(source.path) the directory, C(source.repo_url) the
    repository, C(source.revision) the commit the directory was found at (so the list and the render agree) and
    C(destination.namespace) the application name unless the C(template) sets one. The C(template) adds everything
    else (sync policy, Helm or Kustomize options, ignore rules)."
  - The repository is read through the same cached mirror as every render (see O(cache_dir)). Only SSH keys
    (C(ssh_private_key_file), C(ssh_known_hosts_file), C(ssh_strict_host_key_checking)) or credential-free URLs are
    accepted in generators; HTTPS usernames and passwords are refused because the generated specs, which are task
    results, would carry them. Such applications belong in O(applications).
  - Every generated application is checked by the application spec parser; an invalid one fails the task, naming the
    generator and the element or directory.
  - "B(ApplicationSet manifests) (O(applicationsets)) are read unchanged: generators C(list) (C(elements),
    C(elementsYaml)), C(clusters) (the inventory's clusters, see O(clusters); C(selector), C(values)), C(git)
    (C(directories) with C(exclude), C(files) in JSON or YAML, C(pathParamPrefix), C(values)), C(matrix) (two
    generators; the second sees the first's parameters) and C(merge) (C(mergeKeys)); a generator's own C(template)
    and C(selector); C(templatePatch)."
  - "With C(goTemplate: true) templates are Go C(text/template) with Sprig, evaluated exactly as Argo CD does by the
    C(gitops-gotemplate) helper (built by C(make tools) from C(hack/tools/gotemplate), shipped in the execution
    environment): Argo CD's function set (Sprig without C(env), C(expandenv), C(getHostByName); plus C(normalize),
    C(toYaml), C(fromYaml), C(fromYamlArray)) and C(goTemplateOptions) such as C(missingkey=error). C(slugify) is
    refused. Without it, Argo CD's fasttemplate form (C({{path.basename}}), C({{path[1]}})): a tag naming no
    parameter is left as written."
  - "An Application's destination chooses its cluster: the inventory cluster whose C(name) or C(server) it names;
    C(in-cluster), C(https://kubernetes.default.svc) or no cluster means the host that lists the ApplicationSet.
    Applications of other clusters are left out here and listed in RV(applicationsets). Unlike Argo CD there is no
    implicit C(in-cluster) entry in the C(clusters) generator: every cluster is an inventory host."
  - "Not supported, refused by name: the C(scmProvider), C(pullRequest), C(clusterDecisionResource) and C(plugin)
    generators, C(strategy) other than C(AllAtOnce), C(ignoreApplicationDifferences), C(preservedFields),
    C(clusters.flatList), a C(template) inside a C(matrix) or C(merge) child (Argo CD ignores it)."
  - "C(applicationsSync: create-only) and C(create-delete) never update an application once created, as in Argo CD:
    M(gitops.kubernetes.gitops_sync) records the generated Application on the application's inventory ConfigMap at
    its first sync and syncs that record afterwards, reporting where the newly generated one differs (RV(generated)
    here are always the generated ones; this module does not read the cluster)."
  - "This module writes nothing. An application a set stops generating is deleted by
    M(gitops.kubernetes.gitops_sync) (given the same ApplicationSets) under C(applicationsSync) C(sync) and
    C(create-delete), with its objects unless the set has C(preserveResourcesOnDeletion: true); under C(create-only)
    and C(create-update) it stays. RV(applicationsets) says which applications each set generates, and their
    inventories are labelled C(gitops.kubernetes/applicationset)."
  - Never changes anything; RV(ignore:changed) is always V(false).
attributes:
  check_mode:
    support: full
    description: Reads Git only, so it runs the same in check mode (the applications are needed for the drift report).
  diff_mode:
    support: none
    description: Nothing it does has a before and after to show.
options:
  applications:
    description:
      - Applications given explicitly, each an application spec or an Argo CD Application manifest (see
        M(gitops.kubernetes.gitops_sync)). Passed through unchanged; they are checked by the module that uses them.
    type: list
    elements: dict
    default: []
  generators:
    description:
      - Generators, each a mapping with exactly one key, C(list) or C(git).
      - "C(list): C(template) (a mapping, part of an application spec) and C(elements) (a non-empty list of mappings,
        each deep-merged over the template)."
      - "C(git): C(repo_url) (required), C(revision) (default C(HEAD)), C(directories) (required, a list of C(path)
        globs relative to the repository root and optional C(exclude: true)), C(template), and the SSH options
        C(ssh_private_key_file), C(ssh_known_hosts_file), C(ssh_strict_host_key_checking)."
    type: list
    elements: dict
    default: []
  applicationsets:
    description:
      - Argo CD C(ApplicationSet) manifests (C(apiVersion) C(argoproj.io/v1alpha1)), unchanged. Their applications
        come after those of O(generators). Git repositories are read at their C(revision) through the cached mirrors
        (credential-free URLs or SSH set up for git). Ansible evaluates C({{ }}) in task arguments and variables,
        so mark such manifests C(!unsafe) in YAML, or use O(applicationset_files).
    type: list
    elements: dict
    default: []
    version_added: 0.2.0
  applicationset_files:
    description:
      - Files (on the controller) holding ApplicationSet manifests, several per file as C(---) separated YAML
        documents, as Argo CD users keep them. Ansible templates C({{ }}) in task arguments and variables, so
        ApplicationSet templates given in O(applicationsets) must be marked C(!unsafe) in YAML variables; files
        are read by the module and need nothing of the kind.
    type: list
    elements: path
    default: []
    version_added: 0.2.0
  clusters:
    description:
      - The clusters the C(clusters) generator iterates and destinations are matched against, each C(name)
        (required), C(server), C(labels) and C(annotations) (Argo CD's cluster Secret fields). The role
        C(gitops.kubernetes.applications) passes one per inventory host, from C(gitops_cluster_name),
        C(gitops_cluster_server) (default the server of the host's connection, see the filter
        P(gitops.kubernetes.cluster_server#filter)), C(gitops_cluster_labels) and C(gitops_cluster_annotations).
    type: list
    elements: dict
    default: []
    version_added: 0.2.0
  cluster:
    description:
      - The cluster this task works for, as in gitops_sync. Its C(name) (in O(clusters)) decides which generated
        applications are kept; those whose destination is another cluster are left out. Unset, every destination
        found in O(clusters) is kept.
    type: dict
    version_added: 0.2.0
    suboptions:
      name:
        description: The cluster's name in O(clusters).
        type: str
      server:
        description: The cluster's API server URL (accepted so the same value serves every module).
        type: str
  only:
    description:
      - Keep only the applications whose name matches one of these glob patterns. Empty keeps all.
      - A pattern that matches no application at all is reported as a warning (a typo selects nothing).
    type: list
    elements: str
    default: []
  skip:
    description: Leave out the applications whose name matches one of these glob patterns (after O(only)).
    type: list
    elements: str
    default: []
  cache_dir:
    description:
      - Directory for the Git mirrors, shared with the other modules.
      - Defaults to E(GITOPS_CACHE_DIR), else C($XDG_CACHE_HOME/gitops-kubernetes), else C(~/.cache/gitops-kubernetes).
    type: path
  preview_revision:
    description:
      - Generate as a preview of this revision would (see O(gitops.kubernetes.gitops_diff#module:preview_revision));
        git generators that read O(preview_repo) (without it, every git generator) read this revision instead of
        their own, so the applications a branch adds or removes are in the result.
    type: str
  preview_repo:
    description:
      - The repository O(preview_revision) belongs to, matched after normalisation; requires O(preview_revision).
    type: str
requirements:
  - GitPython >= 3.1.40 and git (for the git generator)
  - PyYAML
seealso:
  - module: gitops.kubernetes.gitops_sync
  - name: Argo CD ApplicationSet generators
    description: The list and Git directory generators this module follows.
    link: https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Generators/
"""

EXAMPLES = r"""
- name: One application per team, from a template
  gitops.kubernetes.gitops_applicationset:
    generators:
      - list:
          template:
            source:
              repo_url: https://git.example.org/platform/apps.git
              revision: main
            sync_policy:
              prune: true
              create_namespace: true
          elements:
            - name: team-a
              source: {path: teams/a}
              destination: {namespace: team-a}
            - name: team-b
              source: {path: teams/b, revision: v2.1.0}
              destination: {namespace: team-b}
  register: generated

- name: Every directory under apps/ is an application, except the experiments
  gitops.kubernetes.gitops_applicationset:
    generators:
      - git:
          repo_url: git@git.example.org:platform/apps.git
          ssh_private_key_file: ~/.ssh/deploy_key
          revision: main
          directories:
            - path: apps/*
            - path: apps/experiment-*
              exclude: true
          template:
            sync_policy:
              prune: true
              create_namespace: true
    skip:
      - legacy-*
  register: generated

- name: Sync them all in one task (generated there again, with the Helm values the result above masks)
  gitops.kubernetes.gitops_sync:
    generators:
      - git:
          repo_url: git@git.example.org:platform/apps.git
          ssh_private_key_file: ~/.ssh/deploy_key
          revision: main
          directories:
            - path: apps/*
            - path: apps/experiment-*
              exclude: true
          template:
            sync_policy:
              prune: true
              create_namespace: true
    skip:
      - legacy-*
"""

RETURN = r"""
explicit:
  description: Indexes into O(applications) of the selected explicit applications, in order.
  returned: always
  type: list
  elements: int
  sample: [0, 2]
generated:
  description:
    - The selected generated application specs, in generator order, with Helm values and parameter values masked
      (keys kept).
  returned: always
  type: list
  elements: dict
names:
  description: Names of every selected application, explicit ones first, then generated ones.
  returned: always
  type: list
  elements: str
  sample: [guestbook, team-a, team-b]
excluded:
  description: Names of applications left out by O(only) and O(skip).
  returned: always
  type: list
  elements: str
  sample: [legacy-billing]
applicationsets:
  description:
    - Per ApplicationSet name, C(generated) (names of the applications for this cluster), C(elsewhere) (names it
      generates for other inventory clusters), C(preserve_resources_on_deletion) and C(applications_sync).
  returned: always
  type: dict
  sample: {"guestbook": {"generated": ["dev-guestbook"], "elsewhere": ["prod-guestbook"],
           "preserve_resources_on_deletion": false, "applications_sync": "sync"}}
revisions:
  description: For each git generator's repository (shown without credentials), the commit its directories were read at.
  returned: always
  type: dict
  sample: {"https://git.example.org/platform/apps.git": 9f1c2d3e4b5a69788796a5b4c3d2e1f001122334}
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule

from ansible_collections.gitops.kubernetes.plugins.module_utils._clusters import CLUSTER_ARGUMENT_SPEC, cluster_name
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import masked_applicationset, masked_generator
from ansible_collections.gitops.kubernetes.plugins.module_utils._preview import PREVIEW_ARGUMENT_SPEC, PreviewOverride
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import GIT_IMPORT_ERROR, HAS_GIT, default_cache_dir
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import mask_helm_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import credential_values

try:
    # parsing specs needs PyYAML (through _spec's helpers); reported with missing_required_lib below
    from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import generate_applications

    HAS_GENERATE = True
    GENERATE_IMPORT_ERROR = None
except ImportError:
    import traceback

    HAS_GENERATE = False
    GENERATE_IMPORT_ERROR = traceback.format_exc()


def argument_spec() -> dict[str, Any]:
    return {
        "applications": {"type": "list", "elements": "dict", "default": []},
        "generators": {"type": "list", "elements": "dict", "default": []},
        "only": {"type": "list", "elements": "str", "default": []},
        "skip": {"type": "list", "elements": "str", "default": []},
        "cache_dir": {"type": "path"},
        "applicationsets": {"type": "list", "elements": "dict", "default": []},
        "applicationset_files": {"type": "list", "elements": "path", "default": []},
        "clusters": {"type": "list", "elements": "dict", "default": []},
        **CLUSTER_ARGUMENT_SPEC,
        **PREVIEW_ARGUMENT_SPEC,
    }


def run_module(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    override = PreviewOverride.from_params(params)
    if override is not None:  # the generators of the preview repository read the preview revision
        params = override.params(params)
    generated = generate_applications(
        params["applications"], params["generators"], params["only"], params["skip"],
        cache_dir=params["cache_dir"] or default_cache_dir(),
        applicationsets=params["applicationsets"], clusters=params["clusters"], cluster=cluster_name(params),
        applicationset_files=params["applicationset_files"],
    )
    for pattern in generated.unmatched_only:
        module.warn(f"only: {pattern!r} matches no application")
    return {
        "changed": False,
        "explicit": generated.explicit,
        # task results are printed (-v) and stored: Helm values, where charts get their passwords, are masked
        "generated": [mask_helm_values(app) for app in generated.generated],
        "names": generated.names,
        "excluded": generated.excluded,
        "revisions": generated.revisions,
        "applicationsets": generated.applicationsets,
    }


def main() -> None:
    module = GitopsModule(argument_spec=argument_spec(), supports_check_mode=True)
    # explicit applications may carry Git credentials: keep them out of messages (they are passed through)
    for raw in module.params["applications"]:
        module.no_log_values.update(credential_values(raw))
    # -vvv echoes the arguments: Helm values often carry passwords
    invocation = {"module_args": {**module.params, "applications": [mask_helm_values(a) for a in module.params["applications"]],
                                  "generators": [masked_generator(g) for g in module.params["generators"]],
                                  "applicationsets": [masked_applicationset(a) for a in module.params["applicationsets"]]}}
    if not HAS_GENERATE:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=GENERATE_IMPORT_ERROR, invocation=invocation)
    if not HAS_GIT and (any("git" in (g or {}) for g in module.params["generators"]) or module.params["applicationsets"]
                        or module.params["applicationset_files"]):
        module.fail_json(msg=missing_required_lib("GitPython"), exception=GIT_IMPORT_ERROR, invocation=invocation)
    try:
        result = run_module(module)
    except GitopsError as exc:
        module.fail_json(msg=str(exc), invocation=invocation, **exc.to_result())
    module.exit_json(invocation=invocation, **result)


if __name__ == "__main__":
    main()
