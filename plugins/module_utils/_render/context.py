# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every renderer shares: the checkout it renders from and the tools it runs."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ResolvedConnection
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, SourceSpec

RENDER_TIMEOUT = 300.0  # seconds for one kustomize or helm run
INSTALL_HINTS = {
    "helm": "install Helm 3 (https://helm.sh/docs/intro/install/)",
    "kustomize": "install kustomize 5 (https://kubectl.docs.kubernetes.io/installation/kustomize/)",
}


@dataclass
class RenderContext:
    root: Path  # the checkout (resolved)
    app_dir: Path  # the application path inside it (resolved)
    rel_path: str  # the application path, repository-relative ('.' for the root)
    app: Application
    secrets: list[str]
    cache_dir: str = ""  # where built chart dependencies are kept ("": not kept)
    # credentials for the chart repositories and registries chart dependencies come from
    repositories: list[RepositoryCredential] = field(default_factory=list)
    source: SourceSpec | None = None  # the source being rendered (default: the application's first)
    revision: str = ""  # the commit rendered, for Argo CD's build environment
    # ref name -> the checkout of that ref source (checked out on first use: only a render that misses the cache needs it)
    ref_root: Callable[[str], Path] | None = None
    # the run's cluster connection, lent to helm when the application asks for lookup (None: no cluster at hand)
    lookup_connection: ResolvedConnection | None = None

    def __post_init__(self) -> None:
        if self.source is None:
            self.source = self.app.source

    @property
    def spec(self) -> SourceSpec:
        """The source being rendered (typed: never None after construction)."""
        if self.source is None:  # set by __post_init__; only a caller resetting it gets here
            raise RenderError("no source to render", file=self.rel_path)
        return self.source

    def checkout_of(self, name: str) -> Path:
        """The resolved checkout root of the ref source `name` (for $name/... paths)."""
        if self.ref_root is None:
            raise RenderError(f"${name} names no ref source", file=self.rel_path)
        return self.ref_root(name)

    def build_env(self) -> dict[str, str]:
        """Argo CD's build environment (ARGOCD_APP_*), which it substitutes into Jsonnet variables."""
        from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials

        return {
            "ARGOCD_APP_NAME": self.app.name,
            "ARGOCD_APP_NAMESPACE": self.app.destination.namespace,
            "ARGOCD_APP_PROJECT_NAME": "default",
            "ARGOCD_APP_REVISION": self.revision,
            "ARGOCD_APP_REVISION_SHORT": self.revision[:7],
            "ARGOCD_APP_REVISION_SHORT_8": self.revision[:8],
            "ARGOCD_APP_SOURCE_REPO_URL": strip_url_credentials(self.spec.repo_url),
            "ARGOCD_APP_SOURCE_PATH": self.spec.path,
            "ARGOCD_APP_SOURCE_TARGET_REVISION": self.spec.revision,
        }

    def repo_relative(self, relative_to_app: str) -> str:
        return posixpath.normpath(posixpath.join(self.rel_path, relative_to_app))

    def repo_relative_path(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()


_SHELL_SPECIAL = set("*#$@!?-0123456789")


def envsubst(text: str, env: dict[str, str]) -> str:
    """Go's os.Expand as Argo CD's Env.Envsubst calls it: $NAME and ${NAME} from env, unknown names empty,
    $$ is $, a $ followed by no name stays, bad ${ syntax is eaten."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] != "$" or index + 1 >= len(text):
            out.append(text[index])
            index += 1
            continue
        rest = text[index + 1:]
        name, width = _shell_name(rest)
        if name == "" and width > 0:
            pass  # invalid syntax: eaten, as Go does
        elif name == "":
            out.append("$")
        else:
            out.append("$" if name == "$" else env.get(name, ""))
        index += 1 + width
    return "".join(out)


def _shell_name(rest: str) -> tuple[str, int]:
    """Go's getShellName: the name after a $ and how many characters it takes."""
    if rest[0] == "{":
        if len(rest) > 2 and rest[1] in _SHELL_SPECIAL and rest[2] == "}":
            return rest[1], 3
        close = rest.find("}", 1)
        if close == 1:
            return "", 2
        return (rest[1:close], close + 1) if close > 0 else ("", 1)
    if rest[0] in _SHELL_SPECIAL:
        return rest[0], 1
    width = 0
    while width < len(rest) and (rest[width].isascii() and (rest[width].isalnum() or rest[width] == "_")):
        width += 1
    return rest[:width], width


def find_binary(name: str) -> str:
    """The path of helm or kustomize, or a RenderError saying how to install it."""
    found = shutil.which(name)
    if not found:
        raise RenderError(f"the {name} binary is needed to render this application but was not found on PATH; "
                          f"{INSTALL_HINTS.get(name, f'install {name}')} or, in a checkout of this collection, "
                          f"run `make tools`")
    return found


def tool_stamp(name: str) -> str:
    """Identity of the binary a render depends on, so an upgraded tool never reuses old output."""
    found = shutil.which(name)
    if not found:
        return ""
    stat = os.stat(found)
    return f"{os.path.realpath(found)}:{stat.st_size}:{stat.st_mtime_ns}"


def run_tool(ctx: RenderContext, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
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
        raise tool_error(ctx, name, stderr.strip() or f"exit status {proc.returncode}")
    return proc.stdout


_HELM_LOCATION = re.compile(r"(?:template: |YAML parse error on |parse error at \()(?P<file>[^\s:()]+):?(?P<line>\d+)?(?::(?P<column>\d+))?")
_KUSTOMIZE_FILE = re.compile(r"(?:in File: |file )(?P<file>[^\s:]+\.ya?ml)")
_YAML_LINE = re.compile(r"yaml: line (?P<line>\d+)")


def tool_error(ctx: RenderContext, name: str, stderr: str) -> RenderError:
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


def line_of(path: Path, text: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if text in line:
            return number
    return None


def isolated_env() -> dict[str, str]:
    """Keep the user's kubeconfig and tool configuration out of renders (they are cached by commit)."""
    return {"KUBECONFIG": os.devnull}


# -- helm -----------------------------------------------------------------------------------------------


def private_file(path: Path, content: str) -> str:
    """content in a new file only its owner can read; its path."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(content)
    return str(path)
