# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chart dependencies (Chart.yaml `dependencies`, or requirements.yaml) fetched at render time, as Argo CD does.

Vendored charts under charts/ are used as they are. When a dependency is
missing, `helm dependency build` fetches it (honouring Chart.lock) in a
private Helm home: the chart repositories go in a repositories.yaml and the
registry logins in a registry config, both files of mode 0600 built from the
`repositories` credentials, never on the command line; a CA file given for a
repository is trusted through SSL_CERT_FILE for that run only. The charts a
build fetched are kept in the cache under a digest of Chart.yaml, Chart.lock
and requirements files, the helm binary and the repositories used, so an
unchanged chart is built once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError, SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import (
    RenderContext,
    find_binary,
    isolated_env,
    line_of,
    private_file,
    run_tool,
    tool_stamp,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.manifests import iter_yaml_documents, read_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import find_credential, secrets
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.helm_repo import load_index
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.paths import is_within

_LOCK_FILES = ("Chart.yaml", "Chart.lock", "requirements.yaml", "requirements.lock")


def chart_dependencies(ctx: RenderContext, chart_dir: Path) -> list[dict[str, Any]]:
    """The dependencies the chart declares (Chart.yaml, else requirements.yaml)."""
    chart_file = ctx.repo_relative_path(chart_dir / "Chart.yaml")
    documents = list(iter_yaml_documents(read_text(chart_dir / "Chart.yaml", chart_file), chart_file))
    chart = documents[0][1] if documents else {}
    if not isinstance(chart, dict):
        raise RenderError("Chart.yaml must be a mapping", file=chart_file)
    dependencies = chart.get("dependencies") or []
    requirements = chart_dir / "requirements.yaml"
    if not dependencies and requirements.is_file():
        requirements_file = ctx.repo_relative_path(requirements)
        loaded = list(iter_yaml_documents(read_text(requirements, requirements_file), requirements_file))
        dependencies = ((loaded[0][1] or {}).get("dependencies") if loaded and isinstance(loaded[0][1], dict) else []) or []
    if not isinstance(dependencies, list):
        raise RenderError("dependencies must be a list", file=chart_file)
    return [dependency for dependency in dependencies if isinstance(dependency, dict) and dependency.get("name")]


def ensure_dependencies(ctx: RenderContext, chart_dir: Path, vendored: set[str]) -> None:
    """Fetch the dependencies that are not vendored under charts/; RenderError naming Chart.yaml if one cannot be."""
    chart_file = ctx.repo_relative_path(chart_dir / "Chart.yaml")
    missing = [dependency for dependency in chart_dependencies(ctx, chart_dir) if str(dependency["name"]) not in vendored]
    if not missing:
        return
    remote: list[str] = []
    for dependency in missing:
        name, repository = str(dependency["name"]), str(dependency.get("repository") or "").strip()
        line = line_of(chart_dir / "Chart.yaml", f"name: {name}")
        shown = scrub_text(repository, ctx.secrets)
        if not repository:
            raise RenderError(f"chart dependency {name!r} has no repository and is not vendored under "
                              f"{posixpath.join(posixpath.dirname(chart_file) or '.', 'charts')}/", file=chart_file, line=line)
        if repository.startswith(("@", "alias:")):
            raise RenderError(f"chart dependency {name!r} names the repository {shown!r} by an alias: give its URL "
                              f"(https://... or oci://...)", file=chart_file, line=line)
        if repository.startswith("file://"):
            target = (chart_dir / repository[len("file://"):]).resolve()
            if not is_within(ctx.root, target):
                raise RenderError(f"chart dependency {name!r} at {shown} lies outside the repository", file=chart_file,
                                  line=line)
            continue
        if not repository.lower().startswith(("https://", "http://", "oci://")):
            raise RenderError(f"chart dependency {name!r}: repository {shown!r} is not an http(s):// chart repository, "
                              f"an oci:// registry or a file:// path", file=chart_file, line=line)
        remote.append(repository.rstrip("/"))
        if not repository.lower().startswith("oci://"):
            _check_reachable(ctx, name, repository.rstrip("/"), chart_file, line)
    key = _build_key(chart_dir, sorted(set(remote)))
    cached = Path(os.path.expanduser(ctx.cache_dir)) / "chart-deps" / key[:2] / key if ctx.cache_dir else None
    if cached is not None and (cached / ".complete").is_file():
        try:
            _copy_charts(cached, chart_dir / "charts")
            os.utime(cached / ".complete")  # last used: cache eviction removes the least recently used builds first
            return
        except OSError:
            pass  # evicted while being read: build again
    _build(ctx, chart_dir, sorted(set(remote)), chart_file)
    if cached is not None:
        _store(chart_dir / "charts", cached)


def _check_reachable(ctx: RenderContext, name: str, repository: str, chart_file: str, line: int | None) -> None:
    """Read the chart repository's index first (once per process): 401, TLS and unreachable get a clear message
    naming the dependency, where helm would only say that its cache has no index."""
    credential = find_credential(repository, "helm", ctx.repositories)
    try:
        load_index(repository, credential)
    except SourceError as err:
        raise RenderError(f"chart dependencies could not be fetched: dependency {name!r}: {scrub_text(err.message, ctx.secrets)}",
                          file=chart_file, line=line) from None


def _build_key(chart_dir: Path, remote: list[str]) -> str:
    digest = hashlib.sha256(json.dumps({"helm": tool_stamp("helm"), "repositories": remote}).encode())
    for name in _LOCK_FILES:
        path = chart_dir / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    return digest.hexdigest()


def _build(ctx: RenderContext, chart_dir: Path, remote: list[str], chart_file: str) -> None:
    binary = find_binary("helm")
    with tempfile.TemporaryDirectory(prefix="gitops-helm-deps-") as temp:
        home = Path(temp)
        repositories, auths, ca_files, insecure = [], {}, [], False
        for index, url in enumerate(remote):
            oci = url.lower().startswith("oci://")
            credential = find_credential(url, "oci" if oci else "helm", ctx.repositories)
            if credential and credential.ca_file:
                ca_files.append(credential.ca_file)
            if oci:
                host = url[len("oci://"):].split("/", 1)[0]
                insecure = insecure or bool(credential and credential.insecure_skip_tls_verify)
                if credential and (credential.username or credential.password):
                    token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
                    auths[host] = {"auth": token}
                continue
            entry: dict[str, Any] = {"name": f"dependency-{index}", "url": url}
            if credential:
                entry.update(username=credential.username, password=credential.password, caFile=credential.ca_file,
                             insecure_skip_tls_verify=credential.insecure_skip_tls_verify)
            repositories.append(entry)
        env = {
            **isolated_env(),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            # JSON is YAML; files of mode 0600 in a 0700 directory, removed with it
            "HELM_REPOSITORY_CONFIG": private_file(home / "repositories.yaml", json.dumps(
                {"apiVersion": "", "generated": "0001-01-01T00:00:00Z", "repositories": repositories})),
            "HELM_REGISTRY_CONFIG": private_file(home / "registry.json", json.dumps({"auths": auths})),
        }
        if ca_files:
            env["SSL_CERT_FILE"] = _trust_bundle(home, ca_files)
        argv = [binary, "dependency", "build", "."]
        if insecure:
            argv.append("--insecure-skip-tls-verify")
        try:
            run_tool(ctx, argv, cwd=chart_dir, env=env, hidden=secrets(ctx.repositories))
        except RenderError as err:
            raise RenderError(f"chart dependencies could not be fetched: {err.message}", file=chart_file) from None


def _trust_bundle(home: Path, ca_files: list[str]) -> str:
    """The system's CA certificates and the repositories' own, in one file (Go reads SSL_CERT_FILE)."""
    parts = []
    paths = ssl.get_default_verify_paths()
    for system in (paths.cafile, paths.openssl_cafile):
        if system and os.path.isfile(system):
            parts.append(Path(system).read_text(encoding="utf-8", errors="replace"))
            break
    for ca_file in ca_files:
        try:
            parts.append(Path(ca_file).read_text(encoding="utf-8"))
        except OSError as err:
            raise RenderError(f"the CA file {ca_file} cannot be read: {err.strerror}") from None
    return private_file(home / "ca-bundle.pem", "\n".join(parts))


def _copy_charts(source: Path, charts: Path) -> None:
    charts.mkdir(exist_ok=True)
    for entry in source.iterdir():
        if entry.name.endswith(".tgz"):
            shutil.copyfile(entry, charts / entry.name)


def _store(charts: Path, cached: Path) -> None:
    """Keep what the build put in charts/; a cache that cannot be written only costs the next render time."""
    try:
        partial = cached.with_name(cached.name + f".partial-{os.getpid()}")
        partial.mkdir(parents=True, exist_ok=True, mode=0o700)
        for entry in charts.iterdir():
            if entry.is_file() and entry.name.endswith(".tgz"):
                shutil.copyfile(entry, partial / entry.name)
        (partial / ".complete").touch()
        os.replace(partial, cached)
    except OSError:
        shutil.rmtree(cached.with_name(cached.name + f".partial-{os.getpid()}"), ignore_errors=True)
