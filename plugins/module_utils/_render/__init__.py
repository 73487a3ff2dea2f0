# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render stage: a checkout at one commit -> the desired objects.

Three renderers, chosen from the application path unless the spec names one:
a `kustomization.yaml` (or `.yml`, `Kustomization`) means kustomize, a
`Chart.yaml` means helm, anything else is a directory of plain manifests.
Every object keeps the repository-relative file it came from, so errors and
reports can point at a line in Git.

Results are cached on disk by (commit, path, render options, tool binaries):
rendering the same commit again costs one JSON read and no checkout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, RenderError, SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.cache import RenderCache, render_cache_key
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.chart import ChartSource
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.directory import render_directory
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.helm import render_helm
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.kustomize import KUSTOMIZATION_FILES, render_kustomize
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import HAS_YAML, YAML_IMPORT_ERROR, dump_yaml, load_manifests
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import (
    CommitInfo,
    GitSource,
    PathEscapeError,
    RemoteUnreachableError,
    RepoCheck,
    UnknownRevisionError,
    default_cache_dir,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential, find_credential, secrets
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import manifest_loader

__all__ = ["CommitInfo", "HAS_YAML", "RenderResult", "YAML_IMPORT_ERROR", "render_application", "detect_renderer", "dump_yaml",
           "load_manifests", "manifest_loader"]

_RENDERERS = {"directory": render_directory, "kustomize": render_kustomize, "helm": render_helm}


@dataclass
class RenderResult:
    objects: list[DesiredObject]
    revision: str  # the 40-character commit SHA; for a chart '<version>@sha256:<archive digest>'
    commit: CommitInfo  # for a chart: sha is the archive digest, subject names chart, version and repository
    renderer: str  # "directory" | "kustomize" | "helm"
    cache_hit: bool = False


def render_application(app: Application, cache_dir: str | None = None, repo_check: RepoCheck | None = None,
                       repositories: list[RepositoryCredential] | None = None) -> RenderResult:
    """Source and Render stages for one application.

    repo_check vets the URL of every submodule the render uses (the policy's
    allowed_repos), on a render from the cache as well. repositories are the
    credentials matched by URL prefix to chart repositories, OCI registries
    and (when the spec gives none) Git repositories.
    Raises SourceError or RenderError (with the application name attached), or what repo_check raises.
    """
    try:
        cache_dir = cache_dir or default_cache_dir()
        credentials = list(repositories or [])
        if app.source.chart:
            return _render_chart(app, cache_dir, credentials)
        app = with_git_credentials(app, credentials)
        source = GitSource(app.source, cache_dir, repo_check=repo_check)
        resolved = source.resolve()
        # remote kustomize bases are not pinned by the commit, so such renders are never reused
        cache = RenderCache(cache_dir) if not app.source.allow_remote_bases else None
        key = render_cache_key(app, resolved.sha)
        cached = cache.load(key) if cache else None
        if cached is not None:
            renderer, objects, submodules = cached
            if repo_check is not None:
                for submodule in submodules:
                    repo_check(submodule.url, submodule.origin)
            return RenderResult(objects=objects, revision=resolved.sha, commit=resolved.commit,
                                renderer=renderer, cache_hit=True)
        renderer = "directory"
        # most applications are plain directories: try a checkout of that directory alone first
        found = _render_directory_alone(source, resolved.sha, app) if app.source.renderer in (None, "", "directory") else None
        if found is not None:
            objects = found
        else:
            with source.checkout(resolved.sha) as root:
                app_dir = source.application_dir(root, resolved.sha)
                renderer = detect_renderer(app_dir, app.source.renderer)
                context = RenderContext(root=root.resolve(), app_dir=app_dir, rel_path=app.source.path, app=app,
                                        secrets=[*source.secrets, *secrets(credentials)], cache_dir=cache_dir,
                                        repositories=credentials)
                objects = _RENDERERS[renderer](context)
        check_duplicates(objects)
        if cache:
            cache.store(key, renderer, objects, source.checked_out_submodules)
        return RenderResult(objects=objects, revision=resolved.sha, commit=resolved.commit, renderer=renderer)
    except GitopsError as err:
        raise err.with_application(app.name)


def _render_chart(app: Application, cache_dir: str, credentials: list[RepositoryCredential]) -> RenderResult:
    """A chart from a chart repository or an OCI registry; its revision is '<version>@sha256:<archive digest>'."""
    if app.source.username or app.source.password:
        # credentials in the spec (or its URL) serve this repository before any matched by prefix
        credentials = [RepositoryCredential(url=app.source.repo_url, username=app.source.username,
                                            password=app.source.password, exact=True), *credentials]
    chart = ChartSource(app, cache_dir, credentials)
    archive = chart.fetch()
    commit = CommitInfo(sha=archive.digest, author="", date="", subject=f"chart {archive.chart} {archive.version} from "
                        f"{archive.repo_url}")
    cache = RenderCache(cache_dir)
    # the archive digest pins the chart's content as a commit SHA pins a repository's
    key = render_cache_key(app, f"{archive.repo_url} {archive.chart} {archive.revision}")
    cached = cache.load(key)
    if cached is not None:
        return RenderResult(objects=cached[1], revision=archive.revision, commit=commit, renderer="helm", cache_hit=True)
    objects = chart.render(archive, [value for value in (*secrets(credentials), app.source.password) if value])
    check_duplicates(objects)
    cache.store(key, "helm", objects)
    return RenderResult(objects=objects, revision=archive.revision, commit=commit, renderer="helm")


def with_git_credentials(app: Application, credentials: list[RepositoryCredential]) -> Application:
    """The application with the HTTPS credentials of the longest matching `git` entry, unless its spec gives some."""
    source = app.source
    if source.username or source.password or "@" in source.repo_url.split("://", 1)[-1].split("/", 1)[0]:
        return app
    credential = find_credential(source.repo_url, "git", [entry for entry in credentials if entry.kind in ("git", "")])
    if credential is None or not (credential.username or credential.password):
        return app
    return dataclasses.replace(app, source=dataclasses.replace(source, username=credential.username,
                                                               password=credential.password))


def _render_directory_alone(source: GitSource, sha: str, app: Application) -> list[DesiredObject] | None:
    """A directory application rendered from a checkout of its own directory only.

    None when that is not enough, and the full checkout decides: the commit
    holds a symlink (the full checkout refuses any that escapes) or a
    submodule (the path may lie inside one, a symlink in one may lead to the
    rest of the tree), the path holds a kustomization or a chart, or is missing
    (the full checkout says so properly).
    """
    if source.has_symlinks(sha) or source.has_submodules(sha):
        return None
    try:
        with source.checkout(sha, path=app.source.path) as root:
            app_dir = source.application_dir(root, sha)
            if detect_renderer(app_dir, app.source.renderer) != "directory":
                return None
            context = RenderContext(root=root.resolve(), app_dir=app_dir, rel_path=app.source.path, app=app,
                                     secrets=source.secrets)
            return render_directory(context)
    except (PathEscapeError, RemoteUnreachableError, UnknownRevisionError):
        raise
    except SourceError:  # e.g. git found no such path at the commit: the full checkout says so properly
        return None


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
