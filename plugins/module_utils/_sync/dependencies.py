# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dependencies between the applications of one run (depends_on): the order and the gates.

Argo CD has no such thing (argo-cd#3517); the rules here are ours:

- An application starts only once every application it depends on has
  finished, synced without error, and is Healthy (a Progressing one is
  waited for, bounded by wait_timeout). Applications that do not depend on
  each other still run concurrently, at most `workers` at a time; a
  dependant never waits for an unrelated application.
- A dependency that failed, stayed out of sync (a manual application, a sync
  window) or is not Healthy skips its dependants, transitively, each with the
  reason; a skipped application is reported, never silently dropped.
- An unknown name or a cycle is a SpecError naming the applications, raised
  before anything is written.

`DependencyGraph` holds the edges, `sync_order` the waves a check-mode run
reports, `run_in_order` is the scheduler (generic: it knows nothing of
Kubernetes), `dependency_block` the gate for a synced application.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import SYNCED
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError, GitopsError, KubeApiError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import DEGRADED, HEALTHY, PROGRESSING, counts_for_application, worst
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.results import HANDED_OVER, PRUNE_SKIPPED, PRUNED, SyncResult, SyncSettings

T = TypeVar("T")
# how often a dependency that is still Progressing is read again (seconds, growing to POLL_MAX)
POLL_FIRST = 0.5
POLL_MAX = 5.0


@dataclass
class DependencyGraph:
    """The applications of a run (by position) and, for each, the positions it depends on."""

    names: list[str]
    depends_on: list[list[int]]
    # position -> why some of its dependencies are not applications of this run (it is skipped with this reason)
    unresolved: dict[int, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """No application depends on another: the run needs no order."""
        return not any(self.depends_on) and not self.unresolved

    def dependants(self) -> list[list[int]]:
        found: list[list[int]] = [[] for dummy in self.names]
        for index, needs in enumerate(self.depends_on):
            for need in needs:
                found[need].append(index)
        return found


def build_graph(applications: list[tuple[str, list[str]]], unknown_reason: str = "") -> DependencyGraph:
    """The graph of (name, depends_on) pairs; SpecError on an unknown or ambiguous name, or a cycle.

    unknown_reason, when given, says why some applications of the run could not be known (a render that
    failed, whose child applications are therefore missing): a name not found is then a skip with that reason
    instead of an error.
    """
    positions: dict[str, list[int]] = {}
    for index, (name, dummy) in enumerate(applications):
        positions.setdefault(name, []).append(index)
    graph = DependencyGraph([name for name, dummy in applications], [[] for dummy in applications])
    unknown: list[str] = []
    for index, (name, needs) in enumerate(applications):
        for need in needs:
            found = positions.get(need, [])
            if len(found) > 1:
                raise SpecError(f"depends on {need!r}, a name two applications of this run have (in two namespaces): "
                                "rename one of them", application=name)
            if found:
                graph.depends_on[index].append(found[0])
            elif unknown_reason:
                graph.unresolved[index] = f"depends on {need}, which is not an application of this run ({unknown_reason})"
            else:
                unknown.append(f"{name} depends on {need}")
    if unknown:
        known = ", ".join(sorted(positions)) or "none"
        raise SpecError("unknown application in depends_on (not an application of this run): " + "; ".join(unknown)
                        + f" (applications of this run: {known})")
    cycle = _find_cycle(graph)
    if cycle:
        raise SpecError("dependency cycle between applications: " + " -> ".join(graph.names[i] for i in cycle)
                        + "; nothing was synced")
    return graph


def _find_cycle(graph: DependencyGraph) -> list[int]:
    """One cycle as positions (first repeated at the end), or []; depth-first, iterative."""
    state = [0] * len(graph.names)  # 0 unvisited, 1 on the current path, 2 done
    for start in range(len(graph.names)):
        if state[start]:
            continue
        path = [start]
        branches = [iter(graph.depends_on[start])]
        state[start] = 1
        while branches:
            following = next(branches[-1], None)
            if following is None:
                state[path.pop()] = 2
                branches.pop()
            elif state[following] == 1:
                return path[path.index(following):] + [following]
            elif state[following] == 0:
                state[following] = 1
                path.append(following)
                branches.append(iter(graph.depends_on[following]))
    return []


def sync_order(graph: DependencyGraph, include: Callable[[int], bool] = lambda index: True) -> list[list[str]]:
    """Waves of names: an application is in the first wave after all it depends on (it may start earlier than
    others of its wave, as soon as its own dependencies are done). `include` leaves positions out of the report."""
    wave: dict[int, int] = {}

    def wave_of(index: int) -> int:
        if index not in wave:
            wave[index] = 1 + max((wave_of(need) for need in graph.depends_on[index]), default=-1)
        return wave[index]

    waves: list[list[str]] = []
    for index in range(len(graph.names)):
        number = wave_of(index)
        if include(index):
            waves.extend([] for dummy in range(number + 1 - len(waves)))
            waves[number].append(graph.names[index])
    return [names for names in waves if names]


class _Done(Generic[T]):
    """An application's outcome and, when its dependants may not start, why."""

    def __init__(self, outcome: T | GitopsError, block: str | None) -> None:
        self.outcome = outcome
        self.block = block


def run_in_order(graph: DependencyGraph, inputs: list[Any], work: Callable[[Any], T],
                 gate: Callable[[Any, T | GitopsError], str | None], skip: Callable[[Any, str], T],
                 workers: int) -> list[T | GitopsError]:
    """work() on every input, each once the inputs it depends on are done and pass gate(); concurrently.

    gate(input, outcome) runs in the worker right after work (it may wait for health) for an input others depend
    on, and returns why its dependants may not start, or None. skip(input, reason) makes the outcome of an input
    that does not run. A GitopsError of one input is its outcome; a ClusterConnectionError is raised at once.
    """
    dependants = graph.dependants()
    outcomes: list[T | GitopsError | None] = [None] * len(inputs)
    blocks: dict[int, str] = {}
    waiting = {index: set(needs) for index, needs in enumerate(graph.depends_on)}

    def attempt(index: int) -> _Done[T]:
        one = inputs[index]
        try:
            outcome: T | GitopsError = work(one)
        except ClusterConnectionError:
            raise
        except GitopsError as exc:
            outcome = exc.with_application(one.name) if one.name else exc
        return _Done(outcome, gate(one, outcome) if dependants[index] else None)

    def skip_from(index: int, reason: str) -> None:
        """index does not run; nor, transitively, does anything that depends on it."""
        outcomes[index] = skip(inputs[index], f"skipped: {reason}")
        blocks[index] = f"was skipped ({reason})"
        for dependant in dependants[index]:
            if outcomes[dependant] is None and dependant not in blocks:
                skip_from(dependant, f"depends on {graph.names[index]}, which {blocks[index]}")

    for index, reason in graph.unresolved.items():
        if outcomes[index] is None:
            skip_from(index, reason)
    ready = [index for index, needs in waiting.items() if not needs and outcomes[index] is None]
    running: dict[Future[_Done[T]], int] = {}
    workers = max(1, workers)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(inputs)))) as pool:
        while ready or running:
            while ready and len(running) < workers:
                index = ready.pop(0)
                running[pool.submit(attempt, index)] = index
            finished, dummy = wait(list(running), return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=running.__getitem__):  # input order among those done together
                index = running.pop(future)
                done = future.result()  # a ClusterConnectionError stops the run here
                outcomes[index] = done.outcome
                if done.block is not None:
                    blocks[index] = done.block
                for dependant in dependants[index]:
                    if outcomes[dependant] is not None:
                        continue
                    if done.block is not None:
                        skip_from(dependant, f"depends on {graph.names[index]}, which {done.block}")
                        continue
                    waiting[dependant].discard(index)
                    if not waiting[dependant]:
                        ready.append(dependant)
            ready.sort()
    missing = [graph.names[index] for index, outcome in enumerate(outcomes) if outcome is None]
    if missing:  # build_graph refuses cycles, so this is a defect, not a user's mistake
        raise SpecError(f"applications never became ready to run: {', '.join(missing)}")
    return [outcome for outcome in outcomes if outcome is not None]


def dependency_block(client: Any, result: SyncResult | GitopsError, settings: SyncSettings, selected: bool) -> str | None:
    """Why the dependants of an application may not start (None: they may), from its outcome.

    A real run waits (bounded by wait_timeout) while it is Progressing. In check mode nothing was synced, so
    only what a real run could not change blocks: an error, or an application the run would not sync (manual,
    blocked by a window, or not selected) that is not Synced. selected is False for a dependency the run's
    selection left out, which is only compared, never synced.
    """
    if isinstance(result, GitopsError):
        return f"failed: {result.message}"
    not_synced = result.skipped or result.sync_skipped or ("" if selected else "it is not selected in this run")
    if not_synced and result.sync_status != SYNCED:
        return f"is {result.sync_status} and this run does not sync it ({not_synced})"
    if settings.check_mode and selected:
        return None
    health = result.health_status
    if health == PROGRESSING and not settings.check_mode:
        health = await_healthy(client, result, settings)
    if health != HEALTHY:
        unhealthy = [entry for entry in _counted(result) if entry.health is not None and entry.health.status != HEALTHY]
        detail = "; ".join(f"{entry.ref} is {entry.health.status}" + (f": {entry.health.message}" if entry.health.message else "")
                           for entry in unhealthy[:3] if entry.health is not None)
        return f"is {health}" + (f" ({detail})" if detail else "")
    return None


def _counted(result: SyncResult) -> list[Any]:
    """The objects whose health makes the application's: desired, not hooks, not left to prune."""
    return [entry for entry in result.resources if entry.hook is None and entry.live is not None
            and entry.action not in (PRUNED, PRUNE_SKIPPED, HANDED_OVER) and counts_for_application(entry.live)]


def await_healthy(client: Any, result: SyncResult, settings: SyncSettings) -> str:
    """Read the application's objects again until none is Progressing, at most wait_timeout; its health then."""
    deadline = time.monotonic() + settings.wait_timeout
    delay = POLL_FIRST
    entries = _counted(result)
    while True:
        pending = [entry for entry in entries if entry.health is not None and entry.health.status == PROGRESSING]
        if not pending or time.monotonic() >= deadline or any(e.health is not None and e.health.status == DEGRADED for e in entries):
            break
        time.sleep(delay)
        delay = min(POLL_MAX, delay * 1.5)
        for entry in pending:
            try:
                resource = client.resource_for(entry.api_version, entry.ref.kind)
                live = client.get(resource, entry.ref.namespace or None, entry.ref.name) if resource is not None else None
            except KubeApiError:
                continue  # read again on the next round; the deadline bounds it
            entry.live = live
            entry.health = settings.assess(live)
    result.health_status = worst(entry.health.status for entry in entries if entry.health is not None)
    return result.health_status
