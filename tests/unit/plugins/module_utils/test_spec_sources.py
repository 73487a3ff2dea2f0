"""The spec parser's multi-source applications, Argo CD's Helm and Kustomize options, and Jsonnet options."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import SECRET_MASK, mask_helm_values
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    HelmFileParameter,
    JsonnetVariable,
    KustomizeReplica,
    credential_values,
    parse_application,
)

CHARTS = "https://example.org/charts.git"
VALUES = "https://example.org/values.git"


def argo(sources: list[dict], **spec) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web"},
            "spec": {"sources": sources, "destination": {"namespace": "web"}, **spec}}


def spec_error(raw: dict) -> str:
    with pytest.raises(SpecError) as caught:
        parse_application(raw)
    return str(caught.value)


def test_argo_sources_become_every_source_with_the_first_as_the_primary():
    app = parse_application(argo([
        {"repoURL": CHARTS, "targetRevision": "v1", "path": "charts/web", "name": "chart",
         "helm": {"valueFiles": ["$values/envs/prod.yaml", "values.yaml"]}},
        {"repoURL": VALUES, "targetRevision": "main", "ref": "values"},
        {"repoURL": VALUES, "path": "extra", "ref": "more"},
    ]))
    assert app.multi_source and [s.repo_url for s in app.sources] == [CHARTS, VALUES, VALUES]
    assert app.source is app.sources[0] and app.source.revision == "v1"
    assert [(s.ref, s.ref_only) for s in app.sources] == [("", False), ("values", True), ("more", False)]
    assert app.source.helm.referenced_sources() == ["values"]
    assert app.sources[0].label(0) == "source 1 (chart)" and app.sources[1].label(1) == "source 2 (ref values)"


def test_our_spec_takes_sources_and_a_single_source_stays_single():
    app = parse_application({"name": "web", "sources": [
        {"repo_url": CHARTS, "path": "charts/web", "helm": {"value_files": ["$values/prod.yaml"]}},
        {"repo_url": VALUES, "ref": "values"}]})
    assert len(app.sources) == 2 and app.sources[1].ref_only
    single = parse_application({"name": "web", "source": {"repo_url": CHARTS}})
    assert single.sources == [single.source] and not single.multi_source


@pytest.mark.parametrize("raw, expected", [
    (argo([{"repoURL": CHARTS, "path": "c", "helm": {"valueFiles": ["$vals/prod.yaml"]}}, {"repoURL": VALUES, "ref": "values"}]),
     "spec.sources[0].helm: $vals names no ref source (available: $values)"),
    (argo([{"repoURL": CHARTS, "path": "c", "helm": {"fileParameters": [{"name": "a", "path": "$x/a"}]}}]),
     "spec.sources[0].helm: $x names no ref source (available: no source has a ref)"),
    (argo([{"repoURL": CHARTS, "ref": "v"}, {"repoURL": VALUES, "ref": "v"}]),
     "spec.sources[1].ref: ref 'v' is given twice (source 1 (ref v) and source 2 (ref v))"),
    (argo([{"repoURL": CHARTS, "ref": "v", "helm": {"valueFiles": ["a.yaml"]}}]),
     "a ref source without a path renders nothing, so its helm options would be ignored"),
    (argo([{"repoURL": CHARTS, "ref": "a/b"}]), "spec.sources[0].ref: ref 'a/b' must be letters"),
    ({**argo([{"repoURL": CHARTS}]), "spec": {**argo([{"repoURL": CHARTS}])["spec"], "source": {"repoURL": CHARTS}}},
     "spec.sources: give either source or sources, not both"),
    ({"name": "web", "source": {"repo_url": CHARTS, "ref": "values"}}, "source.ref: a ref lends a source's files"),
    ({"name": "web", "source": {"repo_url": CHARTS, "helm": {"value_files": ["$values/a.yaml"]}}},
     "$values names no ref source"),
])
def test_bad_multi_source_specs_are_refused_before_any_git_work(raw, expected):
    assert expected in spec_error(raw)


def test_argo_helm_options_are_translated():
    app = parse_application(argo([{"repoURL": CHARTS, "path": "c", "helm": {
        "version": "v3", "namespace": "other", "skipTests": True, "skipSchemaValidation": True,
        "ignoreMissingValueFiles": True, "fileParameters": [{"name": "motd", "path": "files/motd.txt"}],
        "valuesObject": {"a": {"b": 1}}}}]))
    helm = app.source.helm
    assert (helm.namespace, helm.skip_tests, helm.skip_schema_validation, helm.ignore_missing_value_files) == (
        "other", True, True, True)
    assert helm.file_parameters == [HelmFileParameter(name="motd", path="files/motd.txt")]
    assert helm.values == {"a": {"b": 1}}
    assert parse_application(argo([{"repoURL": CHARTS, "helm": {"values": "a: 1\n"}}])).source.helm.values == {"a": 1}


@pytest.mark.parametrize("helm, expected", [
    ({"version": "v2"}, "'v2' is not supported: templates are rendered with Helm 3 (v3); Helm 2 is not supported"),
    ({"namespace": "Bad_NS"}, "helm.namespace: 'Bad_NS' is not a valid namespace name"),
    ({"fileParameters": [{"name": "a", "path": "https://example.org/a"}]}, "file parameters must come from the repository"),
    ({"fileParameters": [{"name": "a"}]}, "fileParameters[0].path: is required"),
])
def test_bad_helm_options_are_named(helm, expected):
    assert expected in spec_error(argo([{"repoURL": CHARTS, "helm": helm}]))


def test_argo_kustomize_options_are_translated():
    app = parse_application(argo([{"repoURL": CHARTS, "path": "k", "kustomize": {
        "replicas": [{"name": "web", "count": 3}, {"name": "db", "count": "2"}],
        "components": ["../../components/probe"], "labelWithoutSelector": True, "forceCommonLabels": True,
        "forceCommonAnnotations": True, "commonLabels": {"team": "a"},
        "patches": [{"patch": "- op: add\n  path: /x\n  value: 1\n", "target": {"kind": "Deployment", "name": "web"},
                     "options": {"allowNameChange": True}}, {"path": "patch.yaml"}]}}]))
    kustomize = app.source.kustomize
    assert kustomize.replicas == [KustomizeReplica("web", 3), KustomizeReplica("db", 2)]
    assert kustomize.components == ["../../components/probe"]
    assert (kustomize.label_without_selector, kustomize.force_common_labels, kustomize.force_common_annotations) == (True, True, True)
    assert kustomize.patches == [
        {"patch": "- op: add\n  path: /x\n  value: 1\n", "target": {"kind": "Deployment", "name": "web"},
         "options": {"allowNameChange": True}},
        {"path": "patch.yaml"}]


@pytest.mark.parametrize("kustomize, expected", [
    ({"replicas": [{"name": "web", "count": "three"}]}, "replicas[0].count: must be a non-negative integer"),
    ({"patches": [{"target": {"kind": "Deployment"}}]}, "patches[0]: needs path or patch"),
    ({"patches": [{"path": "../../../etc/x"}]}, "the patch path must stay inside the repository"),
    ({"patches": [{"patch": "x", "target": {"kinds": "Deployment"}}]}, "target.kinds: unknown key"),
    ({"commonAnnotationsEnvsubst": True}, "kustomize.commonAnnotationsEnvsubst: unknown key"),
])
def test_bad_kustomize_options_are_named(kustomize, expected):
    assert expected in spec_error(argo([{"repoURL": CHARTS, "kustomize": kustomize}]))


def test_jsonnet_options_in_both_forms():
    jsonnet = {"tlas": [{"name": "replicas", "value": 3, "code": True}], "libs": ["vendor"]}
    ours = parse_application({"name": "j", "source": {"repo_url": CHARTS, "directory": {
        "jsonnet": {**jsonnet, "ext_vars": [{"name": "env", "value": "prod"}]}}}})
    theirs = parse_application(argo([{"repoURL": CHARTS, "directory": {
        "jsonnet": {**jsonnet, "extVars": [{"name": "env", "value": "prod"}]}}}]))
    for app in (ours, theirs):
        options = app.source.directory.jsonnet
        assert options.tlas == [JsonnetVariable("replicas", "3", True)]
        assert options.ext_vars == [JsonnetVariable("env", "prod", False)] and options.libs == ["vendor"]
    assert "jsonnet.libs: '../x': the jsonnet library path must stay inside the repository" in spec_error(
        argo([{"repoURL": CHARTS, "directory": {"jsonnet": {"libs": ["../x"]}}}]))
    assert "tlas[0].value: must be a string" in spec_error(
        argo([{"repoURL": CHARTS, "directory": {"jsonnet": {"tlas": [{"name": "a", "value": {"b": 1}}]}}}]))


def test_credentials_and_helm_values_of_every_source_are_hidden():
    raw = {"name": "web", "sources": [
        {"repo_url": "https://bot:tok-1@example.org/a.git", "helm": {"values": {"password": "pw-2"}}},
        {"repo_url": VALUES, "password": "pw-3", "ref": "values"}]}
    assert {"tok-1", "pw-3"} <= set(credential_values(raw))
    masked = mask_helm_values(copy.deepcopy(raw))
    assert masked["sources"][0]["helm"]["values"] == {"password": SECRET_MASK}
