"""Renderers' pure parts: YAML splitting, detection, kustomize and chart checks, render cache."""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render import check_duplicates, detect_renderer, load_manifests
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.cache import RenderCache, render_cache_key
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext, find_binary
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.directory import list_manifest_files
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.dependencies import ensure_dependencies
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.helm import parse_helm_output, vendored_charts
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.kustomize import check_kustomization
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import Submodule
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import PathEscapeError
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    DirectoryOptions,
    HelmOptions,
    parse_application,
)

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def context(root: Path, rel_path: str = ".", **source) -> RenderContext:
    app = parse_application({"name": "demo", "source": {"repo_url": "file:///r", "path": rel_path, **source}})
    return RenderContext(root=root.resolve(), app_dir=(root / rel_path).resolve(), rel_path=app.source.path,
                         app=app, secrets=[])


# -- YAML ------------------------------------------------------------------------------------------------


def test_multi_document_yaml_with_empty_documents_and_lists():
    text = ("---\n# only a comment\n---\n" + CM.format(name="a") + "---\n---\n"
            "apiVersion: v1\nkind: List\nitems:\n- " + CM.format(name="b").replace("\n", "\n  ").rstrip() + "\n")
    objects = load_manifests(text, "app/cm.yaml")
    assert [obj.manifest["metadata"]["name"] for obj in objects] == ["a", "b"]
    assert [(obj.source_file, obj.source_line) for obj in objects] == [("app/cm.yaml", 4), ("app/cm.yaml", 10)]


def test_timestamps_stay_strings():
    (obj,) = load_manifests(CM.format(name="a") + "data:\n  day: 2024-01-31\n  at: 2024-01-31T10:00:00Z\n", "f.yaml")
    assert obj.manifest["data"] == {"day": "2024-01-31", "at": "2024-01-31T10:00:00Z"}


def test_yaml_error_names_file_line_and_column():
    with pytest.raises(RenderError) as caught:
        load_manifests(CM.format(name="a") + "data:\n  key: [unclosed\n  other: x\n", "apps/bad.yaml")
    err = caught.value
    assert (err.file, err.line) == ("apps/bad.yaml", 7)
    assert err.column is not None
    assert str(err).startswith(f"apps/bad.yaml:7:{err.column}: invalid YAML")


def test_json_files_and_json_errors():
    (obj,) = load_manifests('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}', "x.json", is_json=True)
    assert obj.manifest["metadata"]["name"] == "j"
    with pytest.raises(RenderError) as caught:
        load_manifests('{\n  "apiVersion": "v1",\n  "kind" "x"\n}', "x.json", is_json=True)
    assert (caught.value.line, caught.value.column) == (3, 10)


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "must be a Kubernetes object"),
    ("kind: ConfigMap\nmetadata: {name: a}\n", "needs apiVersion and kind"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "has no metadata.name"),
])
def test_documents_that_are_not_objects(text, message):
    with pytest.raises(RenderError, match=message):
        load_manifests(text, "f.yaml")


def test_duplicates_name_both_places():
    objects = load_manifests(CM.format(name="a"), "one.yaml") + load_manifests("---\n" + CM.format(name="a"), "two.yaml")
    with pytest.raises(RenderError) as caught:
        check_duplicates(objects)
    assert "ConfigMap a is defined twice: at one.yaml:1 and at two.yaml:2" in str(caught.value)


# -- directory -------------------------------------------------------------------------------------------


def test_directory_file_selection(tmp_path):
    write(tmp_path, {"a.yaml": "", "b.yml": "", "c.json": "", "README.md": "", "sub/d.yaml": "", "sub/deep/e.yaml": "",
                     "skip/f.yaml": ""})
    assert list_manifest_files(tmp_path, DirectoryOptions()) == ["a.yaml", "b.yml", "c.json"]
    assert list_manifest_files(tmp_path, DirectoryOptions(recurse=True, exclude="skip/*")) == [
        "a.yaml", "b.yml", "c.json", "sub/d.yaml", "sub/deep/e.yaml"]
    assert list_manifest_files(tmp_path, DirectoryOptions(recurse=True, include="sub/*")) == [
        "sub/d.yaml", "sub/deep/e.yaml"]
    # an empty include means every manifest file (and never non-manifest files)
    assert "README.md" not in list_manifest_files(tmp_path, DirectoryOptions(include=""))


def test_jsonnet_files_are_manifest_files_and_libsonnet_only_imported(tmp_path):
    write(tmp_path, {"main.jsonnet": "{}", "lib.libsonnet": "{}", "cm.yaml": ""})
    assert list_manifest_files(tmp_path, DirectoryOptions()) == ["cm.yaml", "main.jsonnet"]


def test_renderer_detection(tmp_path):
    assert detect_renderer(tmp_path) == "directory"
    (tmp_path / "Chart.yaml").write_text("name: x\n")
    assert detect_renderer(tmp_path) == "helm"
    (tmp_path / "Kustomization").write_text("resources: []\n")
    assert detect_renderer(tmp_path) == "kustomize"
    assert detect_renderer(tmp_path, "directory") == "directory"


# -- kustomize -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [
    "https://github.com/org/repo//base?ref=v1",
    "github.com/org/repo/base?ref=v1",
    "git@github.com:org/repo.git//base",
    "git::https://example.org/repo.git",
    "ssh://git@example.org/repo.git",
])
def test_remote_bases_are_refused_unless_allowed(tmp_path, entry):
    write(tmp_path, {"app/kustomization.yaml": f"resources:\n- local.yaml\n- {entry}\n", "app/local.yaml": CM.format(name="a")})
    ctx = context(tmp_path, "app")
    with pytest.raises(RenderError) as caught:
        check_kustomization(ctx, ctx.app_dir, allow_remote=False)
    assert f"resources entry {entry!r} is a remote base" in str(caught.value)
    assert (caught.value.file, caught.value.line) == ("app/kustomization.yaml", 3)
    check_kustomization(ctx, ctx.app_dir, allow_remote=True)


def test_remote_bases_in_nested_kustomizations_are_found(tmp_path):
    write(tmp_path, {"overlay/kustomization.yaml": "resources:\n- ../base\n",
                     "base/kustomization.yaml": "components:\n- https://example.org/c.git\n"})
    ctx = context(tmp_path, "overlay")
    with pytest.raises(RenderError) as caught:
        check_kustomization(ctx, ctx.app_dir, allow_remote=False)
    assert caught.value.file == "base/kustomization.yaml"


def test_kustomize_base_outside_the_repository_is_refused(tmp_path):
    outside = tmp_path / "outside"
    write(outside, {"kustomization.yaml": "resources: []\n"})
    write(tmp_path / "repo", {"app/kustomization.yaml": f"resources:\n- {outside}\n"})
    ctx = context(tmp_path / "repo", "app")
    with pytest.raises(PathEscapeError, match="points outside the repository"):
        check_kustomization(ctx, ctx.app_dir, allow_remote=False)


def test_yaml_errors_in_kustomize_inputs_have_positions(tmp_path):
    write(tmp_path, {"app/kustomization.yaml": "resources:\n- cm.yaml\n", "app/cm.yaml": "a: b\n c: d\n"})
    ctx = context(tmp_path, "app")
    with pytest.raises(RenderError) as caught:
        check_kustomization(ctx, ctx.app_dir, allow_remote=False)
    assert (caught.value.file, caught.value.line) == ("app/cm.yaml", 2)


# -- helm ------------------------------------------------------------------------------------------------


def _chart_tgz(name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n".encode()
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_vendored_dependencies_are_used_as_they_are_and_unfetchable_ones_are_named(tmp_path, monkeypatch):
    chart = tmp_path / "chart"
    write(chart, {
        "Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n"
                      "- name: common\n  version: 1.0.0\n  repository: file://../common\n"
                      "- name: redis\n  version: 1.0.0\n  repository: '@bitnami'\n",
        "charts/common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 1.0.0\n",
    })
    ctx = context(tmp_path, "chart")
    with pytest.raises(RenderError) as caught:
        ensure_dependencies(ctx, chart, vendored_charts(chart))
    assert "chart dependency 'redis' names the repository '@bitnami' by an alias: give its URL" in str(caught.value)
    assert (caught.value.file, caught.value.line) == ("chart/Chart.yaml", 8)
    (chart / "charts" / "redis-1.0.0.tgz").write_bytes(_chart_tgz("redis"))
    assert vendored_charts(chart) == {"common", "redis"}
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to fetch: helm is not even looked for
    ensure_dependencies(ctx, chart, vendored_charts(chart))


def test_helm_output_maps_objects_to_templates(tmp_path):
    output = ("---\n# Source: mychart/crds/crd.yaml\n" + CM.format(name="crd") +
              "---\n# Source: mychart/templates/cm.yaml\n" + CM.format(name="a") +
              "---\n# Source: mychart/charts/sub/templates/x.yaml\n" + CM.format(name="b"))
    objects = parse_helm_output(context(tmp_path, "charts/mine"), output)
    assert [obj.source_file for obj in objects] == [
        "charts/mine/crds/crd.yaml", "charts/mine/templates/cm.yaml", "charts/mine/charts/sub/templates/x.yaml"]
    assert all(obj.source_line is None for obj in objects)


def test_missing_binary_says_which_and_how(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError) as caught:
        find_binary("helm")
    assert "the helm binary" in str(caught.value) and "make tools" in str(caught.value)
    assert "https://helm.sh/docs/intro/install/" in str(caught.value)


# -- cache -----------------------------------------------------------------------------------------------


def test_cache_key_covers_commit_path_and_options():
    app = parse_application({"name": "a", "source": {"repo_url": "file:///r", "path": "x", "helm": {}}})
    key = render_cache_key(app, "1" * 40)
    assert render_cache_key(app, "1" * 40) == key
    assert render_cache_key(app, "2" * 40) != key
    variants = [
        dataclasses.replace(app, source=dataclasses.replace(app.source, path="y")),
        dataclasses.replace(app, source=dataclasses.replace(app.source, helm=HelmOptions(skip_crds=True))),
        dataclasses.replace(app, name="b"),  # the default release name
    ]
    assert len({render_cache_key(variant, "1" * 40) for variant in variants} | {key}) == 4


def test_render_cache_round_trip_is_private(tmp_path):
    cache = RenderCache(str(tmp_path))
    objects = [DesiredObject({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, "a/s.yaml", 3)]
    assert cache.load("ab" * 32) is None
    cache.store("ab" * 32, "directory", objects)
    assert cache.load("ab" * 32) == ("directory", objects, [])
    lib = Submodule(path="lib", url="https://git.example.org/lib.git", sha="1" * 40, parent_url="https://git.example.org/app.git")
    cache.store("cd" * 32, "directory", objects, [lib])
    assert cache.load("cd" * 32) == ("directory", objects, [lib]), "a reused render still names its submodules for the policy"
    assert oct((tmp_path / "render").stat().st_mode & 0o777) == "0o700"
    (tmp_path / "render" / "ab" / f"{'ab' * 32}.json").write_text("{broken")
    assert cache.load("ab" * 32) is None


def test_helm_chart_with_value_file_outside_repository(tmp_path):
    from ansible_collections.gitops.kubernetes.plugins.module_utils._render.helm import _value_file

    write(tmp_path, {"repo/chart/Chart.yaml": "name: c\n", "repo/chart/prod.yaml": "", "secret.yaml": ""})
    os.symlink(str(tmp_path / "secret.yaml"), tmp_path / "repo" / "chart" / "link.yaml")
    ctx = context(tmp_path / "repo", "chart")
    assert _value_file(ctx, "prod.yaml", False)[0] == (tmp_path / "repo" / "chart" / "prod.yaml").resolve()
    with pytest.raises(PathEscapeError):
        _value_file(ctx, "../../secret.yaml", False)
    with pytest.raises(PathEscapeError):
        _value_file(ctx, "link.yaml", False)
    with pytest.raises(RenderError, match="value file 'missing.yaml' does not exist"):
        _value_file(ctx, "missing.yaml", False)
    assert _value_file(ctx, "missing.yaml", True) is None  # ignoreMissingValueFiles


def test_ref_value_file_comes_from_the_ref_checkout_and_stays_inside_it(tmp_path):
    from ansible_collections.gitops.kubernetes.plugins.module_utils._render.helm import _value_file

    write(tmp_path, {"repo/chart/Chart.yaml": "name: c\n", "values/env/prod.yaml": "a: 1\n", "outside.yaml": ""})
    ctx = dataclasses.replace(context(tmp_path / "repo", "chart"), ref_root=lambda name: (tmp_path / name).resolve())
    expected = ((tmp_path / "values" / "env" / "prod.yaml").resolve(), "$values/env/prod.yaml")
    assert _value_file(ctx, "$values/env/prod.yaml", False) == expected
    with pytest.raises(PathEscapeError):
        _value_file(ctx, "$values/../outside.yaml", False)
    with pytest.raises(RenderError, match=r"'\$values/env/dev.yaml' does not exist in the repository of \$values"):
        _value_file(ctx, "$values/env/dev.yaml", False)
