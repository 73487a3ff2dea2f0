"""Application generators (list and Git directories) and selection, on real git repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import (
    DirectoryPattern,
    application_name,
    deep_merge,
    directory_application_name,
    generate_applications,
)

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git mirrors of these tests go to a directory of their own, never the user's cache."""
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """apps/{billing,shop,Web_UI,experiment-x,.hidden}, envs/{dev,prod}/{api,db}, a README at the root."""
    root = tmp_path / "remote"
    for directory in ("apps/billing", "apps/shop", "apps/Web_UI", "apps/experiment-x", "apps/.hidden",
                      "envs/dev/api", "envs/prod/api", "envs/prod/db"):
        (root / directory).mkdir(parents=True)
        (root / directory / "cm.yaml").write_text(CONFIGMAP)
    (root / "README.md").write_text("apps\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "apps")
    return root


def git_generator(repo: Path, *patterns: dict, **extra) -> dict:
    return {"git": {"repo_url": f"file://{repo}", "revision": "main", "directories": list(patterns), **extra}}


def test_deep_merge_merges_mappings_and_replaces_the_rest():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    merged = deep_merge(base, {"a": {"c": [3], "e": 4}})
    assert merged == {"a": {"b": 1, "c": [3], "e": 4}, "d": "x"}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}  # the template is not modified


def test_directory_patterns_never_cross_a_slash():
    assert DirectoryPattern("apps/*").matches("apps/shop")
    assert not DirectoryPattern("apps/*").matches("apps/shop/sub")
    assert not DirectoryPattern("*").matches("apps/shop")
    assert DirectoryPattern("envs/*/api").matches("envs/prod/api")
    assert DirectoryPattern("apps/[bs]*").matches("apps/billing")


def test_names_of_both_spec_forms_and_of_directories():
    assert application_name({"name": "a"}) == "a"
    assert application_name({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "b"}}) == "b"
    assert directory_application_name("apps/Web_UI") == "web-ui"


def test_list_generator_merges_each_element_over_the_template():
    template = {"source": {"repo_url": "https://git.example.org/apps.git", "revision": "main"},
                "sync_policy": {"prune": True, "create_namespace": True}}
    generated = generate_applications([], [{"list": {"template": template, "elements": [
        {"name": "team-a", "source": {"path": "teams/a"}, "destination": {"namespace": "team-a"}},
        {"name": "team-b", "source": {"path": "teams/b", "revision": "v2"}, "destination": {"namespace": "team-b"},
         "sync_policy": {"prune": False}},
    ]}}], only=[], skip=[])
    assert generated.names == ["team-a", "team-b"]
    team_a, team_b = generated.generated
    assert team_a["source"] == {"repo_url": "https://git.example.org/apps.git", "revision": "main", "path": "teams/a"}
    assert team_b["source"]["revision"] == "v2"
    assert team_b["sync_policy"] == {"prune": False, "create_namespace": True}


def test_git_generator_one_application_per_matching_directory_pinned_to_the_commit(repo):
    sha = git(repo, "rev-parse", "HEAD")
    generated = generate_applications([], [git_generator(
        repo, {"path": "apps/*"}, {"path": "apps/experiment-*", "exclude": True},
        template={"sync_policy": {"prune": True, "create_namespace": True}})], only=[], skip=[])
    # sorted by name, hidden directories skipped, excluded ones left out, names lowercased and DNS-safe
    assert generated.names == ["billing", "shop", "web-ui"]
    billing = generated.generated[0]
    assert billing == {
        "name": "billing",
        "source": {"repo_url": f"file://{repo}", "revision": sha, "path": "apps/billing"},
        "destination": {"namespace": "billing"},
        "sync_policy": {"prune": True, "create_namespace": True},
    }
    assert generated.revisions == {f"file://{repo}": sha}


def test_git_generator_nested_globs_and_template_namespace(repo):
    generated = generate_applications([], [git_generator(repo, {"path": "envs/prod/*"},
                                                         template={"destination": {"namespace": "prod"}})],
                                      only=[], skip=[])
    assert generated.names == ["api", "db"]
    assert [app["destination"]["namespace"] for app in generated.generated] == ["prod", "prod"]
    assert [app["source"]["path"] for app in generated.generated] == ["envs/prod/api", "envs/prod/db"]


def test_git_generator_follows_new_commits(repo):
    first = generate_applications([], [git_generator(repo, {"path": "apps/*"})], only=[], skip=[])
    (repo / "apps" / "search").mkdir()
    (repo / "apps" / "search" / "cm.yaml").write_text(CONFIGMAP)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "search")
    second = generate_applications([], [git_generator(repo, {"path": "apps/*"})], only=[], skip=[])
    assert "search" not in first.names and "search" in second.names
    assert second.generated[0]["source"]["revision"] == git(repo, "rev-parse", "HEAD")


def test_explicit_applications_are_returned_as_indexes_and_selected_by_globs(repo):
    explicit = [
        {"name": "legacy-api", "source": {"repo_url": "https://user:tok3n@git.example.org/a.git"}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "guestbook"},
         "spec": {"source": {"repoURL": "https://git.example.org/a.git", "path": "guestbook"}}},
    ]
    generated = generate_applications(explicit, [git_generator(repo, {"path": "apps/*"})],
                                      only=["guestbook", "b*", "s*", "legacy-*", "nothing-*"], skip=["legacy-*"])
    assert generated.explicit == [1]
    assert generated.names == ["guestbook", "billing", "shop"]
    assert generated.excluded == ["legacy-api", "experiment-x", "web-ui"]
    assert generated.unmatched_only == ["nothing-*"]
    assert "tok3n" not in repr(generated.generated)


def test_duplicate_names_are_refused_naming_both_origins(repo):
    with pytest.raises(SpecError, match=r"'shop' is used twice: by applications\[0\] and by generators\[0\].git"):
        generate_applications([{"name": "shop"}], [git_generator(repo, {"path": "apps/*"})], only=[], skip=[])


@pytest.mark.parametrize("generator, message", [
    ({"list": {"elements": []}}, r"generators\[0\].list.elements must be a non-empty list"),
    ({"list": {"elements": [{"name": "Bad_Name", "source": {"repo_url": "x"}}]}}, r"generators\[0\].list.elements\[0\]"),
    ({"list": {"elements": [{"name": "a", "source": {"repo_url": "https://u:p4ss@h/r.git"}}]}}, "must not carry credentials"),
    ({"list": {"template": {"source": {"password": "p4ss"}}, "elements": [{"name": "a"}]}}, "username/password are not accepted"),
    ({"git": {"repo_url": "file:///x", "directories": [{"path": "../*"}]}}, "must stay inside the repository"),
    ({"git": {"repo_url": "file:///x", "directories": [{"path": "a/*", "exclude": True}]}}, "not an exclude"),
    ({"git": {"repo_url": "file:///x", "directories": [{"path": "a/*", "recurse": True}]}}, "unknown keys: recurse"),
    ({"git": {"directories": [{"path": "a/*"}]}}, "repo_url is required"),
    ({"list": {}, "git": {}}, "exactly one key"),
])
def test_invalid_generators_fail_before_any_work(generator, message):
    with pytest.raises(SpecError, match=message) as raised:
        generate_applications([], [generator], only=[], skip=[])
    assert "p4ss" not in str(raised.value)


def test_an_invalid_generated_application_names_the_directory(repo):
    with pytest.raises(SpecError, match=r"directory 'apps/billing'.*unknown"):
        generate_applications([], [git_generator(repo, {"path": "apps/*"}, template={"colour": "blue"})], only=[], skip=[])
