# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Submodules: the gitlinks of a commit, their URLs from its .gitmodules, and their recursive checkout.

Each submodule is a GitSource of its own (its own cached mirror and lock),
checked out at the commit its parent pins, into the parent's checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.common import LOCAL_TIMEOUT, split_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.paths import resolve_in_checkout
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SourceSpec
from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import RepoUrlError, is_local, resolve_relative_url, same_origin

if TYPE_CHECKING:
    from ansible_collections.gitops.kubernetes.plugins.module_utils._source.git import GitSource

MAX_SUBMODULE_DEPTH = 8  # submodules of submodules: deeper than this is a loop or a mistake


@dataclass(frozen=True)
class Submodule:
    """A gitlink of a commit: where it is checked out, from which repository, at which commit."""

    path: str  # relative to the repository holding it
    url: str  # absolute and normalised, without credentials
    sha: str
    parent_url: str

    @property
    def origin(self) -> str:
        """Where the URL came from, for messages: ' (submodule 'lib' of https://host/app.git)'."""
        return f" (submodule {self.path!r} of {self.parent_url})"

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "url": self.url, "sha": self.sha, "parent_url": self.parent_url}


class SubmodulesMixin:
    """GitSource's submodules (git.py mixes this in): which a commit holds, and their checkout into its own.

    Works through GitSource's mirror, lock and git runner.
    """

    def _check_out_submodule(self, root: Path, index: Path, parent_sha: str, submodule: Submodule, depth: int) -> None:
        where = f"submodule {submodule.path!r} ({submodule.url}) of {self.url} at commit {parent_sha[:12]}"
        if depth >= MAX_SUBMODULE_DEPTH:
            raise SourceError(f"{where}: submodules nest more than {MAX_SUBMODULE_DEPTH} levels deep", file=".gitmodules")
        if self.repo_check is not None:
            self.repo_check(submodule.url, submodule.origin)
        child = self._submodule_source(submodule)
        try:
            child.resolve()
        except SourceError as err:
            # the render fails, so nothing is applied and nothing pruned because the files went missing
            raise SourceError(f"{where} cannot be fetched: {err.message}") from None
        target = resolve_in_checkout(root, submodule.path, "submodule path")
        target.mkdir(parents=True, exist_ok=True)
        self.checked_out_submodules.append(submodule)
        child.check_out_into(target, index, submodule.sha, ".", depth + 1)
        self.checked_out_submodules.extend(child.checked_out_submodules)

    def _submodule_source(self, submodule: Submodule) -> "GitSource":
        """The source of a submodule: this source's SSH settings; its HTTPS credentials on the same host only."""
        shared_credentials = same_origin(self.url, submodule.url)
        spec = SourceSpec(
            repo_url=submodule.url, revision=submodule.sha,
            ssh_private_key_file=self.spec.ssh_private_key_file, ssh_known_hosts_file=self.spec.ssh_known_hosts_file,
            ssh_strict_host_key_checking=self.spec.ssh_strict_host_key_checking,
            username=self.username if shared_credentials else "", password=self.password if shared_credentials else "",
        )
        child = type(self)(spec, str(self.cache_dir), self.network_timeout, self.repo_check)
        child.from_content = True
        # git itself refuses file:// submodules (CVE-2022-39253): allowed only below a repository that is local too
        child.file_transport_allowed = is_local(self.url) and self.file_transport_allowed
        return child

    def submodules(self, sha: str, within: str = ".") -> list[Submodule]:
        """The submodules of a commit (inside the directory `within`), with their URLs from its .gitmodules."""
        gitlinks = {path: commit for path, commit in self._tree(sha).gitlinks.items()
                    if within == "." or path == within or path.startswith(within + "/")}
        if not gitlinks:
            return []
        urls = self._gitmodules_urls(sha)
        found = []
        for path, commit in sorted(gitlinks.items()):
            raw = urls.get(path)
            if not raw:
                raise SourceError(f"submodule {path!r} of {self.url} at commit {sha[:12]} has no URL in .gitmodules",
                                  file=".gitmodules")
            if is_local(raw) and not raw.startswith(("/", "./", "../")) and not raw.lower().startswith("file://"):
                # git would take it relative to wherever it runs: no meaning for a repository
                raise SourceError(f"submodule {path!r} of {self.url} at commit {sha[:12]}: URL {raw!r} is neither absolute "
                                  "nor relative to the repository (./ or ../)", file=".gitmodules")
            try:
                url = resolve_relative_url(self.url, split_credentials(raw)[0])
            except RepoUrlError as err:
                raise SourceError(f"submodule {path!r} of {self.url} at commit {sha[:12]}: {err}", file=".gitmodules") from None
            found.append(Submodule(path=path, url=url, sha=commit, parent_url=self.url))
        return found

    def _gitmodules_urls(self, sha: str) -> dict[str, str]:
        """Submodule path -> URL as written in the commit's .gitmodules (empty when it has none)."""
        with self._locked():
            status, out, dummy = self._run(
                self._mirror(), ["config", "-z", "--blob", f"{sha}:.gitmodules", "--get-regexp", r"^submodule\..*\.(path|url)$"],
                timeout=LOCAL_TIMEOUT, check=False)
        if status != 0:
            return {}
        paths: dict[str, str] = {}
        urls: dict[str, str] = {}
        for entry in out.split("\0"):
            key, dummy, value = entry.partition("\n")
            if key.endswith(".path"):
                paths[key[len("submodule."):-len(".path")]] = value.strip().rstrip("/")
            elif key.endswith(".url"):
                urls[key[len("submodule."):-len(".url")]] = value.strip()
        return {path: urls.get(name, "") for name, path in paths.items()}

    def has_submodules(self, sha: str) -> bool:
        """Whether the commit holds any submodule (gitlink)."""
        return bool(self._tree(sha).gitlinks)
