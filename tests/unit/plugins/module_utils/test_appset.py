"""ApplicationSet manifests: generators, both template forms (vectors from Argo CD's documentation), routing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import Cluster, expand_applicationset, merge_template
from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.templates import GoJob, fast_render, fast_replace, go_render
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import generate_applications

needs_go = pytest.mark.skipif(not shutil.which("gitops-gotemplate"), reason="gitops-gotemplate not built (make tools)")
REPO = "https://github.com/argoproj/argo-cd.git"
CLUSTERS = [
    Cluster("staging", "https://10.0.0.1:6443", {"env": "staging", "region": "eu"}, {"team": "blue"}),
    Cluster("production", "https://10.0.0.2:6443", {"env": "production", "region": "us"}),
]


def appset(generators: list, template: dict, go: bool = False, **spec: Any) -> dict:
    body = {"generators": generators, "template": template, **spec}
    if go:
        body["goTemplate"] = True
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "guestbook"}, "spec": body}


def template(name: str, path: str = "guestbook", server: str = "https://kubernetes.default.svc", **extra: Any) -> dict:
    return {"metadata": {"name": name},
            "spec": {"project": "default", "source": {"repoURL": REPO, "targetRevision": "HEAD", "path": path},
                     "destination": {"server": server, "namespace": "guestbook"}, **extra}}


def names(result: Any) -> list[str]:
    return [one.manifest["metadata"]["name"] for one in result.applications]


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def addons(tmp_path: Path) -> str:
    """Argo CD's git generator example layout: cluster-addons/*, and cluster-config/*/config.json files."""
    root = tmp_path / "remote"
    for directory in ("applicationset/examples/git-generator-directory/cluster-addons/argo-workflows",
                      "applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator",
                      "applicationset/examples/git-generator-directory/cluster-addons/.hidden"):
        (root / directory).mkdir(parents=True)
        (root / directory / "kustomization.yaml").write_text("resources: []\n")
    for env, url in (("dev", "https://1.2.3.4"), ("prod", "https://2.4.6.8")):
        (root / "cluster-config/engineering" / env).mkdir(parents=True)
        (root / "cluster-config/engineering" / env / "config.json").write_text(
            '{"aws_account": "123456", "asset_id": "11223344", "cluster": {"owner": "cluster-admin@company.com", '
            f'"name": "engineering-{env}", "address": "{url}"}}}}')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "apps")
    return f"file://{root}"


# -- fasttemplate: Argo CD's documented parameters -------------------------------------------------------------

def test_fasttemplate_replaces_known_parameters_and_keeps_unknown_tags_as_written():
    params = {"path": "applicationset/examples/git-generator-directory/cluster-addons/argo-workflows",
              "path.basename": "argo-workflows", "path[0]": "applicationset", "cluster": "engineering-dev"}
    assert fast_replace("{{path.basename}}", params) == "argo-workflows"
    assert fast_replace("{{ path.basename }}-{{path[0]}}", params) == "argo-workflows-applicationset"
    assert fast_replace("{{cluster}}-{{unknown}}-{{ .cluster }}", params) == "engineering-dev-{{unknown}}-{{ .cluster }}"
    assert fast_replace("no tags", params) == "no tags"


def test_fasttemplate_refuses_an_unclosed_tag_like_argo_cd():
    with pytest.raises(SpecError, match="no '}}' closes"):
        fast_replace("{{a}} and {{b", {"a": "x"})


def test_fasttemplate_renders_mapping_keys_and_leaves_non_strings():
    assert fast_render({"{{k}}": "{{v}}", "n": 3, "b": True}, {"k": "key", "v": "value"}) == {"key": "value", "n": 3, "b": True}


# -- goTemplate: Go text/template with Argo CD's Sprig function set ----------------------------------------------

@needs_go
def test_go_template_vectors_from_argo_cd_documentation():
    params = {"name": "Engineering-Dev", "path": {"basename": "argo-workflows", "segments": ["a", "b"]},
              "metadata": {"labels": {"env": "prod"}}, "values": {"replicas": 3, "list": [1, 2]}}
    tree = {"a": "{{.path.basename}}", "b": "{{ .name | lower }}", "c": '{{ index .metadata.labels "env" }}',
            "d": "{{ toYaml .values }}", "e": '{{ default "fallback" .nope }}', "f": "{{ .nope }}",
            "g": '{{ normalize "Web_UI App" }}', "h": "{{ index .path.segments 1 }}", "i": "{{ .values.replicas }}"}
    [out] = go_render([GoJob(tree, params)], [])
    assert out == {"a": "argo-workflows", "b": "engineering-dev", "c": "prod", "d": "list:\n- 1\n- 2\nreplicas: 3",
                   "e": "fallback", "f": "<no value>", "g": "web-ui-app", "h": "b", "i": "3"}


@needs_go
def test_go_template_missingkey_error_names_the_key():
    with pytest.raises(SpecError, match='map has no entry for key "nope"'):
        go_render([GoJob("{{ .nope }}", {"a": 1})], ["missingkey=error"])


@needs_go
@pytest.mark.parametrize("function", ["env", "expandenv", "getHostByName"])
def test_go_template_lacks_the_functions_argo_cd_removes(function: str):
    with pytest.raises(SpecError, match=f'function "{function}" not defined'):
        go_render([GoJob(f'{{{{ {function} "HOME" }}}}', {"a": 1})], [])


@needs_go
def test_go_template_without_parameters_is_left_as_written():
    assert go_render([GoJob("{{ .x }}", {})], []) == ["{{ .x }}"]


# -- generators ---------------------------------------------------------------------------------------------

def test_list_generator_fasttemplate_documentation_example():
    manifest = appset([{"list": {"elements": [{"cluster": "engineering-dev", "url": "https://kubernetes.default.svc"},
                                              {"cluster": "engineering-prod", "url": "https://kubernetes.default.svc"}]}}],
                      template("{{cluster}}-guestbook", "applicationset/examples/list-generator/guestbook/{{cluster}}", "{{url}}"))
    result = expand_applicationset(manifest, [], None)
    assert names(result) == ["engineering-dev-guestbook", "engineering-prod-guestbook"]
    assert result.applications[0].manifest["spec"]["source"]["path"] == "applicationset/examples/list-generator/guestbook/engineering-dev"
    assert result.applications[0].manifest["metadata"]["labels"] == {"gitops.kubernetes/applicationset": "guestbook"}


def test_list_generator_refuses_non_string_elements_without_go_template():
    with pytest.raises(SpecError, match=r"elements\[0\]\.replicas: must be a string"):
        expand_applicationset(appset([{"list": {"elements": [{"replicas": 3}]}}], template("x")), [], None)


@needs_go
def test_list_generator_elements_yaml_and_go_template():
    manifest = appset([{"list": {"elements": [{"cluster": "A"}], "elementsYaml": "- cluster: B\n"}}],
                      template("{{ .cluster | lower }}-app"), go=True)
    assert names(expand_applicationset(manifest, [], None)) == ["a-app", "b-app"]


@needs_go
def test_clusters_generator_selects_inventory_clusters_by_labels_and_routes_to_each():
    expression = {"key": "env", "operator": "In", "values": ["staging", "production"]}
    manifest = appset([{"clusters": {"selector": {"matchExpressions": [expression]},
                                     "values": {"revision": "{{ .metadata.labels.env }}-branch"}}}],
                      template("{{ .name }}-guestbook", server="{{ .server }}", ), go=True)
    manifest["spec"]["template"]["spec"]["source"]["targetRevision"] = "{{ .values.revision }}"
    result = expand_applicationset(manifest, CLUSTERS, "staging")
    assert names(result) == ["staging-guestbook"]
    assert result.elsewhere == ["production-guestbook"]
    spec = result.applications[0].manifest["spec"]
    assert spec["destination"] == {"namespace": "guestbook"}  # bound to this host's cluster
    assert spec["source"]["targetRevision"] == "staging-branch"


def test_clusters_generator_fasttemplate_metadata_parameters_and_match_labels():
    manifest = appset([{"clusters": {"selector": {"matchLabels": {"region": "eu"}}}}],
                      template("{{name}}-{{metadata.labels.env}}-{{metadata.annotations.team}}", server="{{server}}"))
    assert names(expand_applicationset(manifest, CLUSTERS, None)) == ["staging-staging-blue"]


def test_destination_naming_no_inventory_cluster_is_an_error_naming_the_application():
    manifest = appset([{"list": {"elements": [{"c": "x"}]}}], template("{{c}}-app", server="https://elsewhere:6443"))
    with pytest.raises(SpecError, match="'x-app' has destination server 'https://elsewhere:6443', which no inventory cluster has"):
        expand_applicationset(manifest, CLUSTERS, "staging")


@needs_go
def test_git_directories_generator_with_exclude_and_go_path_parameters(addons: str):
    base = "applicationset/examples/git-generator-directory/cluster-addons"
    manifest = appset([{"git": {"repoURL": addons, "revision": "main",
                                "directories": [{"path": f"{base}/*"}, {"path": f"{base}/prometheus-operator", "exclude": True}]}}],
                      template("{{.path.basename}}", "{{.path.path}}", **{"info": [{"name": "{{ index .path.segments 0 }}"}]}),
                      go=True)
    result = expand_applicationset(manifest, [], None)
    assert names(result) == ["argo-workflows"]
    assert result.applications[0].manifest["spec"]["source"]["path"] == f"{base}/argo-workflows"
    assert result.applications[0].manifest["spec"]["info"] == [{"name": "applicationset"}]
    assert list(result.revisions) == [addons]


def test_git_files_generator_fasttemplate_flattens_the_file_and_adds_path_parameters(addons: str):
    manifest = appset([{"git": {"repoURL": addons, "revision": "main", "files": [{"path": "cluster-config/**/config.json"}]}}],
                      template("{{cluster.name}}-guestbook", "{{path}}/{{path[1]}}/{{path.basename}}/{{path.filename}}"))
    result = expand_applicationset(manifest, [], None)
    assert names(result) == ["engineering-dev-guestbook", "engineering-prod-guestbook"]
    assert result.applications[0].manifest["spec"]["source"]["path"] == \
        "cluster-config/engineering/dev/engineering/dev/config.json"


@needs_go
def test_matrix_of_clusters_and_git_directories(addons: str):
    base = "applicationset/examples/git-generator-directory/cluster-addons"
    manifest = appset([{"matrix": {"generators": [
        {"clusters": {}},
        {"git": {"repoURL": addons, "revision": "main", "directories": [{"path": f"{base}/*"}]}},
    ]}}], template("{{.path.basename}}-{{.name}}", "{{.path.path}}", "{{.server}}"), go=True)
    result = expand_applicationset(manifest, CLUSTERS, "production")
    assert names(result) == ["argo-workflows-production", "prometheus-operator-production"]
    assert sorted(result.elsewhere) == ["argo-workflows-staging", "prometheus-operator-staging"]


def test_matrix_second_generator_sees_the_first_ones_parameters(addons: str):
    manifest = appset([{"matrix": {"generators": [
        {"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}},
        {"git": {"repoURL": addons, "revision": "main", "files": [{"path": "cluster-config/engineering/{{env}}/config.json"}]}},
    ]}}], template("{{env}}-{{cluster.name}}"))
    assert names(expand_applicationset(manifest, [], None)) == ["dev-engineering-dev", "prod-engineering-prod"]


def test_merge_of_clusters_and_list_overrides_by_merge_key():
    manifest = appset([{"merge": {"mergeKeys": ["server"], "generators": [
        {"clusters": {"values": {"kafka": "true", "redis": "false"}}},
        {"list": {"elements": [{"server": "https://10.0.0.2:6443", "values.redis": "true"}]}},
    ]}}], template("{{name}}-kafka-{{values.kafka}}-redis-{{values.redis}}", server="{{server}}"))
    result = expand_applicationset(manifest, CLUSTERS, None)
    assert names(result) == ["staging-kafka-true-redis-false", "production-kafka-true-redis-true"]


def test_generator_post_selector_filters_parameter_sets():
    manifest = appset([{"list": {"elements": [{"cluster": "a", "env": "dev"}, {"cluster": "b", "env": "prod"}]},
                        "selector": {"matchLabels": {"env": "prod"}}}], template("{{cluster}}"))
    assert names(expand_applicationset(manifest, [], None)) == ["b"]


def test_generator_template_overrides_the_applicationset_template_field_by_field():
    merged = merge_template({"metadata": {"name": "own"}, "spec": {"source": {"path": "x"}}},
                            {"metadata": {"name": "base", "labels": {"a": "b"}}, "spec": {"source": {"path": "y", "repoURL": "r"}}})
    assert merged == {"metadata": {"name": "own", "labels": {"a": "b"}}, "spec": {"source": {"path": "x", "repoURL": "r"}}}


@needs_go
def test_template_patch_is_rendered_then_merged_but_never_changes_the_project():
    patch = ('{{- if .autoSync }}\nspec:\n  project: hacked\n  syncPolicy:\n    automated:\n      prune: {{ .prune }}\n'
             '{{- end }}\n')
    manifest = appset([{"list": {"elements": [{"cluster": "a", "autoSync": True, "prune": True}, {"cluster": "b"}]}}],
                      template("{{.cluster}}"), go=True, templatePatch=patch)
    result = expand_applicationset(manifest, [], None)
    first, second = (one.manifest["spec"] for one in result.applications)
    assert first["syncPolicy"] == {"automated": {"prune": True}} and first["project"] == "default"
    assert "syncPolicy" not in second


def test_generated_names_that_collide_are_an_error_naming_both_sources():
    manifest = appset([{"list": {"elements": [{"c": "a"}]}}, {"list": {"elements": [{"c": "a"}]}}], template("{{c}}"))
    with pytest.raises(SpecError, match=r"generators\[1\]\.list\.elements\[0\]: generates application 'a', which "
                                        r"generators\[0\]\.list\.elements\[0\] generates too"):
        expand_applicationset(manifest, [], None)


@pytest.mark.parametrize("spec, message", [
    ({"generators": [{"scmProvider": {}}]}, "scmProvider: not supported"),
    ({"generators": [{"list": {"elements": []}}], "strategy": {"type": "RollingSync"}}, "spec.strategy is not supported"),
    ({"generators": [{"list": {"elements": []}}], "goTemplateOptions": ["missingkey=oops"]}, "is not a Go template option"),
    ({"generators": [{"matrix": {"generators": [
        {"list": {"elements": [], "template": {"metadata": {"name": "x"}}}},
        {"list": {"elements": []}}]}}]}, "inside a matrix or merge child"),
])
def test_unsupported_applicationset_fields_are_refused_by_name(spec: dict, message: str):
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "s"},
                "spec": {"template": template("x"), **spec}}
    with pytest.raises(SpecError, match=message):
        expand_applicationset(manifest, [], None)


def test_generate_applications_returns_applicationset_applications_checked_by_the_application_parser():
    manifest = appset([{"list": {"elements": [{"cluster": "a"}]}}], template("{{cluster}}-app"))
    result = generate_applications([], [], [], [], applicationsets=[manifest])
    assert result.names == ["a-app"]
    assert result.applicationsets == {"guestbook": {"generated": ["a-app"], "elsewhere": [],
                                                    "preserve_resources_on_deletion": False, "applications_sync": "sync"}}
    bad = appset([{"list": {"elements": [{"cluster": "a"}]}}], template("{{cluster}}-app", path="../out"))
    with pytest.raises(SpecError, match="ApplicationSet guestbook generators.0..list.elements.0.: .*must stay inside the repository"):
        generate_applications([], [], [], [], applicationsets=[bad])
