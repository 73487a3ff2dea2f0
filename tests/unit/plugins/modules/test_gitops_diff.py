"""Unit tests for the gitops_diff module's own code: options, input parsing, what -vvv may show."""

from __future__ import annotations

import base64

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, SpecError
from ansible_collections.gitops.kubernetes.plugins.modules import gitops_diff

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "pw-in-git"}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}


def documented_options() -> dict:
    from ansible_collections.gitops.kubernetes.plugins.doc_fragments._application import ModuleDocFragment as App
    from ansible_collections.gitops.kubernetes.plugins.doc_fragments._kube_connection import ModuleDocFragment as Kube
    from ansible_collections.gitops.kubernetes.plugins.doc_fragments._policy import ModuleDocFragment as Policy

    options = {}
    for text in (App.DOCUMENTATION, Kube.DOCUMENTATION, Policy.DOCUMENTATION):
        options.update(yaml.safe_load(text)["options"])
    for name, option in yaml.safe_load(gitops_diff.DOCUMENTATION)["options"].items():
        options[name] = {**options.get(name, {}), **option}  # the module refines fragment options
    return options


def test_argument_spec_matches_documentation() -> None:
    documented = documented_options()
    spec = gitops_diff.argument_spec()
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name].get("type", "str") == option.get("type", "str"), name
        assert bool(documented[name].get("required")) == bool(option.get("required")), name
    assert set(documented["ignore_differences"]["suboptions"]) == set(gitops_diff.IGNORE_DIFFERENCES_SPEC)


def test_documentation_examples_and_return_are_yaml() -> None:
    assert yaml.safe_load(gitops_diff.EXAMPLES)
    returned = yaml.safe_load(gitops_diff.RETURN)
    assert {"resources", "summary", "sync_status", "out_of_sync", "revision", "stats"} <= set(returned)


def test_manifests_from_a_yaml_string_keep_their_lines() -> None:
    text = yaml.safe_dump(CONFIG) + "---\n" + yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [SECRET]})
    objects = gitops_diff.parse_manifests(text, "shop")
    assert [o.kind for o in objects] == ["ConfigMap", "Secret"]
    assert objects[0].location() == "manifests:1"


def test_manifests_from_a_list_expand_lists_and_skip_nulls() -> None:
    objects = gitops_diff.parse_manifests([CONFIG, None, {"apiVersion": "v1", "kind": "List", "items": [SECRET]}], "shop")
    assert [o.kind for o in objects] == ["ConfigMap", "Secret"]


@pytest.mark.parametrize("raw, message", [
    (["just a string"], "manifests\\[0\\] is not an object"),
    (42, "must be a list of objects or a YAML string"),
    ("a: [unclosed", "manifests"),
])
def test_bad_manifests_name_the_application(raw: object, message: str) -> None:
    with pytest.raises(GitopsError, match=message) as info:
        gitops_diff.parse_manifests(raw, "shop")
    assert info.value.application == "shop"


def test_an_invalid_application_spec_fails_before_any_cluster_work() -> None:
    with pytest.raises(SpecError):
        gitops_diff.ApplicationJob({"name": "shop", "source": {"repo_url": "file:///x"}, "typo": 1}, "/tmp/cache")


@pytest.mark.parametrize("name", ["Shop", "shop_1", "-shop", "a" * 245])
def test_manifests_application_names_must_be_dns_subdomains(name: str) -> None:
    with pytest.raises(SpecError, match="DNS subdomain"):
        gitops_diff.ApplicationJob({"name": name, "manifests": [CONFIG]}, "/tmp/cache")


def test_invocation_shows_no_secret_values_and_no_kubeconfig_dict() -> None:
    params = {
        "kubeconfig": {"users": [{"user": {"token": "kube-token"}}]},
        "manifests": [SECRET, CONFIG],
        "applications": [{"name": "a", "manifests": yaml.safe_dump_all([SECRET])}],
        "api_key": None,
    }
    shown = gitops_diff.safe_invocation(params)
    text = repr(shown)
    assert "pw-in-git" not in text and "kube-token" not in text
    assert shown["manifests"][1] == CONFIG  # other objects are shown as given
    assert params["manifests"][0]["stringData"]["password"] == "pw-in-git"  # the real arguments are untouched


def test_scrub_masks_secret_values_anywhere_in_a_result() -> None:
    secret_b64 = base64.b64encode(b"pw-in-git").decode()
    result = {"msg": "pw-in-git leaked", "nested": [{"x": f"value {secret_b64}"}], "count": 3}
    scrubbed = gitops_diff._scrub(result, ["pw-in-git", secret_b64])
    assert "pw-in-git" not in repr(scrubbed) and secret_b64 not in repr(scrubbed)
    assert scrubbed["count"] == 3
