"""App of apps: the record of which parent rendered a child, and when a parent prunes a child it stops rendering."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.removed_children import (
    ParentSync,
    RemovedChild,
    child_labels,
    find_removed_children,
    prune_verdict,
    searched,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._report import DRIFT, SYNC, build_report
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SyncPolicy


def application(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "annotations": annotations}, "spec": {}}


def test_a_child_records_its_parent_its_cluster_and_its_own_prune_option():
    labels = child_labels("apps", "prod", application("web", **{"argocd.argoproj.io/sync-options": "Prune=false"}))
    assert labels == {"gitops.kubernetes/app-of-apps-parent": "apps", "gitops.kubernetes/app-of-apps-cluster": "prod",
                      "gitops.kubernetes/app-of-apps-prune": "false"}
    assert child_labels("apps", None, application("web")) == {"gitops.kubernetes/app-of-apps-parent": "apps"}
    long_name = "a" * 70
    assert child_labels(long_name, None, application("web"))["gitops.kubernetes/app-of-apps-parent"].startswith("sha256-")


def test_a_malformed_sync_options_annotation_on_a_child_is_refused():
    with pytest.raises(SpecError, match="Prune=maybe"):
        child_labels("apps", None, application("web", **{"argocd.argoproj.io/sync-options": "Prune=maybe"}))


def parent(**policy: Any) -> ParentSync:
    return ParentSync("apps", SyncPolicy(**{"prune": True, **policy}), children=["web"], own_objects=0)


CHILD = RemovedChild("api", "shop", "apps")


def test_an_automated_parent_that_prunes_prunes_the_child():
    assert prune_verdict(parent(), CHILD, manual=False, confirmed=False) == ""


def test_a_parent_with_prune_off_keeps_the_child():
    assert prune_verdict(parent(prune=False), CHILD, False, False) == \
        "not pruned: pruning is off for apps (syncPolicy.automated.prune)"


def test_a_manual_parent_prunes_only_when_synced_by_name():
    assert "apps is a manual application" in prune_verdict(parent(automated=False), CHILD, False, False)
    assert prune_verdict(parent(automated=False), CHILD, manual=True, confirmed=False) == ""


def test_a_parent_whose_sync_was_skipped_prunes_nothing():
    skipped = parent()
    skipped.skipped = "sync skipped: inside deny window"
    assert prune_verdict(skipped, CHILD, False, False).startswith("not pruned: the sync of apps wrote nothing")


def test_prune_false_and_prune_confirm_of_the_child_or_of_the_parent():
    own = RemovedChild("api", "shop", "apps", prune_option="false")
    assert "Prune=false" in prune_verdict(parent(), own, False, False)
    assert "syncOptions Prune=false of apps" in prune_verdict(parent(object_prune="false"), CHILD, False, False)
    confirm = RemovedChild("api", "shop", "apps", prune_option="confirm")
    assert "run again with apps in confirm" in prune_verdict(parent(), confirm, False, confirmed=False)
    assert prune_verdict(parent(), confirm, False, confirmed=True) == ""


def test_a_parent_that_renders_nothing_prunes_only_with_allow_empty():
    empty = ParentSync("apps", SyncPolicy(prune=True), children=[], own_objects=0)
    assert "needs allowEmpty" in prune_verdict(empty, CHILD, False, False)
    empty.policy.allow_empty = True
    assert prune_verdict(empty, CHILD, False, False) == ""


def test_the_cluster_is_searched_only_with_an_app_of_apps_in_play():
    plain = ParentSync("web", SyncPolicy(prune=True), children=[], own_objects=2)
    assert not searched([plain], [{}])
    assert searched([plain], [{"gitops.kubernetes/app-of-apps": "true"}])  # a parent at its last sync
    assert searched([parent()], [{}])


class FakeClient:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.selectors: list[str] = []

    def resource_for(self, api_version: str, kind: str) -> str:
        return "configmaps"

    def list_objects(self, resource: str, namespace: str | None, label_selector: str) -> list[dict[str, Any]]:
        assert namespace is None
        self.selectors.append(label_selector)
        return self.items


def inventory(name: str, namespace: str, parent_name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": f"applyset-{name}", "namespace": namespace,
                         "labels": {"gitops.kubernetes/app-of-apps-parent": parent_name, **labels}}}


def test_removed_children_are_those_of_this_runs_parents_no_longer_in_the_run():
    client = FakeClient([
        inventory("web", "shop", "apps"),  # still rendered
        inventory("api", "shop", "apps", **{"gitops.kubernetes/app-of-apps-prune": "confirm"}),  # removed
        inventory("cache", "ops", "other"),  # another parent, not synced in this run
        inventory("gen", "shop", "apps", **{"gitops.kubernetes/applicationset": "svc"}),  # its ApplicationSet's business
    ])
    found = find_removed_children(client, [parent()], {"apps", "web"}, "prod", {"svc"})
    assert found == [RemovedChild("api", "shop", "apps", "confirm")]
    assert client.selectors == ["gitops.kubernetes/app-of-apps-parent,gitops.kubernetes/app-of-apps-cluster=prod"]
    find_removed_children(client, [parent()], set(), None, set())
    assert client.selectors[-1] == "gitops.kubernetes/app-of-apps-parent,!gitops.kubernetes/app-of-apps-cluster"


def report_of(children: list[dict[str, Any]], mode: str) -> list[str]:
    result = {"applications": [{"name": "apps", "sync_status": "OutOfSync", "health_status": "Healthy",
                                "removed_children": children}]}
    return build_report([{"cluster": "prod", "result": result}], mode).summary_lines()


def test_the_report_says_what_became_of_each_removed_child():
    line = report_of([{"name": "api", "action": "pruned", "cascade": "foreground"},
                      {"name": "db", "action": "pruned", "cascade": "orphan"},
                      {"name": "web", "action": "prune skipped", "message": "not pruned: pruning is off for apps"}], SYNC)[0]
    assert line.endswith("; child api pruned, with its resources (foreground); child db pruned, its resources left in "
                         "place; child web requires pruning (not pruned: pruning is off for apps)")
    assert "child api would be pruned" in report_of([{"name": "api", "action": "pruned", "cascade": "foreground"}], DRIFT)[0]


def generated_finalizers(preserve: bool, finalizers: list[str] | None = None) -> list[list[str] | None]:
    from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import expand_applicationset

    template = {"metadata": {"name": "{{name}}", **({"finalizers": finalizers} if finalizers else {})},
                "spec": {"project": "default", "source": {"repoURL": "https://git.example/apps.git", "path": "{{name}}"},
                         "destination": {"namespace": "{{name}}"}}}
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "svc"},
                "spec": {"generators": [{"list": {"elements": [{"name": "api"}]}}], "template": template,
                         "syncPolicy": {"preserveResourcesOnDeletion": preserve}}}
    return [app.manifest["metadata"].get("finalizers") for app in expand_applicationset(manifest, [], None).applications]


def test_generated_applications_carry_the_resources_finalizer_unless_the_set_preserves_resources():
    # as Argo CD's controller: recorded on the inventory, it rules a deletion that is not the set's own (an app of
    # apps parent that stops rendering the set, gitops_owner)
    assert generated_finalizers(preserve=False) == [["resources-finalizer.argocd.argoproj.io"]]
    assert generated_finalizers(False, ["resources-finalizer.argocd.argoproj.io/background"]) == [
        ["resources-finalizer.argocd.argoproj.io/background"]]
    assert generated_finalizers(preserve=True, finalizers=["resources-finalizer.argocd.argoproj.io"]) == [None]
