"""Multi-source applications, Argo CD's Helm and Kustomize options, and Jsonnet, through the real ansible-playbook.

Real git repositories, the real helm and kustomize binaries and go-jsonnet; the sync tests run against the
shared control plane. Names carry the prefix `sources-` so they never meet another suite's objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from module_tasks import resources_by_kind_name

CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  value: "{value}"
"""

CHART_FILES = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    "charts/web/values.yaml": "replicas: 1\ngreeting: hello\n",
    "charts/web/templates/config.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-config
        data:
          replicas: {{ .Values.replicas | quote }}
          greeting: {{ .Values.greeting | quote }}
          namespace: {{ .Release.Namespace | quote }}
          motd: {{ .Values.motd | default "none" | quote }}
          extra: {{ .Values.extra | default "none" | quote }}
        """,
    "charts/web/values.schema.json": json.dumps({
        "type": "object", "properties": {"replicas": {"type": "integer"}}}),
}
# a helm test hook: rendered by helm template unless skipTests
TEST_HOOK = {"charts/web/templates/tests/smoke.yaml": """\
    apiVersion: v1
    kind: Pod
    metadata:
      name: {{ .Release.Name }}-smoke
      annotations: {"helm.sh/hook": test}
    spec:
      containers: [{name: t, image: busybox}]
    """}
VALUES_FILES = {
    "envs/prod/values.yaml": "replicas: 3\n",
    "envs/prod/motd.txt": "welcome, prod",
    "apps/extra.yaml": CM.format(name="sources-extra", value="from the values repository"),
}


def render_task(register: str, application: dict, **options) -> dict:
    module_args = {"application": application, "cache_dir": "{{ cache_dir }}", **options}
    return {"name": register, "gitops.kubernetes.gitops_render": module_args, "register": register,
            "ignore_errors": True}


def module_task(module: str, register: str, application: dict, **options) -> dict:
    module_args = {"kubeconfig": "{{ gitops_test_kubeconfig }}", "application": application,
                   "cache_dir": "{{ cache_dir }}", **options}
    return {"name": register, f"gitops.kubernetes.{module}": module_args, "register": register, "ignore_errors": True}


def run(ansible_playbook, tmp_path: Path, tasks: list[dict], **kwargs):
    return ansible_playbook(yaml.safe_dump(tasks, sort_keys=False), extra_vars={"cache_dir": str(tmp_path / "cache")},
                            **kwargs)


def manifest(result: dict, kind: str, name: str) -> dict:
    return next(m for m in result["manifests"] if m["kind"] == kind and m["metadata"]["name"] == name)


def argo_app(name: str, namespace: str, sources: list[dict]) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
            "spec": {"project": "default", "sources": sources,
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": True}}}}


# -- multi-source ---------------------------------------------------------------------------------------


def test_a_chart_with_values_from_a_ref_source_renders_diffs_and_syncs_with_every_revision_recorded(
        kubectl, namespace, ansible_playbook, git_repo, tmp_path):
    charts, values = git_repo("charts"), git_repo("values")
    chart_sha = charts.commit(CHART_FILES, "web chart")
    values_sha = values.commit(VALUES_FILES, "prod values")
    app = argo_app("sources-web", namespace, [
        {"repoURL": charts.url, "targetRevision": "main", "path": "charts/web",
         "helm": {"valueFiles": ["$values/envs/prod/values.yaml"],
                  "fileParameters": [{"name": "motd", "path": "$values/envs/prod/motd.txt"}]}},
        # a ref source with a path lends its files and renders them too
        {"repoURL": values.url, "targetRevision": "main", "ref": "values", "path": "apps"},
    ])
    first = run(ansible_playbook, tmp_path, [
        render_task("render", app),
        module_task("gitops_diff", "before", app),
        module_task("gitops_sync", "sync", app),
        module_task("gitops_sync", "again", app),
    ])
    render = first["render"]
    assert render["failed"] is False, render
    assert render["revision"] == chart_sha and render["revisions"] == [chart_sha, values_sha]
    assert [(s["path"], s["renderer"], s["objects"]) for s in render["source_revisions"]] == [
        ("charts/web", "helm", 1), ("apps", "directory", 1)]
    config = manifest(render, "ConfigMap", "sources-web-config")
    assert config["data"]["replicas"] == "3" and config["data"]["motd"] == "welcome, prod"
    assert first["before"]["failed"] is False, first["before"]
    assert first["before"]["revisions"] == [chart_sha, values_sha] and first["before"]["changed"] is False
    sync = first["sync"]
    assert sync["failed"] is False, sync
    assert sync["revision"] == chart_sha and sync["revisions"] == [chart_sha, values_sha]
    assert set(resources_by_kind_name(sync)) >= {"ConfigMap/sources-web-config", "ConfigMap/sources-extra"}
    assert kubectl.get("configmap", "sources-web-config", "-n", namespace)["data"]["replicas"] == "3"
    assert first["again"]["changed"] is False

    # a new commit in the values repository alone changes what the chart renders
    new_values_sha = values.commit({"envs/prod/values.yaml": "replicas: 5\n"}, "scale prod")
    second = run(ansible_playbook, tmp_path, [module_task("gitops_sync", "scaled", app)])
    scaled = second["scaled"]
    assert scaled["changed"] is True and scaled["revisions"] == [chart_sha, new_values_sha]
    assert kubectl.get("configmap", "sources-web-config", "-n", namespace)["data"]["replicas"] == "5"
    parents = [item for item in kubectl.get("configmap", "-n", namespace)["items"]
               if item["metadata"]["name"].startswith("applyset-")]
    (inventory,) = [json.loads(value) for item in parents for value in item["data"].values()]
    assert inventory["revision"] == chart_sha
    assert [(entry["revision"], entry["revisions"]) for entry in inventory["history"]] == [
        (chart_sha, [chart_sha, values_sha]), (chart_sha, [chart_sha, new_values_sha])]


def test_bad_multi_source_input_fails_naming_the_application_and_source_and_writes_nothing(
        kubectl, namespace, ansible_playbook, git_repo, tmp_path):
    charts, values = git_repo("charts"), git_repo("values")
    charts.commit({**CHART_FILES, "plain/extra.yaml": CM.format(name="sources-extra", value="twice")}, "chart")
    values.commit(VALUES_FILES, "values")
    chart = {"repoURL": charts.url, "targetRevision": "main", "path": "charts/web"}
    values_ref = {"repoURL": values.url, "targetRevision": "main", "ref": "values"}

    def app(*sources: dict) -> dict:
        return argo_app("sources-bad", namespace, list(sources))

    result = run(ansible_playbook, tmp_path, [
        module_task("gitops_sync", "unknown_ref", app({**chart, "helm": {"valueFiles": ["$vals/envs/prod/values.yaml"]}},
                                                      values_ref)),
        module_task("gitops_sync", "duplicate", app({**chart, "path": "plain"}, {**values_ref, "path": "apps"})),
        module_task("gitops_sync", "missing_values", app({**chart, "helm": {"valueFiles": ["$values/envs/dev/values.yaml"]}},
                                                         values_ref)),
        module_task("gitops_sync", "ignored_missing", app(
            {**chart, "helm": {"valueFiles": ["$values/envs/dev/values.yaml"], "ignoreMissingValueFiles": True}},
            values_ref)),
    ])
    unknown = result["unknown_ref"]
    assert unknown["failed"] and unknown["error_type"] == "SpecError"
    assert "application 'sources-bad'" in unknown["msg"]
    assert "spec.sources[0].helm: $vals names no ref source (available: $values)" in unknown["msg"]

    duplicate = result["duplicate"]
    assert duplicate["failed"] and duplicate["error_type"] == "RenderError"
    assert "ConfigMap" in duplicate["msg"] and "sources-extra" in duplicate["msg"]
    assert "source 1" in duplicate["msg"] and "source 2 (ref values)" in duplicate["msg"]
    assert "plain/extra.yaml" in duplicate["msg"] and "apps/extra.yaml" in duplicate["msg"]

    missing = result["missing_values"]
    assert missing["failed"] and missing["error_type"] == "RenderError"
    assert "source 1: value file '$values/envs/dev/values.yaml' does not exist in the repository of $values" in missing["msg"]
    assert missing["file"] == "$values/envs/dev/values.yaml"
    # nothing was applied by the failed ones (the namespace holds only what the last, valid one synced)
    names = {item["metadata"]["name"] for item in kubectl.get("configmap", "-n", namespace)["items"]}
    assert result["ignored_missing"]["failed"] is False, result["ignored_missing"]
    assert "sources-extra" not in names and "sources-bad-config" in names


def test_the_policy_vets_the_repository_of_every_source_before_anything_is_fetched(
        kubectl, namespace, ansible_playbook, git_repo, tmp_path):
    charts, values = git_repo("charts"), git_repo("values")
    charts.commit(CHART_FILES, "chart")
    values.commit(VALUES_FILES, "values")
    app = argo_app("sources-policy", namespace, [
        {"repoURL": charts.url, "targetRevision": "main", "path": "charts/web",
         "helm": {"valueFiles": ["$values/envs/prod/values.yaml"]}},
        {"repoURL": values.url, "targetRevision": "main", "ref": "values"}])
    result = run(ansible_playbook, tmp_path, [
        module_task("gitops_sync", "refused", app, policy={"allowed_repos": [charts.url]})])
    refused = result["refused"]
    assert refused["failed"] and refused["msg"].startswith(
        f"application 'sources-policy': policy: repository {values.url} is not allowed"), refused["msg"]
    assert [item["metadata"]["name"] for item in kubectl.get("configmap", "-n", namespace)["items"]] == ["kube-root-ca.crt"]
    assert not (tmp_path / "cache" / "render").exists()


# -- Helm options ---------------------------------------------------------------------------------------


def test_helm_options_argo_cd_documents_are_applied(ansible_playbook, git_repo, tmp_path):
    repo = git_repo("charts")
    repo.commit({**CHART_FILES, **TEST_HOOK, "charts/web/motd.txt": "line one\nline two, with a comma\n"}, "chart")
    base = {"repoURL": repo.url, "path": "charts/web"}

    def app(name: str, helm: dict) -> dict:
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
                "spec": {"source": {**base, "helm": helm}, "destination": {"namespace": "team-a"}}}

    result = run(ansible_playbook, tmp_path, [
        render_task("plain", app("sources-plain", {})),
        render_task("tuned", app("sources-tuned", {
            "version": "v3", "namespace": "elsewhere", "skipTests": True, "ignoreMissingValueFiles": True,
            "valueFiles": ["missing.yaml"], "valuesObject": {"greeting": "hi", "replicas": 2},
            "fileParameters": [{"name": "motd", "path": "motd.txt"}]})),
        render_task("values_string", app("sources-string", {"values": "greeting: from a string\n"})),
        render_task("schema", app("sources-schema", {"valuesObject": {"replicas": "many"}})),
        render_task("schema_skipped", app("sources-schema2", {"valuesObject": {"replicas": "many"}, "skipSchemaValidation": True})),
        render_task("helm2", app("sources-helm2", {"version": "v2"})),
        render_task("escaping_file", app("sources-esc", {"fileParameters": [{"name": "x", "path": "../../../etc/x"}]})),
    ])
    plain = result["plain"]
    assert sorted(m["metadata"]["name"] for m in plain["manifests"]) == ["sources-plain-config", "sources-plain-smoke"]
    assert manifest(plain, "ConfigMap", "sources-plain-config")["data"]["namespace"] == "team-a"

    tuned = result["tuned"]
    assert tuned["failed"] is False, tuned
    assert [m["metadata"]["name"] for m in tuned["manifests"]] == ["sources-tuned-config"]  # skipTests
    data = manifest(tuned, "ConfigMap", "sources-tuned-config")["data"]
    assert data == {"replicas": "2", "greeting": "hi", "namespace": "elsewhere",
                    "motd": "line one\nline two, with a comma\n", "extra": "none"}
    assert manifest(result["values_string"], "ConfigMap", "sources-string-config")["data"]["greeting"] == "from a string"
    assert result["schema"]["failed"] and "replicas" in result["schema"]["msg"]
    assert manifest(result["schema_skipped"], "ConfigMap", "sources-schema2-config")["data"]["replicas"] == "many"
    assert result["helm2"]["error_type"] == "SpecError" and "Helm 2 is not supported" in result["helm2"]["msg"]
    assert result["escaping_file"]["error_type"] == "PathEscapeError"


# -- Kustomize options ----------------------------------------------------------------------------------

KUSTOMIZE_FILES = {
    "base/kustomization.yaml": "resources: [deployment.yaml]\ncommonLabels: {team: core}\n",
    "base/deployment.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: nginx}]
        """,
    "components/probe/kustomization.yaml": """\
        apiVersion: kustomize.config.k8s.io/v1alpha1
        kind: Component
        patches:
        - target: {kind: Deployment}
          patch: |-
            - op: add
              path: /metadata/annotations
              value: {probe: "on"}
        """,
    "overlays/prod/kustomization.yaml": "resources: [../../base]\n",
    "overlays/prod/env-patch.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            spec:
              containers: [{name: web, env: [{name: ENV, value: prod}]}]
        """,
    "inflate/kustomization.yaml": """\
        helmCharts:
        - name: web
          releaseName: inflated
          valuesInline: {greeting: from kustomize}
        """,
    "inflate/charts/web/Chart.yaml": CHART_FILES["charts/web/Chart.yaml"],
    "inflate/charts/web/values.yaml": CHART_FILES["charts/web/values.yaml"],
    "inflate/charts/web/templates/config.yaml": CHART_FILES["charts/web/templates/config.yaml"],
    "remote-chart/kustomization.yaml": """\
        helmCharts:
        - name: redis
          repo: https://charts.example.org
          version: 1.0.0
        """,
}


def test_kustomize_options_argo_cd_documents_are_applied(ansible_playbook, git_repo, tmp_path):
    repo = git_repo("kustomize")
    repo.commit(KUSTOMIZE_FILES, "kustomize")

    def app(name: str, path: str, kustomize: dict) -> dict:
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
                "spec": {"source": {"repoURL": repo.url, "path": path, "kustomize": kustomize},
                         "destination": {"namespace": "team-a"}}}

    result = run(ansible_playbook, tmp_path, [
        render_task("tuned", app("sources-k", "overlays/prod", {
            "namespace": "shop", "replicas": [{"name": "web", "count": "4"}], "components": ["../../components/probe"],
            "patches": [{"path": "env-patch.yaml"},
                        {"target": {"kind": "Deployment", "name": "web"},
                         "patch": "- op: add\n  path: /spec/minReadySeconds\n  value: 7\n"}],
            "commonLabels": {"tier": "front"}, "labelWithoutSelector": True})),
        render_task("conflict", app("sources-k2", "base", {"commonLabels": {"team": "payments"}})),
        render_task("forced", app("sources-k3", "base", {"commonLabels": {"team": "payments"}, "forceCommonLabels": True})),
        render_task("inflate", app("sources-k4", "inflate", {})),
        render_task("remote_chart", app("sources-k5", "remote-chart", {})),
    ])
    tuned = result["tuned"]
    assert tuned["failed"] is False, tuned
    deployment = manifest(tuned, "Deployment", "web")
    assert deployment["metadata"]["namespace"] == "shop"
    assert deployment["spec"]["replicas"] == 4 and deployment["spec"]["minReadySeconds"] == 7
    assert deployment["metadata"]["annotations"] == {"probe": "on"}
    assert deployment["metadata"]["labels"] == {"team": "core", "tier": "front"}
    # without selector: the label is not added to the selector
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "web", "team": "core"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "ENV", "value": "prod"}]

    # kustomize edit add label refuses a label the kustomization sets, unless forced (as in Argo CD)
    conflict = result["conflict"]
    assert conflict["failed"] and conflict["error_type"] == "RenderError" and "team" in conflict["msg"], conflict
    assert manifest(result["forced"], "Deployment", "web")["metadata"]["labels"] == {"team": "payments"}

    inflated = manifest(result["inflate"], "ConfigMap", "inflated-config")
    assert inflated["data"]["greeting"] == "from kustomize"
    remote = result["remote_chart"]
    assert remote["failed"] and "allow_remote_bases" in remote["msg"] and remote["file"] == "remote-chart/kustomization.yaml"


def test_helm_and_kustomize_options_sync_and_then_show_no_drift(kubectl, namespace, ansible_playbook, git_repo, tmp_path):
    repo = git_repo("mixed")
    repo.commit({**CHART_FILES, **TEST_HOOK, **KUSTOMIZE_FILES, "charts/web/motd.txt": "hello from a file"}, "mixed")
    app = argo_app("sources-options", namespace, [
        {"repoURL": repo.url, "targetRevision": "main", "path": "charts/web",
         "helm": {"skipTests": True, "namespace": "reported-ns", "fileParameters": [{"name": "motd", "path": "motd.txt"}],
                  "valuesObject": {"replicas": 2}}},
        {"repoURL": repo.url, "targetRevision": "main", "path": "overlays/prod",
         "kustomize": {"replicas": [{"name": "web", "count": 3}], "components": ["../../components/probe"],
                       "patches": [{"path": "env-patch.yaml"}], "commonLabels": {"tier": "front"},
                       "labelWithoutSelector": True}},
    ])
    result = run(ansible_playbook, tmp_path, [
        module_task("gitops_sync", "sync", app),
        module_task("gitops_diff", "after", app),
        module_task("gitops_sync", "again", app),
    ])
    assert result["sync"]["failed"] is False, result["sync"]
    config = kubectl.get("configmap", "sources-options-config", "-n", namespace)["data"]
    assert (config["motd"], config["namespace"], config["replicas"]) == ("hello from a file", "reported-ns", "2")
    assert not kubectl.exists("pod", "sources-options-smoke", "-n", namespace)  # skipTests
    deployment = kubectl.get("deployment", "web", "-n", namespace)
    assert deployment["spec"]["replicas"] == 3 and deployment["metadata"]["annotations"]["probe"] == "on"
    assert deployment["metadata"]["labels"]["tier"] == "front"
    assert result["after"]["sync_status"] == "Synced" and result["after"]["changed"] is False
    assert result["again"]["changed"] is False


# -- Jsonnet --------------------------------------------------------------------------------------------

JSONNET_FILES = {
    "jsonnet/app/main.jsonnet": """\
        local lib = import 'naming.libsonnet';
        function(replicas=1, tier='x') [
          {apiVersion: 'v1', kind: 'ConfigMap',
           metadata: {name: lib.name(std.extVar('env'))},
           data: {replicas: std.toString(replicas), tier: tier, settings: std.toString(std.extVar('settings')),
                  app: std.extVar('app')}},
          {apiVersion: 'v1', kind: 'List', items: [
            {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'sources-from-list'}, data: {}}]},
        ]
        """,
    "jsonnet/app/one.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'sources-single'}}\n",
    "jsonnet/app/cm.yaml": CM.format(name="sources-plain-yaml", value="1"),
    "jsonnet/lib/naming.libsonnet": "{name(env):: 'sources-' + env}\n",
    "jsonnet/bad-runtime/main.jsonnet": "local x = 1;\n{\n  a: error 'the value is wrong',\n}\n",
    "jsonnet/bad-syntax/main.jsonnet": "{\n  a: 1,\n  b: ,\n}\n",
    "jsonnet/escape/main.jsonnet": "import '../../../outside.libsonnet'\n",
    "jsonnet/absolute/main.jsonnet": "import '/etc/hostname'\n",
    "jsonnet/scalar/main.jsonnet": "[1, 2]\n",
}


def test_jsonnet_with_tlas_ext_vars_and_libs_renders_and_syncs(kubectl, namespace, ansible_playbook, git_repo, tmp_path):
    repo = git_repo("jsonnet")
    repo.commit(JSONNET_FILES, "jsonnet")
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "sources-jsonnet"},
           "spec": {"source": {"repoURL": repo.url, "path": "jsonnet/app", "directory": {"jsonnet": {
               "tlas": [{"name": "replicas", "value": "2 + 1", "code": True}, {"name": "tier", "value": "web"}],
               "extVars": [{"name": "env", "value": "prod"}, {"name": "settings", "value": "{a: 1}", "code": True},
                           {"name": "app", "value": "$ARGOCD_APP_NAME in $ARGOCD_APP_NAMESPACE"}],
               "libs": ["jsonnet/lib"]}}},
               "destination": {"namespace": namespace}, "syncPolicy": {"automated": {"prune": True}}}}
    result = run(ansible_playbook, tmp_path, [
        render_task("render", app),
        module_task("gitops_sync", "sync", app),
        module_task("gitops_diff", "after", app),
        module_task("gitops_sync", "again", app),
    ])
    render = result["render"]
    assert render["failed"] is False, render
    assert sorted(m["metadata"]["name"] for m in render["manifests"]) == [
        "sources-from-list", "sources-plain-yaml", "sources-prod", "sources-single"]
    data = manifest(render, "ConfigMap", "sources-prod")["data"]
    assert data == {"replicas": "3", "tier": "web", "settings": '{"a": 1}', "app": f"sources-jsonnet in {namespace}"}
    files = {obj["name"]: src["file"] for obj, src in zip(render["objects"], render["sources"])}
    assert files["sources-prod"] == "jsonnet/app/main.jsonnet" and files["sources-single"] == "jsonnet/app/one.jsonnet"
    assert result["sync"]["failed"] is False, result["sync"]
    assert kubectl.get("configmap", "sources-prod", "-n", namespace)["data"]["tier"] == "web"
    assert result["after"]["sync_status"] == "Synced" and result["again"]["changed"] is False


def test_jsonnet_errors_name_file_and_line_and_imports_stay_in_the_repository(ansible_playbook, git_repo, tmp_path):
    repo = git_repo("jsonnet")
    repo.commit(JSONNET_FILES, "jsonnet")
    (tmp_path / "outside.libsonnet").write_text("{secret: 1}\n")

    def app(path: str) -> dict:
        return {"name": "sources-bad-jsonnet", "source": {"repo_url": repo.url, "path": path}}

    result = run(ansible_playbook, tmp_path, [
        render_task("runtime", app("jsonnet/bad-runtime")),
        render_task("syntax", app("jsonnet/bad-syntax")),
        render_task("escape", app("jsonnet/escape")),
        render_task("absolute", app("jsonnet/absolute")),
        render_task("scalar", app("jsonnet/scalar")),
        render_task("no_ext_var", app("jsonnet/app")),
    ])
    runtime = result["runtime"]
    assert runtime["failed"] and runtime["error_type"] == "RenderError"
    assert (runtime["file"], runtime["line"]) == ("jsonnet/bad-runtime/main.jsonnet", 3)
    assert "the value is wrong" in runtime["msg"] and "application 'sources-bad-jsonnet'" in runtime["msg"]
    syntax = result["syntax"]
    assert (syntax["file"], syntax["line"]) == ("jsonnet/bad-syntax/main.jsonnet", 3), syntax
    escape = result["escape"]
    assert escape["failed"] and "import '../../../outside.libsonnet' resolves outside the repository" in escape["msg"]
    assert (escape["file"], escape["line"]) == ("jsonnet/escape/main.jsonnet", 1)
    assert str(tmp_path) not in escape["msg"]
    assert result["absolute"]["failed"] and "absolute path" in result["absolute"]["msg"]
    assert result["scalar"]["failed"] and "element 0 of the array is int" in result["scalar"]["msg"]
    assert result["no_ext_var"]["failed"] and "Undefined external variable" in result["no_ext_var"]["msg"]
    assert "Traceback" not in result.stdout + result.stderr
