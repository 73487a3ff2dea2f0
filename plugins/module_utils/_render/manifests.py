# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifests in files and tool output -> DesiredObjects, with the file and line each came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR: str | None = None
except ImportError:  # the module reports it with missing_required_lib()
    import traceback

    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_documents


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


def read_text(path: Path, file: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RenderError(f"not UTF-8 text (byte {err.start})", file=file) from None
    except OSError as err:
        raise RenderError(f"cannot be read: {err.strerror}", file=file) from None


# -- tools ----------------------------------------------------------------------------------------------
