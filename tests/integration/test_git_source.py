"""The Git source as gitops_sync sees it, against the real control plane: submodules and moved tags.

Git content that moved into a submodule is still the application's content:
it is checked out (recursively, as Argo CD does) and rendered, never pruned;
a submodule that cannot be fetched fails the render, so nothing is applied or
pruned. A tag is resolved against the remote on every run, so `git tag -f`
is followed like a push to a branch.
"""

from __future__ import annotations

from typing import Any

import yaml
from module_tasks import application_task, resources_by_kind_name, tasks

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL, application_applyset_id


def config_map(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def sync(register: str, repo: Any, namespace: str, revision: str = "main", **source: Any) -> dict[str, Any]:
    return application_task(register, repo, namespace, revision=revision, source=source)


def members(kubectl: Any, namespace: str) -> dict[str, str]:
    """name -> uid of the application's ConfigMaps in the cluster."""
    listing = kubectl.get("configmaps", "-n", namespace, "-l", f"{PART_OF_LABEL}={application_applyset_id('shop', namespace)}")
    return {item["metadata"]["name"]: item["metadata"]["uid"] for item in listing["items"]}


def test_content_moved_into_a_submodule_is_rendered_and_never_pruned(kubectl, namespace, git_repo, ansible_playbook):
    apps = git_repo("apps")
    web_files = {"a.yaml": config_map("web-a", mode="blue"), "b.yaml": config_map("web-b", mode="green")}
    apps.commit({"app/base.yaml": config_map("base"), **{f"app/web/{name}": text for name, text in web_files.items()}})
    recurse = {"directory": {"recurse": True}}
    first = ansible_playbook(tasks(sync("first", apps, namespace, **recurse)))["first"]
    assert not first.get("failed"), first.get("msg")
    before = members(kubectl, namespace)
    assert sorted(before) == ["base", "web-a", "web-b"]

    # the same files move into their own repository, which app/web now pins as a submodule (relative URL)
    web = git_repo("web-config")
    pinned = web.commit(web_files, "the web configuration, on its own")
    web.commit({"a.yaml": config_map("web-a", mode="not pinned yet")}, "a later commit the parent does not pin")
    apps.git("rm", "-r", "-q", "app/web")
    apps.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", "../web-config", "app/web")
    apps.git("-C", "app/web", "checkout", "-q", pinned)
    moved = apps.commit({}, "app/web is a submodule now")

    run = ansible_playbook(tasks(
        sync("second", apps, namespace, **recurse),
        {"name": "render", "register": "render", "ignore_errors": True, "gitops.kubernetes.gitops_render": {
            "cache_dir": str(apps.path.parent.parent / "cache"),
            "application": {"name": "shop", "source": {"repo_url": apps.url, "revision": moved, "path": "app", **recurse}}}},
    ))
    second, render = run["second"], run["render"]
    assert not second.get("failed"), second.get("msg")
    assert second["revision"] == moved
    assert second["counts"].get("pruned", 0) == 0, resources_by_kind_name(second)
    assert members(kubectl, namespace) == before, "every object stays, the very same objects (uids unchanged)"
    assert kubectl.get("configmap", "web-a", "-n", namespace)["data"] == {"mode": "blue"}, "the pinned commit, not the tip"
    assert not render.get("failed"), render.get("msg")
    assert sorted(obj["name"] for obj in render["objects"]) == ["base", "web-a", "web-b"]
    assert sorted(source["file"] for source in render["sources"]) == ["app/base.yaml", "app/web/a.yaml", "app/web/b.yaml"]

    # a submodule that cannot be fetched fails the render: nothing applied, nothing pruned
    apps.git("config", "-f", ".gitmodules", "submodule.app/web.url", "../no-such-repository")
    broken = apps.commit({"app/base.yaml": config_map("base", changed="yes")}, "point app/web at a missing repository")
    third = ansible_playbook(tasks(sync("third", apps, namespace, **recurse)))["third"]
    assert third.get("failed")
    assert third["msg"].startswith(f"application 'shop': submodule 'app/web' (file://{apps.path.parent}/no-such-repository) "
                                   f"of {apps.url} at commit {broken[:12]} cannot be fetched: "), third["msg"]
    assert members(kubectl, namespace) == before
    assert "changed" not in (kubectl.get("configmap", "base", "-n", namespace).get("data") or {})


def test_a_tag_moved_on_the_remote_is_followed_on_the_next_run(kubectl, namespace, git_repo, ansible_playbook):
    repo = git_repo("tagged")
    first = repo.commit({"app/settings.yaml": config_map("settings", release="1")}, "release 1")
    repo.git("tag", "v1")
    run = ansible_playbook(tasks(sync("first", repo, namespace, revision="v1")))
    assert not run["first"].get("failed"), run["first"].get("msg")
    assert run["first"]["revision"] == first

    second = repo.commit({"app/settings.yaml": config_map("settings", release="2")}, "release 2")
    repo.git("tag", "-f", "v1", second)
    run = ansible_playbook(tasks(sync("second", repo, namespace, revision="v1")))
    assert not run["second"].get("failed"), run["second"].get("msg")
    assert run["second"]["revision"] == second
    assert kubectl.get("configmap", "settings", "-n", namespace)["data"] == {"release": "2"}
