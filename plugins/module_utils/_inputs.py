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

import functools
import re
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError, GitopsError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import application_applyset_id
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import HAS_URLLIB3, URLLIB3_IMPORT_ERROR
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import BatchLiveReads, LiveReads
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import RunOwnership, desired_refs
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import Policy
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import (
    SECRET_MASK,
    mask_helm_values,
    mask_secret,
    scrub_text,
    strip_url_credentials,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._render import HAS_YAML, YAML_IMPORT_ERROR
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import GIT_IMPORT_ERROR, HAS_GIT
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    PROPAGATION_POLICIES,
    Application,
    SyncPolicy,
    credential_values,
    parse_application,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import normalize_repo_url

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
    "prune_propagation_policy": {"type": "str", "choices": list(PROPAGATION_POLICIES), "default": "foreground"},
}
# generators in the task itself; documented by doc_fragments/_generators.py
GENERATOR_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "generators": {"type": "list", "elements": "dict"},
    "only": {"type": "list", "elements": "str"},
    "skip": {"type": "list", "elements": "str"},
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
    return SyncPolicy(**values)


@dataclass
class DesiredState:
    """An application's rendered objects and what the compare and sync stages need with them."""

    name: str
    objects: list[DesiredObject]
    namespace: str | None
    ignore_differences: list[Any] = field(default_factory=list)
    revision: str | None = None
    source: str | None = None  # where it comes from (ApplicationInput.source), recorded on its inventory
    # a multi-source application's revision of every source, in order (revision is the first one's)
    revisions: list[str] = field(default_factory=list)


class ApplicationInput:
    """One application of a module run: a spec rendered from Git here, or rendered manifests."""

    def __init__(self, raw: dict[str, Any], cache_dir: str, guard: Policy | None = None) -> None:
        self.raw = raw
        self.cache_dir = cache_dir
        self.guard = guard  # the task's policy, checked before any cluster work
        self.objects: list[DesiredObject] = []
        self.app: Application | None = None
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
        else:
            self.app = parse_application(raw)
            self.name = self.app.name
            self.sync_policy = self.app.sync_policy

    @property
    def source(self) -> str | None:
        """Where the application comes from: repository URL (without credentials) and path; None for rendered
        manifests, which carry no identity beyond their name and destination namespace."""
        if self.app is None:
            return None
        path = self.app.source.path.strip("/") or "."
        return f"{normalize_repo_url(strip_url_credentials(self.app.source.repo_url.strip()))}#{path}"

    @property
    def namespace(self) -> str | None:
        """The destination namespace the input names (None: the connection's default namespace)."""
        if self.app is None:
            return (self.raw.get("destination") or {}).get("namespace") or None
        return self.app.destination.namespace or None

    def desired(self, client: Any) -> DesiredState:
        """Render (for a spec) and check the policy against the client's cluster; raises GitopsError."""
        default_namespace = client.default_namespace
        if self.app is None:
            namespace = self.namespace
            if self.guard is not None:
                self.guard.check_objects(self.name, self.objects, namespace or default_namespace, client)
            return DesiredState(self.name, self.objects, namespace, self.raw.get("ignore_differences") or [],
                                self.raw.get("revision"))
        repo_check = None
        if self.guard is not None:
            for source in self.app.sources:
                self.guard.check_repo(self.name, source.repo_url)
            repo_check = functools.partial(self.guard.check_repo, self.name)  # submodules are no way around the policy
        rendered = render_application(self.app, self.cache_dir, repo_check)
        self.objects = rendered.objects
        namespace = self.namespace
        if self.guard is not None:
            self.guard.check_objects(self.name, rendered.objects, namespace or default_namespace, client)
        return DesiredState(self.name, rendered.objects, namespace, self.app.ignore_differences, rendered.revision,
                            self.source, rendered.revisions if self.app.multi_source else [])


def inputs_from_params(params: dict[str, Any], cache_dir: str) -> list[ApplicationInput]:
    """The module's applications, in whichever of the three forms they were given (with generated ones)."""
    guard = Policy.from_params(params.get("policy"))
    if params.get("generators") or params.get("only") or params.get("skip"):
        from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import generate_applications

        explicit = list(params.get("applications") or [])
        selected = generate_applications(explicit, params.get("generators") or [], params.get("only") or [],
                                         params.get("skip") or [], cache_dir=cache_dir)
        raws = [explicit[index] for index in selected.explicit] + selected.generated
    elif params.get("applications") is not None:
        raws = params["applications"]
    elif params.get("application") is not None:
        raws = [params["application"]]
    else:
        raws = [{key: params.get(key) for key in MANIFESTS_FORM_KEYS}]
    inputs = [ApplicationInput(raw, cache_dir, guard) for raw in raws]
    seen: set[tuple[str, str | None]] = set()
    for one in inputs:
        if (one.name, one.namespace) in seen:
            where = f"namespace {one.namespace}" if one.namespace else "the default namespace"
            raise SpecError(f"two applications are named {one.name} in {where}: they would share one inventory and "
                            "prune each other's objects; rename one of them")
        seen.add((one.name, one.namespace))
    return inputs


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
    return args


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
    if params.get("generators") and params.get("applications") is None:
        params["applications"] = []  # generated applications make a list, and the result says so
    for raw in [params.get("application")] + list(params.get("applications") or []):
        module.no_log_values.update(credential_values(raw))
    invocation = {"module_args": safe_invocation(params)}
    for present, library, error in (
        (HAS_URLLIB3, "urllib3 (comes with kubernetes)", URLLIB3_IMPORT_ERROR),
        (HAS_YAML, "PyYAML", YAML_IMPORT_ERROR),
        (HAS_JSONPATCH, "jsonpatch", JSONPATCH_IMPORT_ERROR),
    ):
        if not present:
            module.fail_json(msg=missing_required_lib(library), exception=error, invocation=invocation)
    specs = [params.get("application")] + [a for a in params.get("applications") or [] if "manifests" not in a]
    if not HAS_GIT and (any(spec is not None for spec in specs) or params.get("generators")):
        module.fail_json(msg=missing_required_lib("GitPython"), exception=GIT_IMPORT_ERROR, invocation=invocation)
    return invocation
