# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The directory renderer: plain manifest files, chosen by Argo CD's include/exclude globs."""

from __future__ import annotations

import os
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._glob import glob_regex
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.jsonnet import render_jsonnet_file
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import load_manifests, read_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import DirectoryOptions

# Argo CD's manifest files; a .libsonnet is only ever imported
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json", ".jsonnet")


def list_manifest_files(app_dir: Path, options: DirectoryOptions) -> list[str]:
    """Files (relative to app_dir, '/'-separated, sorted) the directory renderer reads."""
    try:
        include = glob_regex(options.include) if options.include else None
        exclude = glob_regex(options.exclude) if options.exclude else None
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
            if exclude and exclude.fullmatch(relative):
                continue
            if include and not include.fullmatch(relative):
                continue
            if lowered.endswith(MANIFEST_EXTENSIONS):
                selected.append(relative)
    return sorted(selected)


def render_directory(ctx: RenderContext) -> list[DesiredObject]:
    options = ctx.spec.directory or DirectoryOptions()
    objects: list[DesiredObject] = []
    for relative in list_manifest_files(ctx.app_dir, options):
        if relative.lower().endswith(".jsonnet"):
            objects.extend(render_jsonnet_file(ctx, relative, options.jsonnet))
            continue
        file = ctx.repo_relative(relative)
        text = read_text(ctx.app_dir / relative, file)
        objects.extend(load_manifests(text, file, is_json=relative.lower().endswith(".json")))
    return objects
