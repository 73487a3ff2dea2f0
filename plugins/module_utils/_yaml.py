# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML from repositories, tools and users, read with bounds.

A 1 KB file of nested aliases ("billion laughs") is cheap for PyYAML to load,
because an alias shares the object of its anchor; the cost comes later, when
the shared graph is expanded into a tree (JSON for the render cache and the
API server, YAML dumps for diffs) and takes gigabytes and minutes. So every
document is measured here, as a graph, before anything is built from it:

- a text longer than MAX_YAML_BYTES is refused before parsing;
- a document whose aliases expand it too much is refused with the rule of
  Go's YAML parser (gopkg.in/yaml.v3, used by kubectl, helm and Argo CD), so
  what those tools accept loads here and what they refuse is refused here;
- an anchor that contains itself (a recursive document) is refused, as in Go.

Every YAML text this collection reads from outside goes through load_documents
or load_one.
"""

from __future__ import annotations

import bisect
import functools
import re
from typing import Any, Iterator

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR: str | None = None
except ImportError:  # the modules report it with missing_required_lib()
    import traceback

    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

__all__ = ["HAS_YAML", "YAML_IMPORT_ERROR", "MAX_YAML_BYTES", "YamlLimitError", "allowed_alias_ratio", "check_expansion",
           "load_documents", "load_one", "manifest_loader"]

# far above any real manifest set (the API server stores objects up to 1.5 MiB), far below what exhausts memory
MAX_YAML_BYTES = 64 * 1024 * 1024
# Go's yaml.v3: up to 400,000 decoded nodes 99% may come from aliases, from 4,000,000 only 10%, linear in between
_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000
# an anchor is written after the start of a line, a space or a flow indicator (a '&' inside a URL is not one)
_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]", re.MULTILINE)


class YamlLimitError(ValueError):
    """A YAML text or document over the bounds; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


def allowed_alias_ratio(decoded: int) -> float:
    """The share of decoded nodes Go's yaml.v3 lets aliases contribute, for a document of `decoded` nodes."""
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_expansion(node: Any) -> None:
    """Raise YamlLimitError when aliases would expand the composed document beyond Go's yaml.v3 limit.

    The composed nodes form a graph in which an alias is the very node of its
    anchor; the tree size is counted once per distinct node (linear time) and
    every node beyond the distinct ones came from an alias, as Go counts them.
    """
    sizes: dict[int, int] = {}  # id(node) -> nodes of its expanded tree
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if children_done:
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(current))
            on_path.discard(key)
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((current, True))
        for child in _children(current):
            child_key = id(child)
            if child_key in on_path:
                raise YamlLimitError("an anchor's value contains an alias of itself (a recursive document)",
                                     line=child.start_mark.line + 1)
            if child_key not in sizes:
                stack.append((child, False))
    decoded = sizes[id(node)]
    from_aliases = decoded - len(sizes)
    if from_aliases > 100 and decoded > 1000 and from_aliases / decoded > allowed_alias_ratio(decoded):
        raise YamlLimitError(
            f"excessive aliasing: the document's aliases expand it to {decoded:,} nodes from {len(sizes):,} written; "
            f"refused, as Go's YAML parser (kubectl, helm, Argo CD) refuses it, before it exhausts memory",
            line=node.start_mark.line + 1)


@functools.lru_cache(maxsize=None)
def manifest_loader() -> Any:
    """PyYAML's safe loader (the C one when available) that keeps timestamps as strings,
    as Kubernetes' YAML-to-JSON conversion does."""
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("ManifestLoader", (base,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_constructor("tag:yaml.org,2002:timestamp", lambda self, node: self.construct_scalar(node))
    return loader


def _anchor_lines(text: str) -> list[int]:
    """0-based lines holding an anchor, ascending (aliases need one, and anchors never cross documents)."""
    lines: list[int] = []
    line = position = 0
    for match in _ANCHOR.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        lines.append(line)
    return lines


def load_documents(text: str | bytes) -> Iterator[tuple[int, Any]]:
    """(1-based line, data) for each non-empty document of a YAML stream, each checked before it is built.

    Raises YamlLimitError over the bounds, yaml.YAMLError when the text is not YAML.
    """
    if len(text) > MAX_YAML_BYTES:
        raise YamlLimitError(f"{len(text):,} bytes of YAML, more than the {MAX_YAML_BYTES:,} accepted")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # only a document with an anchor can expand: the others (nearly all) pay one regular expression search
    anchors = _anchor_lines(text)
    loader = manifest_loader()(text)
    previous_end = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            end = node.end_mark.line
            if anchors and bisect.bisect_left(anchors, previous_end) < bisect.bisect_right(anchors, end):
                check_expansion(node)
            previous_end = end
            try:
                data = loader.construct_document(node)
            except RecursionError:
                raise YamlLimitError("the document is nested too deeply", line=line) from None
            if data is not None:
                yield line, data
    finally:
        loader.dispose()


def load_one(text: str | bytes) -> Any:
    """The first document of a YAML text (None when empty), with the bounds of load_documents."""
    return next((data for dummy, data in load_documents(text)), None)
