"""Argo CD AppProjects, sync windows, orphaned resources and destination clusters, through the applications role.

Everything runs through ansible-playbook and the collection's sync playbook
against the local control plane; kubectl observes the cluster, the report
files are read as a user would.
"""

from __future__ import annotations

from typing import Any

import yaml

from role_helpers import RoleRun

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL, application_applyset_id


def config_map(name: str, namespace: str | None = None) -> str:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"mode": "blue"}})


def argo_app(app_name: str, project: str, repo_url: str, path: str, namespace: str, **destination: str) -> dict[str, Any]:
    """An Argo CD Application manifest, as a repository of Argo CD has it (destination: in-cluster unless given)."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": app_name, "namespace": "argocd"},
            "spec": {"project": project,
                     "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace}
                     if not destination else {**destination, "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": True}}}}


def app_project(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": name, "namespace": "argocd"},
            "spec": spec}


def entry(run: RoleRun, cluster: str, name: str) -> dict[str, Any]:
    return run.application(cluster, name)


def owned(kubectl, namespace: str, app: str) -> list[str]:
    selector = f"{PART_OF_LABEL}={application_applyset_id(app, namespace)}"
    items = kubectl.get("configmaps,secrets,clusterroles", "-A", "-l", selector)["items"]
    return sorted(f"{i['kind']}/{i['metadata']['name']}" for i in items)


def test_projects_refuse_repos_destinations_kinds_and_unknown_projects_before_any_write(
        run_role, git_repo, kubectl, namespace, tmp_path):
    repo = git_repo()
    repo.commit({
        "good/config.yaml": config_map("settings"),
        "cluster/role.yaml": yaml.safe_dump({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                             "metadata": {"name": f"projects-{namespace}"}, "rules": []}),
        "cluster/config.yaml": config_map("cluster-settings"),
        "secret/secret.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                                              "stringData": {"k": "v"}}),
    })
    team = app_project(
        "team", sourceRepos=[f"file://{repo.path.parent}/**", "!file:///nowhere/**"],
        destinations=[{"server": "https://kubernetes.default.svc", "namespace": namespace},
                      {"name": "*", "namespace": "!kube-*"}],
        namespaceResourceBlacklist=[{"group": "", "kind": "Secret"}])
    elsewhere = app_project("elsewhere", sourceRepos=["https://git.example.org/only/*"],
                            destinations=[{"server": "*", "namespace": "*"}])
    # projects as files read with lookup('file'), the way an Argo CD repository keeps them
    project_file = tmp_path / "projects.yaml"
    project_file.write_text(yaml.safe_dump_all([team, elsewhere]))
    apps = [
        argo_app("good", "team", repo.url, "good", namespace),
        argo_app("cluster-kinds", "team", repo.url, "cluster", namespace),
        argo_app("secret-kind", "team", repo.url, "secret", namespace),
        argo_app("wrong-repo", "elsewhere", repo.url, "good", namespace),
        argo_app("wrong-namespace", "team", repo.url, "good", "kube-system", name="in-cluster"),
        argo_app("unknown-project", "nope", repo.url, "good", namespace),
    ]
    run = run_role("gitops.kubernetes.sync", {"prod": {
        "gitops_applications": apps,
        "gitops_projects": [f"{{{{ lookup('ansible.builtin.file', '{project_file}') }}}}"],
    }})
    assert run.rc != 0, run.stdout[-3000:]
    assert entry(run, "prod", "good")["status"] == "Synced"
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "blue"}

    errors = {name: entry(run, "prod", name)["error"] for name in
              ("cluster-kinds", "secret-kind", "wrong-repo", "wrong-namespace", "unknown-project")}
    assert f"ClusterRole.rbac.authorization.k8s.io projects-{namespace} (cluster/role.yaml:1): cluster-scoped objects " \
           "are not allowed (rule clusterResourceWhitelist: none given)" in errors["cluster-kinds"]
    assert errors["cluster-kinds"].startswith("application 'cluster-kinds': project 'team' violated, nothing was applied")
    assert f"Secret {namespace}/creds (secret/secret.yaml:1): kind Secret is denied (rule namespaceResourceBlacklist: " \
           "core/Secret)" in errors["secret-kind"]
    assert f"project 'elsewhere': repository {repo.url} is not allowed (rule sourceRepos: " \
           "https://git.example.org/only/*); nothing was fetched or applied" in errors["wrong-repo"]
    assert "project 'team': destination namespace 'kube-system'" in errors["wrong-namespace"]
    assert "is not allowed (rule destinations: server=https://kubernetes.default.svc, namespace=" in errors["wrong-namespace"]
    assert errors["unknown-project"] == ("application 'unknown-project': project 'nope' is unknown (known projects: "
                                         "default, elsewhere, team); give its AppProject manifest in projects")
    for name in ("cluster-kinds", "secret-kind", "wrong-repo", "wrong-namespace", "unknown-project"):
        assert owned(kubectl, namespace, name) == [], name
        assert not kubectl.exists("configmap", f"applyset-{name}", "-n", namespace)
    assert not kubectl.exists("clusterrole", f"projects-{namespace}")
    assert not kubectl.exists("configmap/cluster-settings", "-n", namespace)


def test_projects_deny_window_skips_the_sync_reports_it_and_check_mode_still_reports_drift(
        run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"held/config.yaml": config_map("held"), "late/config.yaml": config_map("late"),
                 "manual/config.yaml": config_map("manual")})
    windows = app_project(
        "windows", sourceRepos=["*"], destinations=[{"server": "*", "namespace": "*"}],
        syncWindows=[
            # open now, whenever the test runs: fires every minute, open for an hour
            {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["held", "manual"]},
            {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["manual"], "manualSync": True},
            # open only at midnight of New Year's Day: closed now, so the application it matches may not sync
            {"kind": "allow", "schedule": "0 0 1 1 *", "duration": "1m", "applications": ["late"],
             "timeZone": "Europe/Berlin"},
        ])
    apps = [argo_app(name, "windows", repo.url, name, namespace) for name in ("held", "late")]
    host = {"gitops_applications": apps, "gitops_projects": [windows]}

    drift = run_role("gitops.kubernetes.sync", {"prod": host}, check=True)
    assert drift.rc == 0, drift.stdout[-3000:]
    held = entry(drift, "prod", "held")
    assert held["status"] == "OutOfSync" and held["counts"]["created"] == 1  # the drift is still reported
    assert held["skipped"] == "a sync now would be skipped: deny window '* * * * *' for 1h"

    run = run_role("gitops.kubernetes.sync", {"prod": host})
    assert run.rc == 0, run.stdout[-3000:]  # skipped, not failed
    assert run.recap("prod")["changed"] == 0
    held, late = entry(run, "prod", "held"), entry(run, "prod", "late")
    assert held["skipped"] == "sync skipped: inside deny window '* * * * *' for 1h"
    assert late["skipped"] == "sync skipped: outside every allow window: allow window '0 0 1 1 *' for 1m (Europe/Berlin)"
    assert held["status"] == late["status"] == "OutOfSync" and "error" not in held
    assert not kubectl.exists("configmap/held", "-n", namespace) and not kubectl.exists("configmap/late", "-n", namespace)
    assert not kubectl.exists("configmap/applyset-held", "-n", namespace)
    assert any(line.startswith("prod/held: OutOfSync") and "would be: 1 created; sync skipped: inside deny window" in line
               for line in run.summary())
    assert "sync skipped: inside deny window '* * * * *' for 1h" in (run.report_dir / "report.md").read_text()

    # selected by name, the Ansible form of pressing Sync: only windows that all allow manualSync let it through
    manual = argo_app("manual", "windows", repo.url, "manual", namespace)
    only = run_role("gitops.kubernetes.sync", {"prod": {**host, "gitops_applications": apps + [manual]}},
                    extra_vars={"gitops_only": ["manual", "held"]})
    assert only.rc == 0, only.stdout[-3000:]
    assert entry(only, "prod", "held")["skipped"].startswith("sync skipped: inside deny window")
    assert entry(only, "prod", "manual")["skipped"].startswith("sync skipped: inside deny window")
    assert not kubectl.exists("configmap/manual", "-n", namespace)
    windows["spec"]["syncWindows"][0]["applications"] = ["held"]  # now only the manualSync window blocks 'manual'
    only = run_role("gitops.kubernetes.sync", {"prod": {**host, "gitops_applications": apps + [manual]}},
                    extra_vars={"gitops_only": ["manual"]})
    assert only.rc == 0, only.stdout[-3000:]
    assert entry(only, "prod", "manual")["status"] == "Synced" and "skipped" not in entry(only, "prod", "manual")
    assert kubectl.get("configmap/manual", "-n", namespace)["data"] == {"mode": "blue"}


def test_projects_malformed_sync_window_fails_before_any_write(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"app/config.yaml": config_map("settings")})
    broken = app_project("broken", sourceRepos=["*"], destinations=[{"server": "*", "namespace": "*"}],
                         syncWindows=[{"kind": "deny", "schedule": "61 * * * *", "duration": "1h", "applications": ["*"]}])
    host = {"gitops_applications": [argo_app("app", "broken", repo.url, "app", namespace)], "gitops_projects": [broken]}
    run = run_role("gitops.kubernetes.sync", {"prod": host})
    assert run.rc != 0
    assert "AppProject 'broken'.spec.syncWindows[0].schedule: schedule '61 * * * *': minute 61 is outside 0-59" in run.stdout
    assert not kubectl.exists("configmap/settings", "-n", namespace)


def test_projects_orphaned_resources_are_listed_in_the_result_and_the_report(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"app/config.yaml": config_map("settings")})
    kubectl.apply(config_map("stray", namespace))
    kubectl.apply(config_map("ignored-one", namespace))
    project = app_project("watched", sourceRepos=["*"], destinations=[{"server": "*", "namespace": "*"}],
                          orphanedResources={"warn": True, "ignore": [{"kind": "ConfigMap", "name": "ignored-*"}]})
    run = run_role("gitops.kubernetes.sync", {"prod": {
        "gitops_applications": [argo_app("app", "watched", repo.url, "app", namespace)], "gitops_projects": [project]}})
    assert run.rc == 0, run.stdout[-3000:]
    app = entry(run, "prod", "app")
    # the application's own objects, its inventory parent, Lease, default ServiceAccount and kube-root-ca.crt are not
    assert app["orphaned_resources"] == [{"group": "", "kind": "ConfigMap", "namespace": namespace, "name": "stray"}]
    assert f"application app has 1 orphaned resources in namespace {namespace}" in run.stdout
    assert "1 orphaned resources" in "\n".join(run.summary())
    assert f"`ConfigMap {namespace}/stray`" in (run.report_dir / "report.md").read_text()


def test_projects_two_hosts_on_one_cluster_each_sync_only_the_applications_their_destination_names(
        run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"blue/config.yaml": config_map("blue"), "green/config.yaml": config_map("green"),
                 "purple/config.yaml": config_map("purple")})
    project = app_project("fleet", sourceRepos=["*"],
                          destinations=[{"name": "blue", "namespace": namespace}, {"name": "green", "namespace": namespace}])
    # given once for the whole group (extra vars reach every host, as group_vars do)
    apps = [argo_app(name, "fleet", repo.url, name, namespace, name=name) for name in ("blue", "green", "purple")]
    # two inventory hosts, the same real cluster (the same kubeconfig), told apart by gitops_cluster_name
    run = run_role("gitops.kubernetes.sync", {"blue": {}, "green": {"gitops_cluster_name": "green"}},
                   extra_vars={"gitops_applications": apps, "gitops_projects": [project]})
    assert run.rc == 0, run.stdout[-3000:]
    clusters = {c["name"]: [a["name"] for a in c["applications"]] for c in run.report["clusters"]}
    assert clusters == {"blue": ["blue"], "green": ["green"]}
    assert kubectl.get("configmap/blue", "-n", namespace)["data"] == {"mode": "blue"}
    assert kubectl.get("configmap/green", "-n", namespace)["data"] == {"mode": "blue"}
    assert not kubectl.exists("configmap/purple", "-n", namespace)
    # never dropped silently: a warning, a line of the summary and an entry of the report
    line = "purple: destination name 'purple' matches no inventory host (listed on blue, green); not synced"
    assert line in run.summary()
    assert line in " ".join(run.stdout.split())  # the warning, however Ansible wraps it
    assert run.report["unmatched"] == [{"name": "purple", "destination": "name 'purple'", "listed_on": ["blue", "green"]}]
