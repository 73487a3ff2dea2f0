# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Application generators, like Argo CD's ApplicationSet, and selection by name.

Two generators:

- list: a template (part of an application spec) and elements, each deep-merged
  over the template (dictionaries merge, anything else replaces), so every
  element overrides only what differs;
- git: the directories of a repository that match glob patterns at a commit,
  each becoming an application named after its directory, with the template
  merged under it. The repository is read through the Git source engine
  (_source.GitSource): the same cached mirror, locks and credential handling
  as every render.

Generated applications are plain application specs (dictionaries), checked by
the same parser as any other, and pinned to the commit their directory was
found at, so the list and the render agree.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import GitSource, resolve_in_checkout
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SourceSpec, normalize_repo_path, parse_application

_INVALID_NAME_CHARS = re.compile(r"[^a-z0-9.-]+")
GIT_SOURCE_KEYS = ("repo_url", "revision", "ssh_private_key_file", "ssh_known_hosts_file", "ssh_strict_host_key_checking")


@dataclass
class DirectoryPattern:
    """One entry of a git generator's directories: a glob, matched segment by segment."""

    path: str
    exclude: bool = False

    def matches(self, relative: str) -> bool:
        """Whether a repository-relative directory matches; '*' never crosses a '/', as in Argo CD."""
        pattern = self.path.strip("/").split("/")
        parts = relative.split("/")
        return len(pattern) == len(parts) and all(fnmatch.fnmatchcase(part, glob) for part, glob in zip(parts, pattern))


@dataclass
class GeneratedApplications:
    """What the generators produced and the selection kept."""

    explicit: list[int] = field(default_factory=list)  # indexes of the selected explicit applications
    generated: list[dict[str, Any]] = field(default_factory=list)  # the selected generated applications
    names: list[str] = field(default_factory=list)  # every selected name, explicit ones first
    excluded: list[str] = field(default_factory=list)  # names gitops_only/gitops_skip left out
    # what they left out, as selected ones are given: indexes of explicit applications, generated specs
    excluded_explicit: list[int] = field(default_factory=list)
    excluded_generated: list[dict[str, Any]] = field(default_factory=list)
    revisions: dict[str, str] = field(default_factory=dict)  # git generator repository -> commit
    unmatched_only: list[str] = field(default_factory=list)  # `only` patterns that selected nothing
    # ApplicationSet name -> what it generated here, what it generated for other clusters, its deletion policy
    applicationsets: dict[str, dict[str, Any]] = field(default_factory=dict)


def deep_merge(base: Any, override: Any) -> Any:
    """override merged over base: dictionaries key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def application_name(raw: Any) -> str:
    """The name of our spec or of an Argo CD Application manifest (metadata.name)."""
    if not isinstance(raw, dict):
        return ""
    if "apiVersion" in raw or "kind" in raw:
        metadata = raw.get("metadata")
        return str(metadata.get("name") or "") if isinstance(metadata, dict) else ""
    return str(raw.get("name") or "")


def directory_application_name(directory: str) -> str:
    """A directory's base name as an application name (lowercase, DNS-safe)."""
    name = _INVALID_NAME_CHARS.sub("-", directory.rsplit("/", 1)[-1].lower()).strip("-.")
    return name[:253]


def _check_no_credentials(where: str, raw: Any) -> None:
    """Generators refuse HTTPS credentials: they would travel in the generated specs, i.e. in task results."""
    source = raw.get("source") if isinstance(raw, dict) else None
    candidates = [raw, source] if isinstance(source, dict) else [raw]
    for mapping in candidates:
        if not isinstance(mapping, dict):
            continue
        if mapping.get("password") or mapping.get("username"):
            raise SpecError(f"{where}: username/password are not accepted in generators (the generated applications "
                            "would carry them in task results); use ssh_private_key_file, or list the application in "
                            "gitops_applications")
        url = mapping.get("repo_url")
        if isinstance(url, str) and "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
            raise SpecError(f"{where}: repo_url must not carry credentials in a generator; use ssh_private_key_file, "
                            "or list the application in gitops_applications")


def _validated(app: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        parse_application(app)
    except SpecError as err:
        raise SpecError(f"{where}: {err}") from None
    return app


def list_generator(generator: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """One application per element: the element deep-merged over the template."""
    where = f"generators[{index}].list"
    template = generator.get("template") or {}
    elements = generator.get("elements")
    if not isinstance(template, dict):
        raise SpecError(f"{where}.template must be a mapping")
    if not isinstance(elements, list) or not elements:
        raise SpecError(f"{where}.elements must be a non-empty list of mappings")
    _check_no_credentials(f"{where}.template", template)
    applications = []
    for position, element in enumerate(elements):
        if not isinstance(element, dict):
            raise SpecError(f"{where}.elements[{position}] must be a mapping")
        _check_no_credentials(f"{where}.elements[{position}]", element)
        applications.append(_validated(deep_merge(template, element), f"{where}.elements[{position}]"))
    return applications


def _matching_directories(root: Path, patterns: list[DirectoryPattern]) -> list[str]:
    """Repository-relative directories matching an include pattern and no exclude pattern (hidden ones skipped)."""
    include = [p for p in patterns if not p.exclude]
    exclude = [p for p in patterns if p.exclude]
    depth = max(len(p.path.strip("/").split("/")) for p in include)
    found: list[str] = []
    frontier = [(root, "")]
    for dummy in range(depth):
        next_frontier = []
        for directory, relative in frontier:
            for child in sorted(directory.iterdir()):
                if not child.is_dir() or child.is_symlink() or child.name.startswith("."):
                    continue
                child_relative = f"{relative}/{child.name}" if relative else child.name
                next_frontier.append((child, child_relative))
                if any(p.matches(child_relative) for p in include) and not any(p.matches(child_relative) for p in exclude):
                    found.append(child_relative)
        frontier = next_frontier
    return sorted(found)


def git_generator(generator: dict[str, Any], index: int, cache_dir: str | None) -> tuple[list[dict[str, Any]], str, str]:
    """One application per matching directory; returns (applications, display URL, commit)."""
    where = f"generators[{index}].git"
    _check_no_credentials(where, generator)
    template = generator.get("template") or {}
    if not isinstance(template, dict):
        raise SpecError(f"{where}.template must be a mapping")
    _check_no_credentials(f"{where}.template", template)
    repo_url = str(generator.get("repo_url") or "")
    if not repo_url:
        raise SpecError(f"{where}.repo_url is required")
    raw_patterns = generator.get("directories")
    if not isinstance(raw_patterns, list) or not raw_patterns:
        raise SpecError(f"{where}.directories must be a non-empty list of {{path, exclude}}")
    patterns = []
    for position, raw in enumerate(raw_patterns):
        if not isinstance(raw, dict) or not raw.get("path"):
            raise SpecError(f"{where}.directories[{position}] needs a path (a glob such as apps/*)")
        unknown = set(raw) - {"path", "exclude"}
        if unknown:
            raise SpecError(f"{where}.directories[{position}] has unknown keys: {', '.join(sorted(unknown))}")
        try:
            path = normalize_repo_path(str(raw["path"]), what="directories path")
        except ValueError as err:
            raise SpecError(f"{where}.directories[{position}]: {err}") from None
        patterns.append(DirectoryPattern(path=path, exclude=bool(raw.get("exclude"))))
    if all(p.exclude for p in patterns):
        raise SpecError(f"{where}.directories needs at least one pattern that is not an exclude")
    spec = SourceSpec(
        repo_url=repo_url,
        revision=str(generator.get("revision") or "HEAD"),
        ssh_private_key_file=str(generator.get("ssh_private_key_file") or ""),
        ssh_known_hosts_file=str(generator.get("ssh_known_hosts_file") or ""),
        ssh_strict_host_key_checking=bool(generator.get("ssh_strict_host_key_checking", True)),
    )
    source = GitSource(spec, cache_dir)
    resolved = source.resolve()
    with source.checkout(resolved.sha) as root:
        resolve_in_checkout(root, ".", "path")  # the checkout itself is sane
        directories = _matching_directories(root, patterns)
    git_source = {key: generator[key] for key in GIT_SOURCE_KEYS if generator.get(key) not in (None, "")}
    applications = []
    for directory in sorted(directories, key=lambda d: (directory_application_name(d), d)):
        name = directory_application_name(directory)
        generated = {
            "name": name,
            "source": {**git_source, "revision": resolved.sha, "path": directory},
            "destination": {"namespace": name},
        }
        # the template fills in everything else; what makes the application (name, source) stays generated
        merged = deep_merge(template, generated)
        if (template.get("destination") or {}).get("namespace"):
            merged["destination"]["namespace"] = template["destination"]["namespace"]
        applications.append(_validated(merged, f"{where} directory {directory!r}"))
    return applications, source.display_url, resolved.sha


def _selected(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def generate_applications(applications: list[Any], generators: list[dict[str, Any]], only: list[str],
                          skip: list[str], cache_dir: str | None = None, applicationsets: list[Any] | None = None,
                          clusters: list[Any] | None = None, cluster: str | None = None,
                          applicationset_files: list[str] | None = None) -> GeneratedApplications:
    """Explicit applications, then every generator's, selected by name (globs); names must be unique.

    Explicit applications are returned as indexes, never copied: they may carry
    Git credentials, and a module result must not.
    """
    result = GeneratedApplications()
    # (spec, where it came from, index into `applications` or None for a generated one)
    candidates: list[tuple[dict[str, Any], str, int | None]] = []
    for position, app in enumerate(applications):
        if not isinstance(app, dict):
            raise SpecError(f"applications[{position}] must be a mapping")
        candidates.append((app, f"applications[{position}]", position))
    for index, generator in enumerate(generators):
        if not isinstance(generator, dict) or len(set(generator) & {"list", "git"}) != 1 or len(generator) != 1:
            raise SpecError(f"generators[{index}] must have exactly one key: list or git")
        if "list" in generator:
            produced = list_generator(generator["list"] or {}, index)
            candidates += [(app, f"generators[{index}].list", None) for app in produced]
        else:
            produced, url, sha = git_generator(generator["git"] or {}, index, cache_dir)
            result.revisions[url] = sha
            candidates += [(app, f"generators[{index}].git", None) for app in produced]
    if applicationset_files:
        from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import load_applicationset_files

        applicationsets = list(applicationsets or []) + load_applicationset_files(applicationset_files)
    if applicationsets:
        from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import expand_applicationset, parse_clusters

        inventory_clusters = parse_clusters(clusters)
        for index, manifest in enumerate(applicationsets):
            expanded = expand_applicationset(manifest, inventory_clusters, cluster, cache_dir)
            if expanded.name in result.applicationsets:
                raise SpecError(f"applicationsets[{index}]: ApplicationSet {expanded.name!r} is given twice")
            result.revisions.update(expanded.revisions)
            result.applicationsets[expanded.name] = {
                "generated": [application_name(one.manifest) for one in expanded.applications],
                "elsewhere": expanded.elsewhere,
                "preserve_resources_on_deletion": expanded.preserve_resources_on_deletion,
                "applications_sync": expanded.applications_sync,
            }
            candidates += [(_validated(one.manifest, one.origin), one.origin, None) for one in expanded.applications]
    seen: dict[str, str] = {}
    for app, origin, position in candidates:
        name = application_name(app)
        if not name:
            raise SpecError(f"{origin}: an application without a name")
        if name in seen:
            raise SpecError(f"application name {name!r} is used twice: by {seen[name]} and by {origin}")
        seen[name] = origin
        if (only and not _selected(name, only)) or _selected(name, skip):
            result.excluded.append(name)
            if position is None:
                result.excluded_generated.append(app)
            else:
                result.excluded_explicit.append(position)
            continue
        result.names.append(name)
        if position is None:
            result.generated.append(app)
        else:
            result.explicit.append(position)
    result.unmatched_only = [pattern for pattern in only if not any(fnmatch.fnmatchcase(name, pattern) for name in seen)]
    return result
