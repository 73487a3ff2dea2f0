"""Render stage pieces of multi-source applications, Kustomize edits and Jsonnet (no Git, no cluster)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render import SourceRender, combine_sources
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.cache import render_cache_key
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext, envsubst
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.jsonnet import render_jsonnet_file
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.kustomize import _edit_commands
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import CommitInfo
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    JsonnetOptions,
    JsonnetVariable,
    KustomizeOptions,
    KustomizeReplica,
    parse_application,
)

COMMIT = CommitInfo("1" * 40, "a", "2025-01-01T00:00:00Z", "s")


def cm(name: str, file: str) -> DesiredObject:
    return DesiredObject({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}, file, 1)


def rendered(index: int, label: str, *objects: DesiredObject) -> SourceRender:
    return SourceRender(index=index, label=label, repo_url=f"https://example.org/{index}.git", path=".",
                        revision=str(index) * 40, commit=COMMIT, renderer="directory", objects=list(objects))


def test_objects_of_every_source_form_one_application_in_source_order():
    objects = combine_sources([rendered(0, "source 1", cm("a", "x.yaml")), rendered(1, "source 2", cm("b", "y.yaml"))])
    assert [obj.ref.name for obj in objects] == ["a", "b"]


def test_one_object_from_two_sources_names_both_sources_and_files():
    with pytest.raises(RenderError) as caught:
        combine_sources([rendered(0, "source 1", cm("twice", "one/cm.yaml")),
                         rendered(1, "source 2 (ref values)", cm("twice", "two/cm.yaml"))])
    message = str(caught.value)
    assert "ConfigMap twice is produced by two sources of the application" in message
    assert "source 1 (https://example.org/0.git, one/cm.yaml:1)" in message
    assert "source 2 (ref values) (https://example.org/1.git, two/cm.yaml:1)" in message


def test_the_cache_key_of_a_source_covers_the_ref_commits_it_reads():
    app = parse_application({"name": "a", "sources": [
        {"repo_url": "file:///c", "path": "c", "helm": {"value_files": ["$v/x.yaml"]}},
        {"repo_url": "file:///v", "ref": "v"}]})
    first = render_cache_key(app, "1" * 40, app.sources[0], {"v": "2" * 40})
    assert first != render_cache_key(app, "1" * 40, app.sources[0], {"v": "3" * 40})
    assert first != render_cache_key(app, "1" * 40, app.sources[1], {"v": "2" * 40})
    # a single-source application keeps the key it had
    assert render_cache_key(app, "1" * 40) == render_cache_key(app, "1" * 40, app.source, {})


def test_kustomize_edits_are_argo_cds_commands_in_its_order():
    options = KustomizeOptions(images=["nginx=nginx:1"], replicas=[KustomizeReplica("web", 2)],
                               common_labels={"b": "2", "a": "1"}, force_common_labels=True, label_without_selector=True,
                               common_annotations={"owner": "x"}, components=["../c"])
    assert _edit_commands(options) == [
        ["set", "image", "nginx=nginx:1"],
        ["set", "replicas", "web=2"],
        ["add", "label", "--force", "--without-selector", "a:1", "b:2"],
        ["add", "annotation", "owner:x"],
        ["add", "component", "../c"],
    ]
    assert _edit_commands(KustomizeOptions()) == []


@pytest.mark.parametrize("text, expected", [
    ("$ARGOCD_APP_NAME-${X}", "web-1"), ("$$HOME", "$HOME"), ("$UNKNOWN.", "."), ("a$", "a$"), ("$ x", "$ x"),
    ("${}z", "z"), ("$1b", "b"),
])
def test_envsubst_is_gos_os_expand_as_argo_cd_calls_it(text, expected):
    assert envsubst(text, {"ARGOCD_APP_NAME": "web", "X": "1"}) == expected


def jsonnet_context(root: Path, rel_path: str = "app") -> RenderContext:
    app = parse_application({"name": "web", "source": {"repo_url": "https://u:tok@example.org/r.git", "path": rel_path,
                                                       "revision": "main"},
                             "destination": {"namespace": "ns"}})
    return RenderContext(root=root.resolve(), app_dir=(root / rel_path).resolve(), rel_path=rel_path, app=app,
                         secrets=[], revision="abcdef1234" + "0" * 30)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_jsonnet_variables_see_argo_cds_build_environment(tmp_path):
    write(tmp_path, {"app/main.jsonnet": "function(t) {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: t},"
                                         " data: {e: std.extVar('e'), c: std.toString(std.extVar('c'))}}"})
    options = JsonnetOptions(tlas=[JsonnetVariable("t", "$ARGOCD_APP_NAME-$ARGOCD_APP_REVISION_SHORT")],
                             ext_vars=[JsonnetVariable("e", "$ARGOCD_APP_SOURCE_REPO_URL@$ARGOCD_APP_NAMESPACE"),
                                       JsonnetVariable("c", "[1, 2]", code=True)])
    objects = render_jsonnet_file(jsonnet_context(tmp_path), "main.jsonnet", options)
    assert len(objects) == 1
    obj = objects[0]
    assert obj.manifest["metadata"]["name"] == "web-abcdef1"
    # the repository URL without its credentials
    assert obj.manifest["data"] == {"e": "https://example.org/r.git@ns", "c": "[1, 2]"}
    assert (obj.source_file, obj.source_line) == ("app/main.jsonnet", None)


def test_jsonnet_imports_search_next_to_the_file_then_libs_last_first(tmp_path):
    write(tmp_path, {"app/main.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: (import 'n.libsonnet')}}",
                     "one/n.libsonnet": "'one'", "two/n.libsonnet": "'two'"})
    ctx = jsonnet_context(tmp_path)
    assert [o.ref.name for o in render_jsonnet_file(ctx, "main.jsonnet", JsonnetOptions(libs=["one", "two"]))] == ["two"]
    (tmp_path / "app" / "n.libsonnet").write_text("'here'")
    assert [o.ref.name for o in render_jsonnet_file(ctx, "main.jsonnet", JsonnetOptions(libs=["one", "two"]))] == ["here"]


@pytest.mark.parametrize("source, expected", [
    ("null", "Jsonnet must evaluate to an object or an array of objects; the result is NoneType"),
    ("[{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'a'}}, 'x']", "element 1 of the array is str"),
    ("{kind: 'ConfigMap'}", "a Kubernetes object needs apiVersion and kind"),
    ("import 'missing.libsonnet'", "import 'missing.libsonnet' not found"),
    ("importstr '/etc/passwd'", "import '/etc/passwd' is an absolute path"),
])
def test_jsonnet_output_and_imports_that_are_refused(tmp_path, source, expected):
    write(tmp_path, {"app/main.jsonnet": source})
    with pytest.raises(RenderError) as caught:
        render_jsonnet_file(jsonnet_context(tmp_path), "main.jsonnet", JsonnetOptions())
    assert expected in caught.value.message and caught.value.file == "app/main.jsonnet"


def test_a_jsonnet_list_and_array_are_flattened(tmp_path):
    write(tmp_path, {"app/main.jsonnet": "[{apiVersion: 'v1', kind: 'List', items: ["
                                         "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'a'}}]},"
                                         " {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'b'}}]"})
    objects = render_jsonnet_file(jsonnet_context(tmp_path), "main.jsonnet", JsonnetOptions())
    assert [obj.ref.name for obj in objects] == ["a", "b"]


def test_a_context_renders_the_source_it_is_given(tmp_path):
    app = parse_application({"name": "web", "sources": [{"repo_url": "file:///a"}, {"repo_url": "file:///b", "path": "x"}]})
    ctx = RenderContext(root=tmp_path, app_dir=tmp_path, rel_path="x", app=app, secrets=[], source=app.sources[1])
    assert ctx.spec is app.sources[1]
    assert dataclasses.replace(ctx, source=None).spec is app.source


def test_a_refused_import_is_reported_in_our_words_when_go_jsonnets_message_is_not_utf8(tmp_path, monkeypatch):
    from ansible_collections.gitops.kubernetes.plugins.module_utils._render import jsonnet

    def evaluate(filename, import_callback, **_options):
        try:
            import_callback(str(Path(filename).parent) + "/", "/etc/passwd")  # refused, as go-jsonnet would ask
        except RuntimeError:
            # what the binding makes of the callback's message at times: stray bytes that are not UTF-8
            raise UnicodeDecodeError("utf-8", b"\x80", 0, 1, "invalid start byte") from None

    monkeypatch.setattr(jsonnet._gojsonnet, "evaluate_file", evaluate)  # pylint: disable=protected-access
    write(tmp_path, {"app/main.jsonnet": "importstr '/etc/passwd'"})
    with pytest.raises(RenderError) as caught:
        render_jsonnet_file(jsonnet_context(tmp_path), "main.jsonnet", JsonnetOptions())
    assert caught.value.message == "import '/etc/passwd' is an absolute path; imports must stay inside the repository"
    assert (caught.value.file, caught.value.line) == ("app/main.jsonnet", 1)
