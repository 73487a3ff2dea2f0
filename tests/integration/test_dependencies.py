"""depends_on between applications, through the applications role, against the local control plane.

The order is read from the cluster: each application's inventory parent (applyset-<name>) records the start and
the end of its sync (microseconds) in its history, and kwok makes each Deployment Available only after its Pods
run, so an application's sync ends only once its Deployment is ready (a readiness gate of its dependants).
"""

from __future__ import annotations

import json
from typing import Any


from role_helpers import application

ANNOTATION = "gitops.kubernetes/depends-on"


def deployment(name: str) -> str:
    return f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          replicas: 1
          selector:
            matchLabels: {{app: {name}}}
          template:
            metadata:
              labels: {{app: {name}}}
            spec:
              containers:
                - name: {name}
                  image: registry.example/{name}:1.0
        """


def config_map(name: str) -> str:
    return f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {name}
        data:
          app: {name}
        """


def argo_application(name: str, repo_url: str, path: str, namespace: str, depends_on: str) -> dict[str, Any]:
    """An Argo CD Application manifest as migrated, with our annotation for its dependencies."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "annotations": {ANNOTATION: depends_on}},
        "spec": {"project": "default", "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                 "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
    }


def last_sync(kubectl, namespace: str, name: str) -> dict[str, Any]:
    """The newest entry of the application's sync history, as its inventory parent records it."""
    parent = kubectl.get(f"configmap/applyset-{name}", "-n", namespace)
    documents = [json.loads(value) for value in parent.get("data", {}).values() if value.lstrip().startswith("{")]
    history = next(document["history"] for document in documents if isinstance(document, dict) and "history" in document)
    return history[-1]


def inventories(kubectl, namespace: str) -> list[str]:
    listed = kubectl.get("configmaps", "-n", namespace)["items"]
    return sorted(item["metadata"]["name"] for item in listed if item["metadata"]["name"].startswith("applyset-"))


def test_dep_chain_syncs_in_dependency_order_while_an_independent_application_does_not_wait(
        run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({f"dep-{name}/deployment.yaml": deployment(f"dep-{name}") for name in ("a", "b", "c", "d")})
    apps = {"gitops_applications": [
        # listed against the order on purpose: the list order is not the sync order
        argo_application("dep-c", repo.url, "dep-c", namespace, "dep-b"),
        application("dep-b", repo.url, "dep-b", namespace, depends_on=["dep-a"]),
        application("dep-a", repo.url, "dep-a", namespace),
        application("dep-d", repo.url, "dep-d", namespace),
    ]}

    check = run_role("gitops.kubernetes.sync", {"prod": apps}, check=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert check.report["clusters"][0]["sync_order"] == [["dep-a", "dep-d"], ["dep-b"], ["dep-c"]]
    assert "prod** sync order (depends_on): dep-a, dep-d -> dep-b -> dep-c" in (check.report_dir / "report.md").read_text()
    assert inventories(kubectl, namespace) == []  # check mode wrote nothing

    run = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert run.rc == 0, run.stdout[-3000:]
    times = {name: last_sync(kubectl, namespace, name) for name in ("dep-a", "dep-b", "dep-c", "dep-d")}
    # RFC 3339 with microseconds, all in UTC: they compare as strings
    assert times["dep-a"]["finished_at"] <= times["dep-b"]["started_at"]
    assert times["dep-b"]["finished_at"] <= times["dep-c"]["started_at"]
    # the independent application started while the chain's first application was still syncing
    assert times["dep-d"]["started_at"] < times["dep-a"]["finished_at"]
    assert times["dep-d"]["started_at"] < times["dep-c"]["finished_at"]
    for name in ("dep-a", "dep-b", "dep-c", "dep-d"):
        assert run.application("prod", name)["status"] == "Synced"
        assert run.application("prod", name)["health_status"] == "Healthy"
        available = next(c for c in kubectl.get(f"deployment/{name}", "-n", namespace)["status"]["conditions"]
                         if c["type"] == "Available")
        assert available["status"] == "True"
    # the readiness gate: each dependency's Deployment was Available before its dependant's Deployment existed
    for dependency, dependant in (("dep-a", "dep-b"), ("dep-b", "dep-c")):
        ready = next(c for c in kubectl.get(f"deployment/{dependency}", "-n", namespace)["status"]["conditions"]
                     if c["type"] == "Available")["lastTransitionTime"]
        assert ready <= kubectl.get(f"deployment/{dependant}", "-n", namespace)["metadata"]["creationTimestamp"]

    again = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert again.rc == 0 and again.recap("prod")["changed"] == 0, again.stdout[-3000:]


def test_dep_failed_dependency_skips_its_dependants_transitively_with_the_reason(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"dep-web/config.yaml": config_map("dep-web"), "dep-front/config.yaml": config_map("dep-front"),
                 "dep-free/config.yaml": config_map("dep-free")})
    apps = {"gitops_applications": [
        application("dep-db", repo.url, "dep-db-not-in-git", namespace),  # its render fails: no such directory
        application("dep-web", repo.url, "dep-web", namespace, depends_on=["dep-db"]),
        application("dep-front", repo.url, "dep-front", namespace, depends_on=["dep-web"]),
        application("dep-free", repo.url, "dep-free", namespace),
    ]}

    run = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert run.rc != 0  # dep-db failed
    assert run.application("prod", "dep-db")["status"] == "Failed"
    web = run.application("prod", "dep-web")
    assert web["skipped"].startswith("skipped: depends on dep-db, which failed: ")
    assert "dep-db-not-in-git" in web["skipped"]
    front = run.application("prod", "dep-front")
    assert front["skipped"].startswith("skipped: depends on dep-web, which was skipped (depends on dep-db, which failed: ")
    assert run.application("prod", "dep-free")["status"] == "Synced"
    assert kubectl.exists("configmap/dep-free", "-n", namespace)
    assert not kubectl.exists("configmap/dep-web", "-n", namespace)
    assert not kubectl.exists("configmap/dep-front", "-n", namespace)
    assert inventories(kubectl, namespace) == ["applyset-dep-free"]
    assert "prod/dep-web: Unknown, Unknown: not synced (skipped: depends on dep-db, which failed: " in run.stdout


def test_dep_cycle_and_unknown_name_are_refused_before_any_write(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({f"dep-{name}/config.yaml": config_map(f"dep-{name}") for name in ("x", "y", "z")})
    cycle = {"gitops_applications": [
        application("dep-x", repo.url, "dep-x", namespace, depends_on=["dep-y"]),
        argo_application("dep-y", repo.url, "dep-y", namespace, "dep-x"),
        application("dep-z", repo.url, "dep-z", namespace),
    ]}
    run = run_role("gitops.kubernetes.sync", {"prod": cycle})
    assert run.rc != 0
    assert "dependency cycle between applications: dep-x -> dep-y -> dep-x; nothing was synced" in run.stdout
    unknown = {"gitops_applications": [application("dep-z", repo.url, "dep-z", namespace, depends_on=["dep-nowhere"])]}
    run = run_role("gitops.kubernetes.sync", {"prod": unknown})
    assert run.rc != 0
    assert "dep-z depends on dep-nowhere" in run.stdout
    assert inventories(kubectl, namespace) == []
    assert not any(kubectl.exists(f"configmap/dep-{name}", "-n", namespace) for name in ("x", "y", "z"))


def test_dep_dependency_left_out_by_gitops_only_must_be_synced_and_healthy_already(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"dep-base/deployment.yaml": deployment("dep-base"), "dep-app/config.yaml": config_map("dep-app")})
    apps = {"gitops_applications": [application("dep-base", repo.url, "dep-base", namespace),
                                    application("dep-app", repo.url, "dep-app", namespace, depends_on=["dep-base"])]}

    alone = run_role("gitops.kubernetes.sync", {"prod": apps}, extra_vars={"gitops_only": ["dep-app"]})
    assert alone.rc == 0, alone.stdout[-3000:]
    assert alone.application("prod", "dep-app")["skipped"] == (
        "skipped: depends on dep-base, which is OutOfSync and this run does not sync it (it is not selected in this run)")
    assert [app["name"] for app in alone.report["clusters"][0]["applications"]] == ["dep-app"]
    assert inventories(kubectl, namespace) == []  # the dependency was compared, not synced

    base = run_role("gitops.kubernetes.sync", {"prod": apps}, extra_vars={"gitops_only": ["dep-base"]})
    assert base.rc == 0, base.stdout[-3000:]
    after = run_role("gitops.kubernetes.sync", {"prod": apps}, extra_vars={"gitops_only": ["dep-app"]})
    assert after.rc == 0, after.stdout[-3000:]
    assert after.application("prod", "dep-app")["status"] == "Synced"
    assert kubectl.get("configmap/dep-app", "-n", namespace)["data"] == {"app": "dep-app"}


def test_dep_app_of_apps_children_depend_on_each_other_through_the_annotation(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    children = {
        "dep-child-db": argo_application("dep-child-db", "REPO", "dep-child-db", namespace, ""),
        "dep-child-api": argo_application("dep-child-api", "REPO", "dep-child-api", namespace, "dep-child-db"),
    }
    repo.commit({"dep-child-db/deployment.yaml": deployment("dep-child-db"),
                 "dep-child-api/config.yaml": config_map("dep-child-api")})
    files = {}
    for name, manifest in children.items():
        manifest["spec"]["source"]["repoURL"] = repo.url
        if not manifest["metadata"]["annotations"][ANNOTATION]:
            del manifest["metadata"]["annotations"]
        files[f"dep-root/{name}.yaml"] = json.dumps(manifest)
    repo.commit(files)
    apps = {"gitops_applications": [application("dep-root", repo.url, "dep-root", namespace)]}

    run = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert run.rc == 0, run.stdout[-3000:]
    assert run.report["clusters"][0]["sync_order"] == [["dep-root", "dep-child-db"], ["dep-child-api"]]
    db, api = last_sync(kubectl, namespace, "dep-child-db"), last_sync(kubectl, namespace, "dep-child-api")
    assert db["finished_at"] <= api["started_at"]
    assert run.application("prod", "dep-child-api")["status"] == "Synced"


def test_dep_module_reports_unselected_dependencies_and_the_order_for_manifests_entries(ansible_playbook, kubectl, namespace):
    """gitops_sync itself: depends_on of entries with manifests, a dependency `only` leaves out, check mode's order."""
    import yaml

    def entry(name: str, depends_on: list[str]) -> dict[str, Any]:
        return {"name": name, "manifests": [yaml.safe_load(config_map(name).replace("\n        ", "\n"))],
                "destination": {"namespace": namespace}, "depends_on": depends_on}

    applications = [entry("dep-m2", ["dep-m1"]), entry("dep-m1", []), entry("dep-m3", ["dep-m2"])]

    def tasks(only: list[str]) -> str:
        return yaml.safe_dump([{"name": "sync", "gitops.kubernetes.gitops_sync": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}", "applications": applications, "only": only},
            "register": "synced"}])

    check = ansible_playbook(tasks(["dep-m2", "dep-m3"]), check=True)["synced"]
    assert check["sync_order"] == [["dep-m2"], ["dep-m3"]]
    assert check["dependencies_not_selected"] == [
        {"name": "dep-m1", "namespace": namespace, "sync_status": "OutOfSync", "health_status": "Missing"}]
    skipped = {app["name"]: app.get("skipped") for app in check["applications"]}
    assert skipped == {"dep-m2": "skipped: depends on dep-m1, which is OutOfSync and this run does not sync it "
                                 "(it is not selected in this run)",
                       "dep-m3": "skipped: depends on dep-m2, which was skipped (depends on dep-m1, which is OutOfSync "
                                 "and this run does not sync it (it is not selected in this run))"}
    assert check["changed"] is False

    everything = ansible_playbook(tasks(["dep-m*"]))["synced"]
    assert everything["sync_order"] == [["dep-m1"], ["dep-m2"], ["dep-m3"]], everything
    assert "dependencies_not_selected" not in everything
    assert all(app["sync_status"] == "Synced" for app in everything["applications"])
    assert kubectl.exists("configmap/dep-m3", "-n", namespace)


def test_dep_dependant_waits_for_its_dependency_to_be_healthy_even_without_gitops_wait(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit({"dep-w1/deployment.yaml": deployment("dep-w1"), "dep-w2/deployment.yaml": deployment("dep-w2")})
    apps = {"gitops_applications": [application("dep-w2", repo.url, "dep-w2", namespace, depends_on=["dep-w1"]),
                                    application("dep-w1", repo.url, "dep-w1", namespace)],
            "gitops_wait": False}

    run = run_role("gitops.kubernetes.sync", {"prod": apps})
    assert run.rc == 0, run.stdout[-3000:]
    # without waves waited for, the dependency's sync returns at once; its dependant still waited until it was Healthy
    assert run.application("prod", "dep-w1")["health_status"] == "Healthy"
    ready = next(c for c in kubectl.get("deployment/dep-w1", "-n", namespace)["status"]["conditions"]
                 if c["type"] == "Available")
    assert ready["status"] == "True"
    assert ready["lastTransitionTime"] <= kubectl.get("deployment/dep-w2", "-n", namespace)["metadata"]["creationTimestamp"]
    assert last_sync(kubectl, namespace, "dep-w1")["finished_at"] <= last_sync(kubectl, namespace, "dep-w2")["started_at"]
