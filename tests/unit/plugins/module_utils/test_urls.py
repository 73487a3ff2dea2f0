"""Repository URL normalisation: one spelling for the policy and for git."""

from __future__ import annotations

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import (
    RepoUrlError,
    is_local,
    normalize_repo_url,
    resolve_relative_url,
    same_origin,
)


@pytest.mark.parametrize("written, normalised", [
    ("http://host/platform/../priv.git", "http://host/priv.git"),
    ("http://host/platform/%2e%2e/priv.git", "http://host/priv.git"),
    ("http://host/platform/%2E%2e/./x%41%7e.git", "http://host/xA~.git"),
    ("HTTPS://Git.Example.ORG:8443/a//b/./c.git/", "https://git.example.org:8443/a/b/c.git/"),
    ("ssh://git@Host:22/~u/r.git", "ssh://git@host:22/~u/r.git"),
    ("git@Host:group/sub/../x.git", "git@host:group/x.git"),
    ("git@host:/srv/a/../b.git", "git@host:/srv/b.git"),
    ("file:///srv/repos/platform/../priv.git", "file:///srv/repos/priv.git"),
    ("/srv/repos/platform/./../priv.git", "/srv/repos/priv.git"),
    ("https://git.example.org/org/app.git", "https://git.example.org/org/app.git"),
    ("https://git.example.org/a%20b.git", "https://git.example.org/a%20b.git"),  # only unreserved characters decoded
])
def test_urls_are_normalised(written: str, normalised: str) -> None:
    assert normalize_repo_url(written) == normalised
    assert normalize_repo_url(normalised) == normalised


@pytest.mark.parametrize("written, reason", [
    ("http://host/../priv.git", "climbs above the root"),
    ("http://host/platform/%2e%2e/%2E%2E/priv.git", "climbs above the root"),
    ("git@host:../other-user/x.git", "climbs above the root"),
    ("file:///a/../../etc", "climbs above the root"),
    ("/srv/../../etc", "climbs above the root"),
    ("http://host/platform/..%2fpriv.git", "encoded or backslash path separator"),
    ("http://host/platform\\..\\priv.git", "encoded or backslash path separator"),
])
def test_urls_that_climb_out_or_are_ambiguous_are_refused(written: str, reason: str) -> None:
    with pytest.raises(RepoUrlError, match=reason):
        normalize_repo_url(written)


@pytest.mark.parametrize("base, relative, resolved", [
    ("https://host/org/app.git", "../lib.git", "https://host/org/lib.git"),
    ("https://host/org/app.git/", "./lib.git", "https://host/org/app.git/lib.git"),
    ("https://host/org/app.git", "../../other/lib.git", "https://host/other/lib.git"),
    ("git@host:org/app.git", "../lib.git", "git@host:org/lib.git"),
    ("file:///srv/parent", "../child", "file:///srv/child"),
    ("/srv/parent", "../child", "/srv/child"),
    ("https://host/org/app.git", "https://Other/x/../y.git", "https://other/y.git"),
])
def test_submodule_urls_resolve_against_the_parent_as_git_does(base: str, relative: str, resolved: str) -> None:
    assert resolve_relative_url(base, relative) == resolved


def test_a_relative_submodule_url_may_not_climb_above_the_host() -> None:
    with pytest.raises(RepoUrlError, match="climbs above the root"):
        resolve_relative_url("https://host/org/app.git", "../../../x.git")


def test_origins_and_local_repositories() -> None:
    assert same_origin("https://h/a.git", "https://h/b.git")
    assert not same_origin("https://h/a.git", "https://h:8443/b.git")
    assert not same_origin("https://h/a.git", "http://h/b.git")
    assert not same_origin("ssh://h/a.git", "ssh://h/b.git")
    assert [is_local(url) for url in ("/srv/a", "file:///srv/a", "git@h:a.git", "https://h/a", "ssh://h/a")] == [
        True, True, False, False, False]
