# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kustomize renderer: `kustomize build` of the application path, with Argo CD's overrides."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

try:
    import yaml
except ImportError:  # the modules report the missing library with missing_required_lib()
    yaml = None  # type: ignore[assignment]

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext, find_binary, isolated_env, line_of, run_tool
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import iter_yaml_documents, load_manifests, read_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import PathEscapeError, is_within
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import KustomizeOptions
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_one

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|git::|[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?/)", re.IGNORECASE)
# kustomization keys whose entries may name another kustomization (a directory) or a remote target
_KUSTOMIZE_REFERENCE_KEYS = ("resources", "bases", "components", "generators", "transformers", "validators")


def find_kustomization(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def check_kustomization(ctx: RenderContext, directory: Path, allow_remote: bool,
                        visited: set[Path] | None = None, helm_charts: list[str] | None = None) -> None:
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
    documents = list(iter_yaml_documents(read_text(kustomization, file), file))
    if not documents:
        return
    content = documents[0][1]
    if not isinstance(content, dict):
        raise RenderError("a kustomization must be a mapping", file=file, line=documents[0][0])
    for chart in content.get("helmCharts") or []:
        if helm_charts is not None:
            helm_charts.append(file)
        if isinstance(chart, dict) and chart.get("repo") and not allow_remote:
            # like a remote base: a chart pulled from a repository is not pinned by the commit
            raise RenderError(f"helmCharts entry {chart.get('name')!r} is pulled from {strip_url_credentials(str(chart['repo']))}; "
                              f"charts from repositories are not pinned by the commit and are refused unless the source "
                              f"sets allow_remote_bases (or vendor the chart under the kustomization's charts/)",
                              file=file, line=line_of(kustomization, str(chart.get("name") or "helmCharts")))
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
                            file=file, line=line_of(kustomization, entry))
                continue  # missing local files are reported by kustomize itself
            target = local.resolve()
            if not is_within(ctx.root, target):
                raise PathEscapeError(f"{key} entry {entry!r} points outside the repository", file=file,
                                      line=line_of(kustomization, entry))
            if target.is_dir():
                check_kustomization(ctx, target, allow_remote, visited, helm_charts)
            elif key == "resources" and target.suffix.lower() in (".yaml", ".yml"):
                resource_file = ctx.repo_relative_path(target)
                list(iter_yaml_documents(read_text(target, resource_file), resource_file))


def render_kustomize(ctx: RenderContext) -> list[DesiredObject]:
    options = ctx.spec.kustomize or KustomizeOptions()
    binary = find_binary("kustomize")
    kustomization = find_kustomization(ctx.app_dir)
    if kustomization is None:
        raise RenderError(f"no kustomization.yaml in {ctx.rel_path!r}, but the spec asks for kustomize",
                          file=ctx.rel_path)
    helm_charts: list[str] = []
    check_kustomization(ctx, ctx.app_dir, ctx.spec.allow_remote_bases, helm_charts=helm_charts)
    # the checkout is this render's own copy, so the overrides are written into it (as Argo CD does, with
    # the same `kustomize edit` commands where their checks matter: a label already set needs force)
    env = isolated_env()
    for edit in _edit_commands(options):
        run_tool(ctx, [binary, "edit", *edit], cwd=ctx.app_dir, env=env)
    kustomization = find_kustomization(ctx.app_dir) or kustomization
    file = ctx.repo_relative_path(kustomization)
    content = next(iter_yaml_documents(read_text(kustomization, file), file), (1, {}))[1]
    if options.name_prefix:
        content["namePrefix"] = options.name_prefix
    if options.name_suffix:
        content["nameSuffix"] = options.name_suffix
    if options.namespace:
        content["namespace"] = options.namespace
    if options.patches:
        # there is no `kustomize edit` for patches: Argo CD appends them to the kustomization's own
        existing = content.get("patches") or []
        if not isinstance(existing, list):
            raise RenderError("patches must be a list to take the application's patches", file=file)
        content["patches"] = [*existing, *options.patches]
    build_metadata = list(content.get("buildMetadata") or [])
    # origin annotations tell which file each object came from; removed again unless the repository asked for them
    added_origin = "originAnnotations" not in build_metadata
    if added_origin:
        content["buildMetadata"] = [*build_metadata, "originAnnotations"]
    # JSON is YAML without YAML 1.1's surprises (go-yaml reads an unquoted y as a boolean)
    kustomization.write_text(json.dumps(content, indent=2))
    argv = [binary, "build", "--load-restrictor", "LoadRestrictionsRootOnly", str(ctx.app_dir)]
    with tempfile.TemporaryDirectory(prefix="gitops-kustomize-helm-") as temp:
        if helm_charts:
            # a kustomization's helmCharts, inflated by our helm in private homes (kustomize's --enable-helm)
            argv += ["--enable-helm", "--helm-command", find_binary("helm")]
            env = {**env, "HELM_CACHE_HOME": f"{temp}/cache", "HELM_CONFIG_HOME": f"{temp}/config",
                   "HELM_DATA_HOME": f"{temp}/data"}
        output = run_tool(ctx, argv, cwd=ctx.app_dir, env=env)
    objects = []
    for obj in load_manifests(output, f"{ctx.rel_path} (kustomize build output)"):
        obj.source_file, obj.source_line = _kustomize_origin(ctx, obj.manifest, added_origin), None
        objects.append(obj)
    return objects


def _edit_commands(options: KustomizeOptions) -> list[list[str]]:
    """The `kustomize edit` arguments Argo CD runs for these options, in its order."""
    commands: list[list[str]] = []
    if options.images:
        commands.append(["set", "image", *options.images])
    if options.replicas:
        commands.append(["set", "replicas", *(f"{replica.name}={replica.count}" for replica in options.replicas)])
    if options.common_labels:
        flags = ["--force"] * options.force_common_labels + ["--without-selector"] * options.label_without_selector
        commands.append(["add", "label", *flags, *(f"{key}:{value}" for key, value in sorted(options.common_labels.items()))])
    if options.common_annotations:
        flags = ["--force"] * options.force_common_annotations
        commands.append(["add", "annotation", *flags,
                         *(f"{key}:{value}" for key, value in sorted(options.common_annotations.items()))])
    if options.components:
        commands.append(["add", "component", *options.components])
    return commands


def _kustomize_origin(ctx: RenderContext, manifest: dict[str, Any], remove: bool) -> str:
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
