"""LiveMonitor: which changes are reported, coalesced per application, with Argo CD's self-heal backoff."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils import _live_watch
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import build_parent
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource
from ansible_collections.gitops.kubernetes.plugins.module_utils._live_watch import LiveMonitor, Timing
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._watch import DELETED, MODIFIED, RELISTED


@dataclass
class App:
    name: str
    cluster: str = "prod"
    namespace: str = "shop"
    automated: bool = True
    self_heal: bool = True


class Discovery:
    def preferred(self, group: str, kind: str) -> ApiResource:
        return ApiResource(group, "v1", kind, kind.lower() + "s", True)


class Client:
    default_namespace = "default"

    def discovery(self) -> Discovery:
        return Discovery()

    def refresh_discovery_if_cached(self) -> bool:
        return False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def item(name: str, value: str, our_time: str = "2026-01-01T00:00:00Z", set_id: str = "") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "shop", "labels": {"applyset.kubernetes.io/part-of": set_id},
                         "managedFields": [{"manager": "gitops.kubernetes", "operation": "Apply", "time": our_time,
                                            "fieldsV1": {"f:data": {"f:value": {}}}}]},
            "data": {"value": value}}


@pytest.fixture
def monitor(monkeypatch):
    monkeypatch.setattr(_live_watch.WatchStream, "start", lambda self: self)  # no threads: events are fed by hand
    clock = Clock()
    timing = Timing(coalesce=1, coalesce_max=5, backoff=2, factor=3, backoff_max=300, backoff_reset=300)
    live = LiveMonitor(Client(), "prod", [App("shop")], timing, clock=clock)  # type: ignore[arg-type]
    members = [ObjectRef("", "ConfigMap", "shop", f"item-{i}") for i in range(10)]
    live._on_parent_event(RELISTED, {"items": [build_parent("shop", "shop", members)]})
    set_id = live._apps["shop"].set_id
    live._on_member_event(("", "ConfigMap", "shop"), RELISTED, {"items": [item(f"item-{i}", "git", set_id=set_id) for i in range(10)]})
    live.clock_ = clock  # type: ignore[attr-defined]
    live.set_id_ = set_id  # type: ignore[attr-defined]
    return live


def edit(monitor: LiveMonitor, name: str, value: str, **kwargs: Any) -> None:
    monitor._on_member_event(("", "ConfigMap", "shop"), MODIFIED, item(name, value, set_id=monitor.set_id_, **kwargs))  # type: ignore[attr-defined]


def test_ten_edits_within_the_window_are_one_report_naming_all_ten(monitor):
    for i in range(10):
        edit(monitor, f"item-{i}", "hand")
        monitor.clock_.now += 0.1
    assert monitor.due() == []  # still coming in: held back
    monitor.clock_.now += 1.0
    reports = monitor.due()
    assert len(reports) == 1 and len(reports[0]["changed"]) == 10
    assert reports[0]["application"] == "shop" and reports[0]["self_heal"] and reports[0]["attempt"] == 1
    assert monitor.due() == []


def test_changes_that_keep_coming_are_reported_after_coalesce_max(monitor):
    for step in range(60):
        edit(monitor, "item-2", f"hand-{step}")
        monitor.clock_.now += 0.5
        if monitor.due():
            break
    assert step == 9  # 5 s after the first change, although they never stopped


def test_the_collections_own_write_is_not_reported(monitor):
    edit(monitor, "item-0", "hand")
    monitor.clock_.now += 2
    assert len(monitor.due()) == 1
    edit(monitor, "item-0", "git", our_time="2026-01-01T00:05:00Z")  # the sync restoring it: our apply time moved
    monitor.clock_.now += 400
    assert monitor.due() == []


def test_reports_to_one_application_back_off_exponentially_and_start_over_after_a_quiet_period(monitor):
    times = []
    for value in range(5):
        edit(monitor, "item-1", f"hand-{value}")
        for dummy in range(400):
            monitor.clock_.now += 0.5
            reports = monitor.due()
            if reports:
                times.append((monitor.clock_.now, reports[0]["next_report_not_before_seconds"]))
                break
    gaps = [later - earlier for (earlier, dummy), (later, dummy2) in zip(times, times[1:])]
    assert [delay for dummy, delay in times] == [2, 6, 18, 54, 162]
    assert all(gap >= delay for gap, (dummy, delay) in zip(gaps, times))
    monitor.clock_.now += 301
    edit(monitor, "item-1", "after a quiet period")
    monitor.clock_.now += 1
    assert monitor.due()[0]["attempt"] == 1


def test_a_failed_sync_in_the_history_is_reported_again_but_one_from_before_the_start_is_not(monitor):
    members = [ObjectRef("", "ConfigMap", "shop", f"item-{i}") for i in range(10)]
    failed = [{"id": 1, "result": "Failed", "message": "hook migrate failed"}]
    monitor._on_parent_event(MODIFIED, build_parent("shop", "shop", members, history=failed))
    monitor.clock_.now += 2
    reports = monitor.due()
    assert len(reports) == 1 and reports[0]["retry_of_failed_sync"] and "hook migrate failed" in reports[0]["reason"]


def test_a_deleted_member_is_reported_unless_the_sync_pruned_it(monitor):
    monitor._on_member_event(("", "ConfigMap", "shop"), DELETED, item("item-3", "git", set_id=monitor.set_id_))
    pruned = [ObjectRef("", "ConfigMap", "shop", f"item-{i}") for i in range(10) if i != 4]
    monitor._on_member_event(("", "ConfigMap", "shop"), DELETED, item("item-4", "git", set_id=monitor.set_id_))
    monitor._on_parent_event(MODIFIED, build_parent("shop", "shop", pruned))  # the sync's record: item-4 is no member now
    monitor.clock_.now += 2
    reports = monitor.due()
    assert reports[0]["deleted"] == ["ConfigMap shop/item-3"]


def test_a_change_missed_while_disconnected_is_found_by_the_relist(monitor):
    items = [item(f"item-{i}", "git", set_id=monitor.set_id_) for i in range(10)]
    changed = copy.deepcopy(items)
    changed[5]["data"]["value"] = "hand"
    del changed[6]
    monitor._on_member_event(("", "ConfigMap", "shop"), RELISTED, {"items": changed})
    monitor.clock_.now += 2
    report = monitor.due()[0]
    assert report["changed"] == ["ConfigMap shop/item-5"] and report["deleted"] == ["ConfigMap shop/item-6"]
    assert json.dumps(report)  # an event is plain JSON
