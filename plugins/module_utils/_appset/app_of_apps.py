# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""App of apps: Argo CD Applications and ApplicationSets rendered by an application become applications of the run.

Argo CD applies them to its own namespace and its controller syncs them; here
there is no such controller, so they are taken out of the parent's objects
(never applied: the cluster has no Argo CD resource types) and join the run
as applications of their own, each keeping its own syncPolicy. Rendered
children may render children in turn, up to MAX_DEPTH levels; an application
that would render one of its ancestors is a cycle and fails that parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, SpecError

ARGO_GROUP = "argoproj.io"
CHILD_KINDS = ("Application", "ApplicationSet")
# Argo CD's AppProject: access rules of Argo CD's own API server, with no counterpart in a child application
PROJECT_KIND = "AppProject"
MAX_DEPTH = 5


def is_argo_object(manifest: dict[str, Any]) -> bool:
    api_version = str(manifest.get("apiVersion") or "")
    return api_version.split("/", 1)[0] == ARGO_GROUP and manifest.get("kind") in (*CHILD_KINDS, PROJECT_KIND)


@dataclass
class Family:
    """Who produced which application in this run (for the report's tree and cycle detection)."""

    parent_of: dict[str, str] = field(default_factory=dict)
    applicationsets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ancestors(self, name: str) -> list[str]:
        chain = []
        while name in self.parent_of:
            name = self.parent_of[name]
            chain.append(name)
        return chain


def expand(inputs: list[Any], states: list[Any], make_input: Callable[[dict[str, Any]], Any],
           render: Callable[[list[Any]], list[Any]], generate: Callable[[list[dict[str, Any]]], Any],
           family: Family) -> tuple[list[Any], list[Any]]:
    """inputs/states with every rendered Application or ApplicationSet turned into a child application (rendered).

    make_input builds an ApplicationInput of a raw Application; render renders
    a batch of inputs (states or GitopsErrors); generate expands ApplicationSet
    manifests (a GeneratedApplications). A parent whose children cannot be made
    gets the error instead of its state, so nothing of it is applied.
    """
    inputs, states = list(inputs), list(states)
    frontier = list(range(len(inputs)))
    depth = 0
    while frontier:
        new_inputs: list[Any] = []
        for index in frontier:
            parent, state = inputs[index], states[index]
            if isinstance(state, GitopsError) or not any(is_argo_object(o.manifest) for o in state.objects):
                continue
            try:
                if depth >= MAX_DEPTH:
                    raise SpecError(f"app of apps deeper than {MAX_DEPTH} levels "
                                    f"({' -> '.join(reversed([parent.name, *family.ancestors(parent.name)]))})")
                children = _children(parent, state, inputs + new_inputs, make_input, generate, family)
            except GitopsError as exc:
                states[index] = exc.with_application(parent.name)
                continue
            state.objects = [o for o in state.objects if not is_argo_object(o.manifest)]
            parent.objects = state.objects
            new_inputs += children
        if not new_inputs:
            break
        states += render(new_inputs)
        frontier = list(range(len(inputs), len(inputs) + len(new_inputs)))
        inputs += new_inputs
        depth += 1
    return inputs, states


def _children(parent: Any, state: Any, known: list[Any], make_input: Callable[[dict[str, Any]], Any],
              generate: Callable[[list[dict[str, Any]]], Any], family: Family) -> list[Any]:
    applications: list[tuple[dict[str, Any], str]] = []
    applicationsets = []
    for obj in state.objects:
        if not is_argo_object(obj.manifest):
            continue
        if obj.kind == PROJECT_KIND:
            raise SpecError(f"{obj.location()}: AppProject {obj.ref.name!r} rendered by an app of apps is not "
                            f"supported (projects are not applications); keep it out of the parent's source")
        if obj.kind == "ApplicationSet":
            applicationsets.append(obj.manifest)
        else:
            applications.append((obj.manifest, obj.location()))
    if applicationsets:
        generated = generate(applicationsets)
        family.applicationsets.update(generated.applicationsets)
        applications += [(raw, f"ApplicationSet of {parent.name}") for raw in generated.generated]
    names = {one.name for one in known}
    children = []
    for raw, where in applications:
        try:
            child = make_input(raw)
        except GitopsError as exc:
            raise SpecError(f"{where}: child application: {exc}") from None
        chain = [parent.name, *family.ancestors(parent.name)]
        if child.name in chain:
            cycle = " -> ".join([*reversed(chain), child.name])
            raise SpecError(f"{where}: app of apps cycle: {cycle}")
        if child.name in names:
            raise SpecError(f"{where}: child application {child.name!r} is already an application of this run")
        names.add(child.name)
        family.parent_of[child.name] = parent.name
        child.parent = parent.name
        children.append(child)
    return children
