# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The application spec: one parser shared by every module and the role.

`parse_application` accepts either our own spec (snake_case keys, see the
`application` option of the modules) or an Argo CD `Application` manifest and
returns the same typed `Application`. Validation is strict on purpose: an
unknown or unsupported key is a `SpecError` naming the application and the
key, raised before any Git or cluster work, so a typo never turns into a
silently different deployment.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

# argocd-cm's resource customizations are translated beside this file, in _argocd_cm
from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import (  # noqa: F401 pylint: disable=unused-import
    RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC,
    ResourceCustomizations,
    parse_resource_customizations,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError

ARGOCD_API_VERSION = "argoproj.io/v1alpha1"
# the only destination Argo CD calls "this cluster"; anything else is another cluster
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"
PROPAGATION_POLICIES = ("foreground", "background", "orphan")
# what an object without its own Prune/Delete sync option gets (Argo CD's application-level Prune=/Delete=)
OBJECT_DELETE_OPTIONS = ("true", "false", "confirm")
# Argo CD's defaults (RetryStrategy.NextRetryAt, revisionHistoryLimit)
RETRY_DURATION = 5.0
RETRY_FACTOR = 2
RETRY_MAX_DURATION = 180.0
HISTORY_LIMIT = 10
# Argo CD's deletion finalizers: deleting the application deletes its resources (cascade), foreground by default
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
DELETION_FINALIZERS = {
    RESOURCES_FINALIZER: "foreground",
    f"{RESOURCES_FINALIZER}/foreground": "foreground",
    f"{RESOURCES_FINALIZER}/background": "background",
}
_UNSUPPORTED_FINALIZERS = {
    "pre-delete-finalizer.argocd.argoproj.io": "PreDelete hooks are not run when an application is deleted",
    "post-delete-finalizer.argocd.argoproj.io": "PostDelete hooks are not run when an application is deleted",
}
RENDERERS = ("directory", "kustomize", "helm")
# on an Argo CD Application: "true" renders its Helm sources with lookup against the destination cluster
HELM_LOOKUP_ANNOTATION = "gitops.kubernetes/helm-lookup"
# our depends_on on an Argo CD Application manifest (Argo CD has no such field): a comma-separated list of names
DEPENDS_ON_ANNOTATION = "gitops.kubernetes/depends-on"

# metadata.name rules (RFC 1123 subdomain): the name becomes an object name (inventory parent)
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CHART_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")

# argument spec of the options documented in doc_fragments/_application.py; keep the two in step
APPLICATION_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "application": {"type": "dict", "required": True},
    "cache_dir": {"type": "path"},
}


@dataclass
class JsonnetVariable:
    """A top-level argument or external variable: a string, or Jsonnet code when code is true."""

    name: str
    value: str
    code: bool = False


@dataclass
class JsonnetOptions:
    """How the directory's .jsonnet files are evaluated (Argo CD's directory.jsonnet)."""

    tlas: list[JsonnetVariable] = field(default_factory=list)
    ext_vars: list[JsonnetVariable] = field(default_factory=list)
    libs: list[str] = field(default_factory=list)  # import search paths, repository-relative


@dataclass
class DirectoryOptions:
    """Plain manifests: which files of the directory are read."""

    recurse: bool = False
    # Argo CD glob semantics: '*' also matches '/', braces give alternatives
    include: str = "*.{yaml,yml,json,jsonnet}"
    exclude: str = ""
    jsonnet: JsonnetOptions = field(default_factory=JsonnetOptions)


@dataclass
class KustomizeOptions:
    """Overrides applied on top of the repository's kustomization (like Argo CD)."""

    images: list[str] = field(default_factory=list)
    name_prefix: str = ""
    name_suffix: str = ""
    namespace: str = ""
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    # without force, a label or annotation the kustomization already sets is an error (kustomize edit add)
    force_common_labels: bool = False
    force_common_annotations: bool = False
    label_without_selector: bool = False  # common_labels go to labels (no selectors), not commonLabels
    replicas: list[KustomizeReplica] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)  # appended to the kustomization's patches
    components: list[str] = field(default_factory=list)  # relative to the kustomization


@dataclass
class KustomizeReplica:
    name: str
    count: int


@dataclass
class HelmParameter:
    """One `--set` (or `--set-string` when force_string) parameter."""

    name: str
    value: str
    force_string: bool = False


@dataclass
class HelmFileParameter:
    """One `--set-file`: the content of a repository file (or `$ref/...`) becomes the value of name."""

    name: str
    path: str


@dataclass
class HelmOptions:
    """Arguments of `helm template`."""

    release_name: str = ""
    # relative to the chart, or `$ref/path` in the checkout of the source named ref
    value_files: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    parameters: list[HelmParameter] = field(default_factory=list)
    file_parameters: list[HelmFileParameter] = field(default_factory=list)
    ignore_missing_value_files: bool = False
    namespace: str = ""  # helm's --namespace; the destination namespace when empty
    skip_crds: bool = False
    skip_tests: bool = False
    skip_schema_validation: bool = False
    kube_version: str = ""
    api_versions: list[str] = field(default_factory=list)
    # send the chart repository's credentials to a chart archive on another host too (Helm's --pass-credentials)
    pass_credentials: bool = False
    # Helm's lookup reads the destination cluster with the run's identity (--dry-run=server); off, it finds nothing
    lookup: bool = False

    def referenced_sources(self) -> list[str]:
        """The ref names ($name/...) the value files and file parameters use, in order of first use."""
        names: list[str] = []
        for path in [*self.value_files, *(parameter.path for parameter in self.file_parameters)]:
            name = ref_name_of(path)
            if name and name not in names:
                names.append(name)
        return names


def ref_name_of(path: str) -> str:
    """'$values/a/b.yaml' -> 'values'; '' for a path in the source's own repository."""
    return path.split("/", 1)[0][1:] if path.startswith("$") else ""


@dataclass
class SourceSpec:
    """Where the manifests come from, and how to render them.

    With `chart`, repo_url is a Helm chart repository (http(s)://) or an OCI
    registry (oci://, the scheme-less form already made explicit), revision an
    exact chart version or a semver constraint, and path is unused.
    """

    repo_url: str
    revision: str = "HEAD"
    path: str = "."
    chart: str = ""
    directory: DirectoryOptions | None = None
    kustomize: KustomizeOptions | None = None
    helm: HelmOptions | None = None
    ssh_private_key_file: str = ""
    ssh_known_hosts_file: str = ""
    ssh_strict_host_key_checking: bool = True
    username: str = ""
    password: str = ""
    allow_remote_bases: bool = False
    # multi-source: ref lends this source's checkout to the others as $ref/...; a ref source without a
    # path only lends (renders nothing), as in Argo CD
    ref: str = ""
    ref_only: bool = False
    name: str = ""  # a label for messages (Argo CD's source name)

    def label(self, index: int) -> str:
        """How messages name this source: its position, and its name or ref when it has one."""
        given = self.name or (f"ref {self.ref}" if self.ref else "")
        return f"source {index + 1}" + (f" ({given})" if given else "")

    @property
    def renderer(self) -> str | None:
        """The renderer named by the spec, or None when it is detected from the path."""
        for name in RENDERERS:
            if getattr(self, name) is not None:
                return name
        return "helm" if self.chart else None


@dataclass
class Destination:
    """Where the objects go: a namespace, and the cluster (an inventory host) named by its server URL or name.

    Neither, or Argo CD's in-cluster server or name, means the cluster of the
    host the application is listed on.
    """

    namespace: str = ""
    server: str = ""
    name: str = ""

    @property
    def in_cluster(self) -> bool:
        return (not self.server and not self.name) or self.server.rstrip("/") == IN_CLUSTER_SERVER \
            or self.name == IN_CLUSTER_NAME


@dataclass
class RetryPolicy:
    """Argo CD's syncPolicy.retry: how often, and how long apart, a failed sync is attempted again in one run."""

    limit: int = 0  # retries after the first attempt; -1: until the run's time is up
    duration: float = RETRY_DURATION  # seconds before the first retry
    factor: int = RETRY_FACTOR  # each further wait is the previous one times factor
    max_duration: float = RETRY_MAX_DURATION  # no wait is longer (0: no cap)

    def wait_before(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry), as Argo CD computes it."""
        wait = self.duration * (self.factor ** retry)
        return min(wait, self.max_duration) if self.max_duration > 0 else wait

    def allows(self, retry: int) -> bool:
        """Whether retry number `retry` (0 for the first) is within the limit."""
        return self.limit < 0 or retry < self.limit


@dataclass
class SyncPolicy:
    prune: bool = False
    allow_empty: bool = False
    create_namespace: bool = False
    prune_last: bool = False
    # Replace=true: objects are written with a PUT of their whole manifest (kubectl replace) instead of applied
    replace: bool = False
    # every object Force=true (Argo CD's sync with --force): recreated with replace, or when a change needs it
    force: bool = False
    prune_propagation_policy: str = "foreground"
    # manual (False): scheduled runs only report drift; a sync needs the application selected by name
    automated: bool = True
    # False: live drift alone is reported, not reverted; a sync happens when Git or the spec changed
    self_heal: bool = True
    retry: RetryPolicy | None = None
    history_limit: int = HISTORY_LIMIT
    # labels/annotations of the destination namespace when create_namespace creates (or manages) it
    managed_namespace_labels: dict[str, str] = field(default_factory=dict)
    managed_namespace_annotations: dict[str, str] = field(default_factory=dict)
    # an object whose kind is not served yet is not dry-run (its CRD comes from elsewhere)
    skip_dry_run_on_missing_resource: bool = False
    # an object another application owns fails the sync without being claimed
    fail_on_shared_resource: bool = False
    # fields ignore_differences selects keep their live values when an object is applied
    respect_ignore_differences: bool = False
    # False: applied (and dry-run) with fieldValidation=Ignore, as kubectl apply --validate=false
    validate: bool = True
    # Prune=/Delete= for objects that carry no such sync option of their own
    object_prune: str = "true"
    object_delete: str = "true"


@dataclass
class IgnoreDifference:
    """Fields of matching objects that are not compared (Argo CD ignoreDifferences)."""

    group: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: list[str] = field(default_factory=list)
    jq_path_expressions: list[str] = field(default_factory=list)
    managed_fields_managers: list[str] = field(default_factory=list)


@dataclass
class Application:
    """One application. `source` is the first (primary) of `sources`: its revision and identity are the
    application's, as with a single source; every source renders and the objects form one application."""

    name: str
    source: SourceSpec
    # the AppProject whose rules, sync windows and orphaned resources settings apply
    project: str = "default"
    destination: Destination = field(default_factory=Destination)
    sync_policy: SyncPolicy = field(default_factory=SyncPolicy)
    ignore_differences: list[IgnoreDifference] = field(default_factory=list)
    # Argo CD's spec.info: name/value pairs shown with the application, never used to deploy
    info: list[dict[str, str]] = field(default_factory=list)
    # Argo CD's resources finalizer (one of DELETION_FINALIZERS): deleting the application deletes its resources
    finalizer: str | None = None
    # the sources after the first (spec.sources[1:]); a field of its own so dataclasses.replace(app, source=...) works
    more_sources: list[SourceSpec] = field(default_factory=list)
    # every Helm render of the application does lookup (the Argo CD annotation; our spec says it per source)
    helm_lookup: bool = False
    # applications of the same run that must be synced and Healthy before this one starts (see _sync.dependencies)
    depends_on: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[SourceSpec]:
        return [self.source, *self.more_sources]

    def lookup_wanted(self, source: SourceSpec) -> bool:
        """Whether a Helm render of this source reads the cluster for lookup (helm.lookup or the annotation)."""
        return self.helm_lookup or bool(source.helm and source.helm.lookup)

    @property
    def multi_source(self) -> bool:
        return len(self.sources) > 1


def deletion_cascade(finalizer: str | None) -> str:
    """How deleting an application with this finalizer treats its resources: foreground, background or orphan."""
    return DELETION_FINALIZERS.get(finalizer or "", "orphan")


def _finalizer(reader: "_Reader", key: str) -> str | None:
    """The application's deletion finalizer from a finalizers list; any other finalizer is refused by name."""
    found = None
    for value in reader.texts(key):
        if value in DELETION_FINALIZERS:
            if found is not None and found != value:
                reader.fail(f"{found!r} and {value!r} contradict each other: give one deletion finalizer", key)
            found = value
            continue
        base = value.split("/", 1)[0]
        reason = _UNSUPPORTED_FINALIZERS.get(base) or \
            f"only Argo CD's deletion finalizers are understood ({', '.join(sorted(DELETION_FINALIZERS))})"
        reader.fail(f"{value!r} is not supported: {reason}", key)
    return found


def credential_values(raw: Any) -> list[str]:
    """The secrets a raw (unparsed) spec carries, for a module's no_log_values.

    Works on anything, even a spec the parser will reject, so an error never
    echoes a password the user passed.
    """
    if not isinstance(raw, dict):
        return []
    spec = raw.get("spec") if isinstance(raw.get("spec"), dict) else {}
    found = []
    candidates = [raw.get("source"), spec.get("source")]
    for many in (raw.get("sources"), spec.get("sources")):
        candidates += many if isinstance(many, list) else []
    for source in candidates:
        if not isinstance(source, dict):
            continue
        for key in ("password",):
            if isinstance(source.get(key), str) and source[key]:
                found.append(source[key])
        for key in ("repo_url", "repoURL"):
            url = source.get(key)
            if isinstance(url, str) and "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
                userinfo = url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
                password = userinfo.partition(":")[2]
                found += [value for value in (password, unquote(password), userinfo) if value]
    return found


def parse_application(raw: Any) -> Application:
    """Parse our spec or an Argo CD Application manifest into an Application.

    Raises SpecError naming the application (when known) and the offending key.
    """
    if not isinstance(raw, dict):
        raise SpecError(f"the application must be a mapping, got {_type_name(raw)}")
    if "apiVersion" in raw or "kind" in raw:
        return _parse_argocd(raw)
    return _parse_ours(raw)


# -- our own spec -----------------------------------------------------------------------------------------


class _Reader:
    """Reads one mapping of the spec, remembering the key path for errors."""

    def __init__(self, raw: Any, where: str, app: str | None) -> None:
        self.where = where
        self.app = app
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.fail(f"must be a mapping, got {_type_name(raw)}")
        self.raw: dict[str, Any] = raw

    def fail(self, message: str, key: str | None = None) -> None:
        location = f"{self.where}.{key}" if key and self.where else (key or self.where)
        raise SpecError(f"{location}: {message}" if location else message, application=self.app)

    def only(self, allowed: tuple[str, ...], hint: dict[str, str] | None = None,
             when_empty: tuple[str, ...] = ()) -> None:
        """Fail on any key outside `allowed`; keys in `when_empty` pass only while they change nothing."""
        for key in self.raw:
            if key in when_empty and _is_empty(self.raw[key]):
                continue
            if key not in allowed:
                reason = (hint or {}).get(key) or f"unknown key (expected one of: {', '.join(allowed)})"
                self.fail(reason, str(key))

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.fail("is required", key)
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(f"must be a string, got {_type_name(value)}", key)
        return str(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        self.fail(f"must be a boolean, got {_type_name(value)}", key)
        return default

    def texts(self, key: str) -> list[str]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"must be a list of strings, got {_type_name(value)}", key)
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                self.fail(f"must be a list of strings, found {_type_name(item)}", key)
        return [str(item) for item in value]

    def text_map(self, key: str) -> dict[str, str]:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(f"must be a mapping of strings, got {_type_name(value)}", key)
        result = {}
        for item_key, item in value.items():
            if item is None or isinstance(item, (dict, list)):
                self.fail(f"value of {item_key!r} must be a string", key)
            result[str(item_key)] = _scalar_text(item)
        return result

    def child(self, key: str) -> "_Reader":
        return _Reader(self.raw.get(key), f"{self.where}.{key}" if self.where else key, self.app)

    def has(self, key: str) -> bool:
        return key in self.raw and self.raw[key] is not None

    def items(self, key: str) -> list["_Reader"]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"must be a list, got {_type_name(value)}", key)
        base = f"{self.where}.{key}" if self.where else key
        return [_Reader(item, f"{base}[{index}]", self.app) for index, item in enumerate(value)]


def _parse_ours(raw: dict[str, Any]) -> Application:
    app_name = raw.get("name") if isinstance(raw.get("name"), str) else None
    top = _Reader(raw, "", app_name)
    top.only(("name", "project", "source", "sources", "destination", "sync_policy", "ignore_differences",
              "revision_history_limit", "info", "finalizers", "depends_on"))
    name = _check_name(top, top.text("name", required=True), "name")
    if top.has("source") and top.has("sources"):
        top.fail("give either source or sources, not both", "sources")
    sources: list[SourceSpec] = []
    if top.has("sources"):
        sources = [_parse_our_source(item, many=True) for item in top.items("sources")]
    elif top.has("source"):
        sources = [_parse_our_source(top.child("source"), many=False)]
    else:
        top.fail("is required (or sources, a list of them)", "source")
    _check_sources(top, sources, "sources")

    destination = top.child("destination")
    destination.only(("namespace", "server", "name"))
    policy = top.child("sync_policy")
    policy.only(("prune", "allow_empty", "create_namespace", "prune_last", "replace", "force", "prune_propagation_policy",
                 "automated", "self_heal", "retry", "managed_namespace_metadata", "skip_dry_run_on_missing_resource",
                 "fail_on_shared_resource", "respect_ignore_differences", "validate", "object_prune", "object_delete"))
    # our spec always synced and reverted drift: automated with self-heal stays the default
    automated_on = policy.flag("automated", True)
    sync_policy = SyncPolicy(
        prune=policy.flag("prune"),
        allow_empty=policy.flag("allow_empty"),
        create_namespace=policy.flag("create_namespace"),
        prune_last=policy.flag("prune_last"),
        replace=policy.flag("replace"),
        force=policy.flag("force"),
        prune_propagation_policy=_propagation_policy(policy, policy.text("prune_propagation_policy", "foreground"),
                                                     "prune_propagation_policy"),
        automated=automated_on,
        self_heal=automated_on and policy.flag("self_heal", True),
        retry=_retry(policy.child("retry"), "max_duration") if policy.has("retry") else None,
        history_limit=_history_limit(top, "revision_history_limit"),
        skip_dry_run_on_missing_resource=policy.flag("skip_dry_run_on_missing_resource"),
        fail_on_shared_resource=policy.flag("fail_on_shared_resource"),
        respect_ignore_differences=policy.flag("respect_ignore_differences"),
        validate=policy.flag("validate", True),
        object_prune=_object_option(policy, "object_prune", policy.text("object_prune", "true")),
        object_delete=_object_option(policy, "object_delete", policy.text("object_delete", "true")),
    )
    _namespace_metadata(policy.child("managed_namespace_metadata"), sync_policy)
    ignores = []
    for item in top.items("ignore_differences"):
        item.only(("group", "kind", "name", "namespace", "json_pointers", "jq_path_expressions",
                   "managed_fields_managers"))
        ignores.append(_ignore_difference(item, "json_pointers", "jq_path_expressions", "managed_fields_managers"))
    return Application(
        name=name,
        project=_project(top),
        source=sources[0],
        more_sources=sources[1:],
        destination=_destination(destination),
        sync_policy=sync_policy,
        ignore_differences=ignores,
        info=_info(top, "info"),
        finalizer=_finalizer(top, "finalizers"),
        depends_on=dependency_names(top, top.texts("depends_on"), "depends_on", name),
    )


def _parse_our_source(source: _Reader, many: bool) -> SourceSpec:
    """One entry of source / sources in our spec (ref and name only in sources)."""
    source.only((
        "repo_url", "revision", "path", "chart", "directory", "kustomize", "helm",
        "ssh_private_key_file", "ssh_known_hosts_file", "ssh_strict_host_key_checking",
        "username", "password", "allow_remote_bases", *(("ref", "name") if many else ()),
    ), hint={} if many else {"ref": "a ref lends a source's files to the others: only meaningful in sources"})
    spec = SourceSpec(
        repo_url=source.text("repo_url", required=True),
        revision=source.text("revision", "HEAD") or "HEAD",
        path=source.text("path", ".") or ".",
        chart=source.text("chart"),
        ssh_private_key_file=source.text("ssh_private_key_file"),
        ssh_known_hosts_file=source.text("ssh_known_hosts_file"),
        ssh_strict_host_key_checking=source.flag("ssh_strict_host_key_checking", True),
        username=source.text("username"),
        password=source.text("password"),
        allow_remote_bases=source.flag("allow_remote_bases"),
        ref=source.text("ref"),
        name=source.text("name"),
    )
    spec.ref_only = bool(spec.ref) and not source.text("path")
    if source.has("directory"):
        directory = source.child("directory")
        directory.only(("recurse", "include", "exclude", "jsonnet"))
        spec.directory = DirectoryOptions(
            recurse=directory.flag("recurse"),
            include=directory.text("include", DirectoryOptions.include),
            exclude=directory.text("exclude"),
            jsonnet=_jsonnet_options(directory.child("jsonnet"), "ext_vars"),
        )
    if source.has("kustomize"):
        kustomize = source.child("kustomize")
        kustomize.only(("images", "name_prefix", "name_suffix", "namespace", "common_labels", "common_annotations",
                        "force_common_labels", "force_common_annotations", "label_without_selector", "replicas",
                        "patches", "components"))
        spec.kustomize = KustomizeOptions(
            images=kustomize.texts("images"),
            name_prefix=kustomize.text("name_prefix"),
            name_suffix=kustomize.text("name_suffix"),
            namespace=kustomize.text("namespace"),
            common_labels=kustomize.text_map("common_labels"),
            common_annotations=kustomize.text_map("common_annotations"),
            force_common_labels=kustomize.flag("force_common_labels"),
            force_common_annotations=kustomize.flag("force_common_annotations"),
            label_without_selector=kustomize.flag("label_without_selector"),
            replicas=_kustomize_replicas(kustomize),
            patches=_kustomize_patches(kustomize),
            components=kustomize.texts("components"),
        )
    if source.has("helm"):
        helm = source.child("helm")
        helm.only(("release_name", "value_files", "values", "parameters", "file_parameters", "ignore_missing_value_files",
                   "namespace", "skip_crds", "skip_tests", "skip_schema_validation", "version", "kube_version",
                   "api_versions", "pass_credentials", "lookup"))
        _check_helm_version(helm)
        spec.helm = HelmOptions(
            release_name=helm.text("release_name"),
            value_files=helm.texts("value_files"),
            values=_helm_values(helm, "values"),
            parameters=_helm_parameters(helm, "parameters", "force_string"),
            file_parameters=_helm_file_parameters(helm, "file_parameters"),
            ignore_missing_value_files=helm.flag("ignore_missing_value_files"),
            namespace=_check_namespace(helm, helm.text("namespace"), "namespace"),
            skip_crds=helm.flag("skip_crds"),
            skip_tests=helm.flag("skip_tests"),
            skip_schema_validation=helm.flag("skip_schema_validation"),
            pass_credentials=helm.flag("pass_credentials"),
            kube_version=helm.text("kube_version"),
            api_versions=helm.texts("api_versions"),
            lookup=helm.flag("lookup"),
        )
    _check_source(source, spec)
    return spec


# -- Argo CD Application manifests ---------------------------------------------------------------------------

_ARGO_UNSUPPORTED_HINTS = {
    "source.plugin": "config management plugins are not supported",
    "source.ref": "source references are only meaningful in spec.sources",
    "operation": "an Application's operation field (a pending sync request) is not supported",
}


def _parse_argocd(raw: dict[str, Any]) -> Application:
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    app_name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
    top = _Reader(raw, "", app_name)
    if raw.get("apiVersion") != ARGOCD_API_VERSION or raw.get("kind") != "Application":
        top.fail(f"only Argo CD manifests with apiVersion {ARGOCD_API_VERSION} and kind Application are accepted, "
                 f"got apiVersion {raw.get('apiVersion')!r}, kind {raw.get('kind')!r}")
    # status is the observed state Argo CD wrote back; it never changes what is deployed
    top.only(("apiVersion", "kind", "metadata", "spec", "status"), hint=_ARGO_UNSUPPORTED_HINTS)
    meta = top.child("metadata")
    name = _check_name(meta, meta.text("name", required=True), "name")

    spec = top.child("spec")
    spec.only(("source", "sources", "destination", "project", "syncPolicy", "ignoreDifferences", "info", "revisionHistoryLimit"),
              hint=_ARGO_UNSUPPORTED_HINTS)
    if spec.has("source") and spec.has("sources") and spec.raw["sources"] != []:
        # Argo CD would ignore source; a field silently ignored is worse than a refusal
        spec.fail("give either source or sources, not both", "sources")
    sources: list[SourceSpec] = []
    if spec.has("sources") and spec.raw["sources"] != []:
        sources = [_parse_argo_source(item, many=True) for item in spec.items("sources")]
    elif spec.has("source"):
        sources = [_parse_argo_source(spec.child("source"), many=False)]
    else:
        spec.fail("is required (or spec.sources)", "source")
    _check_sources(spec, sources, "sources")

    destination = spec.child("destination")
    destination.only(("server", "name", "namespace"))

    policy = spec.child("syncPolicy")
    policy.only(("automated", "syncOptions", "retry", "managedNamespaceMetadata"))
    automated = policy.child("automated")
    automated.only(("prune", "allowEmpty", "selfHeal", "enabled"))
    # Argo CD: no automated section, or enabled: false, is a manual application; a null enabled is enabled
    automated_on = policy.has("automated") and automated.flag("enabled", True)
    sync_policy = SyncPolicy(
        prune=automated.flag("prune"), allow_empty=automated.flag("allowEmpty"),
        automated=automated_on, self_heal=automated_on and automated.flag("selfHeal"),
        retry=_retry(policy.child("retry"), "maxDuration") if policy.has("retry") else None,
        history_limit=_history_limit(spec, "revisionHistoryLimit"),
    )
    _apply_sync_options(policy, sync_policy)
    _namespace_metadata(policy.child("managedNamespaceMetadata"), sync_policy)

    ignores = []
    for item in spec.items("ignoreDifferences"):
        item.only(("group", "kind", "name", "namespace", "jsonPointers", "jqPathExpressions", "managedFieldsManagers"))
        ignores.append(_ignore_difference(item, "jsonPointers", "jqPathExpressions", "managedFieldsManagers"))
    return Application(
        name=name,
        project=_project(spec),
        source=sources[0],
        more_sources=sources[1:],
        destination=_destination(destination),
        sync_policy=sync_policy,
        ignore_differences=ignores,
        info=_info(spec, "info"),
        finalizer=_finalizer(meta, "finalizers"),
        helm_lookup=_helm_lookup_annotation(meta, sources),
        depends_on=_depends_on_annotation(meta, name),
    )


def _helm_lookup_annotation(meta: _Reader, sources: list[SourceSpec]) -> bool:
    """The gitops.kubernetes/helm-lookup annotation: "true" or "false"; on an application that renders no Helm it
    would change nothing, so it is refused there rather than ignored."""
    annotations = meta.raw.get("annotations")
    value = annotations.get(HELM_LOOKUP_ANNOTATION) if isinstance(annotations, dict) else None
    if value is None:
        return False
    where = f"annotations[{HELM_LOOKUP_ANNOTATION!r}]"
    if not isinstance(value, str) or value.lower() not in ("true", "false"):
        meta.fail(f"must be \"true\" or \"false\", got {value!r}", where)
    wanted = value.lower() == "true"
    if wanted and all(source.ref_only or source.directory is not None or source.kustomize is not None for source in sources):
        meta.fail("asks for Helm lookup, but no source of the application can be a Helm chart", where)
    return wanted


def _depends_on_annotation(meta: _Reader, name: str) -> list[str]:
    """Our depends_on, given to an Argo CD manifest by the DEPENDS_ON_ANNOTATION ("db, cache")."""
    # only our annotation is read: the others are Argo CD's or the user's business
    annotations = meta.raw.get("annotations")
    if not isinstance(annotations, dict) or annotations.get(DEPENDS_ON_ANNOTATION) is None:
        return []
    value = annotations[DEPENDS_ON_ANNOTATION]
    if not isinstance(value, str):
        meta.fail(f"must be a string of comma-separated application names, got {_type_name(value)}",
                  f"annotations.{DEPENDS_ON_ANNOTATION}")
    names = [part.strip() for part in value.split(",")]
    return dependency_names(meta, [part for part in names if part], f"annotations.{DEPENDS_ON_ANNOTATION}", name)


def _parse_argo_source(source: _Reader, many: bool) -> SourceSpec:
    """One entry of spec.source / spec.sources of an Argo CD Application."""
    source.only(("repoURL", "targetRevision", "path", "chart", "directory", "kustomize", "helm",
                 *(("ref", "name") if many else ())),
                hint={key.split(".", 1)[1]: hint for key, hint in _ARGO_UNSUPPORTED_HINTS.items()
                      if key.startswith("source.") and key.count(".") == 1 and not (many and key == "source.ref")})
    result = SourceSpec(
        repo_url=source.text("repoURL", required=True),
        revision=source.text("targetRevision", "HEAD") or "HEAD",
        path=source.text("path", ".") or ".",
        chart=source.text("chart"),
        ref=source.text("ref"),
        name=source.text("name"),
    )
    result.ref_only = bool(result.ref) and not source.text("path")
    if source.has("directory"):
        directory = source.child("directory")
        directory.only(("recurse", "include", "exclude", "jsonnet"))
        result.directory = DirectoryOptions(
            recurse=directory.flag("recurse"),
            # Argo CD's empty include means "every manifest file", which our default spells out
            include=directory.text("include") or DirectoryOptions.include,
            exclude=directory.text("exclude"),
            jsonnet=_jsonnet_options(directory.child("jsonnet"), "extVars"),
        )
    if source.has("kustomize"):
        kustomize = source.child("kustomize")
        kustomize.only(("images", "namePrefix", "nameSuffix", "namespace", "commonLabels", "commonAnnotations",
                        "forceCommonLabels", "forceCommonAnnotations", "labelWithoutSelector", "replicas", "patches",
                        "components"),
                       when_empty=("commonAnnotationsEnvsubst", "version", "ignoreMissingComponents",
                                   "labelIncludeTemplates", "apiVersions", "kubeVersion"))
        result.kustomize = KustomizeOptions(
            images=kustomize.texts("images"),
            name_prefix=kustomize.text("namePrefix"),
            name_suffix=kustomize.text("nameSuffix"),
            namespace=kustomize.text("namespace"),
            common_labels=kustomize.text_map("commonLabels"),
            common_annotations=kustomize.text_map("commonAnnotations"),
            force_common_labels=kustomize.flag("forceCommonLabels"),
            force_common_annotations=kustomize.flag("forceCommonAnnotations"),
            label_without_selector=kustomize.flag("labelWithoutSelector"),
            replicas=_kustomize_replicas(kustomize),
            patches=_kustomize_patches(kustomize),
            components=kustomize.texts("components"),
        )
    if source.has("helm"):
        helm = source.child("helm")
        helm.only(("releaseName", "valueFiles", "values", "valuesObject", "parameters", "fileParameters",
                   "ignoreMissingValueFiles", "namespace", "skipCrds", "skipTests", "skipSchemaValidation", "version",
                   "kubeVersion", "apiVersions", "passCredentials"))
        if helm.has("values") and helm.has("valuesObject"):
            helm.fail("give either values or valuesObject, not both", "valuesObject")
        _check_helm_version(helm)
        result.helm = HelmOptions(
            release_name=helm.text("releaseName"),
            value_files=helm.texts("valueFiles"),
            values=_helm_values(helm, "valuesObject" if helm.has("valuesObject") else "values"),
            parameters=_helm_parameters(helm, "parameters", "forceString"),
            file_parameters=_helm_file_parameters(helm, "fileParameters"),
            ignore_missing_value_files=helm.flag("ignoreMissingValueFiles"),
            namespace=_check_namespace(helm, helm.text("namespace"), "namespace"),
            skip_crds=helm.flag("skipCrds"),
            skip_tests=helm.flag("skipTests"),
            skip_schema_validation=helm.flag("skipSchemaValidation"),
            pass_credentials=helm.flag("passCredentials"),
            kube_version=helm.text("kubeVersion"),
            api_versions=helm.texts("apiVersions"),
        )
    _check_source(source, result)
    return result


def _apply_sync_options(policy: _Reader, sync_policy: SyncPolicy) -> None:
    """Map Argo CD syncOptions ("Key=value" strings) onto the sync policy, each with its Argo CD meaning."""
    def flag(attribute: str) -> Callable[[str, str], None]:
        return lambda key, value: setattr(sync_policy, attribute, _option_bool(policy, key, value))

    def object_option(attribute: str) -> Callable[[str, str], None]:
        return lambda key, value: setattr(sync_policy, attribute, _object_option(policy, f"syncOptions {key}", value.lower()))

    setters: dict[str, Callable[[str, str], None]] = {
        "CreateNamespace": flag("create_namespace"),
        "PruneLast": flag("prune_last"),
        "Replace": flag("replace"),
        "SkipDryRunOnMissingResource": flag("skip_dry_run_on_missing_resource"),
        "FailOnSharedResource": flag("fail_on_shared_resource"),
        "RespectIgnoreDifferences": flag("respect_ignore_differences"),
        "Validate": flag("validate"),
        "Prune": object_option("object_prune"),
        "Delete": object_option("object_delete"),
        "PrunePropagationPolicy": lambda key, value: setattr(
            sync_policy, "prune_propagation_policy",
            _propagation_policy(policy, value, "syncOptions PrunePropagationPolicy")),
        # every object is server-side applied, and only the objects out of sync are: applying an object already
        # in sync (ApplyOutOfSyncOnly=false) would change nothing, so both values mean what they say
        "ServerSideApply": lambda key, value: _require(policy, key, value, "true", "every object is server-side applied; "
                                                       "client-side apply (ServerSideApply=false) is not done"),
        "ApplyOutOfSyncOnly": lambda key, value: _option_bool(policy, key, value) and None,
    }
    refused = {
        # Argo CD reads Force only from an object's annotation or from the sync operation (argocd app sync --force)
        "Force": "Argo CD does not read Force from the application's syncOptions: annotate the objects "
                 "argocd.argoproj.io/sync-options: Force=true (or Force=true,Replace=true), or set our spec's "
                 "sync_policy.force, the form of argocd app sync --force",
        "ClientSideApplyMigration": "ClientSideApplyMigration is not supported: fields of other managers are taken over "
                                    "by the forced server-side apply (force_conflicts)",
    }
    for option in policy.texts("syncOptions"):
        key, sep, value = option.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            policy.fail(f"{option!r} is not of the form Key=value", "syncOptions")
        if key in setters:
            setters[key](key, value)
        elif key in refused:
            policy.fail(f"{option!r}: {refused[key]}", "syncOptions")
        else:
            policy.fail(f"{option!r} is not a sync option Argo CD documents (known: {', '.join(sorted([*setters, *refused]))})",
                        "syncOptions")


def _require(reader: _Reader, key: str, value: str, wanted: str, reason: str) -> None:
    if value.lower() != wanted:
        reader.fail(f"{key}={value}: {reason}", "syncOptions")


def _object_option(reader: _Reader, key: str, value: str) -> str:
    if value.lower() not in OBJECT_DELETE_OPTIONS:
        reader.fail(f"{value!r} must be one of {', '.join(OBJECT_DELETE_OPTIONS)}", key)
    return value.lower()


def _option_bool(reader: _Reader, key: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        reader.fail(f"{key}={value} must be true or false", "syncOptions")
    return value.lower() == "true"


# -- shared checks ---------------------------------------------------------------------------------------


def _check_source(reader: _Reader, spec: SourceSpec) -> None:
    revision_key = "revision" if "revision" in reader.raw else "targetRevision"
    # a chart's version constraint may hold spaces (">=1.0.0 <2.0.0"); a Git revision never does
    allowed_space = " " if spec.chart else ""
    if spec.revision.startswith("-") or any((char.isspace() and char not in allowed_space) or ord(char) < 32
                                            for char in spec.revision):
        reader.fail(f"{spec.revision!r} is not a valid revision", revision_key)
    given = [name for name in RENDERERS if getattr(spec, name) is not None]
    if len(given) > 1:
        reader.fail(f"give at most one of {', '.join(RENDERERS)} (got {', '.join(given)}); "
                    f"without any, the renderer is detected from the path", given[1])
    if not spec.repo_url.strip():
        reader.fail("must not be empty", "repo_url" if "repo_url" in reader.raw else "repoURL")
    path_key = "path"
    try:
        spec.path = normalize_repo_path(spec.path, what="path")
    except ValueError as err:
        reader.fail(str(err), path_key)
    if spec.helm is not None:
        for value_file in spec.helm.value_files:
            if "://" in value_file:
                reader.fail(f"{value_file!r}: value files must come from the repository, URLs are not fetched",
                            "helm.value_files" if "value_files" in (reader.raw.get("helm") or {}) else "helm.valueFiles")
    if spec.chart:
        _check_chart_source(reader, spec)


def _check_chart_source(reader: _Reader, spec: SourceSpec) -> None:
    """A chart from a chart repository or an OCI registry: what Git-only settings it cannot take, its URL made explicit."""
    ours = "repo_url" in reader.raw
    url_key, revision_key = ("repo_url", "revision") if ours else ("repoURL", "targetRevision")
    for key in ("directory", "kustomize"):
        if getattr(spec, key) is not None:
            reader.fail("does not apply to a chart (a chart is rendered by helm; use helm options)", key)
    if spec.path != ".":
        reader.fail(f"does not apply to a chart from a chart repository (got {spec.path!r}); drop it, or drop chart "
                    f"for a chart in a Git repository", "path")
    for key in ("ssh_private_key_file", "ssh_known_hosts_file", "allow_remote_bases"):
        if reader.has(key) and reader.raw[key] not in (False, ""):
            reader.fail("applies to Git repositories only, not to a chart repository", key)
    if spec.ref:
        reader.fail("a chart from a chart repository has no files to lend to other sources (as in Argo CD)", "ref")
    if not _CHART_NAME_RE.match(spec.chart) or ".." in spec.chart:
        reader.fail(f"{spec.chart!r} is not a chart name", "chart")
    if spec.revision in ("", "HEAD"):
        reader.fail("is required with chart: an exact chart version (1.2.3) or a constraint (1.2.*, ^1.2, "
                    ">=1.0.0 <2.0.0, *)", revision_key)
    url = spec.repo_url.strip()
    scheme, sep, dummy = url.partition("://")
    if not sep:
        if url.startswith(("/", ".", "~")) or ":" in url.split("/", 1)[0] and "@" in url:
            reader.fail(f"{url!r} is no chart repository: give an https:// chart repository or an OCI registry "
                        f"(oci://host/path or host/path)", url_key)
        url = f"oci://{url}"  # Argo CD's scheme-less form is an OCI registry
    elif scheme.lower() not in ("http", "https", "oci"):
        reader.fail(f"{url!r} is no chart repository: a chart comes from an http(s):// chart repository or an "
                    f"oci:// registry", url_key)
    spec.repo_url = url.rstrip("/")


_REF_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _check_sources(reader: _Reader, sources: list[SourceSpec], key: str) -> None:
    """Refs are unique, and every $name a source uses names a ref source (checked before any Git work)."""
    refs: dict[str, int] = {}
    for index, source in enumerate(sources):
        if not source.ref:
            continue
        if not _REF_NAME.match(source.ref):
            reader.fail(f"ref {source.ref!r} must be letters, digits, '_', '.' or '-' (used as ${source.ref}/...)",
                        f"{key}[{index}].ref")
        if source.ref in refs:
            reader.fail(f"ref {source.ref!r} is given twice ({sources[refs[source.ref]].label(refs[source.ref])} "
                        f"and {source.label(index)})", f"{key}[{index}].ref")
        refs[source.ref] = index
        if source.ref_only and source.renderer is not None:
            reader.fail(f"a ref source without a path renders nothing, so its {source.renderer} options would be "
                        f"ignored; give it a path or drop them", f"{key}[{index}].{source.renderer}")
    for index, source in enumerate(sources):
        for name in source.helm.referenced_sources() if source.helm else []:
            if name not in refs:
                known = ", ".join(f"${ref}" for ref in refs) or "no source has a ref"
                reader.fail(f"${name} names no ref source (available: {known})", f"{key}[{index}].helm")


def _jsonnet_options(reader: _Reader, ext_vars_key: str) -> JsonnetOptions:
    reader.only(("tlas", ext_vars_key, "libs"))
    options = JsonnetOptions(
        tlas=[_jsonnet_variable(item) for item in reader.items("tlas")],
        ext_vars=[_jsonnet_variable(item) for item in reader.items(ext_vars_key)],
        libs=reader.texts("libs"),
    )
    for lib in options.libs:
        try:
            normalize_repo_path(lib, what="jsonnet library path")
        except ValueError as err:
            reader.fail(str(err), "libs")
    return options


def _jsonnet_variable(item: _Reader) -> JsonnetVariable:
    item.only(("name", "value", "code"))
    value = item.raw.get("value")
    if isinstance(value, (dict, list)):
        item.fail("must be a string (with code: true, Jsonnet code)", "value")
    return JsonnetVariable(name=item.text("name", required=True),
                           value="" if value is None else _scalar_text(value), code=item.flag("code"))


def _kustomize_replicas(reader: _Reader) -> list[KustomizeReplica]:
    replicas = []
    for item in reader.items("replicas"):
        item.only(("name", "count"))
        count = item.raw.get("count")
        # Argo CD takes an integer or a string holding one
        if isinstance(count, bool) or not isinstance(count, (int, str)) or not str(count).strip().isdigit():
            item.fail(f"must be a non-negative integer, got {count!r}", "count")
        replicas.append(KustomizeReplica(name=item.text("name", required=True), count=int(str(count).strip())))
    return replicas


_PATCH_TARGET_KEYS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")


def _kustomize_patches(reader: _Reader) -> list[dict[str, Any]]:
    """Patches as kustomize reads them in a kustomization (Argo CD appends them to its patches)."""
    patches = []
    for item in reader.items("patches"):
        item.only(("path", "patch", "target", "options"))
        patch: dict[str, Any] = {}
        for key in ("path", "patch"):
            if item.text(key):
                patch[key] = item.text(key)
        if not patch:
            item.fail("needs path or patch")
        if "path" in patch:
            try:
                normalize_repo_path(patch["path"], what="patch path")
            except ValueError as err:
                item.fail(str(err), "path")
        if item.has("target"):
            target = item.child("target")
            target.only(_PATCH_TARGET_KEYS)
            patch["target"] = {key: target.text(key) for key in _PATCH_TARGET_KEYS if target.text(key)}
        if item.has("options"):
            options = item.child("options")
            options.only(("allowNameChange", "allowKindChange"))
            patch["options"] = {key: options.flag(key) for key in options.raw}
        patches.append(patch)
    return patches


def _check_helm_version(helm: _Reader) -> None:
    version = helm.text("version")
    if version and version != "v3":
        helm.fail(f"{version!r} is not supported: templates are rendered with Helm 3 (v3)"
                  + ("; Helm 2 is not supported" if version == "v2" else ""), "version")


def _helm_file_parameters(reader: _Reader, key: str) -> list[HelmFileParameter]:
    parameters = []
    for item in reader.items(key):
        item.only(("name", "path"))
        parameter = HelmFileParameter(name=item.text("name", required=True), path=item.text("path", required=True))
        if "://" in parameter.path:
            item.fail(f"{parameter.path!r}: file parameters must come from the repository, URLs are not fetched", "path")
        parameters.append(parameter)
    return parameters


def normalize_repo_path(path: str, what: str = "path") -> str:
    """A repository-relative POSIX path, '.' for the root; ValueError if it could leave the repository."""
    if path.strip() in ("", ".", "./"):
        return "."
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path) or "\\" in path:
        raise ValueError(f"{path!r}: the {what} must be relative to the repository root")
    normalized = posixpath.normpath(path)
    if normalized == ".." or normalized.startswith("../"):
        raise ValueError(f"{path!r}: the {what} must stay inside the repository")
    return normalized


def _check_name(reader: _Reader, name: str, key: str) -> str:
    if len(name) > 253 or not _NAME_RE.match(name):
        reader.fail(f"{name!r} is not a valid name (lowercase letters, digits, '-' and '.', "
                    f"starting and ending with a letter or digit, at most 253 characters)", key)
    reader.app = name
    return name


def dependency_names(reader: _Reader, names: list[str], key: str, own_name: str) -> list[str]:
    """Application names one application depends on: valid names, not its own, each once (in the given order)."""
    found: list[str] = []
    for value in names:
        if len(value) > 253 or not _NAME_RE.match(value):
            reader.fail(f"{value!r} is not an application name (lowercase letters, digits, '-' and '.')", key)
        if value == own_name:
            reader.fail(f"an application cannot depend on itself ({value!r})", key)
        if value not in found:
            found.append(value)
    return found


def depends_on_list(value: Any, own_name: str) -> list[str]:
    """depends_on given outside a spec (an applications entry with manifests), checked as a spec's is."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SpecError("depends_on must be a list of application names", application=own_name)
    return dependency_names(_Reader({}, "", own_name), value, "depends_on", own_name)


def _project(reader: _Reader) -> str:
    project = reader.text("project") or "default"
    if len(project) > 253 or not _NAME_RE.match(project):
        reader.fail(f"{project!r} is not a valid AppProject name", "project")
    return project


def _destination(reader: _Reader) -> Destination:
    """The destination; the cluster is matched against inventory hosts later (see _clusters)."""
    server, name = reader.text("server").strip(), reader.text("name").strip()
    if server and name:
        # Argo CD refuses both as well: they could name two different clusters
        reader.fail(f"give either server or name, not both (got server {server!r} and name {name!r})")
    return Destination(namespace=_check_namespace(reader, reader.text("namespace"), "namespace"), server=server, name=name)


def _check_namespace(reader: _Reader, namespace: str, key: str) -> str:
    if namespace and (len(namespace) > 63 or not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", namespace)):
        reader.fail(f"{namespace!r} is not a valid namespace name", key)
    return namespace


def _propagation_policy(reader: _Reader, value: str, key: str) -> str:
    if value.lower() not in PROPAGATION_POLICIES:
        reader.fail(f"{value!r} must be one of {', '.join(PROPAGATION_POLICIES)}", key)
    return value.lower()


def _helm_values(reader: _Reader, key: str) -> dict[str, Any]:
    """Inline values: a mapping, or (like Argo CD's `values`) a YAML string holding one."""
    value = reader.raw.get(key)
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        import yaml

        from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_one

        try:
            value = load_one(value)
        except YamlLimitError as err:
            where = f" (line {err.line})" if err.line else ""
            reader.fail(f"is refused{where}: {err}", key)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            reader.fail(f"is not valid YAML{where}: {getattr(err, 'problem', None) or err}", key)
        if value is None:
            return {}
    if not isinstance(value, dict):
        reader.fail(f"must be a mapping of values, got {_type_name(value)}", key)
    return value


def _helm_parameters(reader: _Reader, key: str, force_key: str) -> list[HelmParameter]:
    parameters = []
    for item in reader.items(key):
        item.only(("name", "value", force_key))
        value = item.raw.get("value")
        if isinstance(value, (dict, list)):
            item.fail("must be a string (use values for structured data)", "value")
        parameters.append(HelmParameter(
            name=item.text("name", required=True),
            value="" if value is None else _scalar_text(value),
            force_string=item.flag(force_key),
        ))
    return parameters


def _ignore_difference(item: _Reader, pointers: str, jq: str, managers: str) -> IgnoreDifference:
    rule = IgnoreDifference(
        group=item.text("group"),
        kind=item.text("kind"),
        name=item.text("name"),
        namespace=item.text("namespace"),
        json_pointers=item.texts(pointers),
        jq_path_expressions=item.texts(jq),
        managed_fields_managers=item.texts(managers),
    )
    if not rule.kind:
        item.fail("is required", "kind")
    for pointer in rule.json_pointers:
        if not pointer.startswith("/"):
            item.fail(f"{pointer!r} is not a JSON pointer (it must start with '/')", pointers)
    if not (rule.json_pointers or rule.jq_path_expressions or rule.managed_fields_managers):
        item.fail(f"needs at least one of {pointers}, {jq}, {managers}")
    return rule


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds from an Argo CD duration: a number of seconds ("30", 30) or a Go duration ("5s", "3m", "1h30m").

    ValueError for anything else (negative durations included).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return float(text)
    if not text or not re.fullmatch(f"(?:{_DURATION_PART.pattern})+", text):
        raise ValueError(f"{value!r} is not a duration (a number of seconds, or like 5s, 3m, 1h30m)")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text))


def _retry(reader: _Reader, max_key: str) -> RetryPolicy:
    """syncPolicy.retry of either spelling; every value checked, so a typo never becomes another backoff."""
    reader.only(("limit", "backoff"), hint={
        "refresh": "retry.refresh is not supported: a retry syncs the revision resolved when the run started",
    }, when_empty=("refresh",))
    limit = _integer(reader, "limit", 0)
    if limit < -1:
        reader.fail(f"{limit} is not a retry limit (a number of retries, 0 for none, -1 for no limit)", "limit")
    backoff = reader.child("backoff")
    backoff.only(("duration", "factor", max_key))
    retry = RetryPolicy(limit=limit)
    for key, attribute in (("duration", "duration"), (max_key, "max_duration")):
        if backoff.has(key):
            try:
                setattr(retry, attribute, parse_duration(backoff.raw[key]))
            except ValueError as err:
                backoff.fail(str(err), key)
    retry.factor = _integer(backoff, "factor", RETRY_FACTOR)
    if retry.factor < 1:
        backoff.fail(f"{retry.factor} is not a backoff factor (a whole number, at least 1)", "factor")
    return retry


def _integer(reader: _Reader, key: str, default: int) -> int:
    value = reader.raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()))):
        reader.fail(f"must be a whole number, got {value!r}", key)
    return int(value)


def _history_limit(reader: _Reader, key: str) -> int:
    limit = _integer(reader, key, HISTORY_LIMIT)
    if limit < 0:
        reader.fail(f"{limit} is not a number of syncs to keep (0 or more)", key)
    return limit


def _namespace_metadata(reader: _Reader, sync_policy: SyncPolicy) -> None:
    """managedNamespaceMetadata: labels and annotations the destination namespace gets (with CreateNamespace)."""
    reader.only(("labels", "annotations"))
    sync_policy.managed_namespace_labels = reader.text_map("labels")
    sync_policy.managed_namespace_annotations = reader.text_map("annotations")


def _info(reader: _Reader, key: str) -> list[dict[str, str]]:
    found = []
    for item in reader.items(key):
        item.only(("name", "value"))
        found.append({"name": item.text("name", required=True), "value": item.text("value")})
    return found


def _is_empty(value: Any) -> bool:
    """None, False, '' or an empty collection (recursively): a setting that asks for nothing."""
    if isinstance(value, dict):
        return all(_is_empty(item) for item in value.values())
    if isinstance(value, list):
        return not value
    return value in (None, False, "")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)
