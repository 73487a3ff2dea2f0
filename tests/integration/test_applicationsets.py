"""Argo CD ApplicationSet manifests, unchanged, through the applications role and gitops_applicationset,
against real Git repositories and the local control plane."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from module_tasks import tasks


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  app: {name}\n"


def applicationset(name: str, generators: list, template: dict, go: bool = True, **spec) -> dict:
    body = {"generators": generators, "template": template, **spec}
    if go:
        body["goTemplate"] = True
        body.setdefault("goTemplateOptions", ["missingkey=error"])
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": name}, "spec": body}


def app_template(app_name: str, repo_url: str, path: str, namespace: str, **destination) -> dict:
    return {"metadata": {"name": app_name},
            "spec": {"project": "default", "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
                     "destination": {"namespace": namespace, **destination},
                     "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]}}}


def write_file(tmp_path: Path, *manifests: dict) -> str:
    """ApplicationSets in a file, as users keep them: Ansible would template their {{ }} in variables."""
    path = tmp_path / f"appsets-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
    return str(path)


def parents(kubectl, appset: str) -> list[str]:
    found = kubectl.get("configmaps", "-A", "-l", f"gitops.kubernetes/applicationset={appset}")
    return sorted(item["metadata"]["name"] for item in found["items"])


@pytest.mark.parametrize("preserve", [False, True], ids=["deleted", "preserved"])
def test_git_directories_applicationset_syncs_each_directory_and_handles_a_removed_one(
        run_role, git_repo, kubectl, namespace, preserve, tmp_path):
    repo = git_repo()
    repo.commit({f"apps/{name}/cm.yaml": configmap(f"{name}-config") for name in ("alpha", "beta")})
    appset_name = f"appsets-dirs-{uuid.uuid4().hex[:6]}"
    manifest = applicationset(appset_name, [{"git": {"repoURL": repo.url, "revision": "main",
                                                     "directories": [{"path": "apps/*"}]}}],
                              app_template("appsets-{{ .path.basename }}", repo.url, "{{ .path.path }}", namespace),
                              syncPolicy={"preserveResourcesOnDeletion": preserve})
    host = {"prod": {"gitops_applicationset_files": [write_file(tmp_path, manifest)]}}
    run = run_role("gitops.kubernetes.sync", host)
    assert run.rc == 0, run.stdout[-3000:]
    assert [app["name"] for app in run.report["clusters"][0]["applications"]] == ["appsets-alpha", "appsets-beta"]
    assert kubectl.exists("configmap/alpha-config", "-n", namespace) and kubectl.exists("configmap/beta-config", "-n", namespace)
    assert parents(kubectl, appset_name) == ["applyset-appsets-alpha", "applyset-appsets-beta"]

    again = run_role("gitops.kubernetes.sync", host)
    assert again.rc == 0 and again.recap("prod")["changed"] == 0, again.stdout[-3000:]

    repo.commit({"apps/beta/cm.yaml": None}, "beta leaves")
    removed = run_role("gitops.kubernetes.sync", host)
    assert removed.rc == 0, removed.stdout[-3000:]
    assert parents(kubectl, appset_name) == ["applyset-appsets-alpha"]
    assert kubectl.exists("configmap/alpha-config", "-n", namespace)
    assert kubectl.exists("configmap/beta-config", "-n", namespace) is preserve


def test_matrix_of_clusters_and_git_directories_routes_each_application_to_its_inventory_host(
        run_role, git_repo, kubectl, namespace, tmp_path):
    repo = git_repo()
    repo.commit({f"addons/{name}/cm.yaml": configmap(f"{name}-addon") for name in ("metrics", "logging")})
    appset_name = f"appsets-matrix-{uuid.uuid4().hex[:6]}"
    manifest = applicationset(appset_name, [{"matrix": {"generators": [
        {"clusters": {"selector": {"matchLabels": {"tier": "edge"}}}},
        {"git": {"repoURL": repo.url, "revision": "main", "directories": [{"path": "addons/*"}]}},
    ]}}], app_template("appsets-{{ .path.basename }}-{{ .name }}", repo.url, "{{ .path.path }}",
                       namespace + "-{{ .name }}", name="{{ .name }}"))
    files = [write_file(tmp_path, manifest)]
    hosts = {"east": {"gitops_cluster_labels": {"tier": "edge"}, "gitops_applicationset_files": files},
             "west": {"gitops_cluster_labels": {"tier": "edge"}, "gitops_applicationset_files": files},
             "core": {"gitops_cluster_labels": {"tier": "core"}, "gitops_applicationset_files": files}}
    try:
        run = run_role("gitops.kubernetes.sync", hosts)
        assert run.rc == 0, run.stdout[-3000:]
        by_cluster = {entry["name"]: sorted(app["name"] for app in entry["applications"]) for entry in run.report["clusters"]}
        assert by_cluster["east"] == ["appsets-logging-east", "appsets-metrics-east"]
        assert by_cluster["west"] == ["appsets-logging-west", "appsets-metrics-west"]
        assert by_cluster.get("core", []) == []
        for host in ("east", "west"):
            assert kubectl.exists("configmap/metrics-addon", "-n", f"{namespace}-{host}")
    finally:
        for host in ("east", "west"):
            kubectl.run("delete", "namespace", f"{namespace}-{host}", "--wait=false", "--ignore-not-found", check=False)


def generate(ansible_playbook, tmp_path: Path, manifests: list, clusters: list | None = None, cluster: str | None = None):
    args = {"applicationset_files": [write_file(tmp_path, *manifests)], "clusters": clusters or []}
    if cluster:
        args["cluster"] = {"name": cluster}
    return ansible_playbook(tasks({"name": "generate", "gitops.kubernetes.gitops_applicationset": args,
                                   "register": "generated", "ignore_errors": True}))["generated"]


def test_merge_of_clusters_and_list_through_the_module_overrides_by_server(ansible_playbook, tmp_path):
    manifest = applicationset("appsets-merge", [{"merge": {"mergeKeys": ["server"], "generators": [
        {"clusters": {"values": {"size": "small"}}},
        {"list": {"elements": [{"server": "https://10.0.0.2:6443", "values": {"size": "large"}}]}},
    ]}}], app_template("{{ .name }}-{{ .values.size }}", "https://git.example/apps.git", "apps", "web", server="{{ .server }}"))
    clusters = [{"name": "staging", "server": "https://10.0.0.1:6443"}, {"name": "production", "server": "https://10.0.0.2:6443"}]
    generated = generate(ansible_playbook, tmp_path, [manifest], clusters, "production")
    assert generated["names"] == ["production-large"], generated
    assert generated["applicationsets"]["appsets-merge"]["elsewhere"] == ["staging-small"]
    assert generated["generated"][0]["spec"]["destination"] == {"namespace": "web"}


def test_both_template_forms_and_a_missing_key_error_through_the_module(ansible_playbook, tmp_path):
    elements = [{"cluster": "Engineering-Dev", "url": "https://kubernetes.default.svc"}]
    fast = applicationset("appsets-fast", [{"list": {"elements": elements}}],
                          app_template("{{cluster}}-guestbook-{{nope}}", "https://git.example/apps.git", "{{cluster}}", "web"), go=False)
    fast["spec"]["template"]["metadata"]["name"] = "guestbook-{{cluster}}"
    fast["spec"]["generators"][0]["list"]["elements"] = [{"cluster": "engineering-dev"}]
    fast["spec"]["template"]["spec"]["source"]["path"] = "{{cluster}}-{{nope}}"
    go = applicationset("appsets-go", [{"list": {"elements": elements}}],
                        app_template("{{ .cluster | lower }}-guestbook", "https://git.example/apps.git",
                                     '{{ printf "envs/%s" .cluster }}', "web"),
                        templatePatch='spec:\n  source:\n    directory:\n      include: "{{ .cluster }}.yaml"\n')
    generated = generate(ansible_playbook, tmp_path, [fast, go])
    assert generated["names"] == ["guestbook-engineering-dev", "engineering-dev-guestbook"], generated
    fast_app, go_app = generated["generated"]
    assert fast_app["spec"]["source"]["path"] == "engineering-dev-{{nope}}"  # an unknown tag stays as written
    assert go_app["spec"]["source"]["path"] == "envs/Engineering-Dev"
    assert go_app["spec"]["source"]["directory"] == {"include": "Engineering-Dev.yaml"}
    missing = applicationset("appsets-missing", [{"list": {"elements": elements}}],
                             app_template("{{ .cluster }}-{{ .region }}", "https://git.example/apps.git", "apps", "web"))
    failed = generate(ansible_playbook, tmp_path, [missing])
    assert failed["failed"] is True
    assert 'ApplicationSet appsets-missing: generators[0] template: failed to execute go template {{ .cluster }}-{{ .region }}' in failed["msg"]
    assert 'map has no entry for key "region"' in failed["msg"]
    assert json.dumps(elements[0]["cluster"]) in failed["msg"]  # the parameters that failed are named


def argo_application(name: str, repo_url: str, path: str, namespace: str, automated: bool = True) -> str:
    policy = "  syncPolicy:\n    automated:\n      prune: true\n" if automated else ""
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n"
            f"spec:\n  project: default\n  source:\n    repoURL: {repo_url}\n    targetRevision: main\n    path: {path}\n"
            f"  destination:\n    server: https://kubernetes.default.svc\n    namespace: {namespace}\n{policy}")


def test_app_of_apps_of_two_levels_is_synced_end_to_end_through_the_role(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    team_set = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "appsets-svc"},
                "spec": {"generators": [{"list": {"elements": [{"svc": "api"}]}}],
                         "template": {"metadata": {"name": "appsets-svc-{{svc}}"},
                                      "spec": {"project": "default", "source": {"repoURL": repo.url, "targetRevision": "main",
                                                                                "path": "services/{{svc}}"},
                                               "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                                               # without automated an Application is manual: a scheduled run only reports it
                                               "syncPolicy": {"automated": {}}}}}}
    repo.commit({
        "root/team.yaml": argo_application("appsets-team", repo.url, "team", namespace),
        "root/own.yaml": configmap("root-own"),
        "team/web.yaml": argo_application("appsets-web", repo.url, "web", namespace),
        "team/services.yaml": yaml.safe_dump(team_set),
        "web/cm.yaml": configmap("web-config"),
        "services/api/cm.yaml": configmap("api-config"),
    })
    root = {"name": "appsets-root", "source": {"repo_url": repo.url, "revision": "main", "path": "root"},
            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}
    run = run_role("gitops.kubernetes.sync", {"prod": {"gitops_applications": [root]}})
    assert run.rc == 0, run.stdout[-3000:]
    assert kubectl.exists("configmap/root-own", "-n", namespace)
    assert kubectl.exists("configmap/web-config", "-n", namespace)
    assert kubectl.exists("configmap/api-config", "-n", namespace)
    assert run.application("prod", "appsets-web")["revision"] == repo.commits[-1]
    result = kubectl.get("configmaps", "-n", namespace, "-l", "gitops.kubernetes/application")
    # appsets-team renders nothing but its children: it has no objects, so no inventory of its own
    assert sorted(item["metadata"]["name"] for item in result["items"]) == [
        "applyset-appsets-root", "applyset-appsets-svc-api", "applyset-appsets-web"]
    assert run.application("prod", "appsets-team")["sync_status"] == "Synced"
    # the report shows the tree: which application rendered which
    assert run.application("prod", "appsets-web")["parent"] == "appsets-team"
    assert run.application("prod", "appsets-svc-api")["parent"] == "appsets-team"
    assert run.application("prod", "appsets-team")["parent"] == "appsets-root"
    assert any(line.startswith("prod/appsets-team -> appsets-web: Synced") for line in run.summary())
    again = run_role("gitops.kubernetes.sync", {"prod": {"gitops_applications": [root]}})
    assert again.rc == 0 and again.recap("prod")["changed"] == 0, again.stdout[-3000:]
    # with an owner the role deletes the applications it recorded and no longer lists; children are listed by
    # their parent's render, so they are never taken for removed ones
    owned = {"prod": {"gitops_applications": [root], "gitops_owner": "appsets-platform"}}
    assert run_role("gitops.kubernetes.sync", owned).rc == 0
    owned_again = run_role("gitops.kubernetes.sync", owned)
    assert owned_again.rc == 0 and owned_again.recap("prod")["changed"] == 0, owned_again.stdout[-3000:]
    assert kubectl.exists("configmap/web-config", "-n", namespace)


def test_app_of_apps_cycle_is_refused_and_nothing_of_its_parent_is_applied(ansible_playbook, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"root/back.yaml": argo_application("appsets-loop-child", repo.url, "child", namespace),
                 "child/back.yaml": argo_application("appsets-loop", repo.url, "root", namespace),
                 "child/cm.yaml": configmap("loop-config")})
    root = {"name": "appsets-loop", "source": {"repo_url": repo.url, "revision": "main", "path": "root"},
            "destination": {"namespace": namespace}}
    result = ansible_playbook(tasks({"name": "sync", "gitops.kubernetes.gitops_sync": {
        "applications": [root], "kubeconfig": "{{ gitops_test_kubeconfig }}"}, "register": "synced", "ignore_errors": True}))["synced"]
    assert result["failed"] is True
    child = next(entry for entry in result["applications"] if entry["name"] == "appsets-loop-child")
    assert child["parent"] == "appsets-loop"
    assert "app of apps cycle: appsets-loop -> appsets-loop-child -> appsets-loop" in child["error"]
    assert not kubectl.exists("configmap/loop-config", "-n", namespace)
