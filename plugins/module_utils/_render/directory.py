# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The directory renderer: plain manifest files, chosen by Argo CD's include/exclude globs."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.jsonnet import render_jsonnet_file
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import load_manifests, read_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import DirectoryOptions

# Argo CD's manifest files; a .libsonnet is only ever imported
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json", ".jsonnet")


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
