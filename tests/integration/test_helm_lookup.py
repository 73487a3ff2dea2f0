"""Helm's `lookup` against the real control plane, through ansible-playbook.

A chart that reuses an existing Secret's value (the usual "generate a password
unless one exists" pattern) renders the live value only when the application
opts in, with the run's own identity; without opt-in it renders what Helm and
Argo CD render, an empty lookup. A lookup the identity may not perform fails
before anything is written, naming the object.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from module_tasks import tasks
from service_accounts import namespaced_deployer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import chart_servers  # noqa: E402

LIVE_PASSWORD = "lookup-Live-Pa55-" + uuid.uuid4().hex[:8]
REPO_PASSWORD = "lookup-repo-Pa55-3e1f"
# the Secret's value when it exists, a fixed fallback when lookup finds nothing; the ConfigMap says which
SECRET_TEMPLATE = """\
{{- $existing := lookup "v1" "Secret" .Release.Namespace "db-password" }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
stringData:
  password: {{ if $existing }}{{ index $existing.data "password" | b64dec | quote }}{{ else }}"generated-fallback"{{ end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-found
data:
  found: {{ if $existing }}"yes"{{ else }}"no"{{ end }}
"""
CHART_YAML = "apiVersion: v2\nname: lookup-db\nversion: 0.1.0\n"
# what a sync needs besides the lookup (the objects, the inventory, its lease and events), but no Secrets
RULES_WITHOUT_SECRETS = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]


@pytest.fixture
def lookup_repo(git_repo, namespace, kubectl):
    """A Git repository with the chart under charts/db, and the live Secret the chart looks up."""
    repo = git_repo("lookup-charts")
    repo.commit({"charts/db/Chart.yaml": CHART_YAML, "charts/db/templates/db.yaml": SECRET_TEMPLATE})
    kubectl.run("create", "secret", "generic", "db-password", "-n", namespace, f"--from-literal=password={LIVE_PASSWORD}")
    return repo


def our_app(name: str, repo: Any, namespace: str, **helm: Any) -> dict[str, Any]:
    return {"name": name, "source": {"repo_url": repo.url, "path": "charts/db", "helm": helm},
            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}


def argocd_app(name: str, repo: Any, namespace: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"project": "default", "source": {"repoURL": repo.url, "path": "charts/db", "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": True}}}}


def module_task(module: str, register: str, application: dict[str, Any], cache_dir: Path, **options: Any) -> dict[str, Any]:
    args = {"application": application, "cache_dir": str(cache_dir), **options}
    if "host" not in options:  # a kubeconfig's client certificate would outrank the host's token
        args["kubeconfig"] = "{{ gitops_test_kubeconfig }}"
    return {"name": f"{module} {register}", f"gitops.kubernetes.{module}": args, "register": register, "ignore_errors": True}


def manifest(result: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(item for item in result["manifests"] if item["kind"] == kind)


def live_password(kubectl: Any, namespace: str, name: str) -> str:
    return base64.b64decode(kubectl.get(f"secret/{name}", "-n", namespace)["data"]["password"]).decode()


def test_lookup_renders_the_live_secret_only_with_opt_in_never_cached_and_never_shown(
        lookup_repo, namespace, kubectl, ansible_playbook, tmp_path):
    cache = tmp_path / "cache"
    annotated = argocd_app("lookup-argo", lookup_repo, namespace, {"gitops.kubernetes/helm-lookup": "true"})
    run = ansible_playbook(tasks(
        module_task("gitops_render", "plain", our_app("lookup-plain", lookup_repo, namespace), cache),
        module_task("gitops_render", "opted_in", our_app("lookup-ours", lookup_repo, namespace, lookup=True), cache),
        module_task("gitops_render", "opted_in_again", our_app("lookup-ours", lookup_repo, namespace, lookup=True), cache),
        module_task("gitops_render", "annotation_false", argocd_app("lookup-argo", lookup_repo, namespace,
                                                                    {"gitops.kubernetes/helm-lookup": "false"}), cache),
        module_task("gitops_sync", "synced", annotated, cache),
        module_task("gitops_sync", "again", annotated, cache),
        module_task("gitops_diff", "diffed", annotated, cache),
    ), diff=True, verbosity=3)
    for name in ("plain", "opted_in", "opted_in_again", "annotation_false", "synced", "again", "diffed"):
        assert not run[name].get("failed"), f"{name}: {run[name].get('msg')}"
    # without opt-in the lookup finds nothing, as in Helm's template and Argo CD
    assert manifest(run["plain"], "ConfigMap")["data"] == {"found": "no"}
    assert manifest(run["annotation_false"], "ConfigMap")["data"] == {"found": "no"}
    # with it the live Secret is read; the render depends on the cluster, so it is never served from the cache
    assert manifest(run["opted_in"], "ConfigMap")["data"] == {"found": "yes"}
    assert run["opted_in"]["cache_hit"] is False and run["opted_in_again"]["cache_hit"] is False
    assert run["plain"]["cache_hit"] is False
    # the Argo CD annotation deploys the reused value, and a second sync writes nothing
    assert run["synced"]["changed"] is True
    assert live_password(kubectl, namespace, "lookup-argo-db") == LIVE_PASSWORD
    assert kubectl.get("configmap/lookup-argo-found", "-n", namespace)["data"] == {"found": "yes"}
    assert run["again"]["changed"] is False
    assert run["diffed"]["sync_status"] == "Synced"
    # the value read from the cluster never reaches results, diffs or -vvv logs
    output = run.stdout + run.stderr + json.dumps(run.results)
    assert LIVE_PASSWORD not in output
    assert base64.b64encode(LIVE_PASSWORD.encode()).decode() not in output
    # nor the render cache on disk
    cached = "".join(path.read_text(errors="replace") for path in (cache / "render").rglob("*.json"))
    assert LIVE_PASSWORD not in cached and "lookup-ours" not in cached


def test_lookup_follows_a_changed_live_secret_on_the_next_run(lookup_repo, namespace, kubectl, ansible_playbook, tmp_path):
    cache = tmp_path / "cache"
    app = our_app("lookup-follow", lookup_repo, namespace, lookup=True)
    first = ansible_playbook(tasks(module_task("gitops_sync", "synced", app, cache)))
    assert not first["synced"].get("failed"), first["synced"].get("msg")
    assert live_password(kubectl, namespace, "lookup-follow-db") == LIVE_PASSWORD
    rotated = LIVE_PASSWORD + "-rotated"
    kubectl.run("delete", "secret", "db-password", "-n", namespace)
    kubectl.run("create", "secret", "generic", "db-password", "-n", namespace, f"--from-literal=password={rotated}")
    second = ansible_playbook(tasks(module_task("gitops_sync", "synced", app, cache)))
    assert not second["synced"].get("failed"), second["synced"].get("msg")
    # a cached render would have kept the old value
    assert second["synced"]["changed"] is True
    assert live_password(kubectl, namespace, "lookup-follow-db") == rotated


@pytest.fixture
def reader_without_secrets(cluster, kubectl, namespace, tmp_path):
    """A ServiceAccount that may manage ConfigMaps in the namespace but not read its Secrets."""
    return namespaced_deployer(cluster, kubectl, [namespace], RULES_WITHOUT_SECRETS, tmp_path)


def test_forbidden_lookup_fails_naming_the_object_and_writes_nothing(
        lookup_repo, namespace, kubectl, reader_without_secrets, ansible_playbook, tmp_path):
    account = reader_without_secrets
    connection = {"host": account["server"], "api_key": account["token"], "ca_cert": account["ca_cert"]}
    app = our_app("lookup-denied", lookup_repo, namespace, lookup=True)
    run = ansible_playbook(tasks(
        module_task("gitops_render", "rendered", app, tmp_path / "cache", **connection),
        module_task("gitops_sync", "synced", app, tmp_path / "cache", **connection),
    ), verbosity=3)
    for name in ("rendered", "synced"):
        result = run[name]
        assert result.get("failed"), f"{name} should fail"
        message = result["msg"]
        assert "lookup-denied" in message
        assert f"may not read Secret 'db-password' in namespace '{namespace}'" in message
        assert f"system:serviceaccount:{namespace}:deployer" in message and "get secrets" in message
        assert result["object"] == f"Secret {namespace}/db-password"
        assert result["file"] == "charts/db/templates/db.yaml"
    # nothing applied, no inventory recorded
    assert not kubectl.exists("configmap/lookup-denied-found", "-n", namespace)
    assert not kubectl.exists("configmap/applyset-lookup-denied", "-n", namespace)
    output = run.stdout + run.stderr + json.dumps(run.results)
    assert account["token"] not in output


@pytest.fixture
def chart_repository(tmp_path_factory):
    base = tmp_path_factory.mktemp("lookup-chart-repo")
    pki = chart_servers.write_pki(base / "pki")
    repository = chart_servers.ChartRepository(base / "repository", pki, "ci", REPO_PASSWORD).start()
    try:
        repository.publish(chart_servers.write_chart(base / "charts", "lookup-db", "0.1.0", {"db.yaml": SECRET_TEMPLATE}))
        yield {"url": repository.url, "ca_file": str(pki.ca_file)}
    finally:
        repository.stop()


def test_lookup_works_for_a_chart_from_a_chart_repository(chart_repository, namespace, kubectl, ansible_playbook, tmp_path):
    kubectl.run("create", "secret", "generic", "db-password", "-n", namespace, f"--from-literal=password={LIVE_PASSWORD}")
    repositories = [{"url": chart_repository["url"], "username": "ci", "password": REPO_PASSWORD,
                     "ca_file": chart_repository["ca_file"], "type": "helm"}]

    def app(name: str, **helm: Any) -> dict[str, Any]:
        return {"name": name, "source": {"repo_url": chart_repository["url"], "chart": "lookup-db", "revision": "0.1.0",
                                         "helm": helm},
                "destination": {"namespace": namespace}}

    run = ansible_playbook(tasks(
        module_task("gitops_render", "plain", app("lookup-chart"), tmp_path / "cache", repositories=repositories),
        module_task("gitops_render", "opted_in", app("lookup-chart", lookup=True), tmp_path / "cache", repositories=repositories),
    ))
    for name in ("plain", "opted_in"):
        assert not run[name].get("failed"), f"{name}: {run[name].get('msg')}"
    assert manifest(run["plain"], "ConfigMap")["data"] == {"found": "no"}
    assert manifest(run["opted_in"], "ConfigMap")["data"] == {"found": "yes"}
    assert run["opted_in"]["cache_hit"] is False
