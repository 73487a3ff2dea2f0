"""Preview a change before it merges: the drift playbook with gitops_preview_revision, against the local control plane.

A real Git repository with a branch; the applications are synced from main
first, then previewed at the branch. kubectl observes that the preview writes
nothing (every resourceVersion unchanged, no new object); preview.md is read
as a reviewer would.
"""

from __future__ import annotations

import json
import re

import pytest

from role_helpers import SECRET_VALUE, application, role_runner, web_app
from service_accounts import namespaced_deployer


@pytest.fixture
def run_role(tmp_path, cluster):
    return role_runner(tmp_path, cluster)


def resource_versions(kubectl, namespace: str) -> dict[str, str]:
    """Every object of the kinds an application or a run could write in the namespace, by kind/name."""
    listed = json.loads(kubectl.run("get", "deployments,configmaps,secrets,leases,events", "-n", namespace,
                                    "-o", "json").stdout)["items"]
    return {f"{item['kind']}/{item['metadata']['name']}": item["metadata"]["resourceVersion"] for item in listed}


def branch(repo, name: str, files: dict[str, str | None]) -> str:
    """A branch off main with one commit; main stays checked out."""
    repo.git("checkout", "-q", "-b", name)
    sha = repo.commit(files, f"{name}: change")
    repo.git("checkout", "-q", "main")
    return sha


def test_preview_of_a_branch_names_exactly_the_changed_image_and_the_removed_config_map_and_writes_nothing(
        run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    files = web_app()
    files["web/settings.yaml"] = files.pop("settings/config.yaml")
    files["other/config.yaml"] = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: other
        data:
          mode: blue
        """
    repo.commit(files)
    elsewhere = git_repo("elsewhere")
    elsewhere.commit({"lone/config.yaml": files["other/config.yaml"].replace("name: other", "name: lone")})
    apps = {"gitops_applications": [application("preview-web", repo.url, "web", namespace),
                                    application("preview-other", repo.url, "other", namespace),
                                    application("preview-lone", elsewhere.url, "lone", namespace)]}
    synced = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert synced.rc == 0, synced.stdout[-3000:]
    feature = branch(repo, "feature-x", {
        "web/deployment.yaml": files["web/deployment.yaml"].replace("registry.example/web:1.0", "registry.example/web:2.0"),
        "web/settings.yaml": None,
    })
    before = resource_versions(kubectl, namespace)

    preview = run_role("gitops.kubernetes.drift", {"prod": apps},
                       extra_vars={"gitops_preview_revision": "feature-x", "gitops_preview_repo": repo.url + "/"})

    assert preview.rc == 0, preview.stdout[-3000:]
    assert resource_versions(kubectl, namespace) == before  # nothing written: no apply, no Lease, no inventory, no Event
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["template"]["spec"]["containers"][0]["image"] \
        == "registry.example/web:1.0"
    text = (preview.report_dir / "preview.md").read_text()
    first_line = text.splitlines()[0]
    assert "`feature-x`" in first_line and "1 application(s) change (0 added, 1 changed, 1 removed object(s))" in first_line
    sections = re.findall(r"<details><summary><b>(.*?)</b>: (.*?)</summary>", text)
    assert sections == [("preview-web", "0 added, 1 changed, 1 removed")]
    rows = re.findall(r"^\| (added|changed|removed) \| (\S+) \| (\S*) \| (\S+) \|$", text, re.MULTILINE)
    assert rows == [("removed", "ConfigMap", namespace, "settings"), ("changed", "Deployment.apps", namespace, "web")]
    assert re.search(r"^-\s+(- )?image: registry.example/web:1.0\n\+\s+(- )?image: registry.example/web:2.0$", text, re.MULTILINE)
    assert feature in text and SECRET_VALUE not in text
    # the drift report of the same run: the previewed application against the live cluster
    assert preview.report["mode"] == "drift"
    assert preview.application("prod", "preview-web")["status"] == "OutOfSync"
    assert preview.application("prod", "preview-web")["revision"] == feature
    assert preview.application("prod", "preview-other")["status"] == "Synced"
    assert [app["name"] for cluster in preview.report["clusters"] for app in cluster["applications"]] \
        == ["preview-web", "preview-other"]  # the application of another repository is not previewed
    assert (preview.report_dir / "junit.xml").exists()


def test_a_real_sync_with_a_preview_revision_is_refused_before_any_write(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit(web_app())
    branch(repo, "feature-y", {"web/deployment.yaml": None})
    apps = {"gitops_applications": [application("preview-refused", repo.url, "web", namespace)]}
    before = resource_versions(kubectl, namespace)

    run = run_role("gitops.kubernetes.sync", {"prod": apps}, extra_vars={"gitops_preview_revision": "feature-y"})

    assert run.rc != 0
    assert "preview_revision 'feature-y' previews a change and never syncs it: run in check mode" in run.stdout
    assert resource_versions(kubectl, namespace) == before


def test_preview_with_get_and_list_credentials_lists_the_change_and_drift_it_cannot_dry_run_as_unknown(
        cluster, git_repo, kubectl, namespace, ansible_playbook, tmp_path):
    repo = git_repo()
    repo.commit({"app/config.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: blue
        """})
    branch(repo, "feature-z", {"app/config.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: green
        """, "app/extra.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: extra
        data:
          mode: new
        """})
    kubectl.run("create", "configmap", "settings", "--from-literal=mode=blue", "-n", namespace)
    reader = namespaced_deployer(cluster, kubectl, [namespace], [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
    ], tmp_path)
    before = resource_versions(kubectl, namespace)
    spec = {"name": "preview-ro", "source": {"repo_url": repo.url, "revision": "main", "path": "app"},
            "destination": {"namespace": namespace}}

    run = ansible_playbook(f"""
        - name: preview
          gitops.kubernetes.gitops_diff:
            applications: {json.dumps([spec])}
            preview_revision: feature-z
            host: {reader['server']}
            api_key: {reader['token']}
            ca_cert: {reader['ca_cert']}
          register: preview
          ignore_errors: true
        """)

    result = run["preview"]
    assert not result.get("failed"), result.get("msg")
    [app] = result["preview"]["applications"]
    assert app["change"] == "changed" and app["counts"] == {"added": 1, "changed": 1, "removed": 0}
    assert [(o["change"], o["name"]) for o in app["objects"]] == [("added", "extra"), ("changed", "settings")]
    assert "-  mode: blue\n+  mode: green\n" in next(o["diff"] for o in app["objects"] if o["name"] == "settings")
    [compared] = result["applications"]
    statuses = {r["name"]: r["status"] for r in compared["resources"]}
    # the API server authorises a dry-run apply as the write it predicts: the reader cannot have it, nothing is guessed
    assert statuses == {"settings": "Unknown", "extra": "Unknown"}
    assert resource_versions(kubectl, namespace) == before
