"""Cache eviction through ansible-playbook: a run evicts what no process uses, and the next sync rebuilds its mirror."""

from __future__ import annotations

import json

from module_tasks import tasks


def render_task(register: str, repo, cache_dir, **options) -> dict:
    application = {"name": "evict-other", "source": {"repo_url": repo.url, "revision": "main", "path": "app"},
                   "destination": {"namespace": "default"}}
    return {"name": f"render {register}", "register": register,
            "gitops.kubernetes.gitops_render": {"application": application, "cache_dir": str(cache_dir), **options}}


def sync_task(register: str, repo, cache_dir, namespace: str) -> dict:
    application = {"name": "evict-app", "source": {"repo_url": repo.url, "revision": "main", "path": "app"},
                   "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}
    return {"name": f"sync {register}", "register": register, "gitops.kubernetes.gitops_sync": {
        "kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache_dir), "application": application}}


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evict-settings\ndata:\n  value: {value}\n"


def test_a_sync_works_right_after_eviction_removed_its_mirror_and_renders(git_repo, namespace, kubectl, ansible_playbook, tmp_path):
    cache = tmp_path / "cache"
    app_repo, other_repo = git_repo("evict-app"), git_repo("evict-other")
    app_repo.commit({"app/cm.yaml": configmap("one")})
    other_repo.commit({"app/cm.yaml": configmap("other")})
    first = ansible_playbook(tasks(sync_task("synced", app_repo, cache, namespace)))
    assert first["synced"]["changed"] is True, first["synced"].get("msg")
    [mirror] = cache.glob("git/evict-app-*.git")
    renders = sorted(cache.glob("render/*/*.json"))
    assert renders and (cache / ".last-eviction").exists()  # the run's own eviction found nothing to remove

    # an hour later (the marker says when the last eviction ran), another run with a tight size evicts
    # everything no process uses: the application's mirror and renders, not the mirror that run itself uses
    (cache / ".last-eviction").unlink()
    app_repo.commit({"app/cm.yaml": configmap("two")})
    evicting = ansible_playbook(tasks(render_task("other", other_repo, cache, cache_max_size="1", cache_max_age="14d")))
    assert not evicting["other"].get("failed"), evicting["other"].get("msg")
    assert not mirror.exists() and not any(path.exists() for path in renders)
    assert list(cache.glob("git/evict-other-*.git")), "the mirror the evicting run used is kept"

    after = ansible_playbook(tasks(sync_task("synced", app_repo, cache, namespace), sync_task("again", app_repo, cache, namespace)))
    assert after["synced"]["changed"] is True and after["synced"]["revision"] == app_repo.commits[-1], after["synced"].get("msg")
    assert kubectl.get("configmap/evict-settings", "-n", namespace)["data"] == {"value": "two"}
    assert mirror.exists()  # fetched again
    assert after["again"]["changed"] is False
    document = json.loads(kubectl.get("configmap/applyset-evict-app", "-n", namespace)["data"]["inventory"])
    assert document["revision"] == app_repo.commits[-1]


def test_a_bad_cache_limit_fails_the_run_naming_the_option_before_any_work(git_repo, namespace, kubectl, ansible_playbook, tmp_path):
    repo = git_repo("evict-bad")
    repo.commit({"app/cm.yaml": configmap("one")})
    task = sync_task("synced", repo, tmp_path / "cache", namespace)
    task["gitops.kubernetes.gitops_sync"]["cache_max_age"] = "a fortnight"
    task["ignore_errors"] = True
    run = ansible_playbook(tasks(task))
    assert run["synced"]["failed"] is True
    assert "cache_max_age must be an age such as 14d" in run["synced"]["msg"] and "'a fortnight'" in run["synced"]["msg"]
    assert not (tmp_path / "cache").exists()  # nothing fetched, nothing written
    assert kubectl.run("get", "configmap", "evict-settings", "-n", namespace, check=False).returncode != 0
