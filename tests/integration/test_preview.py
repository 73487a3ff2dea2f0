"""Preview a change before it merges: the drift playbook with gitops_preview_revision, against the local control plane.

A real Git repository with a branch; the applications are synced from main
first, then previewed at the branch. kubectl observes that the preview writes
nothing (every resourceVersion unchanged, no new object); preview.md is read
as a reviewer would.
"""

from __future__ import annotations

import json
import re


from module_tasks import tasks
from role_helpers import SECRET_VALUE, application, web_app
from service_accounts import namespaced_deployer
# servers is a fixture, used by name
from test_chart_sources import chart_app, credentials, module_task, servers  # noqa: F401  # pylint: disable=unused-import


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


def test_preview_of_an_applicationset_branch_lists_the_applications_its_git_generator_adds_and_removes(
        run_role, git_repo, kubectl, namespace, tmp_path):
    repo = git_repo()
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {0}-config\ndata:\n  app: {0}\n"
    repo.commit({f"apps/{name}/cm.yaml": config.format(name) for name in ("alpha", "beta")})
    appset = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "preview-teams"},
              "spec": {"goTemplate": True, "generators": [{"git": {"repoURL": repo.url, "revision": "main",
                                                                   "directories": [{"path": "apps/*"}]}}],
                       "template": {"metadata": {"name": "preview-{{ .path.basename }}"},
                                    "spec": {"project": "default", "destination": {"namespace": namespace},
                                             "source": {"repoURL": repo.url, "targetRevision": "main", "path": "{{ .path.path }}"},
                                             "syncPolicy": {"automated": {"prune": True}}}}}}
    appset_file = tmp_path / "preview-appsets.yaml"
    appset_file.write_text(json.dumps(appset))
    host = {"prod": {"gitops_applicationset_files": [str(appset_file)]}}
    synced = run_role("gitops.kubernetes.sync", host)
    assert synced.rc == 0, synced.stdout[-3000:]
    branch(repo, "feature-teams", {"apps/beta/cm.yaml": None, "apps/gamma/cm.yaml": config.format("gamma")})
    before = resource_versions(kubectl, namespace)

    preview = run_role("gitops.kubernetes.drift", host, extra_vars={"gitops_preview_revision": "feature-teams"})

    assert preview.rc == 0, preview.stdout[-3000:]
    assert resource_versions(kubectl, namespace) == before
    text = (preview.report_dir / "preview.md").read_text()
    assert re.findall(r"<details><summary><b>(.*?)</b>: (.*?)</summary>", text) == [
        ("preview-gamma", "application added"), ("preview-beta", "application removed")]
    rows = re.findall(r"^\| (added|changed|removed) \| (\S+) \| (\S*) \| (\S+) \|$", text, re.MULTILINE)
    assert rows == [("added", "ConfigMap", namespace, "gamma-config"), ("removed", "ConfigMap", namespace, "beta-config")]
    assert "2 application(s) change (1 added, 0 changed, 1 removed object(s))" in text.splitlines()[0]


def test_preview_of_a_chart_source_takes_the_preview_revision_as_the_chart_version(
        servers, namespace, kubectl, ansible_playbook, tmp_path):
    url = servers["repository"].url
    app = chart_app("preview-chart", url, "1.0.0", namespace)
    synced = ansible_playbook(tasks(module_task("gitops_sync", "synced", app, credentials(servers), tmp_path / "cache")))
    assert not synced["synced"].get("failed"), synced["synced"].get("msg")
    before = resource_versions(kubectl, namespace)

    run = ansible_playbook(tasks(module_task("gitops_sync", "preview", app, credentials(servers), tmp_path / "cache",
                                             preview_revision="1.2.0", preview_repo=url)), check=True)

    result = run["preview"]
    assert not result.get("failed"), result.get("msg")
    assert result["stats"]["writes"] == 0  # changed is the drift a sync would write, in check mode
    assert resource_versions(kubectl, namespace) == before
    [previewed] = result["preview"]["applications"]
    # a chart's revision is its version and the digest of its archive
    assert previewed["current_revision"].startswith("1.0.0@sha256:") and previewed["revision"].startswith("1.2.0@sha256:")
    [changed] = previewed["objects"]
    assert (changed["change"], changed["kind"], changed["name"]) == ("changed", "ConfigMap", "preview-chart-web")
    assert "-  version: 1.0.0\n+  version: 1.2.0\n" in changed["diff"]
    assert result["sync_status"] == "OutOfSync" and result["revision"] == previewed["revision"]


def test_preview_of_a_multi_source_application_takes_the_revision_on_the_sources_of_the_preview_repo_only(
        git_repo, kubectl, namespace, ansible_playbook):
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {0}\ndata:\n  mode: {1}\n"
    apps = git_repo("apps")
    apps.commit({"app/cm.yaml": config.format("from-apps", "blue")})
    branch(apps, "feature-multi", {"app/cm.yaml": config.format("from-apps", "green")})
    # the other repository has no branch of that name: reading it at the preview revision would fail the render
    shared = git_repo("shared")
    shared.commit({"base/cm.yaml": config.format("from-shared", "blue")})
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "preview-multi"},
                "spec": {"destination": {"namespace": namespace}, "sources": [
                    {"repoURL": apps.url, "targetRevision": "main", "path": "app"},
                    {"repoURL": shared.url, "targetRevision": "main", "path": "base"}]}}

    run = ansible_playbook(f"""
        - name: preview
          gitops.kubernetes.gitops_diff:
            applications: {json.dumps([manifest])}
            preview_revision: feature-multi
            preview_repo: {apps.url}
            kubeconfig: "{{{{ gitops_test_kubeconfig }}}}"
          register: preview
          ignore_errors: true
        """)

    result = run["preview"]
    assert not result.get("failed"), result.get("msg")
    [app] = result["preview"]["applications"]
    assert [(o["change"], o["name"]) for o in app["objects"]] == [("changed", "from-apps")]
    assert result["applications"][0]["revisions"] == [apps.commits[-1], shared.commits[-1]]
    assert app["revision"] == f"{apps.commits[-1]} {shared.commits[-1]}"
    assert app["current_revision"] == f"{apps.commits[0]} {shared.commits[-1]}"


def test_a_report_without_a_preview_removes_the_preview_md_of_an_earlier_run(ansible_playbook, tmp_path):
    dest = tmp_path / "reports"
    previewed = {"changed": False, "applications": [{"name": "shop", "sync_status": "OutOfSync"}],
                 "preview": {"revision": "feature-x", "applications": [
                     {"name": "shop", "change": "changed", "counts": {"added": 1, "changed": 0, "removed": 0},
                      "objects": [{"group": "", "kind": "ConfigMap", "namespace": "shop", "name": "new", "change": "added",
                                   "diff": "+data: {}\n"}]}]}}
    plain = {"changed": False, "applications": [{"name": "shop", "sync_status": "Synced"}]}

    def report(result: dict) -> None:
        run = ansible_playbook(tasks({"name": "report", "gitops.kubernetes.gitops_report": {
            "results": [{"cluster": "prod", "result": result}], "dest": str(dest)}, "register": "report"}), check=True)
        assert not run["report"].get("failed"), run["report"].get("msg")

    report(previewed)
    assert (dest / "preview.md").read_text().startswith("**Preview of `feature-x`**: 1 application(s) change")
    report(plain)
    assert not (dest / "preview.md").exists() and (dest / "report.json").exists()
