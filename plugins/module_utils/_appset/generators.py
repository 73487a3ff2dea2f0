# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ApplicationSet generators: parameter sets, as Argo CD's generators make them.

Each generator gives a list of parameter sets (`ParamSet`); with goTemplate
they are nested mappings (`.path.basename`), without it flat string mappings
(`path.basename`, `path[1]`), exactly as Argo CD builds each form. The
inventory's cluster hosts play the part of Argo CD's cluster Secrets.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.templates import GoJob, GoTemplateError, fast_render, go_render
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError

GENERATOR_KINDS = ("list", "clusters", "git", "matrix", "merge")
# Argo CD's other generators need services this collection has no counterpart for
UNSUPPORTED_GENERATORS = {
    "scmProvider": "the SCM provider generator queries hosting APIs (GitHub, GitLab...), which this collection does not",
    "pullRequest": "the pull request generator queries hosting APIs, which this collection does not",
    "clusterDecisionResource": "the cluster decision resource generator reads Argo CD's duck-typed cluster resources; "
                               "use the clusters generator over the inventory",
    "plugin": "generator plugins call an Argo CD plugin service, which this collection does not run",
}
_INVALID_NAME = __import__("re").compile(r"[^-a-z0-9.]")


def sanitize_name(name: str) -> str:
    """Argo CD's SanitizeName (`normalize`, `nameNormalized`, `basenameNormalized`)."""
    return _INVALID_NAME.sub("-", name.lower())[:253].strip("-.")


@dataclass
class Cluster:
    """An inventory host as an Argo CD cluster Secret: name, server, labels, annotations."""

    name: str
    server: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class ParamSet:
    params: dict[str, Any]
    origin: str  # which generator and element made it, for errors


@dataclass
class Context:
    """What every generator of one ApplicationSet shares."""

    name: str  # the ApplicationSet, for errors
    go: bool
    options: list[str]
    clusters: list[Cluster]
    cache_dir: str | None
    revisions: dict[str, str] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], "RepoSnapshot"] = field(default_factory=dict)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(f"ApplicationSet {self.name}: {where}: {message}")

    def render(self, tree: Any, sets: list[dict[str, Any]], where: str, keep_missing: bool = False) -> list[Any]:
        """tree rendered once per parameter set (one helper run for all of them with goTemplate)."""
        if not self.go:
            return [fast_render(copy.deepcopy(tree), params) for params in sets]
        try:
            return go_render([GoJob(tree, params, keep_missing) for params in sets], self.options)
        except GoTemplateError as err:
            raise self.fail(where, f"{err} (parameters: {_summary(sets[err.job])})") from None

    def snapshot(self, repo_url: str, revision: str) -> "RepoSnapshot":
        """One resolution and one listing per repository and revision for the whole ApplicationSet."""
        key = (repo_url, revision)
        if key not in self.snapshots:
            from ansible_collections.gitops.kubernetes.plugins.module_utils._source import GitSource
            from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SourceSpec

            source = GitSource(SourceSpec(repo_url=repo_url, revision=revision), self.cache_dir)
            resolved = source.resolve()
            self.revisions[source.display_url] = resolved.sha
            self.snapshots[key] = RepoSnapshot(source, resolved.sha)
        return self.snapshots[key]


class RepoSnapshot:
    """A commit's directories and files, listed from the Git mirror (no checkout: thousands of directories cost one
    `git ls-tree`); hidden entries (a segment starting with '.') are left out, as Argo CD's listing does."""

    def __init__(self, source: Any, sha: str) -> None:
        self.source = source
        self.sha = sha
        self.directories: list[str] = []
        self.files: list[str] = []
        for mode, kind, path in source.tree_entries(sha):
            if any(segment.startswith(".") for segment in path.split("/")):
                continue
            if kind == "tree":
                self.directories.append(path)
            elif kind == "blob" and mode != "120000":  # symlinks are neither read nor followed
                self.files.append(path)
        self.directories.sort()
        self.files.sort()

    def read(self, paths: list[str]) -> dict[str, bytes]:
        return self.source.read_files(self.sha, paths)


def _summary(params: dict[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def one_kind(generator: Any, where: str, ctx: Context, allowed: tuple[str, ...] = GENERATOR_KINDS) -> str:
    """The generator's kind (its one key besides selector); refuses unknown and unsupported ones by name."""
    if not isinstance(generator, dict):
        raise ctx.fail(where, "a generator must be a mapping")
    kinds = [key for key in generator if key != "selector" and generator[key] is not None]
    for kind in kinds:
        if kind in UNSUPPORTED_GENERATORS:
            raise ctx.fail(f"{where}.{kind}", f"not supported: {UNSUPPORTED_GENERATORS[kind]}")
        if kind not in allowed:
            raise ctx.fail(f"{where}.{kind}", f"unknown generator (expected one of: {', '.join(allowed)})")
    if len(kinds) != 1:
        raise ctx.fail(where, f"a generator has exactly one of {', '.join(allowed)}, got {', '.join(kinds) or 'none'}")
    return kinds[0]


def _only(raw: Any, allowed: tuple[str, ...], where: str, ctx: Context) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ctx.fail(where, "must be a mapping")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ctx.fail(where, f"unknown or unsupported keys: {', '.join(unknown)} (accepted: {', '.join(allowed)})")
    return raw


def flatten(params: dict[str, Any]) -> dict[str, str]:
    """Parameters as Argo CD flattens them for selectors (nested keys joined by '.', Go's %v of each value)."""
    flat: dict[str, str] = {}

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(value, list) and value:
            for index, item in enumerate(value):
                walk(item, f"{prefix}.{index}" if prefix else str(index))
        else:
            flat[prefix] = go_value_text(value)

    walk(params, "")
    return flat


def go_value_text(value: Any) -> str:
    """fmt.Sprintf("%v") of a JSON value as Go decodes it (numbers are float64)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        number = float(value)
        if number.is_integer() and abs(number) < 1e21:
            return str(int(number))
        return repr(number)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value_text(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value_text(v) for v in value) + "]"
    return str(value)


def selector_matches(selector: Any, labels: dict[str, str], where: str, ctx: Context) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against labels; empty matches everything."""
    if not selector:
        return True
    _only(selector, ("matchLabels", "matchExpressions"), where, ctx)
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != go_value_text(value):
            return False
    for position, expression in enumerate(selector.get("matchExpressions") or []):
        here = f"{where}.matchExpressions[{position}]"
        _only(expression, ("key", "operator", "values"), here, ctx)
        key, operator = str(expression.get("key") or ""), str(expression.get("operator") or "")
        values = [go_value_text(v) for v in expression.get("values") or []]
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise ctx.fail(here, f"operator {operator!r} is not one of In, NotIn, Exists, DoesNotExist")
        if not ok:
            return False
    return True


def with_values(sets: list[dict[str, Any]], values: Any, where: str, ctx: Context) -> list[dict[str, Any]]:
    """Argo CD's `values`: each templated with its own parameter set, added as values (go) or values.<key>."""
    if not values:
        return sets
    if not isinstance(values, dict) or any(not isinstance(v, str) for v in values.values()):
        raise ctx.fail(f"{where}.values", "must be a mapping of strings")
    rendered = ctx.render(values, sets, f"{where}.values")
    out = []
    for params, resolved in zip(sets, rendered):
        params = dict(params)
        if ctx.go:
            params["values"] = dict(resolved)
        else:
            params.update({f"values.{key}": value for key, value in resolved.items()})
        out.append(params)
    return out


def list_params(raw: Any, where: str, ctx: Context) -> list[ParamSet]:
    body = _only(raw, ("elements", "elementsYaml", "template"), where, ctx)
    elements = body.get("elements") or []
    if not isinstance(elements, list):
        raise ctx.fail(f"{where}.elements", "must be a list of mappings")
    sets: list[ParamSet] = []
    for position, element in enumerate(elements):
        here = f"{where}.elements[{position}]"
        if not isinstance(element, dict):
            raise ctx.fail(here, "must be a mapping")
        if ctx.go:
            sets.append(ParamSet(copy.deepcopy(element), here))
            continue
        params: dict[str, Any] = {}
        for key, value in element.items():
            if key == "values":
                if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
                    raise ctx.fail(f"{here}.values", "must be a mapping of strings without goTemplate")
                params.update({f"values.{k}": v for k, v in value.items()})
            elif not isinstance(value, str):
                raise ctx.fail(f"{here}.{key}", "must be a string without goTemplate (Argo CD: error parsing value as string)")
            else:
                params[key] = value
        sets.append(ParamSet(params, here))
    if body.get("elementsYaml"):
        import yaml

        try:
            extra = yaml.safe_load(body["elementsYaml"])
        except yaml.YAMLError as err:
            raise ctx.fail(f"{where}.elementsYaml", f"is not valid YAML: {err}") from None
        if not isinstance(extra, list) or any(not isinstance(item, dict) for item in extra):
            raise ctx.fail(f"{where}.elementsYaml", "must be a YAML list of mappings")
        sets += [ParamSet(item, f"{where}.elementsYaml[{position}]") for position, item in enumerate(extra)]
    return sets


def cluster_params(raw: Any, where: str, ctx: Context) -> list[ParamSet]:
    body = _only(raw or {}, ("selector", "values", "template"), where, ctx)
    if body.get("flatList"):
        raise ctx.fail(f"{where}.flatList", "not supported")
    chosen = [c for c in ctx.clusters if selector_matches(body.get("selector"), c.labels, f"{where}.selector", ctx)]
    sets = []
    for cluster in chosen:
        params: dict[str, Any] = {"name": cluster.name, "nameNormalized": sanitize_name(cluster.name),
                                  "server": cluster.server, "project": ""}
        if ctx.go:
            metadata: dict[str, Any] = {}
            if cluster.annotations:
                metadata["annotations"] = dict(cluster.annotations)
            if cluster.labels:
                metadata["labels"] = dict(cluster.labels)
            params["metadata"] = metadata
        else:
            params.update({f"metadata.annotations.{k}": v for k, v in cluster.annotations.items()})
            params.update({f"metadata.labels.{k}": v for k, v in cluster.labels.items()})
        sets.append(params)
    valued = with_values(sets, body.get("values"), where, ctx)
    return [ParamSet(params, f"{where} cluster {cluster.name!r}") for params, cluster in zip(valued, chosen)]


def _path_params(directory: str, prefix: str, ctx: Context, filename: str | None = None) -> dict[str, Any]:
    """Argo CD's path parameters of a directory (and of a file, for the files generator)."""
    basename = posixpath.basename(directory)
    if ctx.go:
        path: dict[str, Any] = {"path": directory, "basename": basename, "basenameNormalized": sanitize_name(basename),
                                "segments": directory.split("/")}
        if filename is not None:
            path["filename"] = filename
            path["filenameNormalized"] = sanitize_name(filename)
        return {prefix: {"path": path}} if prefix else {"path": path}
    name = f"{prefix}.path" if prefix else "path"
    params = {name: directory, f"{name}.basename": basename, f"{name}.basenameNormalized": sanitize_name(basename)}
    if filename is not None:
        params[f"{name}.filename"] = filename
        params[f"{name}.filenameNormalized"] = sanitize_name(filename)
    for index, segment in enumerate(directory.split("/")):
        if segment:
            params[f"{name}[{index}]"] = segment
    return params


def _go_path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: '*' and '?' never cross '/'."""
    parts, globs = name.split("/"), pattern.split("/")
    return len(parts) == len(globs) and all(fnmatch.fnmatchcase(p, g.replace("[^", "[!")) for p, g in zip(parts, globs))


def git_params(raw: Any, where: str, ctx: Context) -> list[ParamSet]:
    body = _only(raw, ("repoURL", "revision", "directories", "files", "pathParamPrefix", "values", "template",
                       "requeueAfterSeconds"), where, ctx)
    repo_url = str(body.get("repoURL") or "")
    if not repo_url:
        raise ctx.fail(f"{where}.repoURL", "is required")
    if "://" in repo_url and "@" in repo_url.split("://", 1)[1].split("/", 1)[0]:
        raise ctx.fail(f"{where}.repoURL", "must not carry credentials")
    revision = str(body.get("revision") or "HEAD")
    prefix = str(body.get("pathParamPrefix") or "")
    directories, files = body.get("directories") or [], body.get("files") or []
    if bool(directories) == bool(files):
        raise ctx.fail(where, "give either directories or files")
    entries = directories or files
    patterns = []
    for position, entry in enumerate(entries):
        here = f"{where}.{'directories' if directories else 'files'}[{position}]"
        _only(entry, ("path", "exclude"), here, ctx)
        if not entry.get("path"):
            raise ctx.fail(here, "needs a path")
        patterns.append((str(entry["path"]), bool(entry.get("exclude"))))
    snapshot = ctx.snapshot(repo_url, revision)
    sets: list[dict[str, Any]] = []
    origins: list[str] = []
    if directories:
        for directory in snapshot.directories:
            matched = [exclude for pattern, exclude in patterns if _go_path_match(pattern, directory)]
            if matched and not any(matched):
                sets.append(_path_params(directory, prefix, ctx))
                origins.append(f"{where} directory {directory!r}")
    else:
        every_file = snapshot.files
        # git ls-files pathspecs: '*' also crosses '/'
        chosen = {f for pattern, exclude in patterns if not exclude for f in every_file if fnmatch.fnmatchcase(f, pattern)}
        chosen -= {f for pattern, exclude in patterns if exclude for f in every_file if fnmatch.fnmatchcase(f, pattern)}
        contents = snapshot.read(sorted(chosen))
        for file in sorted(chosen):
            sets_of_file = _file_params(contents[file], file, prefix, where, ctx)
            sets += sets_of_file
            origins += [f"{where} file {file!r}"] * len(sets_of_file)
    valued = with_values(sets, body.get("values"), where, ctx)
    return [ParamSet(params, origin) for params, origin in zip(valued, origins)]


def _file_params(data: bytes, file: str, prefix: str, where: str, ctx: Context) -> list[dict[str, Any]]:
    import yaml

    from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_one

    try:
        content = load_one(data.decode("utf-8"))  # bounded: a file of the repository is not trusted
    except (yaml.YAMLError, UnicodeDecodeError, YamlLimitError) as err:
        raise ctx.fail(where, f"unable to process file {file!r}: {err}") from None
    objects = [content] if isinstance(content, dict) else content if isinstance(content, list) else None
    if objects is None or any(not isinstance(item, dict) for item in objects):
        raise ctx.fail(where, f"unable to process file {file!r}: it must hold a mapping or a list of mappings")
    directory = posixpath.dirname(file) or "."
    out = []
    for item in objects:
        if ctx.go:
            params = copy.deepcopy(item)
        else:
            params = dict(flatten(item)) if item else {}
        params.update(_path_params(directory, prefix, ctx, filename=posixpath.basename(file)))
        out.append(params)
    return out


def _deep_override(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """mergo.Merge(WithOverride) of parameter maps: nested maps merge, anything else from override."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_override(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _child_params(child: Any, where: str, ctx: Context) -> list[ParamSet]:
    kind = one_kind(child, where, ctx)
    if isinstance(child[kind], dict) and child[kind].get("template"):
        raise ctx.fail(f"{where}.{kind}.template",
                       "a template inside a matrix or merge child is ignored by Argo CD; put it on the matrix or merge generator itself")
    return generate_params(child, where, ctx)


def matrix_params(raw: Any, where: str, ctx: Context) -> list[ParamSet]:
    body = _only(raw, ("generators", "template"), where, ctx)
    children = body.get("generators") or []
    if len(children) != 2:
        raise ctx.fail(f"{where}.generators", f"a matrix takes exactly two generators, got {len(children)}")
    first = _child_params(children[0], f"{where}.generators[0]", ctx)
    if not first:
        return []
    second_raw = children[1]
    # the second child sees each parameter set of the first (Argo CD interpolates its definition)
    interpolated = _interpolate(second_raw, [p.params for p in first], f"{where}.generators[1]", ctx)
    out: list[ParamSet] = []
    for a, definition in zip(first, interpolated):
        for b in _child_params(definition, f"{where}.generators[1]", ctx):
            if ctx.go:
                params = _deep_override(_deep_override({}, b.params), a.params)
            else:
                params = {k: go_value_text(v) if not isinstance(v, str) else v for k, v in a.params.items()}
                for key, value in b.params.items():
                    text = value if isinstance(value, str) else go_value_text(value)
                    if key in params and params[key] != text:
                        raise ctx.fail(where, f"found duplicate key {key} with different value, a: {params[key]} ,b: {text} "
                                              f"({a.origin} x {b.origin})")
                    params[key] = text
            out.append(ParamSet(params, f"{a.origin} x {b.origin}"))
    return out


def _interpolate(definition: Any, sets: list[dict[str, Any]], where: str, ctx: Context) -> list[Any]:
    """A generator definition rendered with each parameter set; `values` keep what they cannot resolve yet."""
    kind = one_kind(definition, where, ctx)
    body = definition[kind] if isinstance(definition[kind], dict) else {}
    values = body.get("values")
    stripped = {**definition, kind: {k: v for k, v in body.items() if k != "values"}}
    rendered = ctx.render(stripped, sets, where)
    if values:
        resolved = ctx.render(values, sets, f"{where}.{kind}.values", keep_missing=True) if ctx.go else \
            [fast_render(values, params) for params in sets]
        for tree, value in zip(rendered, resolved):
            tree[kind]["values"] = value
    return rendered


def merge_params(raw: Any, where: str, ctx: Context) -> list[ParamSet]:
    body = _only(raw, ("generators", "mergeKeys", "template"), where, ctx)
    children = body.get("generators") or []
    keys = [str(key) for key in body.get("mergeKeys") or []]
    if len(children) < 2:
        raise ctx.fail(f"{where}.generators", "a merge takes at least two generators")
    if not keys:
        raise ctx.fail(f"{where}.mergeKeys", "at least one merge key is required")
    all_sets = [_child_params(child, f"{where}.generators[{i}]", ctx) for i, child in enumerate(children)]
    indexed = [_by_merge_key(sets, keys, f"{where}.generators[{i}]", ctx) for i, sets in enumerate(all_sets)]
    base = indexed[0]
    for others in indexed[1:]:
        for key, (params, origin) in list(base.items()):
            if key in others:
                override, other_origin = others[key]
                merged = _deep_override(params, override) if ctx.go else {**params, **override}
                base[key] = (merged, f"{origin} + {other_origin}")
    return [ParamSet(params, origin) for params, origin in base.values()]


def _by_merge_key(sets: list[ParamSet], keys: list[str], where: str, ctx: Context) -> dict[str, tuple[dict[str, Any], str]]:
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for one in sets:
        key = json.dumps({k: one.params.get(k) for k in sorted(set(keys))}, sort_keys=True)
        if key in out:
            raise ctx.fail(where, f"param set with the same merge keys found twice: {key} ({out[key][1]} and {one.origin})")
        out[key] = (one.params, one.origin)
    return out


PRODUCERS = {"list": list_params, "clusters": cluster_params, "git": git_params, "matrix": matrix_params, "merge": merge_params}


def generate_params(generator: Any, where: str, ctx: Context) -> list[ParamSet]:
    """A generator's parameter sets, filtered by its own selector (on the flattened parameters)."""
    kind = one_kind(generator, where, ctx)
    sets = PRODUCERS[kind](generator[kind], f"{where}.{kind}", ctx)
    selector = generator.get("selector")
    if selector:
        sets = [one for one in sets if selector_matches(selector, flatten(one.params) if ctx.go else
                                                        {k: str(v) for k, v in one.params.items()}, f"{where}.selector", ctx)]
    return sets
