# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render stage: every source of an application (a Git checkout at one commit, or a chart from a chart
repository or an OCI registry at one version) -> the desired objects.

Three renderers, chosen from the application path unless the spec names one:
a `kustomization.yaml` (or `.yml`, `Kustomization`) means kustomize, a
`Chart.yaml` means helm, anything else is a directory of plain manifests.
Every object keeps the repository-relative file it came from, so errors and
reports can point at a line in Git.

Results are cached on disk by (commit, path, render options, tool binaries):
rendering the same commit again costs one JSON read and no checkout. A Helm
render with lookup is never cached: it depends on live objects, which no key
can pin, and would put what it read from the cluster on disk.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, RenderError, SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ResolvedConnection
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.cache import RenderCache, render_cache_key
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.chart import ChartSource
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.directory import (
    list_manifest_files,
    render_directory,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.helm import render_helm
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.kustomize import KUSTOMIZATION_FILES, render_kustomize
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import HAS_YAML, YAML_IMPORT_ERROR, dump_yaml, load_manifests
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import (
    CommitInfo,
    GitSource,
    PathEscapeError,
    RemoteUnreachableError,
    RepoCheck,
    ResolvedRevision,
    UnknownRevisionError,
    default_cache_dir,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential, find_credential, secrets
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, DirectoryOptions, SourceSpec
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import manifest_loader

__all__ = ["CommitInfo", "HAS_YAML", "RenderResult", "SourceRender", "combine_sources", "YAML_IMPORT_ERROR", "render_application",
           "detect_renderer", "dump_yaml",
           "load_manifests", "manifest_loader"]

_RENDERERS = {"directory": render_directory, "kustomize": render_kustomize, "helm": render_helm}


@dataclass
class SourceRender:
    """What one source of an application contributed: its revision, and its objects unless it only lends files."""

    index: int
    label: str  # how messages name it ("source 2 (ref values)")
    repo_url: str  # without credentials
    path: str
    revision: str  # the 40-character commit SHA; for a chart '<version>@sha256:<archive digest>'
    commit: CommitInfo  # for a chart: sha is the archive digest, subject names chart, version and repository
    renderer: str  # "directory" | "kustomize" | "helm", "" for a ref source that renders nothing
    objects: list[DesiredObject]
    cache_hit: bool = False
    ref: str = ""

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"repo_url": self.repo_url, "path": self.path, "revision": self.revision,
                                 "renderer": self.renderer, "objects": len(self.objects), "cache_hit": self.cache_hit}
        if self.ref:
            entry["ref"] = self.ref
        return entry


@dataclass
class RenderResult:
    objects: list[DesiredObject]
    revision: str  # the first (primary) source's revision (a commit SHA, or a chart's version@digest)
    commit: CommitInfo
    renderer: str  # "directory" | "kustomize" | "helm" (the first source that renders)
    cache_hit: bool = False
    sources: list[SourceRender] = field(default_factory=list)

    @property
    def revisions(self) -> list[str]:
        """Every source's revision, in the order of the sources (Argo CD's status.sync.revisions)."""
        return [source.revision for source in self.sources]


@dataclass
class _SourceWork:
    app: Application
    index: int
    source: SourceSpec
    git: GitSource
    resolved: ResolvedRevision
    refs: "_RefCheckouts"
    cache: RenderCache | None
    credentials: list[RepositoryCredential]  # for chart dependencies
    lookup_connection: ResolvedConnection | None = None


def render_application(app: Application, cache_dir: str | None = None, repo_check: RepoCheck | None = None,
                       repositories: list[RepositoryCredential] | None = None,
                       lookup_connection: ResolvedConnection | None = None) -> RenderResult:
    """Source and Render stages for one application, every source of it.

    Each source is resolved and rendered on its own (and cached on its own); a
    ref source lends its checkout to the others' `$ref/...` value files and,
    without a path, renders nothing. The objects of all sources form the
    application: one object from two sources is an error naming both.
    repo_check vets the URL of every submodule the render uses (the policy's
    allowed_repos), on a render from the cache as well. repositories are the
    credentials matched by URL prefix to chart repositories, OCI registries
    and (when the spec gives none) Git repositories. lookup_connection is the
    run's cluster connection, which a Helm render reads live objects with when
    the application asks for lookup (such a render is never cached).
    Raises SourceError or RenderError (with the application name attached), or what repo_check raises.
    """
    try:
        cache_dir = cache_dir or default_cache_dir()
        credentials = list(repositories or [])
        with ExitStack() as stack:
            refs = _RefCheckouts(stack)
            works: dict[int, _SourceWork] = {}
            for index, source in enumerate(app.sources):
                if source.chart:
                    continue  # fetched when rendered: nothing of a chart is lent to other sources
                source = with_git_credentials(source, credentials)
                git = GitSource(source, cache_dir, repo_check=repo_check)
                try:
                    resolved = git.resolve()
                except GitopsError as err:
                    raise _in_source(err, app, index) from None
                # remote kustomize bases are not pinned by the commit, nor live objects a helm lookup reads:
                # such renders are never reused
                pure = not source.allow_remote_bases and not app.lookup_wanted(source)
                work = _SourceWork(app, index, source, git, resolved, refs, RenderCache(cache_dir) if pure else None,
                                   credentials, lookup_connection)
                works[index] = work
                if source.ref:
                    refs.works[source.ref] = work
            rendered = []
            for index, source in enumerate(app.sources):
                try:
                    rendered.append(_render_git_source(works[index]) if index in works
                                    else _render_chart_source(app, index, source, cache_dir, credentials, lookup_connection))
                except GitopsError as err:
                    raise _in_source(err, app, index) from None
        if app.helm_lookup and not any(one.renderer == "helm" for one in rendered):
            # the annotation would change nothing: say so rather than ignore it
            raise RenderError("the application asks for helm lookup (annotation gitops.kubernetes/helm-lookup), "
                              "but none of its sources is a Helm chart")
        objects = combine_sources(rendered)
        first = rendered[0]
        rendering = [one for one in rendered if one.renderer]
        return RenderResult(objects=objects, revision=first.revision, commit=first.commit,
                            renderer=rendering[0].renderer if rendering else "",
                            cache_hit=bool(rendering) and all(one.cache_hit for one in rendering), sources=rendered)
    except GitopsError as err:
        raise err.with_application(app.name)


def _in_source(err: GitopsError, app: Application, index: int) -> GitopsError:
    """The error, naming the source when the application has several."""
    label = app.sources[index].label(index)
    if app.multi_source and not err.message.startswith(label):
        err.message = f"{label}: {err.message}"
        err.args = (str(err),)
    return err


class _RefCheckouts:
    """Checkouts of the ref sources, made on first use and removed when the render ends."""

    def __init__(self, stack: ExitStack) -> None:
        self.works: dict[str, _SourceWork] = {}
        self.stack = stack
        self.roots: dict[str, Path] = {}

    def revisions(self, names: list[str]) -> dict[str, str]:
        return {name: self.works[name].resolved.sha for name in names if name in self.works}

    def root(self, name: str) -> Path:
        if name not in self.roots:
            if name not in self.works:
                raise RenderError(f"${name} names no ref source (available: "
                                  f"{', '.join('$' + ref for ref in self.works) or 'none'})")
            work = self.works[name]
            try:
                self.roots[name] = self.stack.enter_context(work.git.checkout(work.resolved.sha)).resolve()
            except GitopsError as err:
                raise _in_source(err, work.app, work.index) from None
        return self.roots[name]


def _render_git_source(work: _SourceWork) -> SourceRender:
    """One Git source: from the render cache, or rendered from a checkout of its commit.

    render_application calls one such function per source and combines what they return; a source of another
    kind (a chart from a repository) gets a function of its own returning a SourceRender with its revision.
    """
    app, source, sha = work.app, work.source, work.resolved.sha
    result = SourceRender(index=work.index, label=source.label(work.index),
                          repo_url=strip_url_credentials(source.repo_url.strip()), path=source.path, revision=sha,
                          commit=work.resolved.commit, renderer="", objects=[], ref=source.ref)
    if source.ref_only:
        return result  # lends its files to the others, renders nothing (Argo CD)
    used_refs = source.helm.referenced_sources() if source.helm else []
    key = render_cache_key(app, sha, source, work.refs.revisions(used_refs))
    cached = work.cache.load(key) if work.cache else None
    if cached is not None:
        renderer, objects, submodules = cached
        if work.git.repo_check is not None:
            for submodule in submodules:
                work.git.repo_check(submodule.url, submodule.origin)
        result.renderer, result.objects, result.cache_hit = renderer, objects, True
        return result
    renderer = "directory"
    # most applications are plain directories: try a checkout of that directory alone first
    found = _render_directory_alone(work) if source.renderer in (None, "", "directory") else None
    if found is not None:
        objects = found
    else:
        with work.git.checkout(sha) as root:
            app_dir = work.git.application_dir(root, sha)
            renderer = detect_renderer(app_dir, source.renderer)
            context = RenderContext(root=root.resolve(), app_dir=app_dir, rel_path=source.path, app=app,
                                    secrets=[*work.git.secrets, *secrets(work.credentials)], source=source, revision=sha,
                                    ref_root=work.refs.root, cache_dir=work.git.cache_dir.as_posix(),
                                    repositories=work.credentials, lookup_connection=work.lookup_connection)
            objects = _RENDERERS[renderer](context)
    check_duplicates(objects)
    if work.cache:
        work.cache.store(key, renderer, objects, work.git.checked_out_submodules)
    result.renderer, result.objects = renderer, objects
    return result


def _render_chart_source(app: Application, index: int, source: SourceSpec, cache_dir: str,
                         credentials: list[RepositoryCredential], lookup_connection: ResolvedConnection | None = None) -> SourceRender:
    """A chart from a chart repository or an OCI registry; its revision is '<version>@sha256:<archive digest>'."""
    if source.username or source.password:
        # credentials in the spec (or its URL) serve this repository before any matched by prefix
        credentials = [RepositoryCredential(url=source.repo_url, username=source.username,
                                            password=source.password, exact=True), *credentials]
    chart = ChartSource(app, cache_dir, credentials, source, lookup_connection)
    archive = chart.fetch()
    commit = CommitInfo(sha=archive.digest, author="", date="", subject=f"chart {archive.chart} {archive.version} from "
                        f"{archive.repo_url}")
    result = SourceRender(index=index, label=source.label(index), repo_url=archive.repo_url, path="",
                          revision=archive.revision, commit=commit, renderer="helm", objects=[])
    # a render with helm lookup depends on live objects: never reused
    cache = RenderCache(cache_dir) if not app.lookup_wanted(source) else None
    # the archive digest pins the chart's content as a commit SHA pins a repository's
    key = render_cache_key(app, f"{archive.repo_url} {archive.chart} {archive.revision}", source)
    cached = cache.load(key) if cache else None
    if cached is not None:
        result.objects, result.cache_hit = cached[1], True
        return result
    objects = chart.render(archive, [value for value in (*secrets(credentials), source.password) if value])
    check_duplicates(objects)
    if cache:
        cache.store(key, "helm", objects)
    result.objects = objects
    return result


def with_git_credentials(source: SourceSpec, credentials: list[RepositoryCredential]) -> SourceSpec:
    """The source with the HTTPS credentials of the longest matching `git` entry, unless its spec gives some."""
    if source.username or source.password or "@" in source.repo_url.split("://", 1)[-1].split("/", 1)[0]:
        return source
    credential = find_credential(source.repo_url, "git", [entry for entry in credentials if entry.kind in ("git", "")])
    if credential is None or not (credential.username or credential.password):
        return source
    return dataclasses.replace(source, username=credential.username, password=credential.password)


def _render_directory_alone(work: _SourceWork) -> list[DesiredObject] | None:
    """A directory application rendered from a checkout of its own directory only.

    None when that is not enough, and the full checkout decides: the commit
    holds a symlink (the full checkout refuses any that escapes) or a
    submodule (the path may lie inside one, a symlink in one may lead to the
    rest of the tree), the path holds a kustomization or a chart, or is missing
    (the full checkout says so properly), or it holds Jsonnet (whose imports
    may reach the rest of the repository).
    """
    source, sha = work.source, work.resolved.sha
    if work.git.has_symlinks(sha) or work.git.has_submodules(sha):
        return None
    try:
        with work.git.checkout(sha, path=source.path) as root:
            app_dir = work.git.application_dir(root, sha)
            if detect_renderer(app_dir, source.renderer) != "directory":
                return None
            if any(name.lower().endswith(".jsonnet") for name in list_manifest_files(app_dir, source.directory or DirectoryOptions())):
                return None
            context = RenderContext(root=root.resolve(), app_dir=app_dir, rel_path=source.path, app=work.app,
                                    secrets=work.git.secrets, source=source, revision=sha, ref_root=work.refs.root)
            return render_directory(context)
    except (PathEscapeError, RemoteUnreachableError, UnknownRevisionError):
        raise
    except SourceError:  # e.g. git found no such path at the commit: the full checkout says so properly
        return None


def combine_sources(rendered: list[SourceRender]) -> list[DesiredObject]:
    """The objects of every source, in source order; one object from two sources is an error naming both."""
    seen: dict[tuple[str, str, str, str], tuple[SourceRender, DesiredObject]] = {}
    objects: list[DesiredObject] = []
    for one in rendered:
        for obj in one.objects:
            ref = obj.ref
            key = (ref.group, ref.kind, ref.namespace, ref.name)
            if key in seen and seen[key][0] is not one:
                first_source, first = seen[key]
                raise RenderError(
                    f"{ref} is produced by two sources of the application: {first_source.label} "
                    f"({first_source.repo_url}, {first.location() or 'an unknown file'}) and {one.label} "
                    f"({one.repo_url}, {obj.location() or 'an unknown file'}); an object must come from one source",
                    file=obj.source_file or None, line=obj.source_line, object_ref=str(ref))
            seen.setdefault(key, (one, obj))
            objects.append(obj)
    return objects


def detect_renderer(app_dir: Path, requested: str | None = None) -> str:
    """The renderer the spec asks for, else kustomize / helm / directory from the files in app_dir."""
    if requested:
        return requested
    if any((app_dir / name).is_file() for name in KUSTOMIZATION_FILES):
        return "kustomize"
    if (app_dir / "Chart.yaml").is_file():
        return "helm"
    return "directory"


def check_duplicates(objects: list[DesiredObject]) -> None:
    """Two objects with one identity would fight each other; name both places."""
    seen: dict[tuple[str, str, str, str], DesiredObject] = {}
    for obj in objects:
        ref = obj.ref
        key = (ref.group, ref.kind, ref.namespace, ref.name)
        if key in seen:
            first = seen[key]
            raise RenderError(f"{ref} is defined twice: at {first.location() or 'an unknown file'} and at "
                              f"{obj.location() or 'an unknown file'}", file=obj.source_file or None,
                              line=obj.source_line, object_ref=str(ref))
        seen[key] = obj
