# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helm renderer: `helm template` of a chart in the checkout, values and parameters as Argo CD passes them."""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

try:
    import yaml
except ImportError:  # the modules report the missing library with missing_required_lib()
    yaml = None  # type: ignore[assignment]

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._helm_set import HelmSetError, merge_values, parameters_file_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scalar_forms, scalars
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.dependencies import ensure_dependencies
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext, find_binary, isolated_env, private_file, run_tool
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.lookup import lookup_environment, lookup_error
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import iter_yaml_documents, load_manifests, read_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import resolve_in_checkout
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import HelmOptions, ref_name_of
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import MAX_YAML_BYTES, YamlLimitError, load_one


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


def render_helm(ctx: RenderContext) -> list[DesiredObject]:
    options = ctx.spec.helm or HelmOptions()
    binary = find_binary("helm")
    if not (ctx.app_dir / "Chart.yaml").is_file():
        raise RenderError(f"no Chart.yaml in {ctx.rel_path!r}, but the spec asks for helm", file=ctx.rel_path)
    lookup = ctx.app.lookup_wanted(ctx.spec)
    if lookup and ctx.lookup_connection is None:
        raise RenderError("the application asks for helm lookup, which reads the destination cluster, but this render "
                          "has no cluster connection", file=ctx.rel_path)
    # dependencies not vendored under charts/ are fetched, as Argo CD's `helm dependency build` does
    ensure_dependencies(ctx, ctx.app_dir, vendored_charts(ctx.app_dir))
    with tempfile.TemporaryDirectory(prefix="gitops-helm-") as temp:
        home = Path(temp)
        argv = [binary, "template", options.release_name or ctx.app.name, str(ctx.app_dir)]
        # helm.namespace changes only what the chart sees as .Release.Namespace (Argo CD)
        namespace = options.namespace or ctx.app.destination.namespace
        if namespace:
            argv += ["--namespace", namespace]
        value_files = [found for value_file in options.value_files
                       for found in [_value_file(ctx, value_file, options.ignore_missing_value_files)] if found]
        argv += [arg for path, dummy in value_files for arg in ("--values", str(path))]
        # values and parameters go in private files, never on the command line other users can read;
        # the temporary directory is 0700 and removed with everything in it
        if options.values:
            # JSON is YAML, and keeps every type exact
            argv += ["--values", private_file(home / "inline-values.yaml", json.dumps(options.values))]
        if options.parameters:
            argv += ["--values", private_file(home / "parameters.yaml", json.dumps(_parameter_values(ctx, options, value_files)))]
        for parameter in options.file_parameters:
            path = _value_file(ctx, parameter.path, False, what="file parameter")
            if path is None:  # a file parameter must exist: _value_file raises rather than answer None for it
                raise RenderError(f"file parameter {parameter.path!r} does not exist", file=ctx.rel_path)
            # helm reads the file: its content (which may be secret) never reaches the command line
            argv += ["--set-file", f"{parameter.name}={_escape_set(str(path[0]))}"]
        if not options.skip_crds:
            argv.append("--include-crds")
        if options.skip_tests:
            argv.append("--skip-tests")
        if options.skip_schema_validation:
            argv.append("--skip-schema-validation")
        if options.kube_version:
            argv += ["--kube-version", options.kube_version]
        for api_version in options.api_versions:
            argv += ["--api-versions", api_version]
        env = {
            **isolated_env(),
            # private helm homes: no repositories, plugins or registry logins of the user's leak into a render
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "HELM_NAMESPACE": namespace or "default",
        }
        # helm may quote a value in an error: values and parameters are the chart's secrets
        hidden = [form for value in scalars(options.values) for form in scalar_forms(value)]
        hidden += [parameter.value for parameter in options.parameters]
        if lookup and ctx.lookup_connection is not None:
            # lookup reads the cluster with the run's identity; anything else stays a client-side render
            lookup_env, credentials = lookup_environment(ctx.lookup_connection, namespace or "default", home)
            env.update(lookup_env)
            hidden += credentials
            argv.append("--dry-run=server")
            try:
                output = run_tool(ctx, argv, cwd=ctx.app_dir, env=env, hidden=hidden)
            except RenderError as err:
                raise lookup_error(err, ctx.lookup_connection.description) from None
        else:
            output = run_tool(ctx, argv, cwd=ctx.app_dir, env=env, hidden=hidden)
    return parse_helm_output(ctx, output)


def _value_file(ctx: RenderContext, value_file: str, ignore_missing: bool, what: str = "value file") -> tuple[Path, str] | None:
    """(path, how messages name it) of a value file relative to the chart, or `$ref/path` in the checkout of
    the ref source; it must stay inside that repository. None for a missing file when ignore_missing."""
    name = ref_name_of(value_file)
    if name:
        root = ctx.checkout_of(name)
        relative = value_file.split("/", 1)[1] if "/" in value_file else "."
        shown = value_file
    else:
        root = ctx.root
        relative = ctx.repo_relative(value_file) if not value_file.startswith("/") else value_file
        shown = relative
    target = resolve_in_checkout(root, relative, what)
    if not target.is_file():
        if ignore_missing:
            return None
        where = f"in the repository of ${name}" if name else "in the repository"
        raise RenderError(f"{what} {value_file!r} does not exist {where} (set ignoreMissingValueFiles / "
                          f"ignore_missing_value_files to skip missing value files)" if what == "value file"
                          else f"{what} {value_file!r} does not exist {where}", file=shown)
    return target, shown


def _escape_set(text: str) -> str:
    """A --set-file path as helm's strvals reads it: commas and backslashes escaped."""
    return text.replace("\\", "\\\\").replace(",", "\\,")


def _parameter_values(ctx: RenderContext, options: HelmOptions, value_files: list[tuple[Path, str]]) -> dict[str, Any]:
    """The helm parameters as a values file given after the others, meaning what `--set` would mean."""
    base: dict[str, Any] = {}
    if any("[" in parameter.name for parameter in options.parameters):
        # a list index changes one element of a values file's list: the file's lists are needed
        for path, shown in value_files:
            loaded = next(iter_yaml_documents(read_text(path, shown), shown), (1, {}))[1]
            base = merge_values(base, loaded if isinstance(loaded, dict) else {})
        base = merge_values(base, options.values)
    parameters = [(parameter.name, parameter.value, parameter.force_string) for parameter in options.parameters]
    try:
        return parameters_file_values(base, parameters)
    except HelmSetError as err:
        raise RenderError(f"helm {err}", file=ctx.rel_path) from None


def parse_helm_output(ctx: RenderContext, output: str) -> list[DesiredObject]:
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
