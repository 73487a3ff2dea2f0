# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an application may deploy, checked before any write: the rule set of a project.

One rule set (`Policy`), two ways to write it: the `policy` option of the
modules (its short form, built by `Policy.from_params`) and Argo CD
`AppProject` manifests (translated by _projects.py). Both are checked by the
code below, so they mean the same wherever they overlap.

A Policy limits the repositories an application may come from (globs on the
URL without credentials, normalised as the Git source fetches it: `..` cannot
leave a glob; its submodules' URLs too), the destinations (cluster and
namespace) its objects (and its inventory) may live in, and the kinds it may
create, namespaced and cluster-scoped separately (allow and deny lists of
group/kind patterns). The repository and the destination are checked before
anything is fetched; the rendered objects (hooks included) before the cluster
is read. Every violation is collected, so one message names each object and
the rule it breaks; the application then fails as a whole, and nothing is
applied.

Patterns are Argo CD's globs (gobwas/glob): `*` and `?` (not across the
separator where one applies: '/' in AppProject sourceRepos), `**`, `[...]`,
`{a,b}`; a leading `!` negates where Argo CD allows it (sourceRepos,
destinations).

Mirrored by plugins/doc_fragments/_policy.py; keep the two in step.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import PolicyError
from ansible_collections.gitops.kubernetes.plugins.module_utils._glob import glob_match
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef, split_api_version
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import RepoUrlError, is_scp_like, normalize_repo_url

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient

POLICY_ARGUMENT_SPEC: dict[str, Any] = {
    "policy": {
        "type": "dict",
        "options": {
            "allowed_repos": {"type": "list", "elements": "str"},
            "allowed_namespaces": {"type": "list", "elements": "str"},
            "allowed_kinds": {"type": "list", "elements": "raw"},
            "denied_kinds": {"type": "list", "elements": "raw", "default": []},
            "allow_cluster_scoped": {"type": "bool", "default": False},
        },
    },
}
MAX_REPORTED = 20
CRD_GROUP = "apiextensions.k8s.io"


def is_deny_pattern(pattern: str) -> bool:
    return pattern.startswith("!")


def negatable_match(pattern: str, value: str, separator: str = "") -> bool:
    """Argo CD's globMatch with negation: '!p' matches what p does not match; '*' matches everything."""
    if is_deny_pattern(pattern):
        return not glob_match(pattern[1:], value, separator)
    return pattern == "*" or glob_match(pattern, value, separator)


@dataclass(frozen=True)
class KindPattern:
    """A group/kind glob: 'apps/Deployment', 'rbac.authorization.k8s.io/*', '/ConfigMap' (core), 'Secret' (any group).

    `name` (cluster-scoped kinds of an AppProject only) narrows it to matching object names.
    """

    group: str | None  # None: any group
    kind: str
    name: str = ""

    @classmethod
    def parse(cls, raw: Any, option: str) -> "KindPattern":
        if isinstance(raw, dict):
            unknown = set(raw) - {"group", "kind"}
            if unknown or not isinstance(raw.get("kind"), str) or not raw["kind"]:
                raise PolicyError(f"policy.{option} entry {raw!r} must be a 'group/kind' string or a mapping with "
                                  "kind (and group)")
            group = raw.get("group")
            return cls(None if group is None else str(group), raw["kind"])
        if not isinstance(raw, str) or not raw.strip():
            raise PolicyError(f"policy.{option} entry {raw!r} must be a 'group/kind' string or a mapping with kind (and group)")
        text = raw.strip()
        if "/" not in text:
            return cls(None, text)
        group, kind = text.rsplit("/", 1)
        if not kind:
            raise PolicyError(f"policy.{option} entry {raw!r} names no kind (write 'group/*' for every kind of a group)")
        return cls("" if group in ("", "core") else group, kind)

    def matches(self, group: str, kind: str, name: str = "") -> bool:
        if self.group is not None and not fnmatch.fnmatchcase(group, self.group):
            return False
        if self.name and not fnmatch.fnmatchcase(name, self.name):
            return False
        return fnmatch.fnmatchcase(kind, self.kind)

    def __str__(self) -> str:
        text = self.kind if self.group is None else f"{self.group or 'core'}/{self.kind}"
        return f"{text} named {self.name}" if self.name else text


@dataclass
class KindRule:
    """Which kinds of one scope (namespaced or cluster-scoped) may be deployed, and how messages name the rules."""

    allowed: list[KindPattern] | None  # None: any kind; []: none at all
    denied: list[KindPattern]
    allowed_rule: str  # e.g. 'allowed_kinds', 'clusterResourceWhitelist'
    denied_rule: str
    none_allowed: str  # the rule quoted when allowed is []

    def problem(self, group: str, kind: str, name: str, group_kind: str) -> list[str]:
        found = []
        if self.allowed is not None and not self.allowed:
            found.append(f"{self.none_allowed}")
        elif self.allowed is not None and not any(p.matches(group, kind, name) for p in self.allowed):
            found.append(f"kind {group_kind} is not allowed (rule {self.allowed_rule}: "
                         f"{', '.join(str(p) for p in self.allowed)})")
        denied = next((p for p in self.denied if p.matches(group, kind, name)), None)
        if denied is not None:
            found.append(f"kind {group_kind} is denied (rule {self.denied_rule}: {denied})")
        return found


@dataclass(frozen=True)
class DestinationPattern:
    """One allowed (or, with '!', denied) destination: globs on the cluster's server URL and name, and the namespace."""

    server: str = ""
    name: str = ""
    namespace: str = ""

    def __str__(self) -> str:
        parts = [f"{key}={value}" for key, value in (("server", self.server), ("name", self.name)) if value]
        return ", ".join(parts + [f"namespace={self.namespace}"])


@dataclass(frozen=True)
class Cluster:
    """The cluster an application's objects go to, as a project's destinations see it (server URL and name)."""

    server: str = ""
    name: str = ""


@dataclass
class Policy:
    """A rule set; None for a list means 'no restriction'. Built from the policy option or an AppProject."""

    allowed_repos: list[str] | None = None
    allowed_namespaces: list[str] | None = None
    allowed_kinds: list[KindPattern] | None = None
    denied_kinds: list[KindPattern] = field(default_factory=list)
    allow_cluster_scoped: bool = False
    # how messages name the rule set ('policy', "project 'team-a'") and its rules
    label: str = "policy"
    repos_rule: str = "allowed_repos"
    # '/' for AppProject sourceRepos (a '*' does not cross it, as in Argo CD); '' for the policy option
    repo_separator: str = ""
    # Argo CD AppProject destinations; None: derived from allowed_namespaces (any cluster)
    destinations: list[DestinationPattern] | None = None
    destinations_rule: str = ""
    namespaced: KindRule | None = None
    cluster_scoped: KindRule | None = None

    def __post_init__(self) -> None:
        # the short form, spelled in the one rule set the checks below read
        if self.destinations is None and self.allowed_namespaces is not None:
            self.destinations = [DestinationPattern("*", "*", pattern) for pattern in self.allowed_namespaces]
            self.destinations_rule = f"allowed_namespaces: {', '.join(self.allowed_namespaces)}"
        if self.namespaced is None:
            self.namespaced = KindRule(self.allowed_kinds, self.denied_kinds, "allowed_kinds", "denied_kinds",
                                       "namespaced objects are not allowed (rule allowed_kinds: [])")
        if self.cluster_scoped is None:
            self.cluster_scoped = KindRule(
                self.allowed_kinds if self.allow_cluster_scoped else [], self.denied_kinds, "allowed_kinds",
                "denied_kinds", "cluster-scoped objects are not allowed (rule allow_cluster_scoped: false)")

    @classmethod
    def from_params(cls, raw: dict[str, Any] | None) -> "Policy | None":
        """The policy of a module's `policy` option, or None when none is given."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise PolicyError("policy must be a mapping")
        unknown = set(raw) - set(POLICY_ARGUMENT_SPEC["policy"]["options"])
        if unknown:
            raise PolicyError(f"policy has unknown keys: {', '.join(sorted(unknown))}")

        def strings(option: str) -> list[str] | None:
            value = raw.get(option)
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
                raise PolicyError(f"policy.{option} must be a list of non-empty strings (globs)")
            return list(value)

        def kinds(option: str) -> list[KindPattern] | None:
            value = raw.get(option)
            if value is None:
                return None
            if not isinstance(value, list):
                raise PolicyError(f"policy.{option} must be a list")
            return [KindPattern.parse(item, option) for item in value]

        return cls(
            allowed_repos=strings("allowed_repos"),
            allowed_namespaces=strings("allowed_namespaces"),
            allowed_kinds=kinds("allowed_kinds"),
            denied_kinds=kinds("denied_kinds") or [],
            allow_cluster_scoped=bool(raw.get("allow_cluster_scoped")),
        )

    # ------------------------------------------------------------------ checks

    def check_repo(self, app_name: str, repo_url: str, context: str = "") -> None:
        """Refuse a repository outside allowed_repos, before anything is fetched from it.

        The URL is matched in its normalised form (the one the Git source fetches),
        so '..', '%2e%2e' or a differently cased host cannot step out of a glob.
        `context` says where the URL came from when it is not the application's own
        (for example a submodule).
        """
        if self.allowed_repos is None:
            return
        written = strip_url_credentials(repo_url.strip())
        try:
            url = normalize_repo_url(written)
        except RepoUrlError as err:
            raise PolicyError(f"{self.label}: repository {written}{context} cannot be checked: {err}; nothing was "
                              "fetched or applied", application=app_name) from None
        shown = url if url == written else f"{url} (written {written})"
        if not self._repo_allowed(url):
            raise PolicyError(
                f"{self.label}: repository {shown}{context} is not allowed (rule {self.repos_rule}: "
                f"{', '.join(self.allowed_repos)}); nothing was fetched or applied", application=app_name)

    def _repo_allowed(self, url: str) -> bool:
        """Argo CD's IsSourcePermitted: a matching '!' pattern refuses at once, else any plain match allows."""
        value = self._repo_form(url)
        allowed = False
        for pattern in self.allowed_repos or []:
            negated = is_deny_pattern(pattern)
            spelled = self._repo_pattern(pattern[1:] if negated else pattern)
            if negated:
                if glob_match(spelled, value, self.repo_separator):
                    return False
            elif spelled == "*" or glob_match(spelled, value, self.repo_separator):
                allowed = True
        return allowed

    def _repo_form(self, url: str) -> str:
        """The URL as patterns see it: ours, or (AppProject) Argo CD's NormalizeGitURL (lower case, no '.git')."""
        if not self.repo_separator:
            return url
        lowered = url.strip().lower()
        if is_scp_like(lowered):
            lowered = lowered.replace(":", "/", 1)
        if lowered.startswith("ssh://"):
            lowered = lowered[len("ssh://"):]
        return lowered[:-len(".git")] if lowered.endswith(".git") else lowered

    def _repo_pattern(self, pattern: str) -> str:
        """A pattern spelled like the URLs it is matched against (host case, dot segments)."""
        if "://" not in pattern and not is_scp_like(pattern):
            return self._repo_form(pattern) if self.repo_separator else pattern  # '*' or a local path glob
        try:
            return self._repo_form(normalize_repo_url(pattern))
        except RepoUrlError:
            return self._repo_form(pattern)

    def destination_allowed(self, cluster: Cluster, namespace: str) -> bool:
        """Argo CD's isDestinationMatched, negations included (a namespace of '' is a cluster-scoped object's)."""
        if self.destinations is None:
            return True
        matched_any = False
        for item in self.destinations:
            name_matched = bool(cluster.name) and negatable_match(item.name, cluster.name)
            server_matched = bool(cluster.server) and negatable_match(item.server, cluster.server)
            namespace_matched = negatable_match(item.namespace, namespace)
            if (server_matched or name_matched) and namespace_matched:
                matched_any = True
            elif (not name_matched and is_deny_pattern(item.name)) or \
                    (not server_matched and is_deny_pattern(item.server) and namespace_matched):
                return False
            elif not namespace_matched and is_deny_pattern(item.namespace) and server_matched:
                return False
        return matched_any

    def _destinations_text(self) -> str:
        return self.destinations_rule or "destinations: " + "; ".join(str(d) for d in self.destinations or [])

    def check_destination(self, app_name: str, cluster: Cluster, namespace: str) -> None:
        """Refuse an application whose destination the rules do not allow, before anything is fetched."""
        if not self.destination_allowed(cluster, namespace):
            where = " ".join(part for part in (f"server {cluster.server}" if cluster.server else "",
                                               f"name {cluster.name}" if cluster.name else "") if part)
            raise PolicyError(f"{self.label}: destination namespace {namespace!r} (where the inventory lives) on the "
                              f"cluster with {where or 'no server or name'} is not allowed "
                              f"(rule {self._destinations_text()}); nothing was fetched or applied", application=app_name)

    def violations(self, objects: Iterable[DesiredObject], destination: str,
                   namespaced: Callable[[str, str], bool | None], cluster: Cluster | None = None) -> list[str]:
        """One line per broken rule: the object, where it came from, and the rule.

        `namespaced(api_version, kind)` says whether a kind is namespaced (None when unknown).
        `cluster` is the destination cluster (any cluster when not given).
        """
        found: list[str] = []
        cluster = cluster or Cluster("*", "*")
        if not self.destination_allowed(cluster, destination):
            found.append(f"destination namespace {destination!r} (where the inventory lives) is not allowed "
                         f"(rule {self._destinations_text()})")
        for obj in objects:
            manifest = obj.manifest if isinstance(obj.manifest, dict) else {}
            group = split_api_version(obj.api_version)[0]
            kind = obj.kind
            metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
            scoped = namespaced(obj.api_version, kind)
            namespace = "" if scoped is False else (metadata.get("namespace") or destination)
            name = metadata.get("name") or metadata.get("generateName") or ""
            ref = ObjectRef(group, kind, namespace, name)
            where = f"{ref}" + (f" ({obj.location()})" if obj.location() else "")
            rule = self.cluster_scoped if scoped is False else self.namespaced
            found += [f"{where}: {problem}" for problem in rule.problem(group, kind, name, ref.group_kind)]  # type: ignore[union-attr]
            if scoped is not False and not self.destination_allowed(cluster, namespace):
                found.append(f"{where}: namespace {namespace!r} is not allowed (rule {self._destinations_text()})")
        return found

    def check_objects(self, app_name: str, objects: list[DesiredObject], destination: str,
                      client: "KubeClient | None" = None, cluster: Cluster | None = None) -> None:
        """Raise PolicyError naming every object that breaks a rule (scope from discovery, or the app's CRDs)."""
        app_crds = _crd_scopes(objects)

        def namespaced(api_version: str, kind: str) -> bool | None:
            if client is not None:
                resource = client.resource_for(api_version, kind)
                if resource is not None:
                    return resource.namespaced
            return app_crds.get((split_api_version(api_version)[0], kind))

        problems = self.violations(objects, destination, namespaced, cluster)
        if problems:
            shown = problems[:MAX_REPORTED]
            more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
            raise PolicyError(f"{self.label} violated, nothing was applied: " + "; ".join(shown) + more,
                              application=app_name)


def _crd_scopes(objects: Iterable[DesiredObject]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced for the CustomResourceDefinitions the application brings itself."""
    found: dict[tuple[str, str], bool] = {}
    for obj in objects:
        if obj.kind != "CustomResourceDefinition" or split_api_version(obj.api_version)[0] != CRD_GROUP:
            continue
        spec = obj.manifest.get("spec") if isinstance(obj.manifest.get("spec"), dict) else {}
        names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
        if spec.get("group") and names.get("kind"):
            found[(spec["group"], names["kind"])] = spec.get("scope", "Namespaced") == "Namespaced"
    return found
