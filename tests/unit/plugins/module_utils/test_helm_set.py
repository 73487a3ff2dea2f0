"""Helm parameters read with helm's --set grammar (strvals) into a values structure."""

from __future__ import annotations

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._helm_set import (
    HelmSetError,
    escape_value,
    merge_values,
    parameters_file_values,
    set_value,
)


@pytest.mark.parametrize("expression, expected", [
    ("a.b.c=1", {"a": {"b": {"c": 1}}}),
    ("a\\.b=x", {"a.b": "x"}),
    ("n=982734561", {"n": 982734561}),
    ("n=-5", {"n": -5}),
    ("n=+5", {"n": 5}),
    ("n=007", {"n": "007"}),
    ("n=0", {"n": 0}),
    ("n=1.5", {"n": "1.5"}),
    ("n=9223372036854775808", {"n": "9223372036854775808"}),
    ("b=TRUE", {"b": True}),
    ("b=False", {"b": False}),
    ("b=Null", {"b": None}),
    ("e=", {"e": ""}),
    ("l[2]=x", {"l": [None, None, "x"]}),
    ("l[0].name=web", {"l": [{"name": "web"}]}),
    ("m[0][1]=1", {"m": [[None, 1]]}),
    ("l={a,1,true}", {"l": ["a", 1, True]}),
    ("c=one\\,two", {"c": "one,two"}),
    ("p=C:\\path", {"p": "C:path"}),
    ("a=1,b=2", {"a": 1, "b": 2}),
    ("=orphan", {}),
])
def test_set_reads_like_helm(expression: str, expected: dict) -> None:
    data: dict = {}
    set_value(data, expression)
    assert data == expected


def test_set_string_keeps_every_value_a_string() -> None:
    data: dict = {}
    set_value(data, "n=982734561,b=true,l={1,2}", as_string=True)
    assert data == {"n": "982734561", "b": "true", "l": ["1", "2"]}


@pytest.mark.parametrize("expression, reason", [
    ("a", "has no value"),
    ("a,b=1", "cannot end with ,"),
    ("l[x]=1", "error parsing index"),
    ("l[-1]=1", "negative -1 index"),
    ("l[70000]=1", "greater than maximum supported index"),
    ("l={a,b", "list must terminate"),
    ("l[0]x=1", "unexpected data at end of array index"),
    (".".join(["k"] * 32) + "=1", "nested level"),
])
def test_what_helm_refuses_is_refused(expression: str, reason: str) -> None:
    with pytest.raises(HelmSetError, match=reason):
        set_value({}, expression)


def test_typed_parameters_apply_before_string_ones_and_commas_are_escaped() -> None:
    values = parameters_file_values({}, [("x", "string", True), ("x", "1", False), ("csv", "a,b", False)])
    assert values == {"x": "string", "csv": "a,b"}
    assert escape_value("a,b") == "a\\,b" and escape_value("{a,b}") == "{a,b}"


def test_a_list_index_changes_one_element_of_the_values_files_list() -> None:
    base = {"servers": [{"port": 80}, {"port": 81}], "other": [1, 2]}
    values = parameters_file_values(base, [("servers[1].port", "8081", False), ("name", "web", False)])
    assert values == {"servers": [{"port": 80}, {"port": 8081}], "name": "web"}


def test_a_refused_parameter_never_shows_its_value() -> None:
    with pytest.raises(HelmSetError) as caught:
        parameters_file_values({}, [("token", "{s3cr3t-value,x", False)])
    assert "s3cr3t-value" not in str(caught.value) and "'token'" in str(caught.value)


def test_merge_values_merges_maps_and_replaces_lists() -> None:
    assert merge_values({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": {"e": 1}}) == \
        {"a": {"b": 1, "c": [2]}, "d": {"e": 1}}
