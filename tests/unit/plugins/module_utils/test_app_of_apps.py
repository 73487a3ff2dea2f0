"""App of apps: rendered Applications become applications of the run, cycles and depth are refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.app_of_apps import Family, expand
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject


def child(name: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"source": {"repoURL": "r", "path": name}, "destination": {"namespace": name}}}


CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "own"}}


@dataclass
class FakeInput:
    name: str
    parent: str | None = None
    objects: list[DesiredObject] = field(default_factory=list)


@dataclass
class FakeState:
    objects: list[DesiredObject]


def run(renders: dict[str, list[dict[str, Any]]], roots: list[str]) -> tuple[list[Any], list[Any], Family]:
    """renders: application name -> what it renders."""
    def render(batch: list[FakeInput]) -> list[Any]:
        return [FakeState([DesiredObject(m) for m in renders.get(one.name, [])]) for one in batch]

    inputs = [FakeInput(name) for name in roots]
    family = Family()
    out_inputs, states = expand(inputs, render(inputs), lambda raw: FakeInput(raw["metadata"]["name"]), render,
                                lambda manifests: None, family)
    return out_inputs, states, family


def test_two_levels_of_children_join_the_run_and_leave_their_parents_objects():
    inputs, states, family = run({"root": [child("team-a"), CONFIGMAP], "team-a": [child("web")], "web": [CONFIGMAP]}, ["root"])
    assert [one.name for one in inputs] == ["root", "team-a", "web"]
    assert [one.parent for one in inputs] == [None, "root", "team-a"]
    assert [[o.kind for o in state.objects] for state in states] == [["ConfigMap"], [], ["ConfigMap"]]
    assert family.ancestors("web") == ["team-a", "root"]


def test_a_cycle_fails_the_application_that_closes_it_and_applies_nothing_of_it():
    inputs, states, dummy = run({"root": [child("team-a")], "team-a": [child("root"), CONFIGMAP]}, ["root"])
    assert [one.name for one in inputs] == ["root", "team-a"]
    assert isinstance(states[1], GitopsError)
    assert "app of apps cycle: root -> team-a -> root" in str(states[1])


def test_a_child_already_in_the_run_is_refused():
    dummy_inputs, states, dummy = run({"root": [child("other")]}, ["root", "other"])
    assert isinstance(states[0], GitopsError) and "'other' is already an application of this run" in str(states[0])


def test_depth_is_bounded():
    renders = {f"level{i}": [child(f"level{i + 1}")] for i in range(10)}
    inputs, states, dummy = run(renders, ["level0"])
    assert len(inputs) == 6
    assert isinstance(states[5], GitopsError) and "deeper than 5 levels" in str(states[5])


def test_an_app_project_among_the_children_is_refused_by_name():
    project = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "team"}}
    dummy_inputs, states, dummy = run({"root": [project]}, ["root"])
    assert isinstance(states[0], GitopsError) and "AppProject 'team'" in str(states[0])
