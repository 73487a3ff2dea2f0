# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git repositories: one cached bare mirror per URL, revisions resolved with ls-remote, commits checked out."""

from __future__ import annotations

import configparser
import errno
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_use import hold
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.common import (
    LOCAL_TIMEOUT,
    LOCK_TIMEOUT,
    NETWORK_TIMEOUT,
    RemoteUnreachableError,
    RepoCheck,
    UnknownRevisionError,
    split_credentials,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.paths import (
    PathEscapeError,
    PathNotFoundError,
    _remove_stale,
    default_cache_dir,
    find_escaping_symlink,
    resolve_in_checkout,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.submodules import Submodule, SubmodulesMixin
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SourceSpec, normalize_repo_path
from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import RepoUrlError, normalize_repo_url

try:
    import git

    HAS_GIT = True
    GIT_IMPORT_ERROR: str | None = None
except ImportError:  # the module reports it with missing_required_lib()
    import traceback

    HAS_GIT = False
    GIT_IMPORT_ERROR = traceback.format_exc()

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{7,39}$")
# GIT_ASKPASS helper: answers git's prompts from the environment, so secrets never touch disk or argv
_ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\\n' "$GITOPS_GIT_USERNAME" ;;
  *) printf '%s\\n' "$GITOPS_GIT_PASSWORD" ;;
esac
"""


@dataclass
class CommitInfo:
    """The commit a render came from."""

    sha: str
    author: str
    date: str  # ISO 8601, the author date
    subject: str

    def to_dict(self) -> dict[str, str]:
        return {"sha": self.sha, "author": self.author, "date": self.date, "subject": self.subject}


@dataclass
class ResolvedRevision:
    sha: str
    commit: CommitInfo
    fetched: bool  # whether the network was used to fetch objects


@dataclass(frozen=True)
class _TreeFacts:
    has_symlinks: bool
    gitlinks: dict[str, str]  # path -> commit SHA of every submodule in the tree


# (mirror, commit) -> its symlinks and gitlinks; a commit never changes, so this never goes stale
_tree_facts: dict[tuple[str, str], _TreeFacts] = {}
# (mirror, revision) -> resolution, while a shared_resolutions() block runs (one module run)
_shared: dict[tuple[str, str], ResolvedRevision] | None = None
# mirror -> the remote's refs, while a shared_resolutions() block runs: one ls-remote per repository
_shared_refs: dict[str, dict[str, str]] | None = None
_shared_lock = threading.Lock()


@contextmanager
def shared_resolutions() -> Iterator[None]:
    """Inside this block each repository revision is resolved once, for every application using it.

    A module run handling a fleet then costs one ls-remote per repository, not
    one per application (their mirror lock serialised those), and all its
    applications see the same commit of a branch. Blocks nest; the outermost
    one owns the memory.
    """
    global _shared, _shared_refs
    with _shared_lock:
        outermost = _shared is None
        if outermost:
            _shared, _shared_refs = {}, {}
    try:
        yield
    finally:
        if outermost:
            with _shared_lock:
                _shared, _shared_refs = None, None


class GitSource(SubmodulesMixin):
    """One application's Git source: resolve its revision, check out commits."""

    def __init__(self, spec: SourceSpec, cache_dir: str | None = None, network_timeout: float = NETWORK_TIMEOUT,
                 repo_check: RepoCheck | None = None) -> None:
        """repo_check, when given, vets every submodule URL before it is fetched (the application's own URL is
        the caller's to check, before it builds the source)."""
        if not HAS_GIT:
            raise SourceError("the GitPython Python library is required (pip install GitPython)")
        self.spec = spec
        self.cache_dir = Path(os.path.expanduser(cache_dir or default_cache_dir()))
        self.network_timeout = network_timeout
        self.repo_check = repo_check
        url, url_user, url_password = split_credentials(spec.repo_url.strip())
        try:
            # git is given the normalised URL, so what a policy matched is what is fetched
            url = normalize_repo_url(url)
        except RepoUrlError as err:
            raise SourceError(str(err)) from None
        self.url = url  # never holds credentials: it reaches argv and messages
        # set for a submodule's source: its URL came from repository content, not from the user
        self.from_content = False
        self.file_transport_allowed = True
        # the submodules the last checkout() brought in, recursively
        self.checked_out_submodules: list[Submodule] = []
        self.username = spec.username or url_user
        self.password = spec.password or url_password
        self.secrets = [s for s in (self.password, url_password, spec.password) if s]
        key = hashlib.sha256(self._mirror_key().encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9._-]", "-", url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])[:40] or "repo"
        slug = slug[:-4] if slug.endswith(".git") else slug
        self.mirror_dir = self.cache_dir / "git" / f"{slug}-{key}.git"
        self.lock_file = self.cache_dir / "git" / f".{self.mirror_dir.name}.lock"
        # held by every process that used the mirror, until it exits: cache eviction leaves the mirror alone
        self.in_use_file = self.cache_dir / "git" / f".{self.mirror_dir.name}.inuse"

    # -- public API ------------------------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        return self.url

    def resolve(self) -> ResolvedRevision:
        """Resolve the spec's revision to a commit, fetching only what it needs (once per shared_resolutions())."""
        key = (str(self.mirror_dir), self.spec.revision.strip() or "HEAD")
        memory = _shared
        if memory is not None and key in memory:
            return replace(memory[key], fetched=False)
        with self._locked():
            if memory is not None and key in memory:  # resolved by another thread while we waited
                return replace(memory[key], fetched=False)
            resolved = self._resolve_locked()
        if memory is not None:
            memory[key] = resolved
        return resolved

    def remote_refs(self) -> dict[str, str]:
        """The remote's refs (ref -> object), from one ls-remote; nothing is fetched."""
        with self._locked():
            return self._ls_remote(self._mirror())

    @staticmethod
    def commit_in(revision: str, refs: dict[str, str]) -> str | None:
        """The commit a branch, tag or HEAD revision names in refs (from remote_refs); None for anything else."""
        match = GitSource._match_ref(revision.strip() or "HEAD", refs)
        return match[1] if match else None

    def _resolve_locked(self) -> ResolvedRevision:
        """The resolution itself, under the mirror lock; a corrupt mirror is rebuilt once."""
        try:
            return self._resolve_in_mirror()
        except UnknownRevisionError:
            raise
        except (SourceError, OSError, ValueError, configparser.Error, git.GitError) as failure:
            # a damaged cache (killed fetch, full disk, corrupt object or config) fails in many ways:
            # rebuild it once from the remote, unless the cache is sound and the remote is the problem
            if not self._mirror_is_corrupt():
                if isinstance(failure, SourceError):
                    raise
                raise SourceError(f"the Git cache of {self.url} cannot be used: {self.scrub(str(failure))[:300]}") from None
            shutil.rmtree(self.mirror_dir, ignore_errors=True)
            return self._resolve_in_mirror()

    def _resolve_in_mirror(self) -> ResolvedRevision:
        repo = self._mirror()
        revision = self.spec.revision.strip() or "HEAD"
        sha, fetched = self._resolve(repo, revision)
        return ResolvedRevision(sha=sha, commit=self._commit_info(repo, sha), fetched=fetched)

    def _mirror_is_corrupt(self) -> bool:
        """Whether the cached mirror is damaged, so that rebuilding it (not the remote) is the cure."""
        if not self.mirror_dir.exists():
            return False
        try:
            proc = subprocess.run(["git", "--git-dir", str(self.mirror_dir), "fsck", "--no-dangling", "--no-progress"],
                                  capture_output=True, timeout=LOCAL_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return proc.returncode != 0

    @contextmanager
    def checkout(self, sha: str, path: str | None = None) -> Iterator[Path]:
        """A temporary directory holding the commit's files and its submodules' files; removed on exit.

        With path (repository-relative), only that directory is checked out: a
        monorepo of thousands of applications costs a directory, not the tree.
        Submodules inside the checked-out part are checked out at the commits
        the tree pins, recursively; one that cannot be fetched fails the
        checkout (an application must never render without its files).
        Refuses the checkout if any symlink in it points outside the checkout
        (Argo CD's rule too), naming the link.
        """
        partial = normalize_repo_path(path, what="path") if path is not None else "."
        work = self.cache_dir / "checkouts"
        work.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove_stale(work)
        temp = Path(tempfile.mkdtemp(prefix=f"{sha[:12]}-", dir=work))
        self.checked_out_submodules = []
        try:
            root = temp / "tree"
            root.mkdir()
            self.check_out_into(root, temp / "index", sha, partial, depth=0)
            escaping = find_escaping_symlink(root)
            if escaping:
                raise PathEscapeError(f"symlink {escaping!r} points outside the repository; refusing to render "
                                      f"commit {sha[:12]}", file=escaping)
            yield root
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def check_out_into(self, root: Path, index: Path, sha: str, partial: str, depth: int) -> None:
        """The commit's files (or the partial directory's) written into root, then its submodules' (checkout() is the way in)."""
        # a private index file: checkouts never touch the mirror, so they can run side by side
        env = {"GIT_INDEX_FILE": str(index)}
        with self._locked():
            repo = self._mirror()
            steps = [["read-tree", sha], ["checkout-index", "--all", "--force"]] if partial == "." else \
                [["checkout", sha, "--", f":(literal){partial}"]]
            for args in steps:
                self._run(repo, ["--work-tree", str(root), *args], env=env, timeout=LOCAL_TIMEOUT,
                          failure=SourceError, what=f"checking out commit {sha}")
        index.unlink(missing_ok=True)
        # outside this mirror's lock: a submodule may be this very repository at another commit
        for submodule in self.submodules(sha, within=partial):
            self._check_out_submodule(root, index, sha, submodule, depth)

    def has_symlinks(self, sha: str) -> bool:
        """Whether the commit holds any symlink (then only a full checkout can tell whether one escapes)."""
        return self._tree(sha).has_symlinks

    def tree_entries(self, sha: str) -> list[tuple[str, str, str]]:
        """(mode, type, path) of every entry of the commit, trees included, read from the mirror without a checkout
        (an ApplicationSet over thousands of directories lists them in one command)."""
        with self._locked():
            dummy, out, dummy = self._run(self._mirror(), ["ls-tree", "-r", "-t", "-z", "--full-tree", sha],
                                          timeout=LOCAL_TIMEOUT, failure=SourceError, what=f"listing commit {sha}")
        entries = []
        for entry in out.split("\0"):
            meta, dummy, path = entry.partition("\t")
            fields = meta.split()
            if len(fields) == 3:
                entries.append((fields[0], fields[1], path))
        return entries

    def read_files(self, sha: str, paths: list[str]) -> dict[str, bytes]:
        """The content of these files of the commit, from the mirror in one `git cat-file --batch`."""
        if not paths:
            return {}
        request = "".join(f"{sha}:{path}\n" for path in paths).encode()
        with self._locked():
            completed = subprocess.run(["git", "--git-dir", str(self.mirror_dir), "cat-file", "--batch"], input=request,
                                       capture_output=True, timeout=LOCAL_TIMEOUT, check=False)
        if completed.returncode != 0:
            raise SourceError(f"reading files of commit {sha} of {self.url} failed: "
                              f"{self.scrub(completed.stderr.decode(errors='replace'))[:300]}")
        out, contents, position = completed.stdout, {}, 0
        for path in paths:
            end = out.index(b"\n", position)
            header = out[position:end].split()
            if len(header) != 3:
                raise SourceError(f"{path} is missing from commit {sha} of {self.url}")
            size = int(header[2])
            contents[path] = out[end + 1:end + 1 + size]
            position = end + 1 + size + 1
        return contents

    def _tree(self, sha: str) -> _TreeFacts:
        key = (str(self.mirror_dir), sha)
        if key not in _tree_facts:
            with self._locked():
                dummy, out, dummy = self._run(self._mirror(), ["ls-tree", "-r", "-z", "--full-tree", sha], timeout=LOCAL_TIMEOUT,
                                              failure=SourceError, what=f"listing commit {sha}")
            symlinks = False
            gitlinks = {}
            for entry in out.split("\0"):
                meta, dummy, path = entry.partition("\t")
                fields = meta.split()
                if len(fields) != 3:
                    continue
                symlinks = symlinks or fields[0] == "120000"
                if fields[0] == "160000":
                    gitlinks[path] = fields[2]
            _tree_facts[key] = _TreeFacts(has_symlinks=symlinks, gitlinks=gitlinks)
        return _tree_facts[key]

    def application_dir(self, root: Path, sha: str) -> Path:
        """The spec's path inside a checkout, checked to exist and stay inside it."""
        target = resolve_in_checkout(root, self.spec.path, "path")
        if not target.exists():
            raise PathNotFoundError(
                f"path {self.spec.path!r} does not exist in {self.url} at revision {self.spec.revision!r} "
                f"(commit {sha[:12]})", file=self.spec.path)
        if not target.is_dir():
            raise PathNotFoundError(f"path {self.spec.path!r} is a file, not a directory (commit {sha[:12]})",
                                    file=self.spec.path)
        return target

    def scrub(self, text: str) -> str:
        """Text from git with credentials removed."""
        return scrub_text(text, self.secrets)

    # -- revision resolution ---------------------------------------------------------------------------

    def _resolve(self, repo: "git.Repo", revision: str) -> tuple[str, bool]:
        # a commit already in the mirror never changes: no network at all
        if _FULL_SHA.match(revision) or _SHORT_SHA.match(revision):
            local = self._local_commit(repo, revision)
            if local:
                return local, False

        # branches and tags alike are asked of the remote: `git tag -f v1` moves a tag as a push moves a branch
        remote_refs = self._ls_remote(repo)
        match = self._match_ref(revision, remote_refs)
        if match:
            remote_ref, sha = match
            local_ref = "refs/gitops/HEAD" if remote_ref == "HEAD" else remote_ref
            target = remote_refs[remote_ref]  # the ref's own value: for an annotated tag the tag object
            if self._local_commit(repo, sha):
                if self._local_ref(repo, local_ref) == target:
                    return sha, False
                if self._has_object(repo, target):
                    # the commit is here already: move the mirror's ref where the remote has it, no fetch
                    self._run(repo, ["update-ref", "--no-deref", local_ref, target], timeout=LOCAL_TIMEOUT,
                              what=f"updating {local_ref} in the Git cache")
                    return sha, False
            self._fetch(repo, [f"+{remote_ref}:{local_ref}"])
            resolved = self._local_commit(repo, sha)
            if not resolved:
                raise UnknownRevisionError(f"revision {revision!r} of {self.url} points to {sha}, which is not a commit")
            return resolved, True

        if _FULL_SHA.match(revision):
            # not the tip of any ref: ask for the commit itself (servers allow reachable SHAs)
            self._fetch(repo, [f"+{revision}:refs/gitops/commits/{revision}"], missing_ok=True)
            resolved = self._local_commit(repo, revision)
            if resolved:
                return resolved, True
        if _FULL_SHA.match(revision) or _SHORT_SHA.match(revision) or re.match(r"^[0-9a-f]{4,6}$", revision):
            # a short SHA can only be expanded with the history at hand: fetch every branch and tag
            self._fetch(repo, ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"])
            status, dummy, stderr = self._run(
                repo, ["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], timeout=LOCAL_TIMEOUT, check=False)
            if status == 0:
                return self._local_commit(repo, revision) or revision, True
            if "ambiguous" in stderr:
                raise UnknownRevisionError(f"revision {revision!r} is ambiguous in {self.url}: give more characters "
                                           f"of the commit SHA")
        branches = sorted(ref[len("refs/heads/"):] for ref in remote_refs if ref.startswith("refs/heads/"))
        shown = ", ".join(branches[:10]) + (", ..." if len(branches) > 10 else "")
        raise UnknownRevisionError(
            f"revision {revision!r} not found in {self.url}: it is not a branch, tag or commit of the repository"
            + (f" (branches: {shown})" if branches else ""))

    @staticmethod
    def _match_ref(revision: str, refs: dict[str, str]) -> tuple[str, str] | None:
        """(remote ref, commit SHA) for a symbolic revision; git's precedence: tags, then branches."""
        if revision == "HEAD":
            return ("HEAD", refs["HEAD"]) if "HEAD" in refs else None
        candidates = [revision] if revision.startswith("refs/") else [f"refs/tags/{revision}", f"refs/heads/{revision}"]
        for ref in candidates:
            if ref in refs:
                # an annotated tag: ls-remote also lists the commit it points to as ref^{}
                return ref, refs.get(f"{ref}^{{}}", refs[ref])
        return None

    def _local_ref(self, repo: "git.Repo", ref: str) -> str | None:
        """The object a ref of the mirror points to (a tag object for an annotated tag), if it exists."""
        status, out, dummy = self._run(repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", ref],
                                       timeout=LOCAL_TIMEOUT, check=False)
        return out.strip() if status == 0 else None

    def _has_object(self, repo: "git.Repo", sha: str) -> bool:
        status, dummy, dummy = self._run(repo, ["cat-file", "-e", sha], timeout=LOCAL_TIMEOUT, check=False)
        return status == 0

    def _local_commit(self, repo: "git.Repo", revision: str) -> str | None:
        status, out, dummy = self._run(
            repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
            timeout=LOCAL_TIMEOUT, check=False)
        return out.strip() if status == 0 and _FULL_SHA.match(out.strip()) else None

    def _commit_info(self, repo: "git.Repo", sha: str) -> CommitInfo:
        commit = repo.commit(sha)
        summary = commit.summary if isinstance(commit.summary, str) else commit.summary.decode("utf-8", "replace")
        return CommitInfo(
            sha=sha,
            author=f"{commit.author.name} <{commit.author.email}>",
            date=commit.authored_datetime.isoformat(),
            subject=summary,
        )

    # -- network ---------------------------------------------------------------------------------------

    def _ls_remote(self, repo: "git.Repo") -> dict[str, str]:
        """The remote's refs; asked once per repository inside a shared_resolutions() block."""
        memory = _shared_refs
        if memory is not None and str(self.mirror_dir) in memory:
            return memory[str(self.mirror_dir)]
        dummy, out, dummy = self._run(repo, ["ls-remote", "--", self.url], network=True,
                                      failure=RemoteUnreachableError, what=f"listing the refs of {self.url}")
        refs = {}
        for line in out.splitlines():
            sha, dummy, ref = line.partition("\t")
            if _FULL_SHA.match(sha) and ref:
                refs[ref] = sha
        if memory is not None:
            memory[str(self.mirror_dir)] = refs
        return refs

    def _fetch(self, repo: "git.Repo", refspecs: list[str], missing_ok: bool = False) -> None:
        status, dummy, stderr = self._run(
            repo, ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", self.url, *refspecs],
            network=True, check=not missing_ok, failure=RemoteUnreachableError, what=f"fetching from {self.url}")
        if status != 0 and self._timed_out(stderr):
            self._raise(RemoteUnreachableError, f"fetching from {self.url}", stderr, status)

    def _network_env(self) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0"}
        ssh = [os.environ.get("GIT_SSH_COMMAND") or "ssh", "-o", "BatchMode=yes",
               "-o", f"ConnectTimeout={int(min(self.network_timeout, 60))}"]
        if self.spec.ssh_private_key_file:
            key = os.path.expanduser(self.spec.ssh_private_key_file)
            if not os.path.isfile(key):
                raise SourceError(f"ssh_private_key_file {self.spec.ssh_private_key_file!r} does not exist")
            ssh += ["-i", shlex.quote(key), "-o", "IdentitiesOnly=yes"]
        if not self.spec.ssh_strict_host_key_checking:
            ssh += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        else:
            ssh += ["-o", "StrictHostKeyChecking=yes"]
            if self.spec.ssh_known_hosts_file:
                known = os.path.expanduser(self.spec.ssh_known_hosts_file)
                if not os.path.isfile(known):
                    raise SourceError(f"ssh_known_hosts_file {self.spec.ssh_known_hosts_file!r} does not exist")
                ssh += ["-o", f"UserKnownHostsFile={shlex.quote(known)}"]
        env["GIT_SSH_COMMAND"] = " ".join(ssh)
        if self.username or self.password:
            env["GIT_ASKPASS"] = str(self._askpass())
            env["GITOPS_GIT_USERNAME"] = self.username
            env["GITOPS_GIT_PASSWORD"] = self.password
        return env

    def _askpass(self) -> Path:
        script = self.cache_dir / "git" / "askpass.sh"
        script.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not script.exists() or script.read_text() != _ASKPASS_SCRIPT:
            temp = script.with_name(f".askpass.{os.getpid()}")
            temp.write_text(_ASKPASS_SCRIPT)
            temp.chmod(0o700)
            temp.replace(script)
        return script

    # -- plumbing --------------------------------------------------------------------------------------

    def _mirror_key(self) -> str:
        if "://" in self.url or re.match(r"^[^/]+@[^/]+:", self.url):
            return self.url.rstrip("/")
        return str(Path(os.path.expanduser(self.url)).resolve())  # a local path

    def _mirror(self) -> "git.Repo":
        try:
            return git.Repo(self.mirror_dir)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            shutil.rmtree(self.mirror_dir, ignore_errors=True)  # half-made by an interrupted run
        repo = git.Repo.init(self.mirror_dir, bare=True, mkdir=True)
        with repo.config_writer() as config:
            # no background gc while another process reads objects from the mirror
            config.set_value("gc", "auto", "0")
            config.set_value("core", "logAllRefUpdates", "false")
        return repo

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.lock_file, "a") as handle:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as err:
                    if err.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() > deadline:
                        raise SourceError(f"the Git cache of {self.url} ({self.mirror_dir}) stayed locked by another "
                                          f"process for {LOCK_TIMEOUT:.0f}s") from None
                    time.sleep(0.1)
            try:
                hold(self.in_use_file)
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _run(self, repo: "git.Repo", args: list[str], *, network: bool = False, env: dict[str, str] | None = None,
             timeout: float | None = None, check: bool = True, failure: type[SourceError] = SourceError,
             what: str = "") -> tuple[int, str, str]:
        """Run git in the mirror; returns (status, stdout, stderr) with credentials scrubbed."""
        full_env = dict(env or {})
        argv = ["git"]
        if network:
            full_env.update(self._network_env())
            argv += ["-c", "http.lowSpeedLimit=1000", "-c", f"http.lowSpeedTime={int(self.network_timeout)}"]
            if self.from_content:
                # a URL from .gitmodules: protocols allowed only to users are refused, as git does for submodules
                full_env["GIT_PROTOCOL_FROM_USER"] = "0"
                argv += ["-c", f"protocol.file.allow={'always' if self.file_transport_allowed else 'never'}"]
            if self.username or self.password:
                # our secret must not end up in a credential store the user configured
                argv += ["-c", "credential.helper="]
        status, out, err = repo.git.execute(
            argv + args, with_extended_output=True, with_exceptions=False,
            kill_after_timeout=timeout or self.network_timeout, env=full_env, strip_newline_in_stdout=False,
        )
        out, err = str(out), self.scrub(str(err))
        if check and status != 0:
            self._raise(failure, what or f"git {args[0]}", err, status)
        return status, out, err

    def _raise(self, failure: type[SourceError], what: str, stderr: str, status: int) -> None:
        if self._timed_out(stderr):
            raise failure(f"{what} timed out")
        detail = "; ".join(line.strip() for line in stderr.splitlines() if line.strip())[-1000:]
        raise failure(f"{what} failed (git exit {status}): {detail or 'no error output'}")

    @staticmethod
    def _timed_out(stderr: str) -> bool:
        return "did not complete in" in stderr or "process killed because it timed out" in stderr
