# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The application spec and cache options, shared by gitops_render, gitops_diff and gitops_sync.

Private to the collection. Mirrored by APPLICATION_ARGUMENT_SPEC in
plugins/module_utils/_spec.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  application:
    description:
      - The application to render, in one of two forms, both parsed by the same strict parser. An unknown or
        unsupported key fails the task before any Git or cluster work, naming the application and the key;
        nothing is silently ignored.
      - "B(This collection's spec), a dictionary with these keys:"
      - "C(name) (required): the application name, unique per cluster (a DNS subdomain: lowercase letters,
        digits, C(-) and C(.)). It identifies the application's inventory and is Helm's default release name."
      - "C(source.repo_url) (required): the Git repository: C(https://host/org/repo.git), C(ssh://git@host/org/repo.git),
        C(git@host:org/repo.git), C(file:///path) or a local path. Credentials embedded in an https URL are
        taken out of it and handled like C(source.username) and C(source.password)."
      - "C(source.revision) (default C(HEAD)): a branch, a tag, a full or abbreviated commit SHA, C(HEAD), or a
        full ref such as C(refs/pull/1/head). A tag that matches a branch name wins, as in git. Branches, tags and
        C(HEAD) are resolved against the remote on every run (one C(git ls-remote) per repository and task), so a
        tag moved with C(git tag -f) is followed like a branch; a commit SHA already in the cache needs no network."
      - "Git submodules are checked out at the commits the repository pins, recursively, as Argo CD does; a
        relative submodule URL is resolved against the parent's URL. A submodule gets the parent's SSH settings,
        and its HTTPS credentials only on the same scheme, host and port. A C(file://) or local-path submodule is
        only fetched below a local repository. A submodule that cannot be fetched fails the render, naming its
        path and URL, so nothing is applied or pruned."
      - "C(source.path) (default C(.)): the directory inside the repository. It must stay inside the repository:
        absolute paths, C(..) that leaves it and symlinks that point outside the checkout are refused."
      - "C(source.directory): C(recurse) (default V(false)), C(include) (default C(*.{yaml,yml,json,jsonnet})) and
        C(exclude) (default empty) globs, matched against the path relative to C(source.path) with Argo CD's
        semantics (C(*) also matches C(/), C({a,b}) alternatives). C(.yaml), C(.yml) and C(.json) files are read,
        C(.jsonnet) files evaluated with go-jsonnet (the C(gojsonnet) Python package) to an object or an array of
        objects (Lists expanded); C(.libsonnet) files are only imported."
      - "C(source.directory.jsonnet): C(tlas) and C(ext_vars) (lists of C(name), C(value) and C(code); with
        C(code=true) the value is Jsonnet code, else a string; Argo CD's build environment such as
        C($ARGOCD_APP_NAME), C($ARGOCD_APP_NAMESPACE), C($ARGOCD_APP_REVISION) is substituted into the values) and
        C(libs) (import search paths relative to the repository root). Imports are searched next to the importing
        file, then in the libs (the last first) and the application path, and may not leave the repository.
        An evaluation error names the file and line."
      - "C(source.kustomize): C(images) (as C(kustomize edit set image) takes them), C(name_prefix),
        C(name_suffix), C(namespace), C(common_labels), C(common_annotations), C(force_common_labels) and
        C(force_common_annotations) (without them a label or annotation the kustomization itself sets is an error, as
        C(kustomize edit add) says), C(label_without_selector) (labels that do not touch selectors), C(replicas)
        (a list of C(name), C(count)), C(components) (paths relative to the kustomization) and C(patches) (a list of
        C(path) or C(patch) with an optional C(target) and C(options), appended to the kustomization's own). They are
        applied as Argo CD applies them, to a private copy of the checkout, never to the repository or the cache.
        A kustomization's own C(helmCharts) are inflated with the helm binary (C(--enable-helm)); a chart pulled from
        a C(repo) needs C(source.allow_remote_bases)."
      - "C(source.helm): C(release_name) (default: the application name), C(value_files) (relative to the chart,
        inside the repository, or C($ref/path) in the checkout of the source named C(ref)), C(values) (a dictionary,
        or a YAML string as in Argo CD), C(parameters) (a list of C(name), C(value), C(force_string), passed as
        C(--set) or C(--set-string)), C(file_parameters) (a list of C(name), C(path): the file's content becomes the
        value, as C(--set-file)), C(ignore_missing_value_files) (default V(false): a missing value file is an error),
        C(namespace) (what the chart sees as C(.Release.Namespace); default the destination namespace),
        C(version) (only C(v3)), C(skip_crds) (default V(false): CRDs from the chart's C(crds/) are rendered),
        C(skip_tests) (leave out the chart's test hooks), C(skip_schema_validation), C(kube_version),
        C(api_versions)."
      - "C(sources) instead of C(source): a list of sources (the keys above, plus C(ref) and C(name)) whose objects
        form one application, as Argo CD's C(spec.sources). Each is resolved, rendered and cached on its own. A
        source with C(ref) lends its checkout to the other sources' C(helm.value_files) and C(helm.file_parameters)
        as C($ref/path); without a C(path) it renders nothing itself. A C($name) that names no C(ref) source, and
        one object produced by two sources, are errors naming the application and the sources. C(revision) in the
        results is the first source's commit, C(revisions) every source's."
      - "The renderer is detected from C(source.path): a C(kustomization.yaml), C(kustomization.yml) or
        C(Kustomization) file means kustomize, a C(Chart.yaml) means Helm, anything else a directory of plain
        manifests. Giving exactly one of C(source.directory), C(source.kustomize), C(source.helm) (even empty,
        C({})) chooses that renderer instead; giving several is an error."
      - "C(source.allow_remote_bases) (default V(false)): allow kustomize resources from remote URLs. They are not
        pinned by the commit, so such renders are never cached."
      - "C(source.username), C(source.password): HTTPS credentials (a password or a token). C(source.ssh_private_key_file),
        C(source.ssh_known_hosts_file), C(source.ssh_strict_host_key_checking) (default V(true)): SSH access.
        Credentials are passed to git through its environment only and never appear in results, messages or logs;
        repository URLs are always shown without them."
      - "C(destination.namespace): the namespace for namespaced objects that do not name one (and Helm's
        C(--namespace)). The cluster itself comes from the Ansible inventory host (its kubeconfig and context),
        never from the application."
      - "C(sync_policy): C(prune), C(allow_empty), C(create_namespace), C(prune_last), C(replace)
        (all default V(false)) and C(prune_propagation_policy) (C(foreground), C(background) or C(orphan))."
      - "C(ignore_differences): a list of C(group), C(kind) (required), C(name), C(namespace) and at least one of
        C(json_pointers), C(jq_path_expressions), C(managed_fields_managers)."
      - "B(An Argo CD Application manifest) (C(apiVersion: argoproj.io/v1alpha1), C(kind: Application)), mapped
        to the spec above: C(metadata.name); C(spec.source) or C(spec.sources) (each with C(repoURL),
        C(targetRevision), C(path), and in C(spec.sources) C(ref) and C(name)), C(directory) (C(recurse), C(include),
        C(exclude), C(jsonnet) with C(tlas), C(extVars), C(libs)), C(kustomize) (C(images), C(namePrefix),
        C(nameSuffix), C(namespace), C(commonLabels), C(commonAnnotations), C(forceCommonLabels),
        C(forceCommonAnnotations), C(labelWithoutSelector), C(replicas), C(components), C(patches)), C(helm)
        (C(releaseName), C(valueFiles), C(values), C(valuesObject), C(parameters), C(fileParameters),
        C(ignoreMissingValueFiles), C(namespace), C(version), C(skipCrds), C(skipTests), C(skipSchemaValidation),
        C(kubeVersion), C(apiVersions)); C(spec.destination.namespace);
        C(spec.syncPolicy.automated) (C(prune), C(allowEmpty); C(selfHeal) is accepted since every sync corrects
        drift); C(spec.syncPolicy.syncOptions) C(CreateNamespace), C(PruneLast), C(Replace),
        C(PrunePropagationPolicy), and C(ServerSideApply=true), C(ApplyOutOfSyncOnly=true) which the collection
        always does; C(spec.ignoreDifferences)."
      - "C(spec.destination.server) and C(spec.destination.name) are accepted only when they name the in-cluster
        default (C(https://kubernetes.default.svc), C(in-cluster)): the cluster comes from the inventory. C(spec.project)
        must be C(default). C(spec.source.chart), C(spec.source.plugin), C(helm.version=v2),
        C(syncPolicy.retry) and every other field are refused with an error naming them. Other C(metadata) fields and
        C(status) do not change what is deployed and are ignored."
    type: dict
    required: true
  cache_dir:
    description:
      - Directory for the Git mirrors (one bare mirror per repository URL) and the render cache (rendered objects
        per commit, path and render options).
      - Safe to share between concurrent runs (a file lock per repository). Rendered objects, Secrets included,
        are stored there as they are in Git, so keep it private (the collection creates it with mode C(0700)).
      - Defaults to E(GITOPS_CACHE_DIR), else C($XDG_CACHE_HOME/gitops-kubernetes), else C(~/.cache/gitops-kubernetes).
    type: path
requirements:
  - GitPython >= 3.1.40
  - git (the command)
  - helm 3 for Helm charts, kustomize 5 for kustomizations (on E(PATH))
  - gojsonnet (Python, the Go implementation of Jsonnet) for C(.jsonnet) files
"""
