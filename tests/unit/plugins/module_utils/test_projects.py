"""AppProjects in our model: Argo CD's glob and negation matching, kind lists, destinations, errors by name."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._clusters import HostCluster, same_server
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import PolicyError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import Cluster
from ansible_collections.gitops.kubernetes.plugins.module_utils._projects import default_project, parse_project, parse_projects
from ansible_collections.gitops.kubernetes.plugins.module_utils._report import find_unmatched
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Destination

IN_CLUSTER = Cluster("https://kubernetes.default.svc", "in-cluster")


def project(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "team"}, "spec": spec}


def obj(api_version: str, kind: str, name: str, namespace: str | None = None) -> DesiredObject:
    metadata: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return DesiredObject({"apiVersion": api_version, "kind": kind, "metadata": metadata}, "apps/x.yaml", 1)


def namespaced(api_version: str, kind: str) -> bool:
    return kind not in ("Namespace", "ClusterRole", "CustomResourceDefinition")


@pytest.mark.parametrize("repos, url, allowed", [
    (["https://github.com/org/*"], "https://GitHub.com/org/App.git", True),  # case and '.git' as Argo CD normalises
    (["https://github.com/org/*"], "https://github.com/org/group/app.git", False),
    (["*"], "git@github.com:org/app.git", True),
    (["git@github.com:org/*"], "git@github.com:org/app.git", True),
    (["https://github.com/org/*", "!https://github.com/org/secret"], "https://github.com/org/secret.git", False),
    (["https://github.com/org/*", "!https://github.com/org/secret"], "https://github.com/org/app.git", True),
    (["!https://github.com/org/secret"], "https://github.com/org/app.git", False),  # a negation alone allows nothing
    ([], "https://github.com/org/app.git", False),  # no sourceRepos: no repository
])
def test_source_repos_with_negation(repos, url, allowed):
    rules = parse_project(project(sourceRepos=repos)).rules
    if allowed:
        rules.check_repo("shop", url)
    else:
        with pytest.raises(PolicyError, match=r"project 'team': repository .* is not allowed \(rule sourceRepos: "):
            rules.check_repo("shop", url)


@pytest.mark.parametrize("destinations, cluster, namespace, allowed", [
    ([{"server": "*", "namespace": "*"}], IN_CLUSTER, "shop", True),
    ([{"server": "https://kubernetes.default.svc", "namespace": "team-*"}], IN_CLUSTER, "team-a", True),
    ([{"server": "https://kubernetes.default.svc", "namespace": "team-*"}], IN_CLUSTER, "kube-system", False),
    ([{"name": "prod-*", "namespace": "*"}], Cluster("https://10.0.0.1:6443", "prod-eu"), "shop", True),
    ([{"name": "prod-*", "namespace": "*"}], IN_CLUSTER, "shop", False),
    # negations: Argo CD's isDestinationMatched
    ([{"server": "*", "namespace": "*"}, {"server": "*", "namespace": "!kube-system"}], IN_CLUSTER, "kube-system", False),
    ([{"server": "*", "namespace": "*"}, {"server": "*", "namespace": "!kube-system"}], IN_CLUSTER, "shop", True),
    ([{"name": "*", "namespace": "*"}, {"name": "!staging", "namespace": "*"}], Cluster("https://s", "staging"), "a", False),
    ([{"name": "*", "namespace": "*"}, {"name": "!staging", "namespace": "*"}], Cluster("https://p", "prod"), "a", True),
    ([], IN_CLUSTER, "shop", False),  # no destinations: nowhere
])
def test_destinations_with_globs_and_negation(destinations, cluster, namespace, allowed):
    rules = parse_project(project(sourceRepos=["*"], destinations=destinations)).rules
    assert rules.destination_allowed(cluster, namespace) is allowed
    if not allowed:
        with pytest.raises(PolicyError, match=f"project 'team': destination namespace '{namespace}'"):
            rules.check_destination("shop", cluster, namespace)


def violations(spec: dict[str, Any], objects: list[DesiredObject]) -> list[str]:
    rules = parse_project(project(sourceRepos=["*"], destinations=[{"server": "*", "namespace": "*"}], **spec)).rules
    return rules.violations(objects, "shop", namespaced, IN_CLUSTER)


def test_an_absent_or_empty_cluster_whitelist_denies_every_cluster_scoped_kind():
    role = obj("rbac.authorization.k8s.io/v1", "ClusterRole", "reader")
    expected = ["ClusterRole.rbac.authorization.k8s.io reader (apps/x.yaml:1): cluster-scoped objects are not allowed "
                "(rule clusterResourceWhitelist: none given)"]
    assert violations({}, [role]) == expected
    assert violations({"clusterResourceWhitelist": []}, [role]) == expected
    assert violations({"clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}, [role]) == []
    assert violations({"clusterResourceWhitelist": [{"group": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                     "name": "view-*"}]}, [role]) == [
        "ClusterRole.rbac.authorization.k8s.io reader (apps/x.yaml:1): kind ClusterRole.rbac.authorization.k8s.io is not "
        "allowed (rule clusterResourceWhitelist: rbac.authorization.k8s.io/ClusterRole named view-*)"]


def test_namespaced_whitelist_unset_allows_all_empty_allows_none_and_the_blacklist_wins():
    config, secret = obj("v1", "ConfigMap", "c"), obj("v1", "Secret", "s")
    assert violations({}, [config, secret]) == []
    assert violations({"namespaceResourceWhitelist": []}, [config]) == [
        "ConfigMap shop/c (apps/x.yaml:1): namespaced objects are not allowed (rule namespaceResourceWhitelist: [])"]
    assert violations({"namespaceResourceWhitelist": [{"group": "*", "kind": "*"}],
                       "namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}]}, [config, secret]) == [
        "Secret shop/s (apps/x.yaml:1): kind Secret is denied (rule namespaceResourceBlacklist: core/Secret)"]
    # a namespaced object elsewhere than the project's destinations
    rules = parse_project(project(sourceRepos=["*"], destinations=[{"server": "*", "namespace": "shop"}])).rules
    assert rules.violations([obj("v1", "ConfigMap", "c", "other")], "shop", namespaced, IN_CLUSTER) == [
        "ConfigMap other/c (apps/x.yaml:1): namespace 'other' is not allowed (rule destinations: server=*, namespace=shop)"]


def test_the_default_project_allows_everything_unless_given():
    rules = default_project().rules
    rules.check_repo("shop", "https://anywhere.example/x.git")
    rules.check_destination("shop", Cluster("https://x", "x"), "kube-system")
    assert rules.violations([obj("rbac.authorization.k8s.io/v1", "ClusterRole", "r"), obj("v1", "Secret", "s")], "shop",
                            namespaced, IN_CLUSTER) == []


@pytest.mark.parametrize("spec, message", [
    ({"syncWindows": [{"kind": "maybe", "schedule": "* * * * *", "duration": "1h", "applications": ["*"]}]},
     "AppProject 'team'.spec.syncWindows[0].kind: 'maybe' must be allow or deny"),
    ({"syncWindows": [{"kind": "deny", "schedule": "* * * * *", "duration": "1 hour", "applications": ["*"]}]},
     "spec.syncWindows[0].duration: duration '1 hour' is not a Go duration"),
    ({"syncWindows": [{"kind": "deny", "schedule": "* * * * *", "duration": "1h", "timeZone": "Mars/Olympus",
                       "applications": ["*"]}]}, "spec.syncWindows[0].timeZone: time zone 'Mars/Olympus' is not a known"),
    ({"syncWindows": [{"kind": "deny", "schedule": "* * * * *", "duration": "1h"}]},
     "spec.syncWindows[0]: matches no application: give applications, namespaces or clusters"),
    ({"syncWindows": [{"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["*"], "x": 1}]},
     "spec.syncWindows[0].x: unknown key"),
    ({"signatureKeys": [{"keyID": "4AEE18F83AFDEB23"}]}, "spec.signatureKeys: commit signature verification"),
    ({"destinations": [{"server": "!*", "namespace": "*"}]}, "spec.destinations[0].server: '!*' denies everything"),
    ({"clusterResourceWhitelist": [{"group": "*"}]}, "spec.clusterResourceWhitelist[0].kind: is required"),
])
def test_malformed_projects_are_refused_naming_the_project_and_the_key(spec, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        parse_project(project(**spec))


def test_projects_come_as_mappings_or_yaml_text_and_names_are_unique():
    text = yaml.safe_dump_all([project(sourceRepos=["*"]), {**project(), "metadata": {"name": "other"}}])
    assert sorted(parse_projects([text])) == ["other", "team"]
    with pytest.raises(SpecError, match="two AppProjects are named 'team'"):
        parse_projects([project(), project()])
    with pytest.raises(SpecError, match="an AppProject manifest .* is expected, got 'Application'"):
        parse_projects([{**project(), "kind": "Application"}])


@pytest.mark.parametrize("destination, host, placed", [
    (Destination("shop"), HostCluster("https://10.0.0.1:6443", "prod"), IN_CLUSTER),
    (Destination("shop", name="in-cluster"), HostCluster("https://10.0.0.1:6443", "prod"), IN_CLUSTER),
    (Destination("shop", name="prod"), HostCluster("https://10.0.0.1:6443", "prod"), Cluster("https://10.0.0.1:6443", "prod")),
    (Destination("shop", name="staging"), HostCluster("https://10.0.0.1:6443", "prod"), None),
    (Destination("shop", server="HTTPS://10.0.0.1:6443/"), HostCluster("https://10.0.0.1:6443", "prod"),
     Cluster("https://10.0.0.1:6443", "prod")),
    (Destination("shop", server="https://10.0.0.2:6443"), HostCluster("https://10.0.0.1:6443", "prod"), None),
    (Destination("shop", name="prod"), HostCluster("https://10.0.0.1:6443", ""), None),
])
def test_a_destination_picks_the_inventory_host_by_server_or_name(destination, host, placed):
    assert host.destination_cluster(destination) == placed


def test_servers_compare_without_default_port_case_or_trailing_slash():
    assert same_server("https://API.example:443/", "https://api.example")
    assert not same_server("https://api.example:6443", "https://api.example")


def test_an_application_no_host_synced_is_reported_once_with_the_hosts_it_was_listed_on():
    results = [
        {"cluster": "blue", "result": {"applications": [{"name": "blue"}],
                                       "other_clusters": [{"name": "green", "destination": "name 'green'"},
                                                          {"name": "purple", "destination": "name 'purple'"}]}},
        {"cluster": "green", "result": {"applications": [{"name": "green"}],
                                        "other_clusters": [{"name": "blue", "destination": "name 'blue'"},
                                                           {"name": "purple", "destination": "name 'purple'"}]}},
    ]
    assert find_unmatched(results) == [{"name": "purple", "destination": "name 'purple'", "listed_on": ["blue", "green"]}]
