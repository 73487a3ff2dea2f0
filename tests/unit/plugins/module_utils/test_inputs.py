"""Unit tests for what gitops_diff and gitops_sync are asked to work on: input parsing, what -vvv may show."""

from __future__ import annotations

import base64

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import (
    ApplicationInput,
    inputs_from_params,
    parse_manifests,
    parse_sync_policy,
    safe_invocation,
    scrub_result,
)

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "pw-in-git"}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}


def test_manifests_from_a_yaml_string_keep_their_lines() -> None:
    text = yaml.safe_dump(CONFIG) + "---\n" + yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [SECRET]})
    objects = parse_manifests(text, "shop")
    assert [o.kind for o in objects] == ["ConfigMap", "Secret"]
    assert objects[0].location() == "manifests:1"


def test_manifests_from_a_list_expand_lists_and_skip_nulls() -> None:
    objects = parse_manifests([CONFIG, None, {"apiVersion": "v1", "kind": "List", "items": [SECRET]}], "shop")
    assert [o.kind for o in objects] == ["ConfigMap", "Secret"]


@pytest.mark.parametrize("raw, message", [
    (["just a string"], "manifests\\[0\\] is not an object"),
    (42, "must be a list of objects or a YAML string"),
    ("a: [unclosed", "manifests"),
])
def test_bad_manifests_name_the_application(raw: object, message: str) -> None:
    with pytest.raises(GitopsError, match=message) as info:
        parse_manifests(raw, "shop")
    assert info.value.application == "shop"


def test_an_invalid_application_spec_fails_before_any_cluster_work() -> None:
    with pytest.raises(SpecError):
        ApplicationInput({"name": "shop", "source": {"repo_url": "file:///x"}, "typo": 1}, "/tmp/cache")


@pytest.mark.parametrize("name", ["Shop", "shop_1", "-shop", "a" * 245])
def test_manifests_application_names_must_be_dns_subdomains(name: str) -> None:
    with pytest.raises(SpecError, match="DNS subdomain"):
        ApplicationInput({"name": name, "manifests": [CONFIG]}, "/tmp/cache")


def test_invocation_shows_no_secret_values_and_no_kubeconfig_dict() -> None:
    params = {
        "kubeconfig": {"users": [{"user": {"token": "kube-token"}}]},
        "manifests": [SECRET, CONFIG],
        "applications": [{"name": "a", "manifests": yaml.safe_dump_all([SECRET])}],
        "api_key": None,
    }
    shown = safe_invocation(params)
    text = repr(shown)
    assert "pw-in-git" not in text and "kube-token" not in text
    assert shown["manifests"][1] == CONFIG  # other objects are shown as given
    assert params["manifests"][0]["stringData"]["password"] == "pw-in-git"  # the real arguments are untouched


def test_scrub_masks_secret_values_anywhere_in_a_result() -> None:
    secret_b64 = base64.b64encode(b"pw-in-git").decode()
    result = {"msg": "pw-in-git leaked", "nested": [{"x": f"value {secret_b64}"}], "count": 3}
    scrubbed = scrub_result(result, ["pw-in-git", secret_b64])
    assert "pw-in-git" not in repr(scrubbed) and secret_b64 not in repr(scrubbed)
    assert scrubbed["count"] == 3


def test_the_three_forms_become_inputs() -> None:
    base = {"applications": None, "application": None, "policy": None}
    single = inputs_from_params({**base, "name": "shop", "manifests": [CONFIG], "sync_policy": {"prune": True}}, "/c")
    assert [one.name for one in single] == ["shop"] and single[0].sync_policy.prune
    batch = inputs_from_params({**base, "applications": [{"name": "a", "manifests": [CONFIG]},
                                                         {"name": "b", "manifests": [SECRET]}]}, "/c")
    assert [one.name for one in batch] == ["a", "b"]
    assert not batch[0].sync_policy.prune  # SYNC_POLICY_SPEC's default


def test_unknown_sync_policy_keys_are_named() -> None:
    with pytest.raises(SpecError, match="sync_policy has unknown keys: prun"):
        parse_sync_policy({"prun": True})


HELM_TEMPLATE = {"source": {"repo_url": "https://git.example.org/apps.git", "path": "chart",
                            "helm": {"values": {"password": "helm-pw"}, "parameters": [{"name": "key", "value": "helm-key"}]}}}


def test_generated_applications_are_made_in_the_task_with_their_real_values() -> None:
    params = {"applications": [{"name": "plain", "source": {"repo_url": "https://git.example.org/a.git", "path": "a"}}],
              "generators": [{"list": {"template": HELM_TEMPLATE, "elements": [{"name": "web"}, {"name": "legacy"}]}}],
              "only": [], "skip": ["legacy"]}
    inputs = inputs_from_params(params, "/nonexistent-cache")
    assert [one.name for one in inputs] == ["plain", "web"]
    helm = inputs[1].app.source.helm
    assert helm.values == {"password": "helm-pw"} and helm.parameters[0].value == "helm-key"


def test_only_and_skip_select_explicit_applications_without_generators() -> None:
    apps = [{"name": name, "source": {"repo_url": "https://git.example.org/a.git", "path": "a"}} for name in ("a", "b")]
    assert [one.name for one in inputs_from_params({"applications": apps, "skip": ["b"]}, "/nonexistent-cache")] == ["a"]


def test_invocation_masks_helm_values_of_generators() -> None:
    shown = repr(safe_invocation({"generators": [{"list": {"template": HELM_TEMPLATE, "elements": [
        {"name": "web", "source": {"helm": {"values": {"password": "element-pw"}}}}]}}], "applications": []}))
    assert "helm-pw" not in shown and "helm-key" not in shown and "element-pw" not in shown
    assert "password" in shown  # keys stay visible
