# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What gitops_diff and gitops_sync are asked to work on, shared by both.

A module run takes one application spec, rendered manifests, or a list of
either. Each becomes an ApplicationInput, parsed when it is made so a typo
fails the task before any Git or cluster work; `desired()` then renders it
and checks the task's policy, giving the DesiredState the compare and sync
stages take. The helpers below keep Secrets and credentials out of what a
module returns and of what -vvv echoes of its arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.disappeared import parent_labels
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError, GitopsError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import application_applyset_id
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import HAS_URLLIB3, URLLIB3_IMPORT_ERROR
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import BatchLiveReads, LiveReads
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import RunOwnership, desired_refs
from ansible_collections.gitops.kubernetes.plugins.module_utils._clusters import HostCluster, cluster_name, describe_destination
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import Cluster, Policy
from ansible_collections.gitops.kubernetes.plugins.module_utils._projects import DEFAULT_PROJECT, Project, default_project, parse_projects
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import (
    SECRET_MASK,
    mask_helm_values,
    mask_secret,
    scrub_text,
    strip_url_credentials,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._render import HAS_YAML, YAML_IMPORT_ERROR
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import GIT_IMPORT_ERROR, HAS_GIT
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import (
    RepositoryCredential,
    parse_repositories,
    repository_secret_values,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    OBJECT_DELETE_OPTIONS,
    PROPAGATION_POLICIES,
    Application,
    SyncPolicy,
    credential_values,
    depends_on_list,
    parse_application,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import normalize_repo_url
from ansible_collections.gitops.kubernetes.plugins.module_utils._windows import WindowVerdict, can_sync

try:
    # these need PyYAML and jsonpatch; check_requirements() reports them missing
    from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import HAS_JSONPATCH, JSONPATCH_IMPORT_ERROR
    from ansible_collections.gitops.kubernetes.plugins.module_utils._render import load_manifests, render_application
except ImportError:
    HAS_JSONPATCH = False
    JSONPATCH_IMPORT_ERROR = traceback.format_exc()

T = TypeVar("T")

# the name becomes the inventory ConfigMap's name (applyset-<name>)
APPLICATION_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
APPLICATION_NAME_MAX = 244
# at most this many applications are worked on at once; they share the client's request pool
APPLICATION_WORKERS = 4
# the sync_policy option of the manifests form (an application spec has its own)
SYNC_POLICY_SPEC: dict[str, dict[str, Any]] = {
    "prune": {"type": "bool", "default": False},
    "allow_empty": {"type": "bool", "default": False},
    "create_namespace": {"type": "bool", "default": False},
    "prune_last": {"type": "bool", "default": False},
    "replace": {"type": "bool", "default": False},
    "force": {"type": "bool", "default": False},
    "prune_propagation_policy": {"type": "str", "choices": list(PROPAGATION_POLICIES), "default": "foreground"},
    "automated": {"type": "bool", "default": True},
    "self_heal": {"type": "bool", "default": True},
    "skip_dry_run_on_missing_resource": {"type": "bool", "default": False},
    "fail_on_shared_resource": {"type": "bool", "default": False},
    "respect_ignore_differences": {"type": "bool", "default": False},
    "validate": {"type": "bool", "default": True},
    "object_prune": {"type": "str", "choices": list(OBJECT_DELETE_OPTIONS), "default": "true"},
}
# generators in the task itself; documented by doc_fragments/_generators.py
GENERATOR_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "generators": {"type": "list", "elements": "dict"},
    "only": {"type": "list", "elements": "str"},
    "skip": {"type": "list", "elements": "str"},
    "applicationsets": {"type": "list", "elements": "dict"},
    "applicationset_files": {"type": "list", "elements": "path"},
    "clusters": {"type": "list", "elements": "dict"},
}
# keys of the single-application manifests form, taken from the module's parameters
MANIFESTS_FORM_KEYS = ("name", "manifests", "destination", "revision", "ignore_differences", "sync_policy")


def parse_manifests(raw: Any, app_name: str) -> list[DesiredObject]:
    """Desired objects from a list of objects or a multi-document YAML string (Lists expanded)."""
    try:
        if isinstance(raw, str):
            return load_manifests(raw, "manifests")
        if isinstance(raw, dict):
            raw = [raw]
        if not isinstance(raw, list):
            raise SpecError("manifests must be a list of objects or a YAML string")
        objects: list[DesiredObject] = []
        for index, document in enumerate(raw):
            if document is None:
                continue
            if not isinstance(document, dict):
                raise SpecError(f"manifests[{index}] is not an object but {type(document).__name__}")
            if str(document.get("kind") or "").endswith("List") and isinstance(document.get("items"), list):
                objects += [DesiredObject(item) for item in document["items"] if isinstance(item, dict)]
            else:
                objects.append(DesiredObject(document))
        return objects
    except GitopsError as exc:
        raise exc.with_application(app_name)


def parse_sync_policy(raw: dict[str, Any] | None) -> SyncPolicy:
    """The manifests form's sync_policy, with SYNC_POLICY_SPEC's defaults."""
    values = {key: option.get("default") for key, option in SYNC_POLICY_SPEC.items()}
    values.update({key: value for key, value in (raw or {}).items() if value is not None and key in values})
    unknown = set(raw or {}) - set(values)
    if unknown:
        raise SpecError(f"sync_policy has unknown keys: {', '.join(sorted(unknown))}")
    values["self_heal"] = values["automated"] and values["self_heal"]
    return SyncPolicy(**values)


def desired_digest(revision: str | None, what: Any) -> str:
    """What a sync deploys, in one value: the revision and the spec (or rendered manifests) it came from.

    An automated application without self-heal syncs when this differs from its last sync's. Credentials are
    left out of `what` by the caller; the digest is one-way, so no value can be read back from it.
    """
    document = json.dumps({"revision": revision, "spec": what}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(document.encode()).hexdigest()


def _spec_identity(app: Application) -> dict[str, Any]:
    """The parts of a spec that decide what is deployed: not credentials, not how or when the sync runs."""
    spec = dataclasses.asdict(app)
    for source in [spec["source"], *spec.get("more_sources", [])]:
        for key in ("username", "password", "ssh_private_key_file", "ssh_known_hosts_file", "ssh_strict_host_key_checking"):
            source.pop(key, None)
        if source.get("helm") and not source["helm"].get("lookup"):
            del source["helm"]["lookup"]  # off, as before it existed: the digests recorded by earlier syncs still match
    if not spec.get("helm_lookup"):
        spec.pop("helm_lookup", None)
    for key in ("automated", "self_heal", "retry", "history_limit"):
        spec["sync_policy"].pop(key, None)
    spec.pop("info", None)
    spec.pop("depends_on", None)  # when it syncs, not what it deploys
    return spec


@dataclass
class DesiredState:
    """An application's rendered objects and what the compare and sync stages need with them."""

    name: str
    objects: list[DesiredObject]
    namespace: str | None
    ignore_differences: list[Any] = field(default_factory=list)
    revision: str | None = None
    source: str | None = None  # where it comes from (ApplicationInput.source), recorded on its inventory
    digest: str | None = None  # desired_digest: the last sync records it; no self-heal compares with it
    # a multi-source application's revision of every source, in order (revision is the first one's)
    revisions: list[str] = field(default_factory=list)


class ApplicationInput:
    """One application of a module run: a spec rendered from Git here, or rendered manifests."""

    def __init__(self, raw: dict[str, Any], cache_dir: str, guard: Policy | None = None,
                 projects: dict[str, Project] | None = None,
                 repositories: list[RepositoryCredential] | None = None) -> None:
        self.raw = raw
        self.cache_dir = cache_dir
        self.repositories = repositories or []  # credentials matched to repository URLs by prefix
        self.guard = guard  # the task's policy, checked before any cluster work
        self.projects = projects or {}  # the task's AppProjects by name
        self.objects: list[DesiredObject] = []
        # the generating ApplicationSet, recorded on the inventory parent (finds applications it stops generating)
        self.parent_labels = parent_labels(raw)
        self.parent: str | None = None  # the application that rendered this one (app of apps)
        # False for an application `only`/`skip` left out that a selected one depends on: compared, never synced
        self.selected = True
        self.app: Application | None = None
        self.project: Project | None = None  # the application's AppProject (specs only)
        # an unknown project fails this application (before any Git or cluster work), not the whole task
        self.project_error: SpecError | None = None
        # the destination cluster as projects and windows see it; set by place_inputs (any cluster until then)
        self.cluster: Cluster | None = None
        if "manifests" in raw:
            self.name = str(raw.get("name") or "")
            if not self.name:
                raise SpecError("every applications entry with manifests needs a name")
            if not APPLICATION_NAME.match(self.name) or len(self.name) > APPLICATION_NAME_MAX:
                raise SpecError(
                    f"name {self.name!r} must be a DNS subdomain: lowercase letters, digits, '-' and '.', "
                    f"starting and ending with a letter or digit, at most {APPLICATION_NAME_MAX} characters"
                )
            self.objects = parse_manifests(raw.get("manifests"), self.name)
            self.sync_policy = parse_sync_policy(raw.get("sync_policy"))
            self.depends_on = depends_on_list(raw.get("depends_on"), self.name)
        else:
            self.app = parse_application(raw)
            self.name = self.app.name
            self.sync_policy = self.app.sync_policy
            self.depends_on = list(self.app.depends_on)
            try:
                self.project = _project_of(self.app, projects or {})
            except SpecError as err:
                self.project_error = err

    @property
    def guards(self) -> list[Policy]:
        """The rule sets the application must keep to: the task's policy and its project's rules."""
        found = [self.guard] if self.guard is not None else []
        return found + ([self.project.rules] if self.project is not None else [])

    def sync_window(self, manual: bool, now: Any = None) -> WindowVerdict:
        """Whether the project's sync windows let the application sync now (manual: selected by name)."""
        if self.project is None or self.app is None or not self.project.windows:
            return WindowVerdict(True)
        destination = self.app.destination
        cluster = self.cluster or Cluster()
        servers = [value for value in (destination.server, cluster.server) if value]
        names = [value for value in (destination.name, cluster.name) if value]
        verdicts = [can_sync(self.project.windows, self.name, destination.namespace, server, name, manual, now)
                    for server in servers or [""] for name in names or [""]]
        return next((verdict for verdict in verdicts if not verdict.allowed), verdicts[0])

    @property
    def source(self) -> str | None:
        """Where the application comes from: repository URL (without credentials) and path; None for rendered
        manifests, which carry no identity beyond their name and destination namespace."""
        if self.app is None:
            return None
        path = self.app.source.path.strip("/") or "."
        return f"{normalize_repo_url(strip_url_credentials(self.app.source.repo_url.strip()))}#{path}"

    @property
    def finalizer(self) -> str | None:
        """The application's Argo CD deletion finalizer (recorded on its inventory); rendered manifests have none."""
        return self.app.finalizer if self.app is not None else None

    @property
    def namespace(self) -> str | None:
        """The destination namespace the input names (None: the connection's default namespace)."""
        if self.app is None:
            return (self.raw.get("destination") or {}).get("namespace") or None
        return self.app.destination.namespace or None

    def desired(self, client: Any) -> DesiredState:
        """Render (for a spec) and check the policy and the project against the client's cluster; raises GitopsError.

        The repository and the destination are checked before anything is fetched, the objects before the
        cluster is read.
        """
        if self.project_error is not None:
            raise self.project_error
        default_namespace = client.default_namespace
        namespace = self.namespace
        for guard in self.guards:
            guard.check_destination(self.name, self.cluster or Cluster("*", "*"), namespace or default_namespace)
        if self.app is None:
            for guard in self.guards:
                guard.check_objects(self.name, self.objects, namespace or default_namespace, client, self.cluster)
            return DesiredState(self.name, self.objects, namespace, self.raw.get("ignore_differences") or [],
                                self.raw.get("revision"),
                                digest=desired_digest(self.raw.get("revision"), {
                                    "manifests": [obj.manifest for obj in self.objects], "namespace": namespace,
                                    "sync_policy": dataclasses.asdict(self.sync_policy)}))
        for guard in self.guards:
            for source in self.app.sources:
                guard.check_repo(self.name, source.repo_url)
        guards = self.guards

        def repo_check(url: str, context: str = "") -> None:  # submodules are no way around the rules
            for guard in guards:
                guard.check_repo(self.name, url, context)

        # helm lookup, when the application asks for it, reads the cluster as the run does (the client's identity)
        rendered = render_application(self.app, self.cache_dir, repo_check if guards else None, self.repositories,
                                      lookup_connection=getattr(client, "connection", None))
        self.objects = rendered.objects
        for guard in self.guards:
            guard.check_objects(self.name, rendered.objects, namespace or default_namespace, client, self.cluster)
        return DesiredState(self.name, rendered.objects, namespace, self.app.ignore_differences, rendered.revision,
                            self.source,
                            digest=desired_digest(" ".join(rendered.revisions) or rendered.revision, _spec_identity(self.app)),
                            revisions=rendered.revisions if self.app.multi_source else [])

    @property
    def info(self) -> list[dict[str, str]]:
        """Argo CD's spec.info of the application (shown in results, never deployed)."""
        return list(self.app.info) if self.app is not None else []


def _project_of(app: Application, projects: dict[str, Project]) -> Project:
    """The application's project; an unknown one is refused before any Git or cluster work."""
    if app.project in projects:
        return projects[app.project]
    if app.project == DEFAULT_PROJECT:
        return default_project()
    known = ", ".join(sorted({DEFAULT_PROJECT, *projects}))
    raise SpecError(f"project {app.project!r} is unknown (known projects: {known}); give its AppProject manifest in "
                    "projects", application=app.name)


def place_inputs(inputs: list[ApplicationInput], host: HostCluster) -> tuple[list[ApplicationInput], list[dict[str, str]]]:
    """The inputs whose destination is this host (their cluster set), and the others as {name, destination}."""
    here: list[ApplicationInput] = []
    elsewhere: list[dict[str, str]] = []
    for one in inputs:
        if one.app is None:
            here.append(one)  # rendered manifests go where the task sends them
            continue
        cluster = host.destination_cluster(one.app.destination)
        if cluster is None:
            elsewhere.append({"name": one.name, "destination": describe_destination(one.app.destination)})
        else:
            one.cluster = cluster
            here.append(one)
    return here, elsewhere


def for_this_cluster(params: dict[str, Any], client: Any,
                     inputs: list[ApplicationInput]) -> tuple[list[ApplicationInput], list[dict[str, str]]]:
    """place_inputs for the module's `cluster` option (server default: the client's); a single application meant
    for another cluster is an error rather than a task that does nothing."""
    option = params.get("cluster") or {}
    host = HostCluster(option.get("server") or client.server, option.get("name") or "")
    here, elsewhere = place_inputs(inputs, host)
    if params.get("applications") is None and elsewhere:
        raise SpecError(f"the destination ({elsewhere[0]['destination']}) is not this cluster ({host.describe()}): "
                        "set the cluster option (name, server) to the cluster the application names, or run the task "
                        "against that cluster", application=elsewhere[0]["name"])
    return here, elsewhere


def inputs_from_params(params: dict[str, Any], cache_dir: str,
                       applicationsets: dict[str, dict[str, Any]] | None = None,
                       excluded: list[dict[str, Any]] | None = None) -> list[ApplicationInput]:
    """The module's applications, in whichever of the three forms they were given (with generated ones).

    applicationsets, when given, receives what each ApplicationSet generated (GeneratedApplications.applicationsets);
    excluded the applications `only` and `skip` left out (raw, for the dependencies of the selected ones).
    """
    guard = Policy.from_params(params.get("policy"))
    projects = parse_projects(params.get("projects"))
    if params.get("generators") or params.get("applicationsets") or params.get("applicationset_files") or params.get("only") \
            or params.get("skip"):
        from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import generate_applications

        explicit = list(params.get("applications") or [])
        selected = generate_applications(explicit, params.get("generators") or [], params.get("only") or [],
                                         params.get("skip") or [], cache_dir=cache_dir,
                                         applicationsets=params.get("applicationsets"), clusters=params.get("clusters"),
                                         cluster=cluster_name(params),
                                         applicationset_files=params.get("applicationset_files"))
        raws = [explicit[index] for index in selected.explicit] + selected.generated
        if applicationsets is not None:
            applicationsets.update(selected.applicationsets)
        if excluded is not None:
            excluded += [explicit[index] for index in selected.excluded_explicit] + selected.excluded_generated
    elif params.get("applications") is not None:
        raws = params["applications"]
    elif params.get("application") is not None:
        raws = [params["application"]]
    else:
        raws = [{key: params.get(key) for key in MANIFESTS_FORM_KEYS}]
    repositories = parse_repositories(params.get("repositories"))
    inputs = [ApplicationInput(raw, cache_dir, guard, projects, repositories) for raw in raws]
    seen: set[tuple[str, str | None]] = set()
    for one in inputs:
        if (one.name, one.namespace) in seen:
            where = f"namespace {one.namespace}" if one.namespace else "the default namespace"
            raise SpecError(f"two applications are named {one.name} in {where}: they would share one inventory and "
                            "prune each other's objects; rename one of them")
        seen.add((one.name, one.namespace))
    return inputs


def selection_dependencies(inputs: list[ApplicationInput], excluded: list[dict[str, Any]]) -> list[ApplicationInput]:
    """The applications the selection left out that selected ones depend on (transitively), as unselected inputs.

    They join the run to be compared only: a dependency must be Synced and Healthy on the cluster, as it is,
    for its dependants to be synced (see _sync.dependencies).
    """
    if not excluded or not any(one.depends_on for one in inputs):
        return []
    from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import application_name

    by_name = {application_name(raw): raw for raw in excluded}
    run = inputs[0]
    known = {one.name for one in inputs}
    wanted = [name for one in inputs for name in one.depends_on if name in by_name and name not in known]
    found: list[ApplicationInput] = []
    while wanted:
        name = wanted.pop(0)
        if name in known:
            continue
        known.add(name)
        one = ApplicationInput(by_name[name], run.cache_dir, run.guard, run.projects, run.repositories)
        one.selected = False
        found.append(one)
        wanted += [need for need in one.depends_on if need in by_name and need not in known]
    return found


def with_children(params: dict[str, Any], cache_dir: str, inputs: list[ApplicationInput], client: Any,
                  applicationsets: dict[str, dict[str, Any]]) -> tuple[list[ApplicationInput], list[Any]]:
    """Every input rendered, and the Applications and ApplicationSets they render made applications of the run
    (app of apps, see _appset.app_of_apps); returns inputs and their states (DesiredState or GitopsError)."""
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import bind_destination, parse_clusters
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.app_of_apps import Family, expand
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.removed_children import (
        PARENT_LABELS,
        child_labels,
        prune_option,
    )
    from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import generate_applications

    clusters = parse_clusters(params.get("clusters"))
    cluster = cluster_name(params)

    def render(batch: list[ApplicationInput]) -> list[Any]:
        return run_each(batch, lambda one: one.desired(client))

    # children answer to the task's policy and projects and use its repository credentials, as their parents do
    # (a child exists only if some input rendered it)
    run = inputs[0] if inputs else None

    def make_input(raw: dict[str, Any]) -> ApplicationInput:
        name = ((raw.get("metadata") or {}).get("name")) if isinstance(raw, dict) else None
        child = ApplicationInput(bind_destination(raw, clusters, cluster, f"Application {name}"), cache_dir,
                                 run.guard if run else None, run.projects if run else None, run.repositories if run else None)
        prune_option(child.raw)  # a malformed sync-options annotation fails the parent now, not its pruning later
        return child

    def generate(manifests: list[dict[str, Any]]) -> Any:
        return generate_applications([], [], [], [], cache_dir=cache_dir, applicationsets=manifests,
                                     clusters=params.get("clusters"), cluster=cluster)

    family = Family()
    inputs, states = expand(inputs, render(inputs), make_input, render, generate, family)
    applicationsets.update(family.applicationsets)
    # recorded on the inventories: which parent rendered each child, so a later run finds the ones it stops rendering
    parents = set(family.parent_of.values())
    for one in inputs:
        if one.parent:
            one.parent_labels = {**one.parent_labels, **child_labels(one.parent, cluster, one.raw)}
        if one.name in parents:
            one.parent_labels = {**one.parent_labels, **PARENT_LABELS}
    return inputs, states


@dataclass
class SharedCompare:
    """What the applications of one module run share in the compare stage: live reads and dry-run verdicts."""

    reads: LiveReads
    verdicts: DryRunVerdicts | None

    @classmethod
    def for_run(cls, client: Any, inputs: list[ApplicationInput], dry_run_cache: bool) -> "SharedCompare":
        """Batch reads when there are several applications; verdicts unless dry_run_cache is off."""
        if len(inputs) < 2:
            reads: LiveReads = LiveReads(client)
        else:
            reads = BatchLiveReads(client, [(one.name, one.namespace or client.default_namespace) for one in inputs])
        return cls(reads, DryRunVerdicts.for_client(client, dry_run_cache) if inputs else None)

    def finish(self, client: Any, started: float, **counts: Any) -> dict[str, Any]:
        """Keep this run's verdicts; the run's stats: requests by verb, retries, counts, dry-runs saved, seconds."""
        if self.verdicts is not None:
            self.verdicts.save()
        stats = client.stats.to_dict()
        stats["requests"] = stats.pop("total")
        return {**stats, **counts, "dry_runs_reused": self.verdicts.reused if self.verdicts is not None else 0,
                "seconds": round(time.monotonic() - started, 3)}


def run_each(inputs: list[ApplicationInput], work: Callable[[ApplicationInput], T]) -> list[T | GitopsError]:
    """work() on every input, concurrently; one broken application does not stop the others.

    A connection failure concerns every application, so it is raised at once.
    """
    def attempt(one: ApplicationInput) -> T | GitopsError:
        try:
            return work(one)
        except ClusterConnectionError:
            raise
        except GitopsError as exc:
            return exc.with_application(one.name) if one.name else exc

    if len(inputs) <= 1:
        return [attempt(one) for one in inputs]
    with ThreadPoolExecutor(max_workers=min(APPLICATION_WORKERS, len(inputs))) as pool:
        return list(pool.map(attempt, inputs))


def run_ownership(client: Any, states: list[DesiredState]) -> RunOwnership:
    """The applications of a run and the objects each wants (objects move between them without deletion)."""
    ownership = RunOwnership()
    if len(states) < 2:
        return ownership  # a lone application has nobody to hand an object to
    for state in states:
        namespace = state.namespace or client.default_namespace
        ownership.add(application_applyset_id(state.name, namespace), state.name,
                      desired_refs(client, state.objects, namespace))
    return ownership


def scrub_result(value: Any, secrets: list[str]) -> Any:
    """Every string in a result with Secret values replaced by a mask (defence in depth)."""
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, list):
        return [scrub_result(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: scrub_result(item, secrets) for key, item in value.items()}
    return value


def masked_manifests(raw: Any) -> Any:
    """Manifests as -vvv may show them: every Secret's values masked."""
    if isinstance(raw, list):
        return [mask_secret(item) if isinstance(item, dict) else item for item in raw]
    if isinstance(raw, dict):
        return mask_secret(raw)
    if isinstance(raw, str):
        try:  # a JSON or YAML string, whatever its spelling of kind: Secret
            return [mask_secret(obj.manifest) for obj in load_manifests(raw, "manifests")]
        except (GitopsError, NameError):  # unparseable (the task says why) or PyYAML missing: echo nothing
            return SECRET_MASK
    return raw


def safe_invocation(params: dict[str, Any]) -> dict[str, Any]:
    """Module arguments as -vvv shows them: Secrets in manifests, Helm values and a kubeconfig dict masked."""
    args = dict(params)
    if isinstance(args.get("kubeconfig"), dict):
        args["kubeconfig"] = SECRET_MASK
    if args.get("manifests") is not None:
        args["manifests"] = masked_manifests(args["manifests"])
    if args.get("applications"):
        args["applications"] = [
            {**item, "manifests": masked_manifests(item["manifests"])} if isinstance(item, dict) and "manifests" in item
            else mask_helm_values(item)
            for item in args["applications"]
        ]
    args["application"] = mask_helm_values(args.get("application"))
    if args.get("generators"):
        args["generators"] = [masked_generator(generator) for generator in args["generators"]]
    if args.get("applicationsets"):
        args["applicationsets"] = [masked_applicationset(manifest) for manifest in args["applicationsets"]]
    return args


def masked_applicationset(manifest: Any) -> Any:
    """An ApplicationSet as -vvv may show it: Helm values of its template masked (generator elements are shown:
    they are parameters, and a chart password belongs in the template's values, not in a generator)."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
        return manifest
    template = manifest["spec"].get("template")
    if not isinstance(template, dict):
        return manifest
    return {**manifest, "spec": {**manifest["spec"], "template": mask_helm_values(template)}}


def masked_generator(generator: Any) -> Any:
    """A generator as -vvv may show it: Helm values masked in its template and elements."""
    if not isinstance(generator, dict):
        return generator
    masked = {}
    for kind, body in generator.items():
        if isinstance(body, dict):
            body = {**body, "template": mask_helm_values(body.get("template"))} if "template" in body else dict(body)
            if isinstance(body.get("elements"), list):
                body["elements"] = [mask_helm_values(element) for element in body["elements"]]
        masked[kind] = body
    return masked


def prepare_module(module: Any) -> dict[str, Any]:
    """Register Git credentials as no_log values, fail on a missing library; returns the safe invocation.

    Application specs are free-form dicts, so Ansible cannot find their
    credentials from the argument spec: they are registered by hand.
    """
    params = module.params
    if (params.get("generators") or params.get("applicationsets") or params.get("applicationset_files")) \
            and params.get("applications") is None:
        params["applications"] = []  # generated applications make a list, and the result says so
    for raw in [params.get("application")] + list(params.get("applications") or []):
        module.no_log_values.update(credential_values(raw))
    module.no_log_values.update(repository_secret_values(params.get("repositories")))
    invocation = {"module_args": safe_invocation(params)}
    for present, library, error in (
        (HAS_URLLIB3, "urllib3 (comes with kubernetes)", URLLIB3_IMPORT_ERROR),
        (HAS_YAML, "PyYAML", YAML_IMPORT_ERROR),
        (HAS_JSONPATCH, "jsonpatch", JSONPATCH_IMPORT_ERROR),
    ):
        if not present:
            module.fail_json(msg=missing_required_lib(library), exception=error, invocation=invocation)
    specs = [params.get("application")] + [a for a in params.get("applications") or [] if "manifests" not in a]
    if not HAS_GIT and (any(spec is not None for spec in specs) or params.get("generators") or params.get("applicationsets")
                        or params.get("applicationset_files")):
        module.fail_json(msg=missing_required_lib("GitPython"), exception=GIT_IMPORT_ERROR, invocation=invocation)
    return invocation
