"""Dependencies between the applications of a run: spec, graph, scheduler and gates (_sync/dependencies.py).

The order against a real cluster is proven in tests/integration/test_dependencies.py.
"""

from __future__ import annotations

import copy
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError, SpecError, SyncError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import Health
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import (
    ApplicationInput,
    _spec_identity,
    selection_dependencies,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import DEPENDS_ON_ANNOTATION, parse_application
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import dependencies
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.dependencies import (
    build_graph,
    dependency_block,
    run_in_order,
    sync_order,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.results import (
    CREATED,
    PRUNED,
    ObjectResult,
    SyncResult,
    SyncSettings,
)

OURS = {"name": "shop", "source": {"repo_url": "https://example.org/apps.git", "path": "shop"}}
ARGO = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "shop"},
    "spec": {"source": {"repoURL": "https://example.org/apps.git", "path": "shop"}, "destination": {"namespace": "shop"}},
}
# a waiting test never hangs: a broken scheduler fails it after this many seconds
GIVE_UP = 10


def ours(**extra: Any) -> dict[str, Any]:
    return {**copy.deepcopy(OURS), **extra}


def argo_with(annotations: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(ARGO)
    raw["metadata"]["annotations"] = annotations
    return raw


# ---------------------------------------------------------------- spec


def test_our_spec_takes_depends_on_as_a_list_of_names_each_once():
    assert parse_application(ours(depends_on=["db", "cache", "db"])).depends_on == ["db", "cache"]
    assert parse_application(ours()).depends_on == []


def test_argo_manifest_takes_depends_on_from_our_annotation_comma_separated():
    app = parse_application(argo_with({DEPENDS_ON_ANNOTATION: " db, cache ,", "other": {"not": "ours"}}))
    assert app.depends_on == ["db", "cache"]


@pytest.mark.parametrize("raw, message", [
    (ours(depends_on=["shop"]), "cannot depend on itself"),
    (ours(depends_on=["Not_A_Name"]), "'Not_A_Name' is not an application name"),
    (ours(depends_on="db"), "must be a list of strings"),
    (argo_with({DEPENDS_ON_ANNOTATION: "db,shop"}), "cannot depend on itself"),
    (argo_with({DEPENDS_ON_ANNOTATION: ["db"]}), "must be a string of comma-separated application names"),
])
def test_a_bad_depends_on_is_refused_naming_the_application_and_the_key(raw, message):
    with pytest.raises(SpecError) as caught:
        parse_application(raw)
    assert message in str(caught.value)
    assert caught.value.application == "shop"
    assert "depends" in str(caught.value)


def test_depends_on_is_not_part_of_the_digest_of_what_is_deployed():
    # an automated application without self-heal must not sync again because only its dependencies changed
    assert _spec_identity(parse_application(ours(depends_on=["db"]))) == _spec_identity(parse_application(ours()))


def test_manifests_entry_takes_depends_on_and_refuses_a_bad_one():
    entry = {"name": "web", "manifests": [], "depends_on": ["db"]}
    assert ApplicationInput(entry, "/tmp").depends_on == ["db"]
    with pytest.raises(SpecError, match="depends_on must be a list"):
        ApplicationInput({**entry, "depends_on": "db"}, "/tmp")


def test_dependencies_the_selection_left_out_join_as_unselected_transitively():
    web = ApplicationInput(ours(name="web", depends_on=["api"]), "/tmp")
    excluded = [ours(name="api", depends_on=["db"]), ours(name="db"), ours(name="unrelated")]
    found = selection_dependencies([web], excluded)
    assert [(one.name, one.selected) for one in found] == [("api", False), ("db", False)]
    assert selection_dependencies([ApplicationInput(ours(name="web"), "/tmp")], excluded) == []


# ---------------------------------------------------------------- graph


def test_sync_order_puts_each_application_in_the_first_wave_after_its_dependencies():
    graph = build_graph([("c", ["b"]), ("a", []), ("b", ["a"]), ("d", []), ("e", ["a", "d"])])
    assert sync_order(graph) == [["a", "d"], ["b", "e"], ["c"]]
    assert sync_order(graph, include=lambda index: graph.names[index] != "d") == [["a"], ["b", "e"], ["c"]]
    assert build_graph([("a", []), ("b", [])]).empty


def test_an_unknown_name_is_refused_naming_who_depends_on_it():
    with pytest.raises(SpecError) as caught:
        build_graph([("web", ["db", "cache"]), ("db", [])])
    assert "web depends on cache" in str(caught.value)
    assert "applications of this run: db, web" in str(caught.value)


def test_a_cycle_is_refused_naming_the_applications_in_it():
    with pytest.raises(SpecError) as caught:
        build_graph([("x", []), ("a", ["c"]), ("b", ["a"]), ("c", ["b"])])
    message = str(caught.value)
    assert "dependency cycle" in message
    cycle = message.split(": ", 1)[1].split(";")[0].split(" -> ")
    assert sorted(set(cycle)) == ["a", "b", "c"] and cycle[0] == cycle[-1]


def test_a_name_two_applications_share_is_refused_as_ambiguous():
    with pytest.raises(SpecError, match="a name two applications of this run have"):
        build_graph([("db", []), ("db", []), ("web", ["db"])])


def test_an_unknown_name_after_a_failed_render_skips_instead_of_failing_the_run():
    graph = build_graph([("web", ["child"]), ("parent", [])], unknown_reason="the render of parent failed")
    assert graph.unresolved == {0: "depends on child, which is not an application of this run (the render of parent failed)"}


# ---------------------------------------------------------------- scheduler


class Recorder:
    """work() for run_in_order: records start and finish order; behaviour per name."""

    def __init__(self, fail: tuple[str, ...] = (), block: dict[str, str] | None = None) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.fail = fail
        self.block = block or {}
        self.hold: dict[str, threading.Event] = {}  # name -> event it waits for before finishing

    def work(self, one: Any) -> str:
        with self.lock:
            self.events.append(f"start {one.name}")
        if one.name in self.hold:
            assert self.hold[one.name].wait(GIVE_UP), f"{one.name} was held forever"
        if one.name in self.fail:
            raise SyncError("boom")
        with self.lock:
            self.events.append(f"end {one.name}")
        return f"synced {one.name}"

    def gate(self, one: Any, outcome: Any) -> str | None:
        if isinstance(outcome, SyncError):
            return f"failed: {outcome.message}"
        return self.block.get(one.name)

    def run(self, pairs: list[tuple[str, list[str]]], workers: int = 4) -> dict[str, Any]:
        inputs = [SimpleNamespace(name=name) for name, dummy in pairs]
        outcomes = run_in_order(build_graph(pairs), inputs, self.work, self.gate,
                                lambda one, reason: f"{one.name} {reason}", workers)
        return dict(zip([name for name, dummy in pairs], outcomes))


def test_a_chain_runs_in_dependency_order():
    recorder = Recorder()
    outcomes = recorder.run([("c", ["b"]), ("b", ["a"]), ("a", [])])
    assert recorder.events == ["start a", "end a", "start b", "end b", "start c", "end c"]
    assert outcomes == {"a": "synced a", "b": "synced b", "c": "synced c"}


def test_an_independent_application_does_not_wait_for_the_chain():
    recorder = Recorder()
    # a finishes only once the independent d has started: a scheduler that made d wait would never get there
    recorder.hold["a"] = threading.Event()
    original = recorder.work

    def work(one: Any) -> str:
        if one.name == "d":
            recorder.hold["a"].set()
        return original(one)

    recorder.work = work  # type: ignore[method-assign]
    recorder.run([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", [])])
    assert recorder.events.index("start d") < recorder.events.index("end a")
    assert recorder.events.index("end a") < recorder.events.index("start b") < recorder.events.index("start c")


def test_a_dependant_starts_when_its_own_dependencies_are_done_not_the_whole_wave():
    recorder = Recorder()
    # slow is in the first wave; fast's dependant must not wait for it
    recorder.hold["slow"] = threading.Event()
    original = recorder.work

    def work(one: Any) -> str:
        if one.name == "after-fast":
            recorder.hold["slow"].set()
        return original(one)

    recorder.work = work  # type: ignore[method-assign]
    recorder.run([("slow", []), ("fast", []), ("after-fast", ["fast"])])
    assert recorder.events.index("start after-fast") < recorder.events.index("end slow")


def test_no_more_than_workers_applications_run_at_once():
    running, peak = [0], [0]
    lock = threading.Lock()
    both_started = threading.Barrier(2, timeout=GIVE_UP)

    def work(one: Any) -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        if one.name in ("a", "b"):
            both_started.wait()  # the first two do run together
        with lock:
            running[0] -= 1
        return one.name

    pairs = [(name, []) for name in "abcdef"]
    inputs = [SimpleNamespace(name=name) for name, dummy in pairs]
    outcomes = run_in_order(build_graph(pairs), inputs, work, lambda one, outcome: None, lambda one, reason: reason, 2)
    assert outcomes == list("abcdef")
    assert peak[0] == 2


def test_a_failed_dependency_skips_its_dependants_transitively_with_the_reason():
    recorder = Recorder(fail=("a",))
    outcomes = recorder.run([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", [])])
    assert isinstance(outcomes["a"], SyncError)
    assert outcomes["b"] == "b skipped: depends on a, which failed: boom"
    assert outcomes["c"] == "c skipped: depends on b, which was skipped (depends on a, which failed: boom)"
    assert outcomes["d"] == "synced d"
    assert "start b" not in recorder.events and "start c" not in recorder.events


def test_an_unhealthy_dependency_skips_only_what_depends_on_it():
    recorder = Recorder(block={"db": "is Degraded (Deployment db is Degraded)"})
    outcomes = recorder.run([("db", []), ("api", ["db", "cache"]), ("cache", []), ("web", ["cache"])])
    assert outcomes["api"] == "api skipped: depends on db, which is Degraded (Deployment db is Degraded)"
    assert outcomes["web"] == "synced web"
    assert outcomes["cache"] == "synced cache"


def test_an_unresolved_dependency_skips_without_running():
    recorder = Recorder()
    graph = build_graph([("web", ["child"]), ("api", ["web"])], unknown_reason="the render of parent failed")
    inputs = [SimpleNamespace(name="web"), SimpleNamespace(name="api")]
    outcomes = run_in_order(graph, inputs, recorder.work, recorder.gate, lambda one, reason: reason, 4)
    assert outcomes[0].startswith("skipped: depends on child, which is not an application of this run")
    assert outcomes[1].startswith("skipped: depends on web, which was skipped (depends on child")
    assert recorder.events == []


def test_a_lost_connection_stops_the_run_at_once():
    def work(one: Any) -> str:
        raise ClusterConnectionError("connection refused")

    graph = build_graph([("a", []), ("b", ["a"])])
    with pytest.raises(ClusterConnectionError):
        run_in_order(graph, [SimpleNamespace(name="a"), SimpleNamespace(name="b")], work, lambda one, outcome: None,
                     lambda one, reason: reason, 4)


# ---------------------------------------------------------------- gate


def deployment(ready: bool) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db", "namespace": "dep", "generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1 if ready else 0,
                       "availableReplicas": 1 if ready else 0}}


def synced(health: str, live: dict[str, Any] | None = None, **extra: Any) -> SyncResult:
    entry = ObjectResult(ObjectRef("apps", "Deployment", "dep", "db"), "apps/v1", CREATED, live=live,
                         health=SyncSettings().assess(live) if live else Health(health))
    gone = ObjectResult(ObjectRef("", "ConfigMap", "dep", "old"), "v1", PRUNED, live={"kind": "ConfigMap"},
                        health=Health("Missing"))
    return SyncResult("db", "dep", "abc", [entry, gone], health_status=health, **extra)


class FakeClient:
    """Answers GETs of the Deployment with the next of `answers`."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.gets = 0

    def resource_for(self, api_version: str, kind: str) -> Any:
        return (api_version, kind)

    def get(self, resource: Any, namespace: str | None, name: str) -> dict[str, Any]:
        self.gets += 1
        return self.answers[min(self.gets, len(self.answers)) - 1]


def test_a_healthy_synced_dependency_lets_its_dependants_start():
    assert dependency_block(FakeClient([]), synced("Healthy"), SyncSettings(), selected=True) is None


def test_a_failed_dependency_blocks_with_its_message():
    assert dependency_block(FakeClient([]), SyncError("apply failed"), SyncSettings(), True) == "failed: apply failed"


def test_a_dependency_this_run_does_not_sync_must_be_synced_already():
    manual = synced("Healthy", skipped="manual application", sync_status="OutOfSync")
    assert dependency_block(FakeClient([]), manual, SyncSettings(), True) == \
        "is OutOfSync and this run does not sync it (manual application)"
    # check mode predicts it too: a real run would not sync it either
    assert dependency_block(FakeClient([]), manual, SyncSettings(check_mode=True), True).startswith("is OutOfSync")
    unselected = synced("Healthy", sync_status="OutOfSync")
    assert dependency_block(FakeClient([]), unselected, SyncSettings(), selected=False) == \
        "is OutOfSync and this run does not sync it (it is not selected in this run)"
    assert dependency_block(FakeClient([]), synced("Healthy"), SyncSettings(), selected=False) is None


def test_a_progressing_dependency_is_waited_for_until_healthy(monkeypatch):
    monkeypatch.setattr(dependencies, "POLL_FIRST", 0.0)
    client = FakeClient([deployment(False), deployment(True)])
    result = synced("Progressing", live=deployment(False))
    assert dependency_block(client, result, SyncSettings(), True) is None
    assert client.gets == 2
    assert result.health_status == "Healthy"


def test_a_dependency_still_progressing_at_the_timeout_blocks_naming_the_object(monkeypatch):
    monkeypatch.setattr(dependencies, "POLL_FIRST", 0.0)
    result = synced("Progressing", live=deployment(False))
    reason = dependency_block(FakeClient([deployment(False)]), result, SyncSettings(wait_timeout=0.0), True)
    assert reason.startswith("is Progressing (Deployment.apps dep/db is Progressing: Waiting for rollout"), reason


def test_check_mode_does_not_wait_for_or_judge_the_health_of_a_dependency_it_would_sync():
    client = FakeClient([])
    assert dependency_block(client, synced("Progressing", live=deployment(False)), SyncSettings(check_mode=True), True) is None
    assert client.gets == 0


def test_generated_applications_take_depends_on_from_the_template_and_their_element():
    from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import inputs_from_params

    template = {"source": {"repo_url": "https://example.org/apps.git"}, "depends_on": ["db"]}
    params = {"generators": [{"list": {"template": template, "elements": [
        {"name": "api"}, {"name": "db", "depends_on": []}, {"name": "web", "depends_on": ["api", "db"]}]}}],
        "applications": [], "only": ["api", "web"]}
    excluded: list[dict[str, Any]] = []
    inputs = inputs_from_params(params, "/tmp", excluded=excluded)
    assert [(one.name, one.depends_on) for one in inputs] == [("api", ["db"]), ("web", ["api", "db"])]
    # db, left out by only, joins the run to be compared as their dependency
    assert [(one.name, one.selected) for one in selection_dependencies(inputs, excluded)] == [("db", False)]
