"""App of apps: a child Application its parent stops rendering, through the applications role, with real Git
repositories and the local control plane. The parent prunes the child when its sync policy prunes; the child's
resources finalizer decides whether its objects go with it."""

from __future__ import annotations

import uuid

import yaml


FINALIZER = "resources-finalizer.argocd.argoproj.io"


def configmap(name: str, **annotations: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "annotations": annotations},
                           "data": {"app": name}})


def argo_application(name: str, repo_url: str, path: str, namespace: str, prune: bool = True,
                     finalizer: bool = False) -> str:
    metadata = {"name": name, "namespace": "argocd", **({"finalizers": [FINALIZER]} if finalizer else {})}
    return yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": metadata,
        "spec": {"project": "default", "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                 "syncPolicy": {"automated": {"prune": prune}}}})


def two_levels(git_repo, namespace: str, suffix: str, prune: bool, finalizer: bool):
    """root (listed) -> team (Application) -> web and api (Applications); api keeps one object with Delete=false."""
    repo = git_repo()
    repo.commit({
        "root/team.yaml": argo_application(f"aoa-team-{suffix}", repo.url, "team", namespace, prune=prune),
        "team/web.yaml": argo_application(f"aoa-web-{suffix}", repo.url, "web", namespace),
        "team/api.yaml": argo_application(f"aoa-api-{suffix}", repo.url, "api", namespace, finalizer=finalizer),
        "web/cm.yaml": configmap("aoa-web-config"),
        "api/cm.yaml": configmap("aoa-api-config"),
        "api/kept.yaml": configmap("aoa-api-kept", **{"argocd.argoproj.io/sync-options": "Delete=false"}),
    })
    root = {"name": f"aoa-root-{suffix}", "source": {"repo_url": repo.url, "revision": "main", "path": "root"},
            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}
    return repo, {"prod": {"gitops_applications": [root]}}


def inventories(kubectl, namespace: str) -> list[str]:
    found = kubectl.get("configmaps", "-n", namespace, "-l", "gitops.kubernetes/application")
    return sorted(item["metadata"]["name"] for item in found["items"])


def part_of(kubectl, namespace: str, name: str) -> str | None:
    live = kubectl.get("configmap", name, "-n", namespace)
    return (live["metadata"].get("labels") or {}).get("applyset.kubernetes.io/part-of")


def test_a_child_the_parent_stops_rendering_is_pruned_and_its_finalizer_deletes_its_objects(
        run_role, git_repo, kubectl, namespace):
    suffix = uuid.uuid4().hex[:6]
    repo, hosts = two_levels(git_repo, namespace, suffix, prune=True, finalizer=True)
    first = run_role("gitops.kubernetes.sync", hosts)
    assert first.rc == 0, first.stdout[-3000:]
    assert kubectl.exists("configmap/aoa-api-config", "-n", namespace)
    assert f"applyset-aoa-api-{suffix}" in inventories(kubectl, namespace)

    repo.commit({"team/api.yaml": None}, "api leaves the team")
    # check mode: the drift report says what the parent's prune would delete, and nothing is deleted
    check = run_role("gitops.kubernetes.sync", hosts, check=True)
    assert check.rc == 0, check.stdout[-3000:]
    team = check.application("prod", f"aoa-team-{suffix}")
    assert team["sync_status"] == "OutOfSync"
    assert [(c["name"], c["action"], c["cascade"]) for c in team["removed_children"]] == [
        (f"aoa-api-{suffix}", "pruned", "foreground")]
    assert any(f"child aoa-api-{suffix} would be pruned, with its resources (foreground)" in line
               for line in check.summary())
    assert kubectl.exists("configmap/aoa-api-config", "-n", namespace)
    assert f"applyset-aoa-api-{suffix}" in inventories(kubectl, namespace)

    removed = run_role("gitops.kubernetes.sync", hosts)
    assert removed.rc == 0, removed.stdout[-3000:]
    team = removed.application("prod", f"aoa-team-{suffix}")
    assert [(c["name"], c["action"]) for c in team["removed_children"]] == [(f"aoa-api-{suffix}", "pruned")]
    assert team["sync_status"] == "Synced"
    assert not kubectl.exists("configmap/aoa-api-config", "-n", namespace)
    # Delete=false: left in place, no longer the child's
    assert kubectl.exists("configmap/aoa-api-kept", "-n", namespace)
    assert part_of(kubectl, namespace, "aoa-api-kept") is None
    # root and team render nothing but children: no inventory of their own
    assert inventories(kubectl, namespace) == [f"applyset-aoa-web-{suffix}"]
    assert kubectl.exists("configmap/aoa-web-config", "-n", namespace)

    again = run_role("gitops.kubernetes.sync", hosts)
    assert again.rc == 0 and again.recap("prod")["changed"] == 0, again.stdout[-3000:]
    assert "removed_children" not in again.application("prod", f"aoa-team-{suffix}")


def test_a_child_without_the_resources_finalizer_is_pruned_and_its_objects_stay(run_role, git_repo, kubectl, namespace):
    suffix = uuid.uuid4().hex[:6]
    repo, hosts = two_levels(git_repo, namespace, suffix, prune=True, finalizer=False)
    assert run_role("gitops.kubernetes.sync", hosts).rc == 0
    repo.commit({"team/api.yaml": None}, "api leaves the team")
    removed = run_role("gitops.kubernetes.sync", hosts)
    assert removed.rc == 0, removed.stdout[-3000:]
    team = removed.application("prod", f"aoa-team-{suffix}")
    assert [(c["name"], c["action"], c["cascade"]) for c in team["removed_children"]] == [
        (f"aoa-api-{suffix}", "pruned", "orphan")]
    assert any(f"child aoa-api-{suffix} pruned, its resources left in place" in line for line in removed.summary())
    # only the record of the child goes; its objects stay, free for any application
    assert f"applyset-aoa-api-{suffix}" not in inventories(kubectl, namespace)
    assert kubectl.exists("configmap/aoa-api-config", "-n", namespace)
    assert part_of(kubectl, namespace, "aoa-api-config") is None


def test_a_child_of_a_parent_that_does_not_prune_is_reported_and_nothing_is_deleted(
        run_role, git_repo, kubectl, namespace):
    suffix = uuid.uuid4().hex[:6]
    repo, hosts = two_levels(git_repo, namespace, suffix, prune=False, finalizer=True)
    assert run_role("gitops.kubernetes.sync", hosts).rc == 0
    repo.commit({"team/api.yaml": None}, "api leaves the team")
    for dummy in range(2):  # still reported on the next run: the record stays until the child is pruned
        kept = run_role("gitops.kubernetes.sync", hosts)
        assert kept.rc == 0, kept.stdout[-3000:]
        team = kept.application("prod", f"aoa-team-{suffix}")
        assert team["sync_status"] == "OutOfSync"
        assert [(c["name"], c["action"]) for c in team["removed_children"]] == [(f"aoa-api-{suffix}", "prune skipped")]
        assert f"pruning is off for aoa-team-{suffix}" in team["removed_children"][0]["message"]
        assert any(f"child aoa-api-{suffix} requires pruning" in line for line in kept.summary())
        assert kubectl.exists("configmap/aoa-api-config", "-n", namespace)
        assert part_of(kubectl, namespace, "aoa-api-config") is not None
        assert f"applyset-aoa-api-{suffix}" in inventories(kubectl, namespace)


def test_the_applications_of_an_applicationset_the_parent_stops_rendering_are_pruned_with_their_objects(
        run_role, git_repo, kubectl, namespace):
    # Argo CD: the parent prunes the ApplicationSet, whose Applications carry the resources finalizer (the set does
    # not preserve resources), so their objects go
    suffix = uuid.uuid4().hex[:6]
    repo = git_repo()
    services = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": f"aoa-svc-{suffix}"},
                "spec": {"generators": [{"list": {"elements": [{"svc": "db"}]}}],
                         "template": {"metadata": {"name": f"aoa-{{{{svc}}}}-{suffix}"},
                                      "spec": {"project": "default",
                                               "source": {"repoURL": repo.url, "targetRevision": "main", "path": "{{svc}}"},
                                               "destination": {"server": "https://kubernetes.default.svc",
                                                               "namespace": namespace},
                                               "syncPolicy": {"automated": {"prune": True}}}}}}
    repo.commit({"root/services.yaml": yaml.safe_dump(services), "root/web.yaml": argo_application(
                 f"aoa-web-{suffix}", repo.url, "web", namespace),
                 "web/cm.yaml": configmap("aoa-web-config"), "db/cm.yaml": configmap("aoa-db-config")})
    root = {"name": f"aoa-root-{suffix}", "source": {"repo_url": repo.url, "revision": "main", "path": "root"},
            "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}
    hosts = {"prod": {"gitops_applications": [root]}}
    assert run_role("gitops.kubernetes.sync", hosts).rc == 0
    assert kubectl.exists("configmap/aoa-db-config", "-n", namespace)

    repo.commit({"root/services.yaml": None}, "the services set leaves")
    removed = run_role("gitops.kubernetes.sync", hosts)
    assert removed.rc == 0, removed.stdout[-3000:]
    root_entry = removed.application("prod", f"aoa-root-{suffix}")
    assert [(c["name"], c["action"], c["cascade"]) for c in root_entry["removed_children"]] == [
        (f"aoa-db-{suffix}", "pruned", "foreground")]
    assert not kubectl.exists("configmap/aoa-db-config", "-n", namespace)
    assert inventories(kubectl, namespace) == [f"applyset-aoa-web-{suffix}"]
