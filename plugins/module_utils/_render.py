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
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR: str | None = None
except ImportError:  # the module reports it with missing_required_lib()
    import traceback

    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, RenderError, SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._helm_set import HelmSetError, merge_values, parameters_file_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scalar_forms, scalars, scrub_text, strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import (
    CommitInfo,
    GitSource,
    PathEscapeError,
    RemoteUnreachableError,
    RepoCheck,
    Submodule,
    UnknownRevisionError,
    default_cache_dir,
    is_within,
    resolve_in_checkout,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    Application,
    DirectoryOptions,
    HelmOptions,
    KustomizeOptions,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import (
    MAX_YAML_BYTES,
    YamlLimitError,
    load_documents,
    load_one,
    manifest_loader,
)

__all__ = ["CommitInfo", "RenderResult", "render_application", "detect_renderer", "load_manifests", "manifest_loader"]

RENDER_TIMEOUT = 300.0  # seconds for one kustomize or helm run
# bump when the cached payload or anything a renderer does changes shape
# (2: checkouts hold submodules, so renders cached without them are stale)
CACHE_FORMAT = 2
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
INSTALL_HINTS = {
    "helm": "install Helm 3 (https://helm.sh/docs/intro/install/)",
    "kustomize": "install kustomize 5 (https://kubectl.docs.kubernetes.io/installation/kustomize/)",
}


@dataclass
class RenderResult:
    objects: list[DesiredObject]
    revision: str  # the 40-character commit SHA
    commit: CommitInfo
    renderer: str  # "directory" | "kustomize" | "helm"
    cache_hit: bool = False


def render_application(app: Application, cache_dir: str | None = None, repo_check: RepoCheck | None = None) -> RenderResult:
    """Source and Render stages for one application.

    repo_check vets the URL of every submodule the render uses (the policy's
    allowed_repos), on a render from the cache as well.
    Raises SourceError or RenderError (with the application name attached), or what repo_check raises.
    """
    try:
        cache_dir = cache_dir or default_cache_dir()
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
                context = _RenderContext(root=root.resolve(), app_dir=app_dir, rel_path=app.source.path, app=app,
                                         secrets=source.secrets)
                objects = _RENDERERS[renderer](context)
        check_duplicates(objects)
        if cache:
            cache.store(key, renderer, objects, source.checked_out_submodules)
        return RenderResult(objects=objects, revision=resolved.sha, commit=resolved.commit, renderer=renderer)
    except GitopsError as err:
        raise err.with_application(app.name)


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
            context = _RenderContext(root=root.resolve(), app_dir=app_dir, rel_path=app.source.path, app=app,
                                     secrets=source.secrets)
            return _render_directory(context)
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


# -- YAML -----------------------------------------------------------------------------------------------

def dump_yaml(manifest: dict[str, Any]) -> str:
    """One object as block-style YAML, keys in their rendered order."""
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)


def iter_yaml_documents(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """(1-based line, data) for each non-empty document; RenderError with file/line/column if invalid
    or over the bounds of _yaml (size, alias expansion)."""
    try:
        yield from load_documents(text)
    except YamlLimitError as err:
        raise RenderError(str(err), file=file, line=err.line) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = " ".join(part for part in (err.context, err.problem) if part) or "invalid YAML"
        raise RenderError(f"invalid YAML: {problem}", file=file,
                          line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise RenderError(f"invalid YAML: {err}", file=file) from None


def load_manifests(text: str, file: str, is_json: bool = False) -> list[DesiredObject]:
    """Objects in one file: multi-document YAML (or one JSON value), empty documents skipped, Lists expanded."""
    if is_json:
        try:
            documents: list[tuple[int, Any]] = [(1, json.loads(text))] if text.strip() else []
        except json.JSONDecodeError as err:
            raise RenderError(f"invalid JSON: {err.msg}", file=file, line=err.lineno, column=err.colno) from None
        if documents and isinstance(documents[0][1], list):
            documents = [(1, item) for item in documents[0][1]]
    else:
        documents = list(iter_yaml_documents(text, file))
    objects: list[DesiredObject] = []
    for line, data in documents:
        objects.extend(_objects_from_document(data, file, line))
    return objects


def _objects_from_document(data: Any, file: str, line: int) -> list[DesiredObject]:
    if not isinstance(data, dict):
        raise RenderError(f"a document must be a Kubernetes object (a mapping), got {type(data).__name__}",
                          file=file, line=line)
    kind = data.get("kind")
    if not isinstance(data.get("apiVersion"), str) or not data.get("apiVersion") or not isinstance(kind, str) or not kind:
        raise RenderError("a Kubernetes object needs apiVersion and kind", file=file, line=line)
    if kind.endswith("List") and isinstance(data.get("items"), list):
        objects: list[DesiredObject] = []
        for item in data["items"]:
            objects.extend(_objects_from_document(item, file, line))
        return objects
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not (metadata.get("name") or metadata.get("generateName")):
        raise RenderError(f"the {kind} has no metadata.name", file=file, line=line)
    return [DesiredObject(manifest=data, source_file=file, source_line=line)]


# -- directory ------------------------------------------------------------------------------------------


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Argo CD's glob (gobwas/glob without separators): '*' and '**' match anything, '/' included;
    '?' one character; [abc], [!abc], [a-z]; {a,b} alternatives (nestable); backslash escapes."""
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            out.append(".*")
            while index + 1 < len(pattern) and pattern[index + 1] == "*":
                index += 1
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", index + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1:end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("^", "\\^") + "]")
                index = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        index += 1
    if depth:
        raise ValueError(f"unbalanced braces in glob {pattern!r}")
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


def list_manifest_files(app_dir: Path, options: DirectoryOptions) -> list[str]:
    """Files (relative to app_dir, '/'-separated, sorted) the directory renderer reads."""
    try:
        include = glob_to_regex(options.include) if options.include else None
        exclude = glob_to_regex(options.exclude) if options.exclude else None
    except ValueError as err:
        raise RenderError(str(err)) from None
    selected = []
    for current, dirs, files in os.walk(app_dir):
        if not options.recurse:
            dirs[:] = []
        dirs.sort()
        for name in files:
            relative = (Path(current) / name).relative_to(app_dir).as_posix()
            lowered = name.lower()
            if exclude and exclude.match(relative):
                continue
            if include and not include.match(relative):
                continue
            if lowered.endswith((".jsonnet", ".libsonnet")):
                raise RenderError("Jsonnet files are not supported; exclude them with directory.exclude",
                                  file=relative)
            if lowered.endswith(MANIFEST_EXTENSIONS):
                selected.append(relative)
    return sorted(selected)


@dataclass
class _RenderContext:
    root: Path  # the checkout (resolved)
    app_dir: Path  # the application path inside it (resolved)
    rel_path: str  # the application path, repository-relative ('.' for the root)
    app: Application
    secrets: list[str]

    def repo_relative(self, relative_to_app: str) -> str:
        return posixpath.normpath(posixpath.join(self.rel_path, relative_to_app))

    def repo_relative_path(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()


def _render_directory(ctx: _RenderContext) -> list[DesiredObject]:
    options = ctx.app.source.directory or DirectoryOptions()
    objects: list[DesiredObject] = []
    for relative in list_manifest_files(ctx.app_dir, options):
        file = ctx.repo_relative(relative)
        text = _read_text(ctx.app_dir / relative, file)
        objects.extend(load_manifests(text, file, is_json=relative.lower().endswith(".json")))
    return objects


def _read_text(path: Path, file: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RenderError(f"not UTF-8 text (byte {err.start})", file=file) from None
    except OSError as err:
        raise RenderError(f"cannot be read: {err.strerror}", file=file) from None


# -- tools ----------------------------------------------------------------------------------------------


def find_binary(name: str) -> str:
    """The path of helm or kustomize, or a RenderError saying how to install it."""
    found = shutil.which(name)
    if not found:
        raise RenderError(f"the {name} binary is needed to render this application but was not found on PATH; "
                          f"{INSTALL_HINTS.get(name, f'install {name}')} or, in a checkout of this collection, "
                          f"run `make tools`")
    return found


def _tool_stamp(name: str) -> str:
    """Identity of the binary a render depends on, so an upgraded tool never reuses old output."""
    found = shutil.which(name)
    if not found:
        return ""
    stat = os.stat(found)
    return f"{os.path.realpath(found)}:{stat.st_size}:{stat.st_mtime_ns}"


def _run_tool(ctx: _RenderContext, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
              hidden: Iterable[str] = ()) -> str:
    """The tool's stdout; a RenderError with its stderr, without credentials or the `hidden` values, if it fails."""
    name = Path(argv[0]).name
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False,
                              env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{name} did not finish within {RENDER_TIMEOUT:.0f}s", file=ctx.rel_path) from None
    except OSError as err:
        raise RenderError(f"{name} could not be started: {err.strerror}") from None
    if proc.returncode != 0:
        stderr = scrub_text(proc.stderr, [*ctx.secrets, *hidden]).replace(str(ctx.root) + "/", "").replace(str(ctx.root), ".")
        raise _tool_error(ctx, name, stderr.strip() or f"exit status {proc.returncode}")
    return proc.stdout


_HELM_LOCATION = re.compile(r"(?:template: |YAML parse error on |parse error at \()(?P<file>[^\s:()]+):?(?P<line>\d+)?(?::(?P<column>\d+))?")
_KUSTOMIZE_FILE = re.compile(r"(?:in File: |file )(?P<file>[^\s:]+\.ya?ml)")
_YAML_LINE = re.compile(r"yaml: line (?P<line>\d+)")


def _tool_error(ctx: _RenderContext, name: str, stderr: str) -> RenderError:
    """A RenderError with the repository-relative file (and line) the tool complained about, if any."""
    detail = "; ".join(line.strip() for line in stderr.splitlines() if line.strip())[-2000:]
    file = line = column = None
    if name == "helm":
        match = _HELM_LOCATION.search(stderr)
        if match:
            # helm names files "<chart name>/templates/x.yaml"; the chart is the application path
            chart_file = match.group("file").split("/", 1)
            if len(chart_file) == 2:
                file = ctx.repo_relative(chart_file[1])
            line = int(match.group("line")) if match.group("line") else None
            column = int(match.group("column")) if match.group("column") else None
    else:
        match = _KUSTOMIZE_FILE.search(stderr)
        if match:
            file = ctx.repo_relative(match.group("file"))
    if line is None:
        yaml_line = _YAML_LINE.search(stderr)
        line = int(yaml_line.group("line")) if yaml_line and file else None
    return RenderError(f"{name} failed: {detail}", file=file or ctx.rel_path, line=line, column=column)


# -- kustomize ------------------------------------------------------------------------------------------

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|git::|[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?/)", re.IGNORECASE)
# kustomization keys whose entries may name another kustomization (a directory) or a remote target
_KUSTOMIZE_REFERENCE_KEYS = ("resources", "bases", "components", "generators", "transformers", "validators")


def find_kustomization(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def check_kustomization(ctx: _RenderContext, directory: Path, allow_remote: bool,
                        visited: set[Path] | None = None) -> None:
    """Walk the kustomizations reachable from directory: YAML errors with line/column, remote
    bases refused unless allowed, local references that leave the repository refused.

    kustomize's root-only load restrictor covers files but not directories of other
    kustomizations, so the directory references are checked here.
    """
    visited = visited if visited is not None else set()
    if directory in visited:
        return
    visited.add(directory)
    kustomization = find_kustomization(directory)
    if kustomization is None:
        return
    file = ctx.repo_relative_path(kustomization)
    documents = list(iter_yaml_documents(_read_text(kustomization, file), file))
    if not documents:
        return
    content = documents[0][1]
    if not isinstance(content, dict):
        raise RenderError("a kustomization must be a mapping", file=file, line=documents[0][0])
    for key in _KUSTOMIZE_REFERENCE_KEYS:
        entries = content.get(key) or []
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, str) or "\n" in entry:
                continue  # inline generator/transformer configuration
            local = directory / entry
            if not os.path.lexists(local):
                if _REMOTE.match(entry):
                    if not allow_remote:
                        raise RenderError(
                            f"{key} entry {entry!r} is a remote base; remote bases are not pinned by the commit "
                            f"and are refused unless the source sets allow_remote_bases",
                            file=file, line=_line_of(kustomization, entry))
                continue  # missing local files are reported by kustomize itself
            target = local.resolve()
            if not is_within(ctx.root, target):
                raise PathEscapeError(f"{key} entry {entry!r} points outside the repository", file=file,
                                      line=_line_of(kustomization, entry))
            if target.is_dir():
                check_kustomization(ctx, target, allow_remote, visited)
            elif key == "resources" and target.suffix.lower() in (".yaml", ".yml"):
                resource_file = ctx.repo_relative_path(target)
                list(iter_yaml_documents(_read_text(target, resource_file), resource_file))


def _line_of(path: Path, text: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if text in line:
            return number
    return None


def _render_kustomize(ctx: _RenderContext) -> list[DesiredObject]:
    options = ctx.app.source.kustomize or KustomizeOptions()
    binary = find_binary("kustomize")
    kustomization = find_kustomization(ctx.app_dir)
    if kustomization is None:
        raise RenderError(f"no kustomization.yaml in {ctx.rel_path!r}, but the spec asks for kustomize",
                          file=ctx.rel_path)
    check_kustomization(ctx, ctx.app_dir, ctx.app.source.allow_remote_bases)
    # the checkout is this render's own copy, so the overrides are written into it (as Argo CD does)
    env = _isolated_env()
    if options.images:
        _run_tool(ctx, [binary, "edit", "set", "image", *options.images], cwd=ctx.app_dir, env=env)
    file = ctx.repo_relative_path(kustomization)
    content = next(iter_yaml_documents(_read_text(kustomization, file), file), (1, {}))[1]
    if options.name_prefix:
        content["namePrefix"] = options.name_prefix
    if options.name_suffix:
        content["nameSuffix"] = options.name_suffix
    if options.namespace:
        content["namespace"] = options.namespace
    if options.common_labels:
        content["commonLabels"] = {**(content.get("commonLabels") or {}), **options.common_labels}
    if options.common_annotations:
        content["commonAnnotations"] = {**(content.get("commonAnnotations") or {}), **options.common_annotations}
    build_metadata = list(content.get("buildMetadata") or [])
    # origin annotations tell which file each object came from; removed again unless the repository asked for them
    added_origin = "originAnnotations" not in build_metadata
    if added_origin:
        content["buildMetadata"] = [*build_metadata, "originAnnotations"]
    # JSON is YAML without YAML 1.1's surprises (go-yaml reads an unquoted y as a boolean)
    kustomization.write_text(json.dumps(content, indent=2))
    output = _run_tool(ctx, [binary, "build", "--load-restrictor", "LoadRestrictionsRootOnly", str(ctx.app_dir)],
                       cwd=ctx.app_dir, env=env)
    objects = []
    for obj in load_manifests(output, f"{ctx.rel_path} (kustomize build output)"):
        obj.source_file, obj.source_line = _kustomize_origin(ctx, obj.manifest, added_origin), None
        objects.append(obj)
    return objects


def _kustomize_origin(ctx: _RenderContext, manifest: dict[str, Any], remove: bool) -> str:
    metadata = manifest.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    origin_text = annotations.get(ORIGIN_ANNOTATION)
    if remove and ORIGIN_ANNOTATION in annotations:
        del annotations[ORIGIN_ANNOTATION]
        if not annotations:
            del metadata["annotations"]
    origin: Any = None
    if origin_text:
        try:
            origin = load_one(origin_text)
        except (yaml.YAMLError, YamlLimitError):
            origin = None
    if isinstance(origin, dict):
        if origin.get("repo"):
            return strip_url_credentials(str(origin["repo"]))
        if origin.get("path"):
            return ctx.repo_relative(str(origin["path"]))
        if origin.get("configuredIn"):
            return ctx.repo_relative(str(origin["configuredIn"]))
    kustomization = find_kustomization(ctx.app_dir)
    return ctx.repo_relative(kustomization.name) if kustomization else ctx.rel_path


def _isolated_env() -> dict[str, str]:
    """Keep the user's kubeconfig and tool configuration out of renders (they are cached by commit)."""
    return {"KUBECONFIG": os.devnull}


# -- helm -----------------------------------------------------------------------------------------------


def vendored_charts(chart_dir: Path) -> set[str]:
    """Names of the charts under chart_dir/charts (directories and .tgz archives)."""
    names: set[str] = set()
    charts = chart_dir / "charts"
    if not charts.is_dir():
        return names
    for entry in sorted(charts.iterdir()):
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            try:
                data = load_one((entry / "Chart.yaml").read_text(encoding="utf-8")) or {}
            except (yaml.YAMLError, YamlLimitError, UnicodeDecodeError):
                data = {}
            names.add(str(data.get("name") or entry.name) if isinstance(data, dict) else entry.name)
        elif entry.is_file() and entry.name.endswith((".tgz", ".tar.gz")):
            try:
                with tarfile.open(entry) as archive:
                    for member in archive.getmembers():
                        if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/Chart.yaml"):
                            handle = archive.extractfile(member)
                            data = load_one(handle.read(MAX_YAML_BYTES + 1)) if handle else {}
                            if isinstance(data, dict) and data.get("name"):
                                names.add(str(data["name"]))
                            break
            except (tarfile.TarError, OSError, yaml.YAMLError, YamlLimitError):
                continue
    return names


def check_chart_dependencies(ctx: _RenderContext, chart_dir: Path) -> None:
    """Every dependency in Chart.yaml must be vendored: remote chart repositories are never fetched."""
    chart_file = ctx.repo_relative_path(chart_dir / "Chart.yaml")
    documents = list(iter_yaml_documents(_read_text(chart_dir / "Chart.yaml", chart_file), chart_file))
    chart = documents[0][1] if documents else {}
    if not isinstance(chart, dict):
        raise RenderError("Chart.yaml must be a mapping", file=chart_file)
    dependencies = chart.get("dependencies") or []
    requirements = chart_dir / "requirements.yaml"
    if not dependencies and requirements.is_file():
        requirements_file = ctx.repo_relative_path(requirements)
        loaded = list(iter_yaml_documents(_read_text(requirements, requirements_file), requirements_file))
        dependencies = ((loaded[0][1] or {}).get("dependencies") if loaded and isinstance(loaded[0][1], dict) else []) or []
    if not isinstance(dependencies, list):
        raise RenderError("dependencies must be a list", file=chart_file)
    present = vendored_charts(chart_dir)
    for dependency in dependencies:
        if not isinstance(dependency, dict) or not dependency.get("name"):
            continue
        name = str(dependency["name"])
        if name in present:
            continue
        repository = scrub_text(str(dependency.get("repository") or ""), ctx.secrets)
        origin = f" from {repository}" if repository else ""
        raise RenderError(
            f"chart dependency {name!r}{origin} is not vendored under "
            f"{posixpath.join(posixpath.dirname(chart_file) or '.', 'charts')}/: chart repositories are not fetched "
            f"at render time; run `helm dependency build` for the chart and commit its charts/ directory",
            file=chart_file, line=_line_of(chart_dir / "Chart.yaml", f"name: {name}"))


def _render_helm(ctx: _RenderContext) -> list[DesiredObject]:
    options = ctx.app.source.helm or HelmOptions()
    binary = find_binary("helm")
    if not (ctx.app_dir / "Chart.yaml").is_file():
        raise RenderError(f"no Chart.yaml in {ctx.rel_path!r}, but the spec asks for helm", file=ctx.rel_path)
    check_chart_dependencies(ctx, ctx.app_dir)
    with tempfile.TemporaryDirectory(prefix="gitops-helm-") as temp:
        home = Path(temp)
        argv = [binary, "template", options.release_name or ctx.app.name, str(ctx.app_dir)]
        namespace = ctx.app.destination.namespace
        if namespace:
            argv += ["--namespace", namespace]
        value_files = [_value_file(ctx, value_file) for value_file in options.value_files]
        argv += [arg for path in value_files for arg in ("--values", str(path))]
        # values and parameters go in private files, never on the command line other users can read;
        # the temporary directory is 0700 and removed with everything in it
        if options.values:
            # JSON is YAML, and keeps every type exact
            argv += ["--values", _private_file(home / "inline-values.yaml", json.dumps(options.values))]
        if options.parameters:
            argv += ["--values", _private_file(home / "parameters.yaml", json.dumps(_parameter_values(ctx, options, value_files)))]
        if not options.skip_crds:
            argv.append("--include-crds")
        if options.kube_version:
            argv += ["--kube-version", options.kube_version]
        for api_version in options.api_versions:
            argv += ["--api-versions", api_version]
        env = {
            **_isolated_env(),
            # private helm homes: no repositories, plugins or registry logins of the user's leak into a render
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "HELM_NAMESPACE": namespace or "default",
        }
        # helm may quote a value in an error: values and parameters are the chart's secrets
        hidden = [form for value in scalars(options.values) for form in scalar_forms(value)]
        hidden += [parameter.value for parameter in options.parameters]
        output = _run_tool(ctx, argv, cwd=ctx.app_dir, env=env, hidden=hidden)
    return parse_helm_output(ctx, output)


def _value_file(ctx: _RenderContext, value_file: str) -> Path:
    """A value file, relative to the chart, that must exist inside the repository."""
    relative = ctx.repo_relative(value_file) if not value_file.startswith("/") else value_file
    target = resolve_in_checkout(ctx.root, relative, "value file")
    if not target.is_file():
        raise RenderError(f"value file {value_file!r} does not exist in the repository", file=relative)
    return target


def _private_file(path: Path, content: str) -> str:
    """content in a new file only its owner can read; its path."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(content)
    return str(path)


def _parameter_values(ctx: _RenderContext, options: HelmOptions, value_files: list[Path]) -> dict[str, Any]:
    """The helm parameters as a values file given after the others, meaning what `--set` would mean."""
    base: dict[str, Any] = {}
    if any("[" in parameter.name for parameter in options.parameters):
        # a list index changes one element of a values file's list: the file's lists are needed
        for path in value_files:
            loaded = next(iter_yaml_documents(_read_text(path, ctx.repo_relative_path(path)), ctx.repo_relative_path(path)),
                          (1, {}))[1]
            base = merge_values(base, loaded if isinstance(loaded, dict) else {})
        base = merge_values(base, options.values)
    parameters = [(parameter.name, parameter.value, parameter.force_string) for parameter in options.parameters]
    try:
        return parameters_file_values(base, parameters)
    except HelmSetError as err:
        raise RenderError(f"helm {err}", file=ctx.rel_path) from None


def parse_helm_output(ctx: _RenderContext, output: str) -> list[DesiredObject]:
    """Objects of `helm template` output, each mapped to its template's repository-relative file."""
    sources: list[tuple[int, str]] = []
    for number, line in enumerate(output.splitlines(), 1):
        if line.startswith("# Source: "):
            chart_file = line[len("# Source: "):].strip().split("/", 1)
            sources.append((number, ctx.repo_relative(chart_file[1]) if len(chart_file) == 2 else ctx.rel_path))

    def template_of(line: int) -> str | None:
        origin = [file for number, file in sources if number <= line]
        return origin[-1] if origin else None

    try:
        loaded = load_manifests(output, f"{ctx.rel_path} (helm template output)")
    except RenderError as err:
        # a line of helm's output means little to a user: name the template that produced it
        template = template_of(err.line) if err.line else None
        if template is None:
            raise
        raise RenderError(f"{err.message} (in helm template output, line {err.line})", file=template) from None
    objects = []
    for obj in loaded:
        obj.source_file, obj.source_line = template_of(obj.source_line or 0) or ctx.rel_path, None
        objects.append(obj)
    return objects


_RENDERERS = {"directory": _render_directory, "kustomize": _render_kustomize, "helm": _render_helm}


# -- render cache ---------------------------------------------------------------------------------------


def render_cache_key(app: Application, sha: str) -> str:
    """Digest of everything a render depends on: commit, path, render options, tool binaries."""
    source = app.source
    material = {
        "format": CACHE_FORMAT,
        "commit": sha,
        "path": source.path,
        "renderer": source.renderer,
        "directory": dataclasses.asdict(source.directory) if source.directory else None,
        "kustomize": dataclasses.asdict(source.kustomize) if source.kustomize else None,
        "helm": dataclasses.asdict(source.helm) if source.helm else None,
        # the application name is helm's default release name, the namespace its --namespace
        "name": app.name,
        "namespace": app.destination.namespace,
        "tools": {name: _tool_stamp(name) for name in ("helm", "kustomize")},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class RenderCache:
    """Rendered objects on disk, one JSON file per key (private to the user: it can hold Secrets)."""

    def __init__(self, cache_dir: str) -> None:
        self.directory = Path(os.path.expanduser(cache_dir)) / "render"

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def load(self, key: str) -> tuple[str, list[DesiredObject], list[Submodule]] | None:
        """(renderer, objects, the submodules the render used) or None."""
        try:
            payload = json.loads(self._path(key).read_text(encoding="utf-8"))
            objects = [DesiredObject(manifest=item["manifest"], source_file=item["file"], source_line=item["line"])
                       for item in payload["objects"]]
            submodules = [Submodule(**item) for item in payload["submodules"]]
            return payload["renderer"], objects, submodules
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: render again

    def store(self, key: str, renderer: str, objects: list[DesiredObject], submodules: list[Submodule] | None = None) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.directory, 0o700)
            # the submodules, so that a policy can vet their repositories when the render is reused
            payload = {"renderer": renderer, "submodules": [item.to_dict() for item in submodules or []], "objects": [
                {"manifest": obj.manifest, "file": obj.source_file, "line": obj.source_line} for obj in objects]}
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError:
            return  # a cache that cannot be written only costs the next render its speed
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(payload, stream, separators=(",", ":"))
            os.replace(temp, path)  # atomic: a reader sees the old file or the whole new one
        except (OSError, TypeError, ValueError):
            Path(temp).unlink(missing_ok=True)
