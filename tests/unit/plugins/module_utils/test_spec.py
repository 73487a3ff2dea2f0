"""The application spec parser: our spec, Argo CD Applications, and the errors a user sees."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    DirectoryOptions,
    HelmParameter,
    credential_values,
    normalize_repo_path,
    parse_application,
)

MINIMAL = {"name": "guestbook", "source": {"repo_url": "https://example.org/org/apps.git"}}

ARGO_APP = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "guestbook", "namespace": "argocd", "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
    "spec": {
        "project": "default",
        "source": {
            "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
            "targetRevision": "v1.2.0",
            "path": "helm-guestbook",
            "helm": {
                "releaseName": "gb",
                "valueFiles": ["values-prod.yaml"],
                "values": "replicaCount: 3\nimage:\n  tag: '1.0'\n",
                "parameters": [{"name": "service.type", "value": "NodePort", "forceString": True}],
                "skipCrds": True,
                "kubeVersion": "1.30.0",
                "apiVersions": ["monitoring.coreos.com/v1"],
            },
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True, "allowEmpty": True},
            "syncOptions": ["CreateNamespace=true", "PruneLast=true", "Replace=true",
                            "PrunePropagationPolicy=background", "ServerSideApply=true"],
        },
        "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"],
                               "managedFieldsManagers": ["kube-controller-manager"]}],
    },
}


def spec_error(raw: dict) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_application(raw)
    return caught.value


def test_minimal_spec_gets_defaults():
    app = parse_application(MINIMAL)
    assert app.name == "guestbook"
    assert app.source.revision == "HEAD"
    assert app.source.path == "."
    assert app.source.renderer is None  # detected from the path later
    assert app.source.ssh_strict_host_key_checking is True
    assert app.destination.namespace == ""
    assert app.sync_policy.prune is False and app.sync_policy.prune_propagation_policy == "foreground"
    assert app.ignore_differences == []


def test_full_spec():
    app = parse_application({
        "name": "shop",
        "source": {
            "repo_url": "git@example.org:org/apps.git", "revision": "main", "path": "./apps//shop/",
            "kustomize": {"images": ["nginx=nginx:1.27"], "name_prefix": "p-", "name_suffix": "-s",
                          "namespace": "shop", "common_labels": {"team": "a", "tier": 3},
                          "common_annotations": {"on": True}},
            "ssh_private_key_file": "~/.ssh/id", "ssh_strict_host_key_checking": False,
        },
        "destination": {"namespace": "shop"},
        "sync_policy": {"prune": True, "create_namespace": True, "prune_propagation_policy": "Orphan"},
        "ignore_differences": [{"kind": "Deployment", "json_pointers": ["/spec/replicas"]}],
    })
    assert app.source.path == "apps/shop"
    assert app.source.renderer == "kustomize"
    # label and annotation values are strings, whatever YAML made of them
    assert app.source.kustomize.common_labels == {"team": "a", "tier": "3"}
    assert app.source.kustomize.common_annotations == {"on": "true"}
    assert app.sync_policy.prune_propagation_policy == "orphan"
    assert app.ignore_differences[0].json_pointers == ["/spec/replicas"]


def test_empty_renderer_section_chooses_it():
    app = parse_application({**MINIMAL, "source": {**MINIMAL["source"], "directory": {}}})
    assert app.source.renderer == "directory"
    assert app.source.directory == DirectoryOptions()
    app = parse_application({**MINIMAL, "source": {**MINIMAL["source"], "helm": None}})
    assert app.source.renderer is None  # null means "not given"


def test_helm_values_as_yaml_string_and_parameters():
    app = parse_application({**MINIMAL, "source": {**MINIMAL["source"], "helm": {
        "values": "a:\n  b: 1\n", "parameters": [{"name": "x", "value": 5}, {"name": "y", "value": "1", "force_string": True}],
    }}})
    assert app.source.helm.values == {"a": {"b": 1}}
    assert app.source.helm.parameters == [HelmParameter("x", "5", False), HelmParameter("y", "1", True)]


@pytest.mark.parametrize("raw, key", [
    ({**MINIMAL, "sourc": {}}, "sourc"),
    ({**MINIMAL, "source": {**MINIMAL["source"], "revison": "main"}}, "source.revison"),
    ({**MINIMAL, "source": {**MINIMAL["source"], "helm": {"valueFiles": []}}}, "source.helm.valueFiles"),
    ({**MINIMAL, "sync_policy": {"prune": "maybe"}}, "sync_policy.prune"),
    ({**MINIMAL, "destination": {"server": "https://other:6443", "name": "other"}}, "destination"),
    ({**MINIMAL, "project": "Team_A"}, "project"),
    ({**MINIMAL, "ignore_differences": [{"kind": "Deployment", "json_pointers": ["spec/replicas"]}]},
     "ignore_differences[0].json_pointers"),
])
def test_unknown_or_invalid_keys_name_the_application_and_key(raw, key):
    err = spec_error(raw)
    assert err.application == "guestbook"
    assert f"{key}:" in str(err)
    assert str(err).startswith("application 'guestbook': ")


def test_missing_name_and_invalid_name():
    assert "name: is required" in str(spec_error({"source": MINIMAL["source"]}))
    assert "not a valid name" in str(spec_error({**MINIMAL, "name": "Guest_Book"}))


def test_several_renderers_are_refused():
    err = spec_error({**MINIMAL, "source": {**MINIMAL["source"], "directory": {}, "helm": {}}})
    assert "at most one of directory, kustomize, helm" in str(err)


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc", "C:\\x"])
def test_paths_that_leave_the_repository_are_refused_before_any_git_work(path):
    err = spec_error({**MINIMAL, "source": {**MINIMAL["source"], "path": path}})
    assert "source.path" in str(err)


def test_value_file_urls_are_refused():
    err = spec_error({**MINIMAL, "source": {**MINIMAL["source"], "helm": {"value_files": ["https://x/values.yaml"]}}})
    assert "value files must come from the repository" in str(err)


def test_revision_that_looks_like_an_option_is_refused():
    assert "not a valid revision" in str(spec_error({**MINIMAL, "source": {**MINIMAL["source"], "revision": "--upload-pack=x"}}))


def test_normalize_repo_path():
    assert normalize_repo_path("") == "."
    assert normalize_repo_path("./") == "."
    assert normalize_repo_path("a/./b/../c") == "a/c"
    with pytest.raises(ValueError):
        normalize_repo_path("a/../..")


def test_invalid_helm_values_yaml_names_line_and_column():
    err = spec_error({**MINIMAL, "source": {**MINIMAL["source"], "helm": {"values": "a: [1,\n"}}})
    assert "source.helm.values: is not valid YAML (line 2" in str(err)


# -- Argo CD ---------------------------------------------------------------------------------------------


def test_argocd_application_is_mapped():
    app = parse_application(ARGO_APP)
    assert app.name == "guestbook"
    assert app.source.repo_url == "https://github.com/argoproj/argocd-example-apps.git"
    assert app.source.revision == "v1.2.0"
    assert app.source.path == "helm-guestbook"
    helm = app.source.helm
    assert helm.release_name == "gb"
    assert helm.value_files == ["values-prod.yaml"]
    assert helm.values == {"replicaCount": 3, "image": {"tag": "1.0"}}
    assert helm.parameters == [HelmParameter("service.type", "NodePort", True)]
    assert helm.skip_crds and helm.kube_version == "1.30.0" and helm.api_versions == ["monitoring.coreos.com/v1"]
    assert app.destination.namespace == "guestbook"
    policy = app.sync_policy
    assert (policy.prune, policy.allow_empty, policy.create_namespace, policy.prune_last, policy.replace) == (True,) * 5
    assert policy.prune_propagation_policy == "background"
    rule = app.ignore_differences[0]
    assert (rule.group, rule.kind, rule.json_pointers, rule.managed_fields_managers) == (
        "apps", "Deployment", ["/spec/replicas"], ["kube-controller-manager"])


def test_argocd_without_automated_does_not_prune():
    raw = copy.deepcopy(ARGO_APP)
    del raw["spec"]["syncPolicy"]
    app = parse_application(raw)
    assert app.sync_policy.prune is False and app.sync_policy.create_namespace is False


def test_argocd_directory_and_kustomize():
    raw = copy.deepcopy(ARGO_APP)
    raw["spec"]["source"] = {"repoURL": "file:///r", "path": "k", "kustomize": {
        "images": ["a=b:1"], "namePrefix": "x-", "nameSuffix": "-y", "namespace": "n",
        "commonLabels": {"a": "b"}, "commonAnnotations": {"c": "d"}}}
    kustomize = parse_application(raw).source.kustomize
    assert (kustomize.images, kustomize.name_prefix, kustomize.name_suffix, kustomize.namespace,
            kustomize.common_labels, kustomize.common_annotations) == (["a=b:1"], "x-", "-y", "n", {"a": "b"}, {"c": "d"})
    raw["spec"]["source"] = {"repoURL": "file:///r", "directory": {"recurse": True, "include": "", "exclude": "x/*"}}
    directory = parse_application(raw).source.directory
    assert directory == DirectoryOptions(recurse=True, include="*.{yaml,yml,json,jsonnet}", exclude="x/*")
    assert parse_application(raw).source.revision == "HEAD"


def test_argocd_values_object():
    raw = copy.deepcopy(ARGO_APP)
    raw["spec"]["source"]["helm"] = {"valuesObject": {"a": [1, 2]}}
    assert parse_application(raw).source.helm.values == {"a": [1, 2]}
    raw["spec"]["source"]["helm"]["values"] = "b: 1"
    assert "either values or valuesObject" in str(spec_error(raw))


@pytest.mark.parametrize("mutate, expected", [
    (lambda s: s.update(sources=[{}]), "spec.sources: give either source or sources, not both"),
    (lambda s: s["source"].update(chart="redis"), "spec.source.path: does not apply to a chart from a chart repository"),
    (lambda s: s["source"].update(plugin={"name": "x"}), "spec.source.plugin: config management plugins"),
    (lambda s: s["source"]["helm"].update(version="v2"), "spec.source.helm.version: 'v2' is not supported"),
    (lambda s: s["destination"].update(name="prod"), "spec.destination: give either server or name, not both"),
    (lambda s: s["syncPolicy"]["syncOptions"].append("ServerSideApply=false"),
     "ServerSideApply=false: every object is server-side applied; client-side apply"),
    (lambda s: s["syncPolicy"]["syncOptions"].append("ClientSideApplyMigration=false"), "ClientSideApplyMigration is not supported"),
    (lambda s: s["syncPolicy"]["syncOptions"].append("Bogus=true"), "'Bogus=true' is not a sync option Argo CD documents"),
    (lambda s: s["syncPolicy"].update(retry={"limit": 2, "refresh": True}), "spec.syncPolicy.retry.refresh: retry.refresh is not supported"),
])
def test_unsupported_argocd_fields_are_named(mutate, expected):
    raw = copy.deepcopy(ARGO_APP)
    mutate(raw["spec"])
    err = spec_error(raw)
    assert expected in str(err)
    assert err.application == "guestbook"


def test_empty_argocd_sections_that_change_nothing_pass():
    raw = copy.deepcopy(ARGO_APP)
    raw["spec"]["source"]["helm"].update(passCredentials=False, fileParameters=[], ignoreMissingValueFiles=False)
    raw["spec"]["syncPolicy"]["retry"] = {}
    assert parse_application(raw).source.helm.release_name == "gb"
    raw["spec"]["source"] = {"repoURL": "file:///r", "directory": {"recurse": True, "jsonnet": {"tlas": [], "libs": []}}}
    assert parse_application(raw).source.directory.recurse is True
    raw["spec"]["source"] = {"repoURL": "file:///r", "kustomize": {"commonAnnotationsEnvsubst": True}}
    assert "spec.source.kustomize.commonAnnotationsEnvsubst: unknown key" in str(spec_error(raw))


def test_argocd_destination_name_in_cluster_is_accepted():
    raw = copy.deepcopy(ARGO_APP)
    raw["spec"]["destination"] = {"name": "in-cluster", "namespace": "x"}
    assert parse_application(raw).destination.namespace == "x"


def test_other_kinds_are_refused():
    err = spec_error({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "x"}})
    assert "kind Application" in str(err)


def test_credential_values_come_from_the_raw_spec():
    raw = {"name": "x", "source": {"repo_url": "https://bot:s3cr%40t@example.org/r.git", "password": "pw-123"}}
    values = credential_values(raw)
    assert {"pw-123", "s3cr%40t", "s3cr@t"} <= set(values)
    argo = copy.deepcopy(ARGO_APP)
    argo["spec"]["source"]["repoURL"] = "https://user:tok-456@example.org/r.git"
    assert "tok-456" in credential_values(argo)
    assert credential_values("not a dict") == []


@pytest.mark.parametrize("destination, in_cluster", [
    ({"server": "https://kubernetes.default.svc/", "namespace": "x"}, True),
    ({"name": "in-cluster", "namespace": "x"}, True),
    ({"namespace": "x"}, True),
    ({"server": "https://prod.example:6443", "namespace": "x"}, False),
    ({"name": "prod", "namespace": "x"}, False),
])
def test_argocd_project_and_destination_cluster_are_carried_in_the_model(destination, in_cluster):
    raw = copy.deepcopy(ARGO_APP)
    raw["spec"]["project"] = "team-a"
    raw["spec"]["destination"] = destination
    app = parse_application(raw)
    assert app.project == "team-a"
    assert (app.destination.server, app.destination.name) == (destination.get("server", ""), destination.get("name", ""))
    assert app.destination.in_cluster is in_cluster


def test_our_spec_names_a_project_and_a_cluster():
    app = parse_application({**MINIMAL, "project": "team-a", "destination": {"name": "prod", "namespace": "web"}})
    assert (app.project, app.destination.name, app.destination.namespace) == ("team-a", "prod", "web")
    assert parse_application(MINIMAL).project == "default"
