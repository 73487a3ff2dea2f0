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
      - "C(source.chart): a Helm chart from a chart repository or an OCI registry instead of Git. C(source.repo_url) is
        then an C(https://) (or C(http://)) chart repository, an C(oci://host/path) registry, or Argo CD's scheme-less
        C(host/path), which means OCI; C(source.revision) (required) is an exact chart version or a constraint with
        Helm's semantics (C(1.2.*), C(~1.2), C(^1.2), C(>=1.0.0 <2.0.0), C(*), alternatives with C(||); prereleases
        only when the constraint names one), resolved to the highest matching version from the repository's
        C(index.yaml) or the registry's tags, once per repository and task. The archive is checked against its
        sha256 digest and cached, so a pinned version already cached needs no network request. The revision
        returned and recorded is C(<version>@sha256:<archive digest>). C(source.path), C(source.directory),
        C(source.kustomize) and the SSH options do not apply and are refused; C(source.helm) options apply, its
        value files naming files of the chart. Credentials come from the O(repositories) option, or
        C(source.username) and C(source.password)."
      - "Chart dependencies (C(Chart.yaml) C(dependencies) or C(requirements.yaml)) not vendored under C(charts/)
        are fetched at render time from C(https://) chart repositories and C(oci://) registries with
        C(helm dependency build) (honouring C(Chart.lock)), for charts in Git and from repositories alike, with the
        credentials of O(repositories); the build of an unchanged chart is cached. A dependency that cannot be
        fetched fails the render, naming C(Chart.yaml)."
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
        C(api_versions), C(pass_credentials) (default V(false): a chart archive on another host than its repository
        gets no credentials), C(lookup) (default V(false): Helm's C(lookup) finds nothing, as in Helm's C(template)
        and Argo CD; V(true): it reads live objects of the destination cluster with the run's own connection, see
        below)."
      - "Helm C(lookup): with C(helm.lookup) (or the Argo CD annotation below) the chart is rendered with
        C(helm template --dry-run=server), so C(lookup) reads the cluster of the module's connection options with
        that identity and nothing more (Helm gets a private kubeconfig file of mode C(0600) holding only that
        connection, removed after the render; Helm's own E(HELM_KUBETOKEN)-like variables are not honoured);
        everything else stays a client-side render. Such a render is never taken from or written to the render
        cache, since live objects can change. A lookup the identity may not perform fails the render, naming the
        object and the verb, so nothing is applied or pruned."
      - "C(sources) instead of C(source): a list of sources (the keys above, plus C(ref) and C(name)) whose objects
        form one application, as Argo CD's C(spec.sources). Each is resolved, rendered and cached on its own. A
        source with C(ref) lends its checkout to the other sources' C(helm.value_files) and C(helm.file_parameters)
        as C($ref/path); without a C(path) it renders nothing itself. A C($name) that names no C(ref) source, and
        one object produced by two sources, are errors naming the application and the sources. C(revision) in the
        results is the first source's revision, C(revisions) every source's."
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
      - "C(sync_policy): C(prune), C(allow_empty), C(create_namespace), C(prune_last), C(replace), C(force)
        (all default V(false)) and C(prune_propagation_policy) (C(foreground), C(background) or C(orphan)).
        C(replace) and C(force) are Argo CD's C(Replace=true) and C(Force=true) for every object (see
        M(gitops.kubernetes.gitops_sync))."
      - "C(sync_policy.automated) (default V(true)): V(false) makes a manual application - a run of
        M(gitops.kubernetes.gitops_sync) reports its drift (as check mode does) and writes nothing, unless
        O(gitops.kubernetes.gitops_sync#module:manual_sync) is set (the role sets it when C(gitops_only) selects
        applications), which is pressing Sync. C(sync_policy.self_heal) (default V(true)): V(false) syncs only
        when the desired state changed since the last sync attempted (a new commit, or a change of the spec), so a
        live edit is reported and kept until then. Our spec keeps automated with self-heal as its default, which is
        what it always did; Argo CD manifests follow Argo CD (see below)."
      - "C(sync_policy.retry): C(limit) (retries after the first attempt; V(0) none, V(-1) until C(wait_timeout)
        is used up), C(backoff) with C(duration) (default V(5s)), C(factor) (default V(2)) and C(max_duration)
        (default V(3m)) - a number of seconds or a duration such as V(30s), V(3m), V(1h30m). A failed attempt is
        attempted again after C(duration * factor^n) seconds (at most C(max_duration)); retrying stops at the
        limit or when the next attempt would start more than C(wait_timeout) seconds after the first. Invalid values
        fail before anything is written."
      - "C(revision_history_limit) (default V(10)): how many syncs the application's inventory keeps in its history."
      - "C(sync_policy.managed_namespace_metadata): C(labels) and C(annotations) of the destination namespace
        when C(create_namespace) is set (applied when it is created, and again when they are missing or changed),
        unless the application holds that Namespace itself."
      - "C(sync_policy.skip_dry_run_on_missing_resource), C(fail_on_shared_resource), C(respect_ignore_differences)
        (default V(false)), C(validate) (default V(true)), C(object_prune) and C(object_delete) (V(true),
        V(false) or V(confirm): the C(Prune=)/C(Delete=) sync option of objects that carry none): as Argo CD's
        sync options of the same names."
      - "C(info): a list of C(name) and C(value), shown in the module's result (Argo CD's C(spec.info));
        it changes nothing deployed."
      - "C(depends_on): names of applications of the same run that must be synced and V(Healthy) before
        M(gitops.kubernetes.gitops_sync) starts this one (see its description). Not part of Argo CD; an Argo CD
        manifest gives it as the annotation C(gitops.kubernetes/depends-on) (comma-separated names). An application
        cannot depend on itself; invalid names are refused."
      - "C(ignore_differences): a list of C(group), C(kind) (required), C(name), C(namespace) and at least one of
        C(json_pointers), C(jq_path_expressions), C(managed_fields_managers)."
      - "C(finalizers): Argo CD's deletion finalizer, C(resources-finalizer.argocd.argoproj.io) (or its
        C(/foreground) or C(/background) form): deleting the application (C(state=absent) of
        M(gitops.kubernetes.gitops_sync) with C(cascade=finalizer), or the role's C(gitops_owner)) deletes its
        resources; recorded on the inventory at every sync. Any other finalizer is refused."
      - "B(An Argo CD Application manifest) (C(apiVersion: argoproj.io/v1alpha1), C(kind: Application)), mapped
        to the spec above: C(metadata.name); C(spec.source) or C(spec.sources) (each with C(repoURL),
        C(targetRevision), C(path), C(chart) (see C(source.chart)), and in C(spec.sources) C(ref) and C(name)),
        C(directory) (C(recurse), C(include), C(exclude), C(jsonnet) with C(tlas), C(extVars), C(libs)), C(kustomize)
        (C(images), C(namePrefix), C(nameSuffix), C(namespace), C(commonLabels), C(commonAnnotations),
        C(forceCommonLabels), C(forceCommonAnnotations), C(labelWithoutSelector), C(replicas), C(components),
        C(patches)), C(helm) (C(releaseName), C(valueFiles), C(values), C(valuesObject), C(parameters),
        C(fileParameters), C(ignoreMissingValueFiles), C(namespace), C(version), C(skipCrds), C(skipTests),
        C(skipSchemaValidation), C(kubeVersion), C(apiVersions), C(passCredentials));
        C(spec.destination) (C(namespace); C(server) or C(name) pick the inventory cluster, see the C(cluster) option);
        C(spec.project) (an AppProject of the C(projects) option, or C(default));
        C(spec.syncPolicy.automated) (C(prune), C(allowEmpty), C(selfHeal), C(enabled)): without C(automated), or
        with C(enabled: false), the application is manual; C(selfHeal) defaults to V(false) as in Argo CD;
        C(spec.syncPolicy.retry) (C(limit), C(backoff.duration), C(backoff.factor), C(backoff.maxDuration));
        C(spec.syncPolicy.managedNamespaceMetadata); C(spec.revisionHistoryLimit); C(spec.info);
        C(spec.syncPolicy.syncOptions) C(CreateNamespace), C(PruneLast), C(Replace), C(PrunePropagationPolicy),
        C(SkipDryRunOnMissingResource), C(FailOnSharedResource), C(RespectIgnoreDifferences), C(Validate),
        C(Prune) (V(true), V(false), V(confirm)), C(Delete), C(ServerSideApply=true) and C(ApplyOutOfSyncOnly)
        (every object is server-side applied, and only objects out of sync are - applying one already in sync
        would change nothing, so V(false) means the same); C(spec.ignoreDifferences)."
      - "C(spec.source.plugin), C(helm.version=v2), C(ServerSideApply=false), C(ClientSideApplyMigration),
        C(retry.refresh) and every other field are refused with an error naming them and saying why.
        C(metadata.finalizers) means what C(finalizers) above means (Argo CD's C(pre-delete-finalizer) and
        C(post-delete-finalizer) are refused: those hooks are not run). The annotation
        C(gitops.kubernetes/helm-lookup) (V(\"true\") or V(\"false\")) turns Helm C(lookup) on for every Helm
        source of the application (C(helm.lookup) above); on an application none of whose sources is a Helm chart it
        is an error. The annotation C(gitops.kubernetes/depends-on) is C(depends_on) above. Other C(metadata) fields
        and C(status) do not change what is deployed and are ignored."
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
