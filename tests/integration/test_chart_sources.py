"""Charts from a real HTTPS chart repository and a real OCI registry (CNCF Distribution), through ansible-playbook.

The servers run on 127.0.0.1 for the whole module (hack/chart_servers.py),
with basic auth, htpasswd and TLS from a CA generated here; charts are
packaged, indexed and pushed with the real helm.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from module_tasks import tasks

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import chart_servers  # noqa: E402

REPO_PASSWORD = "repo-Pa55-7f3c1e"
REGISTRY_PASSWORD = "registry-Pa55-91ab2d"
CONFIG_MAP = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n"
              "data:\n  version: {{ .Chart.Version | quote }}\n  greeting: {{ .Values.greeting | default \"hello\" | quote }}\n")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("chart-servers")
    pki = chart_servers.write_pki(base / "pki")
    repository = chart_servers.ChartRepository(base / "repository", pki, "ci", REPO_PASSWORD).start()
    registry = chart_servers.OciRegistry(base / "registry", pki, "ci", REGISTRY_PASSWORD).start()
    try:
        sources = base / "charts"
        for version in ("1.0.0", "1.2.0", "1.2.5", "2.0.0-rc.1"):
            archive = repository.publish(chart_servers.write_chart(sources, "web", version, {"cm.yaml": CONFIG_MAP}))
            registry.push(archive)
        repository.publish(chart_servers.write_chart(sources, "httplib", "0.1.0", {"cm.yaml": CONFIG_MAP}))
        registry.push(chart_servers.package_chart(chart_servers.write_chart(sources, "ocilib", "0.2.0", {"cm.yaml": CONFIG_MAP}),
                                                  base / "packages"))
        yield {"repository": repository, "registry": registry, "pki": pki, "base": base}
    finally:
        registry.stop()
        repository.stop()


def credentials(servers: dict[str, Any], **override: Any) -> list[dict[str, Any]]:
    """Entries for both servers, by URL prefix (the registry's without its path and scheme-less)."""
    ca_file = str(servers["pki"].ca_file)
    return [
        {"url": servers["repository"].url, "username": "ci", "password": REPO_PASSWORD, "ca_file": ca_file, "type": "helm",
         **override},
        {"url": servers["registry"].host, "username": "ci", "password": REGISTRY_PASSWORD, "ca_file": ca_file, "type": "oci",
         **override},
    ]


def chart_app(name: str, repo_url: str, revision: str, namespace: str, **source: Any) -> dict[str, Any]:
    return {"name": name, "source": {"repo_url": repo_url, "chart": "web", "revision": revision, **source},
            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}


def module_task(module: str, register: str, application: dict[str, Any], repositories: list[dict[str, Any]],
                cache_dir: Path, **options: Any) -> dict[str, Any]:
    args = {"application": application, "repositories": repositories, "cache_dir": str(cache_dir), **options}
    if module != "gitops_render":
        args["kubeconfig"] = "{{ gitops_test_kubeconfig }}"
    return {"name": f"{module} {register}", f"gitops.kubernetes.{module}": args, "register": register, "ignore_errors": True}


def test_chart_from_https_repository_resolves_constraint_renders_diffs_and_syncs_with_version_as_revision(
        servers, namespace, kubectl, ansible_playbook, tmp_path):
    url = servers["repository"].url
    app = chart_app("charts-web", url, "^1", namespace)  # 2.0.0-rc.1 is a prerelease: not asked for
    run = ansible_playbook(tasks(
        module_task("gitops_render", "rendered", app, credentials(servers), tmp_path / "cache"),
        module_task("gitops_diff", "before", app, credentials(servers), tmp_path / "cache"),
        module_task("gitops_sync", "synced", app, credentials(servers), tmp_path / "cache"),
        module_task("gitops_sync", "again", app, credentials(servers), tmp_path / "cache"),
        module_task("gitops_diff", "after", app, credentials(servers), tmp_path / "cache"),
    ))
    rendered = run["rendered"]
    assert not rendered.get("failed"), rendered.get("msg")
    assert rendered["revision"].startswith("1.2.5@sha256:") and len(rendered["revision"]) == len("1.2.5@sha256:") + 64
    assert rendered["commit"]["sha"] == rendered["revision"].split("@", 1)[1]
    assert rendered["sources"] == [{"file": f"{url} web@1.2.5/templates/cm.yaml", "line": None}]
    assert run["before"]["sync_status"] == "OutOfSync" and run["before"]["revision"] == rendered["revision"]
    assert run["synced"]["changed"] is True and run["synced"]["revision"] == rendered["revision"]
    assert kubectl.get("configmap/charts-web-web", "-n", namespace)["data"]["version"] == "1.2.5"
    # the revision is recorded on the inventory parent and in its sync history, as a commit would be
    document = json.loads(kubectl.get("configmap/applyset-charts-web", "-n", namespace)["data"]["inventory"])
    assert document["revision"] == rendered["revision"] and document["history"][0]["revision"] == rendered["revision"]
    assert run["again"]["changed"] is False
    assert run["after"]["sync_status"] == "Synced"


def test_chart_from_oci_registry_in_argocd_scheme_less_form_syncs(servers, namespace, kubectl, ansible_playbook, tmp_path):
    registry = servers["registry"]
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "charts-oci"},
        "spec": {"project": "default",
                 "source": {"repoURL": f"{registry.host}/charts", "chart": "web", "targetRevision": "1.2.*",
                            "helm": {"releaseName": "oci", "values": "greeting: from-oci\n", "passCredentials": False}},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                 "syncPolicy": {"automated": {"prune": True}}},
    }
    run = ansible_playbook(tasks(
        module_task("gitops_sync", "synced", manifest, credentials(servers), tmp_path / "cache"),
        module_task("gitops_sync", "again", manifest, credentials(servers), tmp_path / "cache"),
    ))
    assert not run["synced"].get("failed"), run["synced"].get("msg")
    assert run["synced"]["revision"].startswith("1.2.5@sha256:")
    data = kubectl.get("configmap/oci-web", "-n", namespace)["data"]
    assert data == {"version": "1.2.5", "greeting": "from-oci"}
    assert run["again"]["changed"] is False


def test_credentials_never_appear_in_vvv_output_even_when_refused(servers, namespace, ansible_playbook, tmp_path):
    good = chart_app("charts-secret", servers["repository"].url, "1.2.0", namespace)
    refused = chart_app("charts-refused", f"oci://{servers['registry'].host}/charts", "1.2.0", namespace)
    wrong = credentials(servers, password="wrong-Pa55-d00d")
    run = ansible_playbook(tasks(
        module_task("gitops_sync", "synced", good, credentials(servers), tmp_path / "cache"),
        module_task("gitops_render", "denied", refused, wrong, tmp_path / "cache"),
    ), verbosity=3)
    assert not run["synced"].get("failed"), run["synced"].get("msg")
    assert run["denied"]["failed"] and "HTTP 401" in run["denied"]["msg"]
    output = run.stdout + run.stderr + json.dumps(run.results)
    for secret in (REPO_PASSWORD, REGISTRY_PASSWORD, "wrong-Pa55-d00d"):
        assert secret not in output
    # the repository URL, unlike the password, stays readable in what -vvv shows
    assert servers["repository"].url in output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bad_chart_sources_fail_naming_application_and_source_and_change_nothing(
        servers, namespace, kubectl, ansible_playbook, tmp_path):
    repo_url, oci_url = servers["repository"].url, f"oci://{servers['registry'].host}/charts"
    good = chart_app("charts-bad", repo_url, "1.0.0", namespace)
    unpinned = dict(good, source={**good["source"], "revision": "1.0.*"})
    no_ca = [{key: value for key, value in entry.items() if key != "ca_file"} for entry in credentials(servers)]
    cases = {
        "missing_chart": (dict(good, source={**good["source"], "chart": "nope"}), credentials(servers),
                          "chart 'nope' is not in the index of"),
        "no_version": (dict(good, source={**good["source"], "revision": "~3.1"}), credentials(servers),
                       "has no version matching '~3.1' (newest versions: 2.0.0-rc.1, 1.2.5, 1.2.0, 1.0.0)"),
        # a constraint, so that the index is asked for (the pinned 1.0.0 is in the cache and needs no request)
        "unauthorized": (unpinned, credentials(servers, password="nope"), "refused access (HTTP 401)"),
        "oci_unauthorized": (dict(good, source={**good["source"], "repo_url": oci_url}), credentials(servers, password="x"),
                             "refused access (HTTP 401)"),
        "tls": (unpinned, no_ca, "TLS verification of"),
        "unreachable": (dict(good, source={**good["source"], "repo_url": f"https://127.0.0.1:{closed_port()}"}),
                        credentials(servers), "is unreachable"),
    }
    run = ansible_playbook(tasks(
        module_task("gitops_sync", "first", good, credentials(servers), tmp_path / "cache"),
        *[module_task("gitops_sync", name, app, repositories, tmp_path / "cache") for name, (app, repositories, dummy) in cases.items()],
    ))
    assert not run["first"].get("failed"), run["first"].get("msg")
    for name, (app, dummy, expected) in cases.items():
        assert run[name].get("failed"), name
        message = run[name]["msg"]
        assert message.startswith("application 'charts-bad'"), message
        assert f"source {app['source']['repo_url']} chart {app['source']['chart']}" in message, message
        assert expected in message, message
    # the first sync's object is still there, untouched: nothing was applied or pruned
    assert kubectl.get("configmap/charts-bad-web", "-n", namespace)["data"]["version"] == "1.0.0"


def test_chart_dependencies_from_https_and_oci_are_fetched_with_credentials_and_built_once(
        servers, namespace, kubectl, ansible_playbook, git_repo, tmp_path):
    repo_url, registry = servers["repository"].url, servers["registry"]
    repo = git_repo()
    repo.commit({
        "app/Chart.yaml": f"""
            apiVersion: v2
            name: shop
            version: 0.1.0
            dependencies:
              - name: httplib
                version: "0.1.*"
                repository: {repo_url}
              - name: ocilib
                version: 0.2.0
                repository: oci://{registry.host}/charts
              - name: vendored
                version: 1.0.0
            """,
        "app/charts/vendored/Chart.yaml": "apiVersion: v2\nname: vendored\nversion: 1.0.0\n",
        "app/charts/vendored/templates/cm.yaml": CONFIG_MAP,
        "app/templates/cm.yaml": CONFIG_MAP,
    })

    def app(greeting: str) -> dict[str, Any]:
        return {"name": "charts-deps", "source": {"repo_url": repo.url, "revision": "main", "path": "app",
                                                  "helm": {"values": {"greeting": greeting}}},
                "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}

    requests = servers["repository"].requests
    run = ansible_playbook(tasks(module_task("gitops_sync", "synced", app("one"), credentials(servers), tmp_path / "cache")))
    assert not run["synced"].get("failed"), run["synced"].get("msg")
    names = {item["metadata"]["name"] for item in kubectl.get("configmaps", "-n", namespace)["items"]}
    assert {"charts-deps-shop", "charts-deps-httplib", "charts-deps-ocilib", "charts-deps-vendored"} <= names
    archive_downloads = requests.count("/httplib-0.1.0.tgz")
    assert archive_downloads == 1
    # other values: a new render, but the dependency build of the unchanged chart comes from the cache
    run = ansible_playbook(tasks(module_task("gitops_sync", "changed", app("two"), credentials(servers), tmp_path / "cache")))
    assert not run["changed"].get("failed"), run["changed"].get("msg")
    assert kubectl.get("configmap/charts-deps-httplib", "-n", namespace)["data"]["greeting"] == "hello"
    assert kubectl.get("configmap/charts-deps-shop", "-n", namespace)["data"]["greeting"] == "two"
    assert requests.count("/httplib-0.1.0.tgz") == archive_downloads
    # a dependency that cannot be fetched fails the render, naming Chart.yaml; nothing is pruned
    repo.commit({"app/Chart.yaml": f"""
        apiVersion: v2
        name: shop
        version: 0.1.0
        dependencies:
          - name: missing
            version: 9.9.9
            repository: {repo_url}
        """})
    run = ansible_playbook(tasks(module_task("gitops_sync", "broken", app("two"), credentials(servers), tmp_path / "cache")))
    assert run["broken"]["failed"]
    assert run["broken"]["msg"].startswith("application 'charts-deps', app/Chart.yaml: chart dependencies could not be fetched")
    assert REPO_PASSWORD not in json.dumps(run.results) + run.stdout
    assert kubectl.exists("configmap/charts-deps-httplib", "-n", namespace)


def test_constraint_costs_one_index_request_per_run_and_a_cached_pin_none(servers, namespace, ansible_playbook, tmp_path):
    url = servers["repository"].url
    apps = [chart_app(f"charts-many-{index}", url, "1.*", namespace) for index in range(3)]
    requests = servers["repository"].requests
    before = len(requests)
    sync_many = {"name": "sync many", "gitops.kubernetes.gitops_sync": {
        "kubeconfig": "{{ gitops_test_kubeconfig }}", "applications": apps, "repositories": credentials(servers),
        "cache_dir": str(tmp_path / "cache")}, "register": "many", "ignore_errors": True}
    run = ansible_playbook(tasks(sync_many))
    assert not run["many"].get("failed"), run["many"].get("msg")
    assert requests[before:].count("/index.yaml") == 1
    # a pinned version already in the cache renders with no request at all
    pinned = chart_app("charts-pinned", url, "1.2.5", namespace)
    ansible_playbook(tasks(module_task("gitops_render", "first", pinned, credentials(servers), tmp_path / "cache")))
    before = len(requests)
    run = ansible_playbook(tasks(module_task("gitops_render", "second", pinned, credentials(servers), tmp_path / "cache")))
    assert not run["second"].get("failed"), run["second"].get("msg")
    assert run["second"]["revision"].startswith("1.2.5@sha256:") and run["second"]["cache_hit"] is True
    assert requests[before:] == []
