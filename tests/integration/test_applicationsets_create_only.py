"""ApplicationSet syncPolicy.applicationsSync create-only through the applications role: an application is created as
first generated and never updated, against a real Git repository and the local control plane."""

from __future__ import annotations

import json
import uuid

import pytest

from module_tasks import tasks

from test_applicationsets import app_template, applicationset, configmap, parents, write_file


@pytest.mark.parametrize("policy", ["create-only", "create-update"])
def test_co_create_only_keeps_an_application_as_created_and_reports_the_generated_change(
        run_role, ansible_playbook, git_repo, kubectl, namespace, tmp_path, policy):
    repo = git_repo()
    repo.commit({f"apps/{name}/{file}.yaml": configmap(f"co-{name}-{file}") for file in ("main", "extra") for name in ("a", "b")})
    appset_name = f"co-set-{uuid.uuid4().hex[:6]}"

    def host(exclude: str, elements: list[str], label: str, applications_sync: str = policy) -> dict:
        template = app_template("co-{{ .name }}-" + appset_name[-6:], repo.url, "apps/{{ .name }}", namespace)
        template["metadata"]["labels"] = {"tier": label}
        if exclude:
            template["spec"]["source"]["directory"] = {"exclude": exclude}
        manifest = applicationset(appset_name, [{"list": {"elements": [{"name": name} for name in elements]}}], template,
                                  syncPolicy={"applicationsSync": applications_sync})
        return {"prod": {"gitops_applicationset_files": [write_file(tmp_path, manifest)]}}

    app_a, app_b = (f"co-{name}-{appset_name[-6:]}" for name in ("a", "b"))
    created = run_role("gitops.kubernetes.sync", host("", ["a", "b"], "one"))
    assert created.rc == 0, created.stdout[-3000:]
    assert all(kubectl.exists(f"configmap/co-{name}-{file}", "-n", namespace) for name in "ab" for file in ("main", "extra"))
    assert parents(kubectl, appset_name) == [f"applyset-{app_a}", f"applyset-{app_b}"]

    # the template changes (a label, and the directory leaves extra.yaml out): create-only keeps the application as
    # created and says so; create-update applies the change (extra pruned)
    changed = host("extra.yaml", ["a", "b"], "two")
    drift = run_role("gitops.kubernetes.sync", changed, check=True)
    assert drift.rc == 0, drift.stdout[-3000:]
    again = run_role("gitops.kubernetes.sync", changed)
    assert again.rc == 0, again.stdout[-3000:]
    entry = again.application("prod", app_a)
    if policy == "create-only":
        for run in (drift, again):
            kept = run.application("prod", app_a)["applicationset_kept"]
            assert kept["generated_differs"] and kept["differences"] == ["metadata.labels.tier", "spec.source.directory"]
            assert f"{app_a}: ApplicationSet {appset_name} has applicationsSync create-only: the generated application " \
                   f"differs from the one created (metadata.labels.tier, spec.source.directory) and was not applied" in run.stdout
        assert entry["sync_status"] == "Synced" and again.recap("prod")["changed"] == 0, again.stdout[-3000:]
        assert kubectl.exists("configmap/co-a-extra", "-n", namespace)
        recorded = json.loads(kubectl.get("configmap", f"applyset-{app_a}", "-n", namespace)["data"]["application"])
        assert recorded["metadata"]["labels"]["tier"] == "one" and "directory" not in recorded["spec"]["source"]
        # gitops_diff compares the application as created too: no drift from a change the sync never applies
        diff = ansible_playbook(tasks({"gitops.kubernetes.gitops_diff": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}", "cluster": {"name": "prod"},
            "applicationset_files": changed["prod"]["gitops_applicationset_files"]}, "register": "co_diff"}))
        assert diff.rc == 0, diff.stdout[-3000:]
        assert diff["co_diff"]["sync_status"] == "Synced", diff["co_diff"]
        assert any("differs from the one created" in warning for warning in diff["co_diff"]["warnings"])
    else:
        assert "applicationset_kept" not in entry
        assert not kubectl.exists("configmap/co-a-extra", "-n", namespace)
    assert kubectl.exists("configmap/co-a-main", "-n", namespace)

    # an application the set no longer generates stays, with its objects, under both policies
    removed = run_role("gitops.kubernetes.sync", host("extra.yaml", ["a"], "two"))
    assert removed.rc == 0, removed.stdout[-3000:]
    assert parents(kubectl, appset_name) == [f"applyset-{app_a}", f"applyset-{app_b}"]
    assert kubectl.exists("configmap/co-b-main", "-n", namespace)
    assert kubectl.exists("configmap/co-b-extra", "-n", namespace) is (policy == "create-only")

    if policy == "create-only":
        # the set allows updates again: the generated application is applied and the record forgotten
        updated = run_role("gitops.kubernetes.sync", host("extra.yaml", ["a"], "two", "create-update"))
        assert updated.rc == 0, updated.stdout[-3000:]
        assert not kubectl.exists("configmap/co-a-extra", "-n", namespace) and kubectl.exists("configmap/co-a-main", "-n", namespace)
        inventory = kubectl.get("configmap", f"applyset-{app_a}", "-n", namespace)
        assert "application" not in inventory["data"] and "inventory" in inventory["data"]
        assert "gitops.kubernetes/applicationset-created" not in inventory["metadata"]["labels"]
        assert "application" not in kubectl.get("configmap", f"applyset-{app_b}", "-n", namespace)["data"]
