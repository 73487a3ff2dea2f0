"""The policy engine: patterns, every rule, messages that name the object and the rule, and the doc fragment."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import PolicyError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import POLICY_ARGUMENT_SPEC, KindPattern, Policy

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class FakeResource:
    def __init__(self, namespaced: bool) -> None:
        self.namespaced = namespaced


class FakeClient:
    """Discovery only: the built-in kinds this test uses."""

    def resource_for(self, api_version: str, kind: str) -> FakeResource | None:
        if kind in ("Widget",):
            return None
        return FakeResource(kind not in CLUSTER_SCOPED)


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, source: str = "apps/x.yaml") -> DesiredObject:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return DesiredObject({"apiVersion": api_version, "kind": kind, "metadata": metadata}, source, 1)


def check(policy: dict[str, Any], objects: list[DesiredObject], destination: str = "team-a") -> str:
    with pytest.raises(PolicyError) as info:
        Policy.from_params(policy).check_objects("shop", objects, destination, FakeClient())
    return str(info.value)


@pytest.mark.parametrize("text, group, kind, matches, misses", [
    ("apps/Deployment", "apps", "Deployment", [("apps", "Deployment")], [("", "Deployment"), ("apps", "StatefulSet")]),
    ("Secret", None, "Secret", [("", "Secret"), ("example.org", "Secret")], [("", "ConfigMap")]),
    ("/ConfigMap", "", "ConfigMap", [("", "ConfigMap")], [("example.org", "ConfigMap")]),
    ("core/ConfigMap", "", "ConfigMap", [("", "ConfigMap")], [("x", "ConfigMap")]),
    ("rbac.authorization.k8s.io/*", "rbac.authorization.k8s.io", "*", [("rbac.authorization.k8s.io", "Role")], [("", "Role")]),
    ("*/*", "*", "*", [("", "Pod"), ("apps", "Deployment")], []),
])
def test_kind_patterns(text: str, group: str | None, kind: str, matches: list, misses: list) -> None:
    pattern = KindPattern.parse(text, "allowed_kinds")
    assert (pattern.group, pattern.kind) == (group, kind)
    assert all(pattern.matches(g, k) for g, k in matches)
    assert not any(pattern.matches(g, k) for g, k in misses)


def test_argo_cd_style_mappings_are_patterns_too() -> None:
    pattern = KindPattern.parse({"group": "", "kind": "Service"}, "allowed_kinds")
    assert pattern.matches("", "Service") and not pattern.matches("x", "Service")


@pytest.mark.parametrize("raw, message", [
    ({"allowed_kinds": ["apps/"]}, "names no kind"),
    ({"denied_kinds": [{"group": "x"}]}, "must be a 'group/kind' string"),
    ({"denied_kinds": [3]}, "must be a 'group/kind' string"),
    ({"allowed_repos": "https://*"}, "must be a list of non-empty strings"),
    ({"allowed_namespace": ["a"]}, "unknown keys: allowed_namespace"),
])
def test_invalid_policies_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_params(raw)


def test_no_policy_restricts_nothing() -> None:
    assert Policy.from_params(None) is None


def test_an_empty_policy_allows_namespaced_objects_and_refuses_cluster_scoped_ones() -> None:
    Policy.from_params({}).check_objects("shop", [obj("v1", "ConfigMap", "c")], "team-a", FakeClient())
    message = check({}, [obj("v1", "Namespace", "other", source="apps/ns.yaml")])
    assert "Namespace other (apps/ns.yaml:1): cluster-scoped objects are not allowed (rule allow_cluster_scoped: false)" in message
    assert message.startswith("application 'shop': policy violated, nothing was applied: ")


def test_cluster_scoped_allowed_still_obeys_kind_rules() -> None:
    policy = {"allow_cluster_scoped": True, "denied_kinds": ["rbac.authorization.k8s.io/*"]}
    Policy.from_params(policy).check_objects("shop", [obj("v1", "Namespace", "n")], "team-a", FakeClient())
    message = check(policy, [obj("rbac.authorization.k8s.io/v1", "ClusterRole", "admin")])
    assert "ClusterRole.rbac.authorization.k8s.io admin (apps/x.yaml:1): kind ClusterRole.rbac.authorization.k8s.io is denied " \
           "(rule denied_kinds: rbac.authorization.k8s.io/*)" in message


def test_namespaces_are_checked_for_objects_and_the_destination() -> None:
    policy = {"allowed_namespaces": ["team-a", "team-a-*"]}
    Policy.from_params(policy).check_objects("shop", [obj("v1", "ConfigMap", "c"), obj("v1", "ConfigMap", "d", "team-a-dev")],
                                             "team-a", FakeClient())
    message = check(policy, [obj("v1", "ConfigMap", "c"), obj("v1", "Secret", "s", "kube-system")])
    assert "Secret kube-system/s (apps/x.yaml:1): namespace 'kube-system' is not allowed (rule allowed_namespaces: team-a, team-a-*)" \
        in message
    assert "ConfigMap team-a/c" not in message
    message = check(policy, [obj("v1", "ConfigMap", "c")], destination="prod")
    assert "destination namespace 'prod' (where the inventory lives) is not allowed" in message


def test_allowed_kinds_and_denied_kinds() -> None:
    policy = {"allowed_kinds": ["apps/Deployment", "/ConfigMap", {"group": "", "kind": "Service"}], "denied_kinds": ["Secret"]}
    Policy.from_params(policy).check_objects(
        "shop", [obj("apps/v1", "Deployment", "d"), obj("v1", "ConfigMap", "c"), obj("v1", "Service", "s")], "team-a", FakeClient())
    message = check(policy, [obj("v1", "Secret", "s"), obj("batch/v1", "Job", "j")])
    assert "Secret team-a/s (apps/x.yaml:1): kind Secret is not allowed (rule allowed_kinds: apps/Deployment, core/ConfigMap, " \
           "core/Service)" in message
    assert "Secret team-a/s (apps/x.yaml:1): kind Secret is denied (rule denied_kinds: Secret)" in message
    assert "Job.batch team-a/j (apps/x.yaml:1): kind Job.batch is not allowed" in message


def test_kinds_the_application_defines_take_their_scope_from_its_crd() -> None:
    crd = DesiredObject({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                         "metadata": {"name": "widgets.example.org"},
                         "spec": {"group": "example.org", "scope": "Cluster", "names": {"kind": "Widget"}}})
    message = check({"allow_cluster_scoped": False}, [crd, obj("example.org/v1", "Widget", "w")])
    assert "Widget.example.org w (apps/x.yaml:1): cluster-scoped objects are not allowed" in message


def test_repositories_are_matched_without_credentials() -> None:
    policy = Policy.from_params({"allowed_repos": ["https://git.example.org/platform/*"]})
    policy.check_repo("shop", "https://user:tok3n@git.example.org/platform/apps.git")
    with pytest.raises(PolicyError) as info:
        policy.check_repo("shop", "https://user:tok3n@git.example.org/other/apps.git")
    message = str(info.value)
    assert "repository https://git.example.org/other/apps.git is not allowed (rule allowed_repos: " \
           "https://git.example.org/platform/*)" in message
    assert "tok3n" not in message


@pytest.mark.parametrize("url", [
    "http://git.example.org/platform/../priv.git",
    "http://git.example.org/platform/%2e%2e/priv.git",
    "http://git.example.org/platform/apps/../../priv.git",
    "http://git.example.org/../priv.git",
    "http://git.example.org/platform/..%2fpriv.git",
])
def test_dot_segments_cannot_leave_an_allowed_glob(url: str) -> None:
    policy = Policy.from_params({"allowed_repos": ["http://git.example.org/platform/*"]})
    with pytest.raises(PolicyError) as info:
        policy.check_repo("shop", url)
    assert "nothing was fetched or applied" in str(info.value)


def test_repositories_are_matched_in_their_normalised_form() -> None:
    policy = Policy.from_params({"allowed_repos": ["https://Git.Example.org/platform/*", "git@git.example.org:platform/*"]})
    policy.check_repo("shop", "HTTPS://git.example.ORG/platform/apps/../web.git")
    policy.check_repo("shop", "git@GIT.example.org:platform/./web.git")
    with pytest.raises(PolicyError) as info:
        policy.check_repo("shop", "https://git.example.org/platform/../priv.git", " (submodule 'lib' of https://x/app.git)")
    assert "repository https://git.example.org/priv.git (written https://git.example.org/platform/../priv.git) " \
           "(submodule 'lib' of https://x/app.git) is not allowed" in str(info.value)


def test_many_violations_are_summarised() -> None:
    message = check({"allowed_namespaces": ["a"]}, [obj("v1", "ConfigMap", f"c{i}", "b") for i in range(25)], destination="a")
    assert message.count("is not allowed") == 20 and message.endswith("and 5 more")


def test_argument_spec_mirrors_the_doc_fragment() -> None:
    from ansible_collections.gitops.kubernetes.plugins.doc_fragments._policy import ModuleDocFragment

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]["policy"]
    spec = POLICY_ARGUMENT_SPEC["policy"]
    assert documented["type"] == spec["type"]
    assert set(documented["suboptions"]) == set(spec["options"])
    for name, option in documented["suboptions"].items():
        assert option["type"] == spec["options"][name]["type"], name
        assert option.get("elements") == spec["options"][name].get("elements"), name
        assert option.get("default") == spec["options"][name].get("default"), name
