"""Bounded YAML loading: alias expansion by Go's yaml.v3 rule, recursion, size; ordinary YAML unchanged."""

from __future__ import annotations

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils import _yaml
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._render import load_manifests
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import parse_application
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import (
    YamlLimitError,
    allowed_alias_ratio,
    load_documents,
    load_one,
)


def laughs(levels: int, fan_out: int = 10, indent: str = "") -> str:
    """The classic billion laughs: each level a list of fan_out aliases of the level below."""
    lines = [f"{indent}l0: &l0 [{', '.join(['lol'] * fan_out)}]"]
    for level in range(1, levels + 1):
        lines.append(f"{indent}l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fan_out)}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_anything_is_built() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: laughs\n  annotations:\n" + laughs(8, indent="    ")
    with pytest.raises(RenderError) as caught:
        load_manifests(text, "apps/laughs.yaml")
    assert str(caught.value).startswith("apps/laughs.yaml:1: excessive aliasing")
    assert "nodes from" in str(caught.value)


def test_a_bomb_in_a_later_document_names_its_line() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" + laughs(7)
    with pytest.raises(YamlLimitError) as caught:
        list(load_documents(text))
    assert caught.value.line == 5


def test_moderate_aliasing_loads_as_go_accepts_it() -> None:
    # 2 levels of 10: 1,239 nodes, 98.6% from aliases, within Go's 99% for small documents; 3 levels are not
    data = load_one(laughs(2))
    assert len(data["l2"]) == 10 and data["l2"][0][0] == ["lol"] * 10
    with pytest.raises(YamlLimitError, match="12,349 nodes from 19 written"):
        load_one(laughs(3))


def test_go_alias_ratio_scales_from_99_to_10_percent() -> None:
    assert allowed_alias_ratio(1000) == 0.99
    assert allowed_alias_ratio(4_000_000) == 0.10
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.545)


def test_recursive_anchor_is_refused() -> None:
    with pytest.raises(YamlLimitError, match="contains an alias of itself") as caught:
        list(load_documents("---\nok: 1\n--- &loop\n- *loop\n"))
    assert caught.value.line == 3


def test_oversized_text_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "MAX_YAML_BYTES", 100)
    with pytest.raises(YamlLimitError, match="more than the 100 accepted"):
        list(load_documents("a: " + "x" * 200))


def test_ampersands_in_values_are_not_anchors_and_timestamps_stay_strings() -> None:
    documents = list(load_documents("url: http://h/?a=1&b=2\nwhen: 2024-01-01T00:00:00Z\n---\n---\nb: [1, 2]\n"))
    assert documents == [(1, {"url": "http://h/?a=1&b=2", "when": "2024-01-01T00:00:00Z"}), (5, {"b": [1, 2]})]


def test_shared_anchor_in_ordinary_manifest_still_loads() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &labels {app: web}\n  annotations: *labels\n"
    [obj] = load_manifests(text, "a.yaml")
    assert obj.manifest["metadata"]["annotations"] == {"app": "web"}


def test_helm_values_string_with_a_bomb_is_a_spec_error() -> None:
    app = {"name": "web", "source": {"repo_url": "https://git.example.org/a.git", "path": "chart",
                                     "helm": {"values": laughs(8)}}}
    with pytest.raises(SpecError, match="excessive aliasing"):
        parse_application(app)
