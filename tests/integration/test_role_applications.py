"""The applications role through the collection's playbooks, against the local control plane.

The inventory hosts are clusters that cannot be reached over SSH (TEST-NET
addresses): every task must run on the controller for these tests to pass.
kubectl observes the cluster; the report files are read as a user would.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path


from role_helpers import SECRET_VALUE, RoleRun, application, web_app


def all_report_text(run: RoleRun) -> str:
    return "".join((run.report_dir / name).read_text() for name in ("report.json", "report.md", "junit.xml", "report.html"))


def test_sync_is_idempotent_drift_check_reports_and_fails_then_sync_heals(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit(web_app())
    apps = {"gitops_applications": [application("web", repo.url, "web", namespace),
                                    application("settings", repo.url, "settings", namespace)]}

    first = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert first.rc == 0, first.stdout[-3000:]
    assert first.recap("prod")["changed"] == 1  # one sync task for both applications
    assert kubectl.get("deployment/web", "-n", namespace)["status"]["availableReplicas"] == 2
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "blue"}
    assert first.report["mode"] == "sync"
    assert first.application("prod", "web")["status"] == "Synced"
    assert first.application("prod", "web")["counts"]["created"] == 2
    assert first.application("prod", "web")["revision"] == repo.commits[-1]
    assert first.summary() == [
        f"prod/web: Synced, Healthy at {repo.commits[-1][:12]}: 2 created",
        f"prod/settings: Synced, Healthy at {repo.commits[-1][:12]}: 1 created",
        "2 applications on 1 clusters: 2 synced, 2 changed, 0 failed",
        "Reports: " + ", ".join(str(first.report_dir / f) for f in ("report.json", "report.md", "junit.xml", "report.html")),
    ]

    second = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert second.rc == 0 and second.recap("prod")["changed"] == 0, second.stdout[-3000:]
    assert second.summary()[0] == f"prod/web: Synced, Healthy at {repo.commits[-1][:12]}: no changes; 2 unchanged"

    # a live edit, and a new Secret value in Git: the drift check reports both, changes nothing, fails the play
    kubectl.run("scale", "deployment/web", "--replicas=4", "-n", namespace)
    repo.commit(web_app(secret="n3w-secret-value-7"))
    drift = run_role("gitops.kubernetes.drift", {"prod": apps}, extra_vars={"gitops_fail_on_drift": True})
    assert drift.rc != 0
    assert "prod drifted from Git: web" in drift.stdout
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 4
    assert drift.report["mode"] == "drift"
    web = drift.application("prod", "web")
    assert web["status"] == "OutOfSync" and web["counts"]["configured"] == 2
    by_kind = {obj["kind"]: obj for obj in web["drifted"]}
    assert "-  replicas: 4" in by_kind["Deployment"]["diff"] and "+  replicas: 2" in by_kind["Deployment"]["diff"]
    assert by_kind["Deployment"]["patch"] == [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    assert "password: ++++++++ (changed)" in by_kind["Secret"]["diff"]
    assert drift.application("prod", "settings")["status"] == "Synced"
    text = all_report_text(drift) + drift.stdout
    for secret in (SECRET_VALUE, "n3w-secret-value-7", base64.b64encode(SECRET_VALUE.encode()).decode(),
                   base64.b64encode(b"n3w-secret-value-7").decode()):
        assert secret not in text
    cases = {case.get("name"): case for case in ET.parse(drift.report_dir / "junit.xml").getroot().iter("testcase")}
    assert cases["web"].find("failure") is not None and cases["settings"].find("failure") is None

    # without gitops_fail_on_drift the same check passes; --check on the sync playbook is the same drift report
    check = run_role("gitops.kubernetes.sync", {"prod": apps}, check=True, diff=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert check.report["mode"] == "drift" and check.application("prod", "web")["status"] == "OutOfSync"
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 4

    healed = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert healed.rc == 0, healed.stdout[-3000:]
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 2
    secret = kubectl.get("secret/web-db", "-n", namespace)
    assert base64.b64decode(secret["data"]["password"]).decode() == "n3w-secret-value-7"
    assert healed.application("prod", "web")["counts"]["configured"] == 2
    assert SECRET_VALUE not in all_report_text(healed) + healed.stdout


def test_generators_only_and_skip_select_what_is_synced(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    files = {}
    for team in ("alpha", "beta", "gamma"):
        files[f"teams/{team}/config.yaml"] = f"""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {team}-config
            data:
              team: {team}
            """
    files["shared/extra.yaml"] = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: extra-config
        """
    repo.commit(files)
    cluster_vars = {
        "gitops_generators": [{"git": {
            "repo_url": repo.url, "revision": "main", "directories": [{"path": "teams/*"}],
            "template": {"destination": {"namespace": namespace}, "sync_policy": {"prune": True}},
        }}],
        # an Argo CD Application manifest, as migrated from Argo CD unchanged
        "gitops_applications": [{
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "extra"},
            "spec": {"project": "default",
                     "source": {"repoURL": repo.url, "targetRevision": "main", "path": "shared"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": True}}},
        }],
    }
    run = run_role("gitops.kubernetes.sync", {"prod": cluster_vars},
                   extra_vars={"gitops_only": ["alpha", "beta", "extra"], "gitops_skip": ["beta"]})
    assert run.rc == 0, run.stdout[-3000:]
    names = [app["name"] for app in run.report["clusters"][0]["applications"]]
    assert names == ["extra", "alpha"]
    assert kubectl.exists("configmap/alpha-config", "-n", namespace)
    assert kubectl.exists("configmap/extra-config", "-n", namespace)
    assert not kubectl.exists("configmap/beta-config", "-n", namespace)
    assert not kubectl.exists("configmap/gamma-config", "-n", namespace)
    # the generated application is pinned to the commit its directory was found at
    assert run.application("prod", "alpha")["revision"] == repo.commits[-1]


def test_a_broken_application_fails_its_cluster_after_the_others_synced_and_the_report_is_written(
        run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit(web_app())
    clusters = {
        "prod": {"gitops_applications": [application("settings", repo.url, "settings", namespace),
                                         application("missing", repo.url, "no/such/path", namespace)]},
        "stage": {"gitops_applications": [application("stage-web", repo.url, "web", namespace)]},
        "lab": {"gitops_applications": [application("lab-web", repo.url, "web", namespace)],
                "gitops_kubeconfig": str(Path(repo.path) / "no-such-kubeconfig")},
    }
    run = run_role("gitops.kubernetes.sync", clusters, extra_vars={"gitops_parallelism": 2})
    assert run.rc != 0
    assert run.recap("prod")["failed"] == 1 and run.recap("lab")["failed"] == 1
    assert run.recap("stage")["failed"] == 0
    assert kubectl.exists("configmap/settings", "-n", namespace)
    assert kubectl.exists("deployment/web", "-n", namespace)  # stage-web
    assert run.application("prod", "settings")["status"] == "Synced"
    missing = run.application("prod", "missing")
    assert missing["status"] == "Failed" and "no/such/path" in missing["error"]
    lab = next(entry for entry in run.report["clusters"] if entry["name"] == "lab")
    assert lab["applications"] == [] and "no-such-kubeconfig" in lab["error"]
    junit = ET.parse(run.report_dir / "junit.xml").getroot()
    assert {suite.get("name") for suite in junit.iter("testsuite")} == {"prod", "stage", "lab"}
    assert junit.get("errors") == "2"
    assert any(line.startswith("prod/missing: Failed") for line in run.summary())


def test_a_fleet_of_generated_applications_is_one_sync_task_and_one_line_each(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    count = 40
    repo.commit({f"fleet/app-{index:02d}/config.yaml": f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: app-{index:02d}
        data:
          index: "{index}"
        """ for index in range(count)})
    generators = [{"git": {"repo_url": repo.url, "directories": [{"path": "fleet/*"}],
                           "template": {"destination": {"namespace": namespace}}}}]
    run = run_role("gitops.kubernetes.sync", {"prod": {"gitops_generators": generators}})
    assert run.rc == 0, run.stdout[-3000:]
    # one task synced every application: the play has the same tasks for 40 applications as for one
    assert run.stdout.count("TASK [gitops.kubernetes.applications : Sync the applications of prod]") == 1
    assert run.recap("prod")["changed"] == 1
    summary = run.summary()
    assert len(summary) == count + 2  # a line per application, the total, the report paths
    assert summary[0] == f"prod/app-00: Synced, Healthy at {repo.commits[-1][:12]}: 1 created"
    assert summary[count] == f"{count} applications on 1 clusters: {count} synced, {count} changed, 0 failed"
    assert len(kubectl.get("configmaps", "-n", namespace, "-l", "applyset.kubernetes.io/part-of")["items"]) == count


def test_role_passes_argocd_cm_resource_customizations_to_the_sync(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit(web_app())
    argocd_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"},
                 "data": {"resource.customizations.health.ConfigMap":
                          'return {status = "Degraded", message = "judged by the argocd-cm script"}'}}
    apps = {"gitops_applications": [application("settings", repo.url, "settings", namespace)],
            "gitops_resource_customizations": argocd_cm}
    run = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert run.rc != 0
    entry = run.application("prod", "settings")
    assert "is Degraded: judged by the argocd-cm script" in entry["error"], entry
