"""Git source: revision resolution against real (local) repositories, path checks, credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import PolicyError, SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SourceSpec
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import (
    GitSource,
    PathEscapeError,
    PathNotFoundError,
    RemoteUnreachableError,
    Submodule,
    UnknownRevisionError,
    default_cache_dir,
    find_escaping_symlink,
    resolve_in_checkout,
    shared_resolutions,
    split_credentials,
)

GIT_ENV = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def remote(tmp_path: Path) -> dict:
    repo = tmp_path / "remote"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = commit(repo, {"app/a.yaml": "a: 1\n"}, "first commit")
    git(repo, "tag", "v1")
    second = commit(repo, {"app/a.yaml": "a: 2\n"}, "second commit\n\nwith a body")
    git(repo, "tag", "-a", "v2", "-m", "annotated")
    git(repo, "checkout", "-q", "-b", "feature")
    feature = commit(repo, {"app/b.yaml": "b: 1\n"}, "feature work")
    git(repo, "checkout", "-q", "main")
    return {"path": repo, "first": first, "second": second, "feature": feature}


def source(remote: dict, tmp_path: Path, revision: str = "HEAD", **kwargs) -> GitSource:
    spec = SourceSpec(repo_url=f"file://{remote['path']}", revision=revision, **kwargs)
    return GitSource(spec, str(tmp_path / "cache"))


@pytest.mark.parametrize("revision, expected", [
    ("main", "second"), ("HEAD", "second"), ("feature", "feature"), ("v1", "first"), ("v2", "second"),
    ("refs/heads/feature", "feature"),
])
def test_symbolic_revisions_resolve_to_commits(remote, tmp_path, revision, expected):
    resolved = source(remote, tmp_path, revision).resolve()
    assert resolved.sha == remote[expected]
    assert resolved.commit.sha == remote[expected]


def test_full_and_short_shas(remote, tmp_path):
    assert source(remote, tmp_path, remote["first"]).resolve().sha == remote["first"]
    assert source(remote, tmp_path, remote["feature"][:9]).resolve().sha == remote["feature"]


def test_commit_info(remote, tmp_path):
    info = source(remote, tmp_path, "main").resolve().commit
    assert info.author == "Ada <ada@example.org>"
    assert info.subject == "second commit"
    assert info.date[:4].isdigit() and "T" in info.date


def test_commits_in_the_mirror_need_no_network(remote, tmp_path):
    assert source(remote, tmp_path, "v1").resolve().fetched is True
    for revision in ("v1", remote["first"], remote["first"][:10]):
        assert source(remote, tmp_path, revision).resolve().fetched is False
    # the proof: with the remote gone, commits still resolve, while a branch or a tag (they move) needs the remote
    shutil.rmtree(remote["path"])
    assert source(remote, tmp_path, remote["first"]).resolve().sha == remote["first"]
    assert source(remote, tmp_path, remote["first"][:10]).resolve().sha == remote["first"]
    for revision in ("main", "v1"):
        with pytest.raises(RemoteUnreachableError):
            source(remote, tmp_path, revision).resolve()


@pytest.mark.parametrize("annotated", [False, True])
def test_a_moved_tag_is_followed(remote, tmp_path, annotated):
    tag = ["tag", "-f", "-a", "-m", "moved"] if annotated else ["tag", "-f"]
    assert source(remote, tmp_path, "v1").resolve().sha == remote["first"]
    third = commit(remote["path"], {"app/c.yaml": "c: 1\n"}, "third")
    git(remote["path"], *tag, "v1", third)
    moved = source(remote, tmp_path, "v1").resolve()
    assert (moved.sha, moved.fetched) == (third, True)
    mirror = source(remote, tmp_path, "v1").mirror_dir
    assert git(mirror, "rev-parse", "v1^{commit}") == third, "the mirror's tag is moved too"
    # back to a commit the mirror holds: no fetch needed for a lightweight tag, but the answer is the remote's
    git(remote["path"], *tag, "v1", remote["first"])
    back = source(remote, tmp_path, "v1").resolve()
    assert back.sha == remote["first"] and back.fetched is annotated  # a new tag object must be fetched
    assert git(mirror, "rev-parse", "v1^{commit}") == remote["first"]
    assert source(remote, tmp_path, "v1").resolve().fetched is False


def test_one_ls_remote_per_repository_and_run(remote, tmp_path, monkeypatch):
    calls = []
    real_run = GitSource._run

    def counting(self, repo, args, **kwargs):
        calls.append(args[0])
        return real_run(self, repo, args, **kwargs)

    monkeypatch.setattr(GitSource, "_run", counting)
    with shared_resolutions():
        shas = [source(remote, tmp_path, revision).resolve().sha for revision in ("main", "v1", "v2", "feature")]
    assert shas == [remote["second"], remote["first"], remote["second"], remote["feature"]]
    assert calls.count("ls-remote") == 1


def test_a_branch_is_fetched_fresh_each_run(remote, tmp_path):
    assert source(remote, tmp_path, "main").resolve().sha == remote["second"]
    unchanged = source(remote, tmp_path, "main").resolve()
    assert unchanged.fetched is False  # ls-remote only: the tip is already in the mirror
    third = commit(remote["path"], {"app/c.yaml": "c: 1\n"}, "third")
    moved = source(remote, tmp_path, "main").resolve()
    assert (moved.sha, moved.fetched) == (third, True)


def test_unknown_revision(remote, tmp_path):
    with pytest.raises(UnknownRevisionError) as caught:
        source(remote, tmp_path, "no-such-branch").resolve()
    assert "revision 'no-such-branch' not found" in str(caught.value)
    assert "branches: feature, main" in str(caught.value)
    with pytest.raises(UnknownRevisionError):
        source(remote, tmp_path, "0" * 40).resolve()


def test_unreachable_remote_is_distinct(tmp_path):
    spec = SourceSpec(repo_url=f"file://{tmp_path}/nowhere", revision="main")
    with pytest.raises(RemoteUnreachableError) as caught:
        GitSource(spec, str(tmp_path / "cache")).resolve()
    assert f"listing the refs of file://{tmp_path}/nowhere failed" in str(caught.value)


def test_credentials_never_appear_in_errors(tmp_path):
    # port 1 on loopback refuses at once: a real network failure with credentials in play
    spec = SourceSpec(repo_url="https://robot:tok-SECRET-42@127.0.0.1:1/org/repo.git", revision="main",
                      password="pw-SECRET-43")
    git_source = GitSource(spec, str(tmp_path / "cache"))
    assert git_source.url == "https://127.0.0.1:1/org/repo.git"
    with pytest.raises(RemoteUnreachableError) as caught:
        git_source.resolve()
    message = str(caught.value)
    assert "https://127.0.0.1:1/org/repo.git" in message
    assert "SECRET" not in message
    # nor in the mirror's configuration on disk
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert b"SECRET" not in path.read_bytes(), path


def test_https_credentials_reach_git_through_askpass_only(remote, tmp_path):
    git_source = source(remote, tmp_path, username="bot", password="hunter2-token")
    env = git_source._network_env()
    assert env["GITOPS_GIT_USERNAME"] == "bot" and env["GITOPS_GIT_PASSWORD"] == "hunter2-token"
    askpass = Path(env["GIT_ASKPASS"])
    assert "hunter2" not in askpass.read_text()
    answer = subprocess.run([str(askpass), "Password for 'https://bot@host': "], capture_output=True, text=True,
                            env={**os.environ, **env}, check=True).stdout
    assert answer == "hunter2-token\n"
    assert subprocess.run([str(askpass), "Username for 'https://host': "], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True).stdout == "bot\n"


def test_ssh_options(remote, tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text("key")
    known = tmp_path / "known hosts"
    known.write_text("")
    env = source(remote, tmp_path, ssh_private_key_file=str(key), ssh_known_hosts_file=str(known))._network_env()
    command = env["GIT_SSH_COMMAND"]
    assert f"-i {key}" in command and "IdentitiesOnly=yes" in command and "BatchMode=yes" in command
    assert "StrictHostKeyChecking=yes" in command and f"UserKnownHostsFile='{known}'" in command
    lax = source(remote, tmp_path, ssh_private_key_file=str(key), ssh_strict_host_key_checking=False)._network_env()
    assert "StrictHostKeyChecking=no" in lax["GIT_SSH_COMMAND"]
    assert "GIT_ASKPASS" not in lax


def test_ssh_transport_gets_the_key_and_known_hosts(remote, tmp_path, monkeypatch):
    # a stand-in for ssh (the way git's own test suite does it): log the options, run the remote command here
    log = tmp_path / "ssh.log"
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" >> {log}\neval "${{@: -1}}"\n')
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    key, known = tmp_path / "deploy_key", tmp_path / "known_hosts"
    key.write_text("not really a key")
    known.write_text("")
    spec = SourceSpec(repo_url=f"ssh://git@git.example.org{remote['path']}", revision="feature",
                      ssh_private_key_file=str(key), ssh_known_hosts_file=str(known))
    assert GitSource(spec, str(tmp_path / "cache")).resolve().sha == remote["feature"]
    arguments = log.read_text().splitlines()
    assert ["-i", str(key)] == arguments[arguments.index("-i"):arguments.index("-i") + 2]
    assert f"UserKnownHostsFile={known}" in arguments and "StrictHostKeyChecking=yes" in arguments
    assert "BatchMode=yes" in arguments, arguments
    # ssh logs in as the URL's user (GitHub and GitLab answer only to `git`), not as the local user
    assert "git@git.example.org" in arguments, arguments


def test_checkout_is_temporary_and_complete(remote, tmp_path):
    git_source = source(remote, tmp_path, "feature")
    resolved = git_source.resolve()
    with git_source.checkout(resolved.sha) as root:
        assert (root / "app" / "b.yaml").read_text() == "b: 1\n"
        assert git_source.application_dir(root, resolved.sha) == root.resolve()
        kept = root
    assert not kept.exists()
    assert list((tmp_path / "cache" / "checkouts").iterdir()) == []


def test_checkouts_left_by_killed_runs_are_removed(remote, tmp_path):
    git_source = source(remote, tmp_path, "main")
    resolved = git_source.resolve()
    stale = tmp_path / "cache" / "checkouts" / "left-behind"
    stale.mkdir(parents=True)
    os.utime(stale, (0, 0))
    recent = tmp_path / "cache" / "checkouts" / "in-use"
    recent.mkdir()
    with git_source.checkout(resolved.sha):
        pass
    assert not stale.exists() and recent.exists()


def test_missing_path_is_distinct(remote, tmp_path):
    git_source = source(remote, tmp_path, "main", path="nope")
    resolved = git_source.resolve()
    with git_source.checkout(resolved.sha) as root, pytest.raises(PathNotFoundError) as caught:
        git_source.application_dir(root, resolved.sha)
    assert "path 'nope' does not exist" in str(caught.value) and resolved.sha[:12] in str(caught.value)


def test_symlink_out_of_the_checkout_is_refused(remote, tmp_path):
    os.symlink("/etc", remote["path"] / "app" / "escape")
    sha = commit(remote["path"], {}, "add a bad link")
    git_source = source(remote, tmp_path, sha)
    git_source.resolve()
    with pytest.raises(PathEscapeError) as caught:
        with git_source.checkout(sha):
            pass
    assert "symlink 'app/escape' points outside the repository" in str(caught.value)
    assert caught.value.file == "app/escape"
    assert list((tmp_path / "cache" / "checkouts").iterdir()) == []


def test_path_checks(tmp_path):
    root = tmp_path / "root"
    (root / "inside").mkdir(parents=True)
    os.symlink("inside", root / "ok-link")
    os.symlink(str(tmp_path), root / "bad-link")
    assert resolve_in_checkout(root, "ok-link", "path") == (root / "inside").resolve()
    with pytest.raises(PathEscapeError, match="resolves outside the repository"):
        resolve_in_checkout(root, "bad-link", "path")
    with pytest.raises(PathEscapeError, match="must stay inside"):
        resolve_in_checkout(root, "inside/../../x", "value file")
    with pytest.raises(PathEscapeError, match="relative to the repository root"):
        resolve_in_checkout(root, "/etc/passwd", "value file")
    assert find_escaping_symlink(root) == "bad-link"


def test_split_credentials():
    assert split_credentials("https://u:p%40ss@h/r.git") == ("https://h/r.git", "u", "p@ss")
    assert split_credentials("https://h/r.git") == ("https://h/r.git", "", "")
    assert split_credentials("git@h:org/r.git") == ("git@h:org/r.git", "", "")


def test_split_credentials_keeps_the_user_of_an_ssh_url():
    # over ssh the user is part of the address: dropping it makes ssh log in as the local user
    assert split_credentials("ssh://git@github.com/org/r.git") == ("ssh://git@github.com/org/r.git", "", "")
    assert split_credentials("ssh://git:secret@h:2222/r.git") == ("ssh://git@h:2222/r.git", "", "secret")


def test_default_cache_dir(monkeypatch):
    monkeypatch.setenv("GITOPS_CACHE_DIR", "/x/cache")
    assert default_cache_dir() == "/x/cache"
    monkeypatch.delenv("GITOPS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/y")
    assert default_cache_dir() == "/y/gitops-kubernetes"


def _resolve_in_process(url: str, cache: str) -> str:
    return GitSource(SourceSpec(repo_url=url, revision="main"), cache).resolve().sha


def test_concurrent_processes_share_one_mirror(remote, tmp_path):
    cache = str(tmp_path / "cache")
    with ProcessPoolExecutor(4) as pool:
        shas = list(pool.map(_resolve_in_process, [f"file://{remote['path']}"] * 8, [cache] * 8))
    assert set(shas) == {remote["second"]}
    assert len(list((tmp_path / "cache" / "git").glob("*.git"))) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux process semantics")
def test_network_operations_are_time_bounded(tmp_path, monkeypatch):
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nsleep 30\n")
    hang.chmod(0o755)
    spec = SourceSpec(repo_url="ssh://git@example.invalid/r.git", revision="main")
    git_source = GitSource(spec, str(tmp_path / "cache"), network_timeout=1)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(hang))  # an ssh that never answers
    with pytest.raises(RemoteUnreachableError, match="timed out"):
        git_source.resolve()


def add_submodule(repo: Path, url: str, path: str) -> None:
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", url, path)


@pytest.fixture
def nested(tmp_path: Path) -> dict:
    """parent (app/p.yaml, submodule app/web -> ../child) ; child (web.yaml, submodule deep -> ../grandchild)."""
    made = {}
    for name in ("grandchild", "child", "parent"):
        made[name] = tmp_path / "remotes" / name
        made[name].mkdir(parents=True)
        git(made[name], "init", "-q", "-b", "main")
    commit(made["grandchild"], {"deep.yaml": "deep: 1\n"}, "grandchild")
    commit(made["child"], {"web.yaml": "web: 1\n"}, "child")
    add_submodule(made["child"], "../grandchild", "deep")
    made["child_pinned"] = commit(made["child"], {}, "pin the grandchild")
    commit(made["parent"], {"app/p.yaml": "p: 1\n"}, "parent")
    add_submodule(made["parent"], "../child", "app/web")
    made["parent_sha"] = commit(made["parent"], {}, "pin the child")
    # the child moves on after the parent pinned it: the checkout must show the pinned commit
    commit(made["child"], {"web.yaml": "web: 2\n"}, "not pinned")
    return made


def test_submodules_are_checked_out_recursively_at_the_pinned_commits(nested, tmp_path):
    git_source = GitSource(SourceSpec(repo_url=f"file://{nested['parent']}", revision="main"), str(tmp_path / "cache"))
    sha = git_source.resolve().sha
    assert git_source.has_submodules(sha) and not git_source.has_symlinks(sha)
    for path in (None, "app", "app/web"):
        with git_source.checkout(sha, path=path) as root:
            assert (root / "app" / "web" / "web.yaml").read_text() == "web: 1\n"
            assert (root / "app" / "web" / "deep" / "deep.yaml").read_text() == "deep: 1\n"
        assert [(s.path, s.url, s.parent_url) for s in git_source.checked_out_submodules] == [
            ("app/web", f"file://{nested['child']}", f"file://{nested['parent']}"),
            ("deep", f"file://{nested['grandchild']}", f"file://{nested['child']}"),
        ]
        assert git_source.checked_out_submodules[0].sha == nested["child_pinned"]
    # each submodule repository has its own cached mirror, like the parent
    assert len(list((tmp_path / "cache" / "git").glob("*.git"))) == 3


def test_a_submodule_that_cannot_be_fetched_fails_the_checkout_naming_it(nested, tmp_path):
    git(nested["parent"], "config", "-f", ".gitmodules", "submodule.app/web.url", "../gone")
    sha = commit(nested["parent"], {}, "point the submodule at a missing repository")
    git_source = GitSource(SourceSpec(repo_url=f"file://{nested['parent']}", revision="main"), str(tmp_path / "cache"))
    assert git_source.resolve().sha == sha
    with pytest.raises(SourceError) as caught:
        with git_source.checkout(sha):
            pass
    message = str(caught.value)
    assert message.startswith(f"submodule 'app/web' (file://{tmp_path / 'remotes'}/gone) "
                              f"of file://{nested['parent']} at commit {sha[:12]} cannot be fetched: ")
    assert list((tmp_path / "cache" / "checkouts").iterdir()) == []


def test_a_gitlink_without_a_url_is_an_error(remote, tmp_path):
    git(remote["path"], "update-index", "--add", "--cacheinfo", f"160000,{remote['first']},app/vendored")
    git(remote["path"], "commit", "-q", "-m", "a gitlink with no .gitmodules entry")
    git_source = source(remote, tmp_path, "main")
    sha = git_source.resolve().sha
    with pytest.raises(SourceError, match="submodule 'app/vendored' of .* has no URL in .gitmodules"):
        with git_source.checkout(sha):
            pass


def test_submodule_urls_pass_the_repository_check_before_they_are_fetched(nested, tmp_path):
    checked = []

    def refuse_the_grandchild(url: str, origin: str) -> None:
        checked.append((url, origin))
        if url.endswith("/grandchild"):
            raise PolicyError(f"policy: repository {url}{origin} is not allowed")

    spec = SourceSpec(repo_url=f"file://{nested['parent']}", revision="main")
    git_source = GitSource(spec, str(tmp_path / "cache"), repo_check=refuse_the_grandchild)
    sha = git_source.resolve().sha
    with pytest.raises(PolicyError) as caught:
        with git_source.checkout(sha):
            pass
    assert f"(submodule 'deep' of file://{nested['child']})" in str(caught.value)
    assert [url for url, origin in checked] == [f"file://{nested['child']}", f"file://{nested['grandchild']}"]
    assert len(list((tmp_path / "cache" / "git").glob("*.git"))) == 2, "the refused repository is never fetched"


def test_file_submodules_of_a_remote_repository_are_refused(nested, tmp_path, monkeypatch):
    # the parent over (a stand-in for) ssh; its .gitmodules names a local path, which must not be read
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text('#!/bin/bash\neval "${@: -1}"\n')
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    git(nested["parent"], "config", "-f", ".gitmodules", "submodule.app/web.url", f"file://{nested['child']}")
    sha = commit(nested["parent"], {}, "an absolute file URL")
    spec = SourceSpec(repo_url=f"ssh://git@git.example.org{nested['parent']}", revision="main", ssh_strict_host_key_checking=False)
    git_source = GitSource(spec, str(tmp_path / "cache"))
    assert git_source.resolve().sha == sha
    with pytest.raises(SourceError, match="submodule 'app/web' .* cannot be fetched: .*transport 'file' not allowed"):
        with git_source.checkout(sha):
            pass


def test_submodules_get_the_https_credentials_on_the_same_host_only(tmp_path):
    spec = SourceSpec(repo_url="https://bot:tok3n@git.example.org/org/app.git", revision="main", ssh_private_key_file="/k")
    parent = GitSource(spec, str(tmp_path / "cache"))

    def child(url: str) -> GitSource:
        return parent._submodule_source(Submodule(path="lib", url=url, sha="1" * 40, parent_url=parent.url))

    same = child("https://git.example.org/org/lib.git")
    assert (same.username, same.password, same.spec.ssh_private_key_file) == ("bot", "tok3n", "/k")
    for elsewhere in ("https://git.example.org:8443/org/lib.git", "https://other.example.org/org/lib.git",
                      "http://git.example.org/org/lib.git"):
        assert (child(elsewhere).username, child(elsewhere).password) == ("", ""), elsewhere
    assert same.from_content and not same.file_transport_allowed
