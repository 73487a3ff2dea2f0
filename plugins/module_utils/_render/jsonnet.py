# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jsonnet files of a directory source, evaluated by go-jsonnet (the implementation Argo CD links).

As Argo CD does: top-level arguments and external variables from
directory.jsonnet (strings, or code when `code` is true) after substituting
its build environment ($ARGOCD_APP_NAME, ...); imports searched next to the
importing file, then in `libs` (repository-relative, the last one first) and
the application directory; the result is one object or an array of them
(Lists expanded). Unlike a plain go-jsonnet run, an import may not leave the
repository (no absolute paths, no `..` or symlink out of the checkout).
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Any

try:
    import _gojsonnet

    HAS_GOJSONNET = True
except ImportError:  # reported when a directory holds .jsonnet files
    HAS_GOJSONNET = False

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext, envsubst, line_of
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import load_manifests
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import is_within
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import JsonnetOptions, normalize_repo_path

# go-jsonnet's default; a runaway recursion fails instead of exhausting memory
MAX_STACK = 500
_LOCATION = re.compile(r"(?P<file>/[^\s:]+):(?P<line>\d+):(?P<column>\d+)")


class JsonnetImportError(RenderError):
    """An import that is missing or would leave the repository."""


def render_jsonnet_file(ctx: RenderContext, relative: str, options: JsonnetOptions) -> list[DesiredObject]:
    """The objects one .jsonnet file (relative to the application directory) evaluates to."""
    file = ctx.repo_relative(relative)
    if not HAS_GOJSONNET:
        raise RenderError("Jsonnet files need the gojsonnet Python package (pip install gojsonnet, the Go "
                          "implementation Argo CD uses) on the host that runs the module", file=file)
    env = ctx.build_env()
    variables = {
        "tla_vars": {v.name: envsubst(v.value, env) for v in options.tlas if not v.code},
        "tla_codes": {v.name: envsubst(v.value, env) for v in options.tlas if v.code},
        "ext_vars": {v.name: envsubst(v.value, env) for v in options.ext_vars if not v.code},
        "ext_codes": {v.name: envsubst(v.value, env) for v in options.ext_vars if v.code},
    }
    importer = _Importer(ctx, options, file)
    try:
        output = _gojsonnet.evaluate_file(str(ctx.app_dir / relative), import_callback=importer, max_stack=MAX_STACK,
                                          **variables)
    except (RuntimeError, UnicodeDecodeError) as err:
        # the binding copies an import callback's message with a wrong length: after a refused import its
        # message holds stray bytes (sometimes not even UTF-8), so only its location is used, with our words
        if importer.failure is not None:
            located = importer.failure
            if located.line is None and isinstance(err, RuntimeError):
                located = _evaluation_error(ctx, str(err), file)
            raise JsonnetImportError(importer.failure.message, file=located.file, line=located.line,
                                     column=located.column) from None
        if isinstance(err, UnicodeDecodeError):
            raise RenderError("Jsonnet evaluation failed (go-jsonnet's message is not UTF-8)", file=file) from None
        raise _evaluation_error(ctx, str(err), file) from None
    return _objects(output, file)


class _Importer:
    """go-jsonnet's FileImporter search order, confined to the checkout."""

    def __init__(self, ctx: RenderContext, options: JsonnetOptions, evaluated: str) -> None:
        self.ctx = ctx
        self.evaluated = evaluated  # the repository path of the file evaluated
        # JPaths: the application directory, then the libs; go-jsonnet tries the last one first
        self.search = [ctx.app_dir] + [ctx.root / normalize_repo_path(lib, what="jsonnet library path") for lib in options.libs]
        self.failure: RenderError | None = None

    def __call__(self, importing_dir: str, imported: str) -> tuple[str, bytes]:
        try:
            return self._find(importing_dir, imported)
        except RenderError as err:
            if err.file == self.evaluated:
                err.line = line_of(self.ctx.root / self.evaluated, imported)  # the import statement's line
            self.failure = self.failure or err
            raise RuntimeError(err.message) from None

    def _find(self, importing_dir: str, imported: str) -> tuple[str, bytes]:
        importer_dir = self._relative(Path(importing_dir))
        # go-jsonnet names only the importing directory: the evaluated file when it is its directory
        same_dir = importer_dir == (posixpath.dirname(self.evaluated) or ".")
        importer_file = self.evaluated if same_dir else (importer_dir or self.ctx.rel_path)
        if imported.startswith("/") or "\\" in imported:
            raise JsonnetImportError(f"import {imported!r} is an absolute path; imports must stay inside the repository",
                                     file=importer_file)
        for base in [Path(importing_dir), *reversed(self.search)]:
            candidate = base / imported
            # refused whether or not such a file exists: the answer must not tell what lies outside
            target = candidate.resolve()
            if not is_within(self.ctx.root, target):
                raise JsonnetImportError(f"import {imported!r} resolves outside the repository", file=importer_file)
            if target.is_file():
                try:
                    return str(candidate), target.read_bytes()
                except OSError as err:
                    raise JsonnetImportError(f"import {imported!r} cannot be read: {err.strerror}", file=importer_file) from None
        raise JsonnetImportError(f"import {imported!r} not found (searched next to the importing file, the libs and the "
                                 f"application path)", file=importer_file)

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.ctx.root).as_posix()
        except ValueError:
            return ""


def _evaluation_error(ctx: RenderContext, message: str, file: str) -> RenderError:
    """A RenderError at the repository file and line go-jsonnet names first (the innermost frame)."""
    line = column = None
    match = _LOCATION.search(message)
    if match:
        try:
            file = Path(match.group("file")).resolve().relative_to(ctx.root).as_posix()
            line, column = int(match.group("line")), int(match.group("column"))
        except ValueError:
            pass  # a frame outside the checkout (std library): keep the evaluated file
    root = str(ctx.root)
    text = scrub_text(message, ctx.secrets).replace(root + "/", "").replace(root, ".")
    detail = "; ".join(part.strip() for part in text.splitlines() if part.strip())[:2000]
    return RenderError(f"Jsonnet evaluation failed: {detail}", file=file, line=line, column=column)


def _objects(output: str, file: str) -> list[DesiredObject]:
    """An object or an array of objects (Argo CD's two accepted shapes); Lists expanded."""
    try:
        value: Any = json.loads(output)
    except ValueError as err:
        raise RenderError(f"Jsonnet output is not JSON: {err}", file=file) from None
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            where = f"element {index} of the array" if isinstance(value, list) else "the result"
            raise RenderError(f"Jsonnet must evaluate to an object or an array of objects; {where} is "
                              f"{type(item).__name__}", file=file)
    objects: list[DesiredObject] = []
    for item in items:
        objects.extend(load_manifests(json.dumps(item), file, is_json=True))
    for obj in objects:
        obj.source_line = None  # a line of the evaluated JSON means nothing in the .jsonnet file
    return objects
