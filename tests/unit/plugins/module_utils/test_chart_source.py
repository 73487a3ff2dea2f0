"""Chart sources: versions and constraints as Helm resolves them, credentials matched by URL prefix, the spec's chart form."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.chart import ChartCache, fetch_chart, pick_version
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import (
    RepositoryCredential,
    find_credential,
    parse_repositories,
    repository_secret_values,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.semver import Constraints, SemverError, Version, max_version
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import parse_application

TABLE = json.loads((Path(__file__).parent / "testdata" / "masterminds_semver.json").read_text())


@pytest.mark.parametrize("constraint", sorted(TABLE["expected"]))
def test_constraints_accept_exactly_what_masterminds_semver_accepts(constraint):
    expected = TABLE["expected"][constraint]
    if expected == "error":
        with pytest.raises(SemverError):
            Constraints(constraint)
        return
    parsed = Constraints(constraint)
    accepted = []
    for text in TABLE["versions"]:
        try:
            version = Version.parse(text)
        except SemverError:
            continue
        if parsed.check(version):
            accepted.append(text)
    assert accepted == expected


@pytest.mark.parametrize("revision, expected", [
    ("1.2.*", "1.2.10"),
    ("^1.2", "1.10.0"),
    ("~1.2", "1.2.10"),
    (">=1.0.0 <2.0.0", "1.10.0"),
    ("*", "2.0.0"),
    ("<1.2 || >=2.0.0", "2.0.0"),
    (">=2.1.0-0", "2.1.0-rc.1"),  # asking for prereleases admits them
    ("1.2.3", "1.2.3"),  # a pin is taken as it is
    ("v1.2.3", "1.2.3"),  # and found by the version it spells
    ("3.*", None),
])
def test_a_revision_resolves_to_the_highest_matching_version(revision, expected):
    available = ["1.2.3", "1.2.10", "1.10.0", "2.0.0", "2.1.0-rc.1", "1.2.9", "not-semver"]
    assert max_version(revision, available) == expected


def test_no_matching_version_names_the_newest_versions_there_are():
    with pytest.raises(SourceError) as caught:
        pick_version("^3", ["1.0.0", "2.0.0", "2.1.0"], "chart 'web' in https://charts.example.org")
    assert str(caught.value) == ("chart 'web' in https://charts.example.org has no version matching '^3' "
                                 "(newest versions: 2.1.0, 2.0.0, 1.0.0)")
    with pytest.raises(SourceError, match="neither a chart version nor a version constraint"):
        pick_version(">>1", ["1.0.0"], "chart 'web'")


def test_longest_url_prefix_wins_and_type_limits_an_entry():
    entries = [
        RepositoryCredential(url="https://charts.example.org", username="general"),
        RepositoryCredential(url="https://charts.example.org/team-a/", username="team-a"),
        RepositoryCredential(url="https://charts.example.org/team-a/private", username="git-only", kind="git"),
        RepositoryCredential(url="oci://registry.example.org/charts", username="oci", kind="helm"),
    ]
    assert find_credential("https://charts.example.org/stable", "helm", entries).username == "general"
    assert find_credential("https://CHARTS.example.org/team-a/private", "helm", entries).username == "team-a"
    assert find_credential("https://charts.example.org/team-a/private", "git", entries).username == "git-only"
    # OCI URLs match with or without their scheme; type helm serves OCI registries as in Argo CD
    assert find_credential("oci://registry.example.org/charts/sub", "oci", entries).username == "oci"
    assert find_credential("https://other.example.org", "helm", entries) is None


def test_argocd_repository_secrets_map_to_credentials_and_their_passwords_are_registered():
    template = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
                "data": {"url": base64.b64encode(b"https://charts.example.org").decode(),
                         "password": base64.b64encode(b"s3cret").decode(), "username": base64.b64encode(b"ci").decode()}}
    one = {"metadata": {"labels": {"argocd.argoproj.io/secret-type": "repository"}},
           "stringData": {"url": "registry.example.org/charts", "type": "helm", "enableOCI": "true", "password": "p2"}}
    raw = [{"secret": template}, {"secret": one}, {"url": "https://git.example.org", "password": "p3", "type": "git"}]
    parsed = parse_repositories(raw)
    assert (parsed[0].url, parsed[0].username, parsed[0].password, parsed[0].exact) == ("https://charts.example.org", "ci", "s3cret", False)
    assert (parsed[1].kind, parsed[1].exact) == ("oci", True)
    assert find_credential("oci://registry.example.org/charts", "oci", parsed) is parsed[1]
    assert find_credential("oci://registry.example.org/charts/deeper", "oci", parsed) is None  # `repository` is exact
    assert {"s3cret", template["data"]["password"], "p2", "p3"} <= set(repository_secret_values(raw))
    with pytest.raises(SpecError, match="sshPrivateKey is not supported"):
        parse_repositories([{"secret": {**one, "stringData": {"url": "x", "sshPrivateKey": "k"}}}])


@pytest.mark.parametrize("source, expected", [
    ({"repoURL": "registry.example.org/charts", "chart": "web", "targetRevision": "1.*"}, "oci://registry.example.org/charts"),
    ({"repoURL": "oci://registry.example.org/charts/", "chart": "web", "targetRevision": "1.0.0"}, "oci://registry.example.org/charts"),
    ({"repoURL": "https://charts.example.org", "chart": "web", "targetRevision": ">=1.0.0 <2.0.0",
      "helm": {"passCredentials": True, "releaseName": "w"}}, "https://charts.example.org"),
])
def test_argocd_chart_sources_are_accepted_with_the_oci_form_made_explicit(source, expected):
    app = parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web"},
                             "spec": {"source": source, "destination": {"namespace": "web"}}})
    assert (app.source.repo_url, app.source.chart, app.source.renderer) == (expected, "web", "helm")
    assert app.source.revision == source["targetRevision"]
    if "helm" in source:
        assert app.source.helm.pass_credentials is True


@pytest.mark.parametrize("source, message", [
    ({"repo_url": "https://charts.example.org", "chart": "web"}, "source.revision: is required with chart"),
    ({"repo_url": "https://charts.example.org", "chart": "web", "revision": "1.0.0", "path": "x"},
     "source.path: does not apply to a chart"),
    ({"repo_url": "git@github.com:org/repo.git", "chart": "web", "revision": "1.0.0"}, "is no chart repository"),
    ({"repo_url": "ssh://host/repo", "chart": "web", "revision": "1.0.0"}, "is no chart repository"),
    ({"repo_url": "https://charts.example.org", "chart": "../web", "revision": "1.0.0"}, "is not a chart name"),
    ({"repo_url": "https://charts.example.org", "chart": "web", "revision": "1.0.0", "kustomize": {}},
     "source.kustomize: does not apply to a chart"),
])
def test_chart_sources_refuse_what_does_not_apply_to_them(source, message):
    with pytest.raises(SpecError, match=message):
        parse_application({"name": "web", "source": source})


def test_a_pinned_version_in_the_cache_needs_no_network(tmp_path):
    # an unroutable repository: any request would fail
    ChartCache(str(tmp_path), "https://192.0.2.1/charts").store("web", "1.2.3", b"archive bytes")
    archive = fetch_chart("https://192.0.2.1/charts", "web", "1.2.3", [], str(tmp_path))
    assert (archive.version, archive.fetched, archive.path.read_bytes()) == ("1.2.3", False, b"archive bytes")
    assert archive.revision.startswith("1.2.3@sha256:")
    # a cached archive that no longer has its digest is not used
    archive.path.write_bytes(b"tampered")
    assert ChartCache(str(tmp_path), "https://192.0.2.1/charts").load("web", "1.2.3") is None


def test_reports_show_a_chart_revision_as_version_and_short_digest():
    from ansible_collections.gitops.kubernetes.plugins.module_utils._report import short_revision

    assert short_revision("1.2.5@sha256:" + "ab" * 32) == "1.2.5@sha256:abababababab"
    assert short_revision("53e28ff20cc530b9ada2173fbbd64d48338583ba") == "53e28ff20cc5"


def test_git_sources_take_matching_git_credentials_only_when_their_spec_has_none():
    from ansible_collections.gitops.kubernetes.plugins.module_utils._render import with_git_credentials

    entries = parse_repositories([{"url": "https://git.example.org/team", "username": "ci", "password": "tok", "type": "git"},
                                  {"url": "https://git.example.org", "username": "chart", "password": "x", "type": "helm"}])
    app = parse_application({"name": "a", "source": {"repo_url": "https://git.example.org/team/apps.git"}})
    assert (with_git_credentials(app.source, entries).username, with_git_credentials(app.source, entries).password) == ("ci", "tok")
    own = parse_application({"name": "a", "source": {"repo_url": "https://git.example.org/team/apps.git", "username": "me",
                                                     "password": "mine"}})
    assert with_git_credentials(own.source, entries).password == "mine"
    other = parse_application({"name": "a", "source": {"repo_url": "https://git.example.org/other.git"}})
    assert with_git_credentials(other.source, entries).password == ""  # a helm entry never serves Git
