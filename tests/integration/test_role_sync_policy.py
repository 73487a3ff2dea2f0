"""Argo CD's sync policy through the applications role (ansible-playbook), against the local control plane.

Manual applications are only reported by a scheduled run and synced when
selected by name; automated ones without selfHeal keep live edits until Git
changes; retries, the history length and the sync options mean what they mean
in Argo CD. kubectl observes the cluster; the report is read as a user would.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any


from role_helpers import RoleRun

SYNC = "gitops.kubernetes.sync"
WAIT = 240  # seconds any wait of these tests may take at most


def settings(mode: str = "blue", extra: str = "") -> dict[str, str]:
    return {"app/settings.yaml": f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: {mode}
          {extra}
        """}


def argo_app(name: str, repo_url: str, namespace: str, sync_policy: dict[str, Any] | None = None,
             path: str = "app", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"project": "default", "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                 **({"syncPolicy": sync_policy} if sync_policy is not None else {}), **spec},
    }


def history(kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    parent = kubectl.get(f"configmap/applyset-{name}", "-n", namespace)
    return json.loads(parent["data"]["inventory"])["history"]


def test_a_manual_application_is_reported_by_a_scheduled_run_and_synced_only_when_selected_by_name(
        run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit(settings())
    apps = {"gitops_applications": [argo_app("policy-manual", repo.url, namespace, {"syncOptions": ["CreateNamespace=true"]})]}

    scheduled = run_role(SYNC, {"prod": apps})
    assert scheduled.rc == 0, scheduled.stdout[-3000:]
    assert not kubectl.exists("configmap/settings", "-n", namespace)
    assert not kubectl.exists("configmap/applyset-policy-manual", "-n", namespace)  # nothing written, no inventory
    report = scheduled.application("prod", "policy-manual")
    assert report["status"] == "OutOfSync" and "manual application" in report["skipped"]
    assert report["counts"]["created"] == 1
    assert scheduled.summary()[0].startswith("prod/policy-manual: OutOfSync, Missing at ")
    assert "not synced (manual application (no automated sync policy)); would be: 1 created" in scheduled.summary()[0]

    pressed = run_role(SYNC, {"prod": apps}, extra_vars={"gitops_only": ["policy-manual"]})
    assert pressed.rc == 0, pressed.stdout[-3000:]
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "blue"}
    assert pressed.application("prod", "policy-manual")["status"] == "Synced"

    # a live edit stays: the next scheduled run reports it, and writes nothing
    kubectl.run("patch", "configmap/settings", "-n", namespace, "--type=merge", "-p", '{"data":{"mode":"red"}}')
    again = run_role(SYNC, {"prod": apps})
    assert again.rc == 0, again.stdout[-3000:]
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "red"}
    assert again.application("prod", "policy-manual")["counts"]["configured"] == 1
    assert len(history(kubectl, namespace, "policy-manual")) == 1


def test_automated_without_self_heal_keeps_a_live_edit_until_the_next_commit_and_self_heal_reverts_it(
        run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit(settings())
    no_heal = argo_app("policy-noheal", repo.url, namespace, {"automated": {"prune": True}})
    apps = {"gitops_applications": [no_heal]}

    first = run_role(SYNC, {"prod": apps})
    assert first.rc == 0, first.stdout[-3000:]
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "blue"}

    kubectl.run("patch", "configmap/settings", "-n", namespace, "--type=merge", "-p", '{"data":{"mode":"red"}}')
    kept = run_role(SYNC, {"prod": apps})
    assert kept.rc == 0, kept.stdout[-3000:]
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "red"}
    report = kept.application("prod", "policy-noheal")
    assert report["status"] == "OutOfSync" and "without selfHeal" in report["skipped"]
    assert len(history(kubectl, namespace, "policy-noheal")) == 1

    repo.commit(settings(extra="size: large"))
    synced = run_role(SYNC, {"prod": apps})
    assert synced.rc == 0, synced.stdout[-3000:]
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "blue", "size": "large"}
    assert synced.application("prod", "policy-noheal")["revision"] == repo.commits[-1]

    # the same application with selfHeal: the edit is reverted by the next run, without a commit
    kubectl.run("patch", "configmap/settings", "-n", namespace, "--type=merge", "-p", '{"data":{"mode":"red"}}')
    healing = {"gitops_applications": [argo_app("policy-noheal", repo.url, namespace,
                                                {"automated": {"prune": True, "selfHeal": True}})]}
    healed = run_role(SYNC, {"prod": healing})
    assert healed.rc == 0, healed.stdout[-3000:]
    assert kubectl.get("configmap/settings", "-n", namespace)["data"] == {"mode": "blue", "size": "large"}
    assert healed.application("prod", "policy-noheal")["status"] == "Synced"


CRD_KIND = "PolicyWidget"


def widget_crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"policywidgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "policywidgets", "singular": "policywidget", "kind": CRD_KIND},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def test_a_failed_sync_is_retried_and_succeeds_once_the_missing_kind_is_served(run_role, git_repo, kubectl, namespace):
    group = f"{namespace[-6:]}.policy.example"  # a group of this test only: the CRD is cluster-wide
    repo = git_repo()
    repo.commit({**settings(), "app/widget.yaml": f"""
        apiVersion: {group}/v1
        kind: {CRD_KIND}
        metadata:
          name: gadget
          annotations:
            argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
        spec:
          size: 3
        """})
    app = argo_app("policy-retry", repo.url, namespace, {
        "automated": {"selfHeal": True},
        "retry": {"limit": 5, "backoff": {"duration": "2s", "factor": 2, "maxDuration": "30s"}},
    })
    outcome: list[RoleRun] = []
    playbook = threading.Thread(target=lambda: outcome.append(run_role(SYNC, {"prod": {"gitops_applications": [app]}})))
    playbook.start()
    try:
        # the first attempt applies the ConfigMap, fails on the kind nobody serves yet, and records that
        deadline = time.monotonic() + WAIT
        while not (kubectl.exists("configmap/applyset-policy-retry", "-n", namespace)
                   and any(h["result"] == "Failed" for h in history(kubectl, namespace, "policy-retry"))):
            assert playbook.is_alive() and time.monotonic() < deadline, "no failed attempt was recorded"
            time.sleep(0.5)
        kubectl.apply(widget_crd(group))
        playbook.join(timeout=WAIT)
        run = outcome[0]
        assert run.rc == 0, run.stdout[-3000:]
        report = run.application("prod", "policy-retry")
        assert report["status"] == "Synced" and report["attempts"] >= 2
        assert f"after {report['attempts']} attempts" in run.summary()[0]
        entries = history(kubectl, namespace, "policy-retry")
        assert entries[0]["result"] == "Failed" and entries[0]["attempt"] == 1
        assert f"{group}/v1 {CRD_KIND} is not served" in entries[0]["message"]
        assert entries[-1]["result"] == "Succeeded" and entries[-1]["attempt"] == report["attempts"]
        widget = kubectl.get(f"policywidgets.v1.{group}", "-n", namespace)["items"]
        assert [(item["metadata"]["name"], item["spec"]) for item in widget] == [("gadget", {"size": 3})]
    finally:
        playbook.join(timeout=WAIT)
        kubectl.run("delete", "crd", f"policywidgets.{group}", "--ignore-not-found", "--wait=false", check=False)


def test_revision_history_limit_trims_the_sync_history(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    app = {"name": "policy-history", "source": {"repo_url": repo.url, "revision": "main", "path": "app"},
           "destination": {"namespace": namespace}, "revision_history_limit": 2}
    for mode in ("blue", "green", "teal"):
        repo.commit(settings(mode))
        run = run_role(SYNC, {"prod": {"gitops_applications": [app]}})
        assert run.rc == 0, run.stdout[-3000:]
    entries = history(kubectl, namespace, "policy-history")
    assert [entry["id"] for entry in entries] == [2, 3]
    assert [entry["revision"] for entry in entries] == repo.commits[1:]


def test_sync_options_mean_what_argo_cd_says(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: api
        spec:
          replicas: 2
          selector:
            matchLabels: {{app: api}}
          template:
            metadata:
              labels: {{app: api}}
            spec:
              containers:
                - name: api
                  image: registry.example/api:{tag}
        """
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"
    repo.commit({"confirm/one.yaml": config.format(name="one"), "confirm/two.yaml": config.format(name="two"),
                 "respect/api.yaml": deployment.format(tag="1.0"), "meta/settings.yaml": config.format(name="meta")})
    created_namespace = f"{namespace[:50]}-meta"
    heal = {"automated": {"prune": True, "selfHeal": True}}
    apps = [
        argo_app("policy-nsmeta", repo.url, created_namespace, {
            **heal, "syncOptions": ["CreateNamespace=true", "Validate=false"],
            "managedNamespaceMetadata": {"labels": {"team": "policy"}, "annotations": {"owner": "platform"}}}, path="meta"),
        argo_app("policy-confirm", repo.url, namespace, {**heal, "syncOptions": ["Prune=confirm"]}, path="confirm"),
        argo_app("policy-respect", repo.url, namespace, {**heal, "syncOptions": ["RespectIgnoreDifferences=true"]},
                 path="respect", ignoreDifferences=[{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]),
    ]
    try:
        first = run_role(SYNC, {"prod": {"gitops_applications": apps}})
        assert first.rc == 0, first.stdout[-3000:]
        # CreateNamespace with managedNamespaceMetadata; Validate=false applies with fieldValidation=Ignore
        metadata = kubectl.get(f"namespace/{created_namespace}")["metadata"]
        assert metadata["labels"]["team"] == "policy" and metadata["annotations"]["owner"] == "platform"
        assert kubectl.exists("configmap/meta", "-n", created_namespace)

        kubectl.run("scale", "deployment/api", "--replicas=5", "-n", namespace)
        repo.commit({"confirm/two.yaml": None, "respect/api.yaml": deployment.format(tag="2.0")})
        second = run_role(SYNC, {"prod": {"gitops_applications": apps}})
        assert second.rc == 0, second.stdout[-3000:]
        # RespectIgnoreDifferences: the new image is applied, the ignored replicas keep their live value
        api = kubectl.get("deployment/api", "-n", namespace)
        assert api["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/api:2.0"
        assert api["spec"]["replicas"] == 5
        # Prune=confirm: not pruned until confirmed
        assert kubectl.exists("configmap/two", "-n", namespace)
        assert second.application("prod", "policy-confirm")["counts"]["prune_skipped"] == 1

        confirmed = run_role(SYNC, {"prod": {"gitops_applications": apps}}, extra_vars={"gitops_confirm": ["policy-confirm"]})
        assert confirmed.rc == 0, confirmed.stdout[-3000:]
        assert not kubectl.exists("configmap/two", "-n", namespace)
        assert confirmed.application("prod", "policy-confirm")["counts"]["pruned"] == 1

        # FailOnSharedResource: an object of another application fails the sync, and is not even claimed
        shared = argo_app("policy-shared", repo.url, namespace, {**heal, "syncOptions": ["FailOnSharedResource=true"]},
                          path="confirm")
        refused = run_role(SYNC, {"prod": {"gitops_applications": [shared]}})
        assert refused.rc != 0
        error = refused.application("prod", "policy-shared")["error"]
        assert "ConfigMap" in error and "belongs to another application" in error
        annotations = kubectl.get("configmap/one", "-n", namespace)["metadata"].get("annotations") or {}
        assert "gitops.kubernetes/claimed-by" not in annotations
    finally:
        kubectl.run("delete", "namespace", created_namespace, "--wait=false", "--ignore-not-found", check=False)


def test_prunes_run_in_their_wave_unless_prune_last(run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    old = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\ndata:\n  a: b\n"
    for variant in ("waves", "last"):
        repo.write({f"{variant}/old.yaml": old})
    repo.commit({})
    heal = {"automated": {"prune": True, "selfHeal": True}}
    apps = [argo_app("policy-waves", repo.url, namespace, heal, path="waves"),
            argo_app("policy-last", repo.url, f"{namespace[:50]}-last",
                     {**heal, "syncOptions": ["PruneLast=true", "CreateNamespace=true"]}, path="last")]
    try:
        first = run_role(SYNC, {"prod": {"gitops_applications": apps}})
        assert first.rc == 0, first.stdout[-3000:]
        # the old object leaves Git; wave 1 then fails (its kind is served by nobody)
        broken = """
            apiVersion: missing.policy.example/v1
            kind: Nowhere
            metadata:
              name: later
              annotations:
                argocd.argoproj.io/sync-wave: "1"
                argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
            """
        repo.commit({"waves/old.yaml": None, "last/old.yaml": None, "waves/later.yaml": broken, "last/later.yaml": broken})
        second = run_role(SYNC, {"prod": {"gitops_applications": apps}})
        assert second.rc != 0
        assert "Nowhere is not served" in second.application("prod", "policy-waves")["error"]
        assert "Nowhere is not served" in second.application("prod", "policy-last")["error"]
        # without PruneLast the prune ran in wave 0, before the failing wave; with it, it never came
        assert not kubectl.exists("configmap/old", "-n", namespace)
        assert kubectl.exists("configmap/old", "-n", f"{namespace[:50]}-last")
    finally:
        kubectl.run("delete", "namespace", f"{namespace[:50]}-last", "--wait=false", "--ignore-not-found", check=False)
