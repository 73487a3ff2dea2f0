"""Preview a change before it merges: which sources take the preview revision, what the change alters, preview.md."""

from __future__ import annotations

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._preview import (
    PreviewOverride,
    object_changes,
    preview_markdown,
    refuse_real_sync,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import parse_application

REPO = "https://git.example.org/platform/apps.git"


def config_map(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_preview_repo_matches_the_repository_url_after_normalisation_and_without_credentials() -> None:
    override = PreviewOverride.from_params({"preview_revision": "feature-x", "preview_repo": "HTTPS://Git.Example.org/platform/./apps.git/"})
    assert override is not None and override.repo == REPO
    assert override.concerns("https://user:token@git.example.org/platform/x/../apps.git")
    assert not override.concerns("https://git.example.org/platform/other.git")


def test_preview_repo_without_a_revision_is_refused_and_no_revision_is_no_preview() -> None:
    with pytest.raises(SpecError, match="preview_repo needs preview_revision"):
        PreviewOverride.from_params({"preview_repo": REPO})
    assert PreviewOverride.from_params({"preview_revision": "", "preview_repo": None}) is None


def test_a_multi_source_application_takes_the_preview_revision_on_the_sources_of_the_preview_repo_only() -> None:
    app = parse_application({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "shop"},
        "spec": {"destination": {"namespace": "shop"}, "sources": [
            {"repoURL": "https://charts.example.org", "chart": "shop", "targetRevision": "1.2.0",
             "helm": {"valueFiles": ["$values/shop/values.yaml"]}},
            {"repoURL": REPO, "targetRevision": "main", "ref": "values"},
        ]},
    })
    previewed = PreviewOverride("feature-x", REPO).application(app)
    assert previewed is not None
    assert [s.revision for s in previewed.sources] == ["1.2.0", "feature-x"]
    assert [s.revision for s in app.sources] == ["1.2.0", "main"]  # the current revision stays for the comparison


def test_without_a_preview_repo_git_sources_take_the_revision_and_chart_sources_keep_their_version() -> None:
    chart = parse_application({"name": "c", "source": {"repo_url": "https://charts.example.org", "chart": "c", "revision": "1.0.0"}})
    git = parse_application({"name": "g", "source": {"repo_url": REPO, "revision": "main", "path": "g"}})
    assert PreviewOverride("feature-x").application(chart) is None
    assert PreviewOverride("feature-x").application(git).source.revision == "feature-x"
    # naming the chart repository makes the preview revision a chart version
    bumped = PreviewOverride("1.1.0", "https://charts.example.org").application(chart)
    assert bumped is not None and bumped.source.revision == "1.1.0"


def test_git_generators_of_the_preview_repo_read_the_preview_revision_inside_matrix_generators() -> None:
    appset = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "teams"},
              "spec": {"generators": [{"matrix": {"generators": [
                  {"git": {"repoURL": REPO, "revision": "main", "directories": [{"path": "teams/*"}]}},
                  {"git": {"repoURL": "https://git.example.org/other.git", "revision": "main", "files": [{"path": "x.json"}]}},
              ]}}],
                  "template": {"spec": {"source": {"repoURL": REPO, "targetRevision": "main"}}}}}
    previewed = PreviewOverride("feature-x", REPO).generators([appset])[0]
    inner = previewed["spec"]["generators"][0]["matrix"]["generators"]
    assert inner[0]["git"]["revision"] == "feature-x" and inner[1]["git"]["revision"] == "main"
    # the template's source is an application source: it takes the revision as an application, not here
    assert previewed["spec"]["template"]["spec"]["source"]["targetRevision"] == "main"
    assert appset["spec"]["generators"][0]["matrix"]["generators"][0]["git"]["revision"] == "main"  # not edited in place
    ours = PreviewOverride("feature-x", REPO).generators([{"git": {"repo_url": REPO, "directories": ["apps/*"]}}])
    assert ours[0]["git"]["revision"] == "feature-x"


def test_a_sync_that_is_not_a_check_is_refused_with_a_preview_revision() -> None:
    with pytest.raises(SpecError, match="previews a change and never syncs it"):
        refuse_real_sync(PreviewOverride("feature-x"), check_mode=False)
    refuse_real_sync(PreviewOverride("feature-x"), check_mode=True)
    refuse_real_sync(None, check_mode=False)


def test_object_changes_lists_added_changed_and_removed_objects_and_never_a_secret_value() -> None:
    current = [config_map("keep", a="1"), config_map("gone", a="1"), config_map("edit", mode="blue"),
               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "old-pass-123", "user": "app"}}]
    previewed = [config_map("keep", a="1"), config_map("edit", mode="green"), config_map("new", a="1"),
                 {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "new-pass-456", "user": "app"}}]
    changes = object_changes(current, previewed, "shop")
    assert [(c.change, c.ref.kind, c.ref.namespace, c.ref.name) for c in changes] == [
        ("changed", "ConfigMap", "shop", "edit"), ("removed", "ConfigMap", "shop", "gone"), ("added", "ConfigMap", "shop", "new"),
        ("changed", "Secret", "shop", "db")]
    assert "-  mode: blue\n+  mode: green\n" in changes[0].diff
    secret_diff = changes[3].diff
    assert "old-pass-123" not in secret_diff and "new-pass-456" not in secret_diff and "app\n" not in secret_diff
    assert "+  password: ++++++++ (changed)" in secret_diff and "user: ++++++++ (unchanged)" in secret_diff


def test_preview_markdown_has_a_summary_line_and_one_collapsible_section_per_application_that_changes() -> None:
    changed = {"name": "shop", "namespace": "shop", "change": "changed", "revision": "b" * 40, "current_revision": "a" * 40,
               "counts": {"added": 0, "changed": 1, "removed": 0},
               "objects": [{"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web", "change": "changed",
                            "diff": "--- a\n+++ b\n-  image: ```x```\n+  image: y\n"}]}
    unchanged = {"name": "quiet", "change": "unchanged", "counts": {}, "objects": []}
    result = {"preview": {"revision": "feature-x", "applications": [changed, unchanged]},
              "applications": [{"name": "shop", "sync_status": "OutOfSync"}]}
    text = preview_markdown([{"cluster": "prod", "result": result}, {"cluster": "dev", "result": {"changed": False}}])
    assert text is not None
    assert text.splitlines()[0] == "**Preview of `feature-x`**: 1 application(s) change (0 added, 1 changed, 0 removed object(s))."
    assert text.count("<details>") == 1 and "quiet" not in text
    assert "<summary><b>shop</b>: 0 added, 1 changed, 0 removed</summary>" in text
    assert "| changed | Deployment.apps | shop | web |" in text
    assert "the preview against the cluster: OutOfSync" in text
    assert "````diff\n" in text  # a fence no line of the diff can close
    assert preview_markdown([{"cluster": "prod", "result": {"changed": False}}]) is None


def test_a_preview_of_rendered_manifests_is_refused_as_they_have_no_source() -> None:
    from ansible_collections.gitops.kubernetes.plugins.module_utils._preview import PreviewPlan

    with pytest.raises(SpecError, match="rendered manifests have no source"):
        PreviewPlan.for_params({"preview_revision": "feature-x", "manifests": [config_map("a")], "name": "a"}, "/nonexistent")
