# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an application may deploy, checked before any write (Argo CD's AppProject, in one option).

A Policy limits the repositories an application may come from (globs on the
URL without credentials, normalised as the Git source fetches it: `..` cannot
leave a glob; its submodules' URLs too), the namespaces its objects (and its inventory) may
live in, the kinds it may create (allowed and denied group/kind patterns)
and whether it may create cluster-scoped objects at all (not unless allowed,
once a policy is given). The repository is checked before anything is
fetched; the rendered objects (hooks included) before the cluster is read.
Every violation is collected, so one message names each object and the rule
it breaks; the application then fails as a whole, and nothing is applied.

Mirrored by plugins/doc_fragments/_policy.py; keep the two in step.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import PolicyError
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


@dataclass(frozen=True)
class KindPattern:
    """A group/kind glob: 'apps/Deployment', 'rbac.authorization.k8s.io/*', '/ConfigMap' (core), 'Secret' (any group)."""

    group: str | None  # None: any group
    kind: str

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

    def matches(self, group: str, kind: str) -> bool:
        if self.group is not None and not fnmatch.fnmatchcase(group, self.group):
            return False
        return fnmatch.fnmatchcase(kind, self.kind)

    def __str__(self) -> str:
        if self.group is None:
            return self.kind
        return f"{self.group or 'core'}/{self.kind}"


@dataclass
class Policy:
    """The rules; None for a list means 'no restriction'."""

    allowed_repos: list[str] | None = None
    allowed_namespaces: list[str] | None = None
    allowed_kinds: list[KindPattern] | None = None
    denied_kinds: list[KindPattern] = field(default_factory=list)
    allow_cluster_scoped: bool = False

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
            raise PolicyError(f"policy: repository {written}{context} cannot be checked: {err}; nothing was fetched "
                              "or applied", application=app_name) from None
        shown = url if url == written else f"{url} (written {written})"
        if not any(fnmatch.fnmatchcase(url, pattern) for pattern in self._repo_patterns()):
            raise PolicyError(
                f"policy: repository {shown}{context} is not allowed (rule allowed_repos: {', '.join(self.allowed_repos)}); "
                "nothing was fetched or applied", application=app_name)

    def _repo_patterns(self) -> list[str]:
        """allowed_repos spelled like the URLs they are matched against (host case, dot segments)."""
        patterns = []
        for pattern in self.allowed_repos or []:
            if "://" not in pattern and not is_scp_like(pattern):
                patterns.append(pattern)  # '*' or a local path glob: taken as written
                continue
            try:
                patterns.append(normalize_repo_url(pattern))
            except RepoUrlError:
                patterns.append(pattern)
        return patterns

    def violations(self, objects: Iterable[DesiredObject], destination: str,
                   namespaced: Callable[[str, str], bool | None]) -> list[str]:
        """One line per broken rule: the object, where it came from, and the rule.

        `namespaced(api_version, kind)` says whether a kind is namespaced (None when unknown).
        """
        found: list[str] = []
        if self.allowed_namespaces is not None and not self._namespace_allowed(destination):
            found.append(f"destination namespace {destination!r} (where the inventory lives) is not allowed "
                         f"(rule allowed_namespaces: {', '.join(self.allowed_namespaces)})")
        for obj in objects:
            manifest = obj.manifest if isinstance(obj.manifest, dict) else {}
            group = split_api_version(obj.api_version)[0]
            kind = obj.kind
            metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
            scoped = namespaced(obj.api_version, kind)
            namespace = "" if scoped is False else (metadata.get("namespace") or destination)
            ref = ObjectRef(group, kind, namespace, metadata.get("name") or metadata.get("generateName") or "")
            where = f"{ref}" + (f" ({obj.location()})" if obj.location() else "")
            if self.allowed_kinds is not None and not any(p.matches(group, kind) for p in self.allowed_kinds):
                found.append(f"{where}: kind {ref.group_kind} is not allowed "
                             f"(rule allowed_kinds: {', '.join(str(p) for p in self.allowed_kinds)})")
            denied = next((p for p in self.denied_kinds if p.matches(group, kind)), None)
            if denied is not None:
                found.append(f"{where}: kind {ref.group_kind} is denied (rule denied_kinds: {denied})")
            if scoped is False:
                if not self.allow_cluster_scoped:
                    found.append(f"{where}: cluster-scoped objects are not allowed (rule allow_cluster_scoped: false)")
            elif self.allowed_namespaces is not None and not self._namespace_allowed(namespace):
                found.append(f"{where}: namespace {namespace!r} is not allowed "
                             f"(rule allowed_namespaces: {', '.join(self.allowed_namespaces)})")
        return found

    def _namespace_allowed(self, namespace: str) -> bool:
        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.allowed_namespaces or [])

    def check_objects(self, app_name: str, objects: list[DesiredObject], destination: str,
                      client: "KubeClient | None" = None) -> None:
        """Raise PolicyError naming every object that breaks a rule (scope from discovery, or the app's CRDs)."""
        app_crds = _crd_scopes(objects)

        def namespaced(api_version: str, kind: str) -> bool | None:
            if client is not None:
                resource = client.resource_for(api_version, kind)
                if resource is not None:
                    return resource.namespaced
            return app_crds.get((split_api_version(api_version)[0], kind))

        problems = self.violations(objects, destination, namespaced)
        if problems:
            shown = problems[:MAX_REPORTED]
            more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
            raise PolicyError("policy violated, nothing was applied: " + "; ".join(shown) + more, application=app_name)


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
