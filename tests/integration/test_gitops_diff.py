"""gitops_diff against a real control plane, mostly through the real ansible-playbook.

"Synced before" is simulated the way gitops_sync applies: server-side apply
with field manager gitops.kubernetes, every member labelled
applyset.kubernetes.io/part-of, and the ApplySet parent ConfigMap recording
the inventory. Drift is then made by the real kubectl under other field
managers, and the module must report exactly that drift and nothing else.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import subprocess
import time
import uuid
from typing import Any

import pytest
import yaml
from local_cluster import find_binary
from module_tasks import manifests_task, resources_by_kind_name, tasks

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import compare_application, label_member
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    ID_LABEL,
    application_applyset_id,
    build_parent,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import FIELD_MANAGER, KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject, ObjectRef

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "team": "payments"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
        },
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]},
}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "PLURAL.GROUP"},
    "spec": {
        "group": "GROUP",
        "names": {"kind": "Widget", "plural": "PLURAL", "singular": "widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}


def simulate_sync(kubectl: Any, app: str, namespace: str, manifests: list[dict[str, Any]]) -> None:
    """Apply manifests the way gitops_sync does and record the ApplySet inventory."""
    set_id = application_applyset_id(app, namespace)
    applied = []
    for manifest in manifests:
        labelled = label_member(manifest, set_id)
        if labelled["kind"] not in ("Namespace", "ClusterRole", "CustomResourceDefinition"):
            labelled["metadata"].setdefault("namespace", namespace)
        applied.append(labelled)
    kubectl.apply(applied, f"--field-manager={FIELD_MANAGER}")
    parent = build_parent(app, namespace, [ObjectRef.from_manifest(m) for m in applied], revision="abc123")
    kubectl.apply(parent, f"--field-manager={FIELD_MANAGER}")


def diff_task(register: str, manifests: list[dict[str, Any]], namespace: str, app: str = "shop", **options: Any) -> dict[str, Any]:
    return manifests_task("gitops_diff", register, manifests, namespace, app, **options)


by_kind = resources_by_kind_name


def test_server_defaulted_deployment_and_service_are_synced(kubectl, namespace, ansible_playbook):
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": f"{namespace}-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    desired = [DEPLOYMENT, SERVICE, cluster_role]
    simulate_sync(kubectl, "shop", namespace, desired)
    try:
        kubectl.wait("condition=Available", "deployment/web", namespace)
        live = kubectl.get("deployment/web", "-n", namespace)
        service = kubectl.get("service/web", "-n", namespace)
        # the server filled in plenty the Git manifests never said
        assert live["spec"]["strategy"]["type"] == "RollingUpdate"
        assert live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"]
        assert "deployment.kubernetes.io/revision" in live["metadata"]["annotations"]
        assert service["spec"]["clusterIP"] and service["spec"]["sessionAffinity"] == "None"

        run = ansible_playbook(tasks(diff_task("drift", desired, namespace)), check=True, diff=True)
        assert run.rc == 0, run.stdout
        result = run["drift"]
        assert result["changed"] is False
        assert result["sync_status"] == "Synced" and result["out_of_sync"] is False
        assert result["summary"] == {"Synced": 3, "OutOfSync": 0, "Missing": 0, "Extraneous": 0, "Unknown": 0}
        resources = by_kind(result)
        assert resources["Deployment/web"]["patch"] == []
        assert resources["Deployment/web"]["namespace"] == namespace and resources["Deployment/web"]["group"] == "apps"
        # cluster-scoped: no namespace, even though the destination has one
        assert resources[f"ClusterRole/{namespace}-reader"]["namespace"] == ""
        assert "diff" not in result  # nothing drifted, nothing to show
    finally:
        kubectl.run("delete", "clusterrole", f"{namespace}-reader", "--ignore-not-found")


def test_replicas_changed_by_another_manager_is_a_one_operation_patch(kubectl, namespace, ansible_playbook):
    simulate_sync(kubectl, "shop", namespace, [DEPLOYMENT, SERVICE])
    kubectl.run("patch", "deployment", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":5}}',
                "--field-manager=autoscaler")
    # changed_when lets Ansible's callback print the diff of a read-only task
    shown = {**diff_task("shown", [DEPLOYMENT, SERVICE], namespace), "changed_when": "shown.out_of_sync"}
    run = ansible_playbook(tasks(diff_task("drift", [DEPLOYMENT, SERVICE], namespace), shown), diff=True)
    assert run.rc == 0, run.stdout
    result = run["drift"]
    resources = by_kind(result)
    assert resources["Deployment/web"]["status"] == "OutOfSync"
    assert resources["Deployment/web"]["patch"] == [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    assert resources["Service/web"]["status"] == "Synced"
    assert result["sync_status"] == "OutOfSync" and result["out_of_sync"] is True and result["changed"] is False
    # --diff: before/after for the drifted object only, and Ansible prints it
    assert len(result["diff"]) == 1
    assert "replicas: 5" in result["diff"][0]["before"] and "replicas: 2" in result["diff"][0]["after"]
    assert run.stdout.count("-  replicas: 5") == 1 and run.stdout.count("+  replicas: 2") == 1  # the changed_when task only
    assert run["shown"]["changed"] is True
    assert "replicas: 5" in resources["Deployment/web"]["before"]
    # the module never wrote: the live replica count is what the other manager set
    assert kubectl.get("deployment/web", "-n", namespace)["spec"]["replicas"] == 5


def test_label_removed_from_git_is_drift(kubectl, namespace, ansible_playbook):
    simulate_sync(kubectl, "shop", namespace, [DEPLOYMENT])
    without_label = copy.deepcopy(DEPLOYMENT)
    del without_label["metadata"]["labels"]["team"]
    run = ansible_playbook(tasks(diff_task("drift", [without_label], namespace)))
    assert run.rc == 0, run.stdout
    deployment = by_kind(run["drift"])["Deployment/web"]
    assert deployment["status"] == "OutOfSync"
    assert deployment["patch"] == [{"op": "remove", "path": "/metadata/labels/team"}]


def test_ignore_rules_on_a_pointer_and_on_a_manager_suppress_drift(kubectl, namespace, ansible_playbook):
    simulate_sync(kubectl, "shop", namespace, [DEPLOYMENT])
    kubectl.run("patch", "deployment", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":4}}',
                "--field-manager=hpa-controller")
    run = ansible_playbook(tasks(
        diff_task("plain", [DEPLOYMENT], namespace),
        diff_task("by_pointer", [DEPLOYMENT], namespace,
                  ignore_differences=[{"group": "apps", "kind": "Deployment", "json_pointers": ["/spec/replicas"]}]),
        diff_task("by_manager", [DEPLOYMENT], namespace,
                  ignore_differences=[{"group": "apps", "kind": "Deployment", "managed_fields_managers": ["hpa-controller"]}]),
        {**diff_task("by_jq", [DEPLOYMENT], namespace,
                     ignore_differences=[{"group": "*", "kind": "Deployment", "name": "web", "jq_path_expressions": [".spec.replicas"]}]),
         "ignore_errors": True},
        diff_task("other_name", [DEPLOYMENT], namespace,
                  ignore_differences=[{"group": "apps", "kind": "Deployment", "name": "api", "json_pointers": ["/spec/replicas"]}]),
    ))
    assert run.rc == 0, run.stdout
    assert run["plain"]["sync_status"] == "OutOfSync"
    for name in ("by_pointer", "by_manager"):
        assert run[name]["sync_status"] == "Synced", (name, run[name]["resources"])
    if importlib.util.find_spec("jq"):
        assert run["by_jq"]["sync_status"] == "Synced", run["by_jq"]
    else:  # the optional jq package is missing: a clear error, not a silently ignored rule
        assert run["by_jq"]["failed"] and "pip install jq" in run["by_jq"]["msg"]
    assert run["other_name"]["sync_status"] == "OutOfSync"  # the rule selects another object


def test_deleted_object_is_missing(kubectl, namespace, ansible_playbook):
    simulate_sync(kubectl, "shop", namespace, [DEPLOYMENT, SERVICE])
    kubectl.run("delete", "service", "web", "-n", namespace, "--wait=true")
    run = ansible_playbook(tasks(diff_task("drift", [DEPLOYMENT, SERVICE], namespace)), check=True, diff=True)
    assert run.rc == 0, run.stdout
    result = run["drift"]
    assert by_kind(result)["Service/web"]["status"] == "Missing"
    assert by_kind(result)["Deployment/web"]["status"] == "Synced"
    assert result["summary"]["Missing"] == 1 and result["out_of_sync"] is True
    assert [d["before"] for d in result["diff"]] == [""]
    assert "kind: Service" in result["diff"][0]["after"]


def test_custom_resource_whose_crd_is_in_the_application_is_missing_not_an_error(kubectl, namespace, ansible_playbook):
    group = f"{namespace}.example.org"
    crd = json.loads(json.dumps(CRD).replace("GROUP", group).replace("PLURAL", "widgets"))
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "blue"}, "spec": {"size": 3}}
    stranger = {"apiVersion": f"other.{group}/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    run = ansible_playbook(tasks(diff_task("drift", [crd, widget, stranger], namespace)))
    assert run.rc == 0, run.stdout
    resources = by_kind(run["drift"])
    assert resources[f"CustomResourceDefinition/widgets.{group}"]["status"] == "Missing"
    assert resources[f"CustomResourceDefinition/widgets.{group}"]["namespace"] == ""
    assert resources["Widget/blue"]["status"] == "Missing"
    assert resources["Widget/blue"]["namespace"] == namespace  # scope taken from the CRD in the application
    assert resources["Gadget/x"]["status"] == "Unknown"
    assert "not served" in resources["Gadget/x"]["message"]
    assert run["drift"]["sync_status"] == "OutOfSync"


def test_secret_drift_names_the_key_and_never_a_value(kubectl, namespace, ansible_playbook):
    git_value = f"git-{uuid.uuid4().hex}"
    live_value = f"live-{uuid.uuid4().hex}"
    kept_value = f"kept-{uuid.uuid4().hex}"
    secret = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
        "stringData": {"password": git_value, "username": kept_value},
    }
    simulate_sync(kubectl, "shop", namespace, [secret])
    live_b64 = base64.b64encode(live_value.encode()).decode()
    kubectl.run("patch", "secret", "db", "-n", namespace, "--type=merge",
                "-p", json.dumps({"data": {"password": live_b64}}), "--field-manager=intruder")
    run = ansible_playbook(tasks(diff_task("drift", [secret], namespace)), diff=True, verbosity=3)
    assert run.rc == 0, run.stdout
    resource = by_kind(run["drift"])["Secret/db"]
    assert resource["status"] == "OutOfSync"
    assert resource["patch"] == [{"op": "replace", "path": "/data/password", "value": "++++++++ (changed)"}]
    assert "username: ++++++++ (unchanged)" in resource["after"]
    haystack = run.stdout + run.stderr + json.dumps(run.results)
    for value in (git_value, live_value, kept_value):
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in haystack, "a Secret value leaked"
    assert "password" in run.stdout  # the key itself is shown


def test_inventory_member_no_longer_in_git_is_extraneous(kubectl, namespace, ansible_playbook):
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old-settings"}, "data": {"a": "1"}}
    kept = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "kept", "annotations": {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}}, "data": {},
    }
    simulate_sync(kubectl, "shop", namespace, [SERVICE, old, kept])
    run = ansible_playbook(tasks(diff_task("drift", [SERVICE], namespace)), diff=True)
    assert run.rc == 0, run.stdout
    result = run["drift"]
    resources = by_kind(result)
    assert resources["ConfigMap/old-settings"]["status"] == "Extraneous"
    assert "prune candidate" in resources["ConfigMap/old-settings"]["message"]
    assert resources["ConfigMap/kept"]["status"] == "Extraneous"
    assert result["summary"]["Extraneous"] == 2 and result["out_of_sync"] is True
    # only the counted one is shown as drift
    assert [d["after_header"] for d in result["diff"]] == [f"ConfigMap {namespace}/old-settings (pruned)"]
    assert kubectl.exists("configmap/old-settings", "-n", namespace)  # reported, not pruned


def test_an_applyset_written_by_kubectl_is_read(kubectl, namespace, ansible_playbook):
    """KEP-3659 interoperability: kubectl's parent id equals ours, and its members are found by label."""
    first = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}, "data": {"k": "v"}}
    second = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}, "data": {"k": "v"}}
    # kubectl only writes ApplySets with KUBECTL_APPLYSET in its environment
    proc = subprocess.run(
        [find_binary("kubectl"), f"--kubeconfig={kubectl.kubeconfig}", "apply", "-n", namespace, "--server-side",
         f"--field-manager={FIELD_MANAGER}", "--prune", "--applyset=configmaps/applyset-shop", "-f", "-"],
        input=yaml.safe_dump_all([first, second]), capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "KUBECTL_APPLYSET": "true"},
    )
    assert proc.returncode == 0, proc.stderr
    parent = kubectl.get("configmap/applyset-shop", "-n", namespace)
    assert parent["metadata"]["labels"][ID_LABEL] == application_applyset_id("shop", namespace)
    run = ansible_playbook(tasks(diff_task("drift", [first], namespace)))
    assert run.rc == 0, run.stdout
    resources = by_kind(run["drift"])
    assert resources["ConfigMap/one"]["status"] == "Synced"
    assert resources["ConfigMap/two"]["status"] == "Extraneous"


def test_applications_are_compared_in_one_call(kubectl, namespace, ansible_playbook):
    simulate_sync(kubectl, "front", namespace, [DEPLOYMENT])
    simulate_sync(kubectl, "back", namespace, [SERVICE])
    kubectl.run("delete", "service", "web", "-n", namespace, "--wait=true")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "twice"}}
    broken = {
        "name": "broken-app",
        "gitops.kubernetes.gitops_diff": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}",
            "applications": [
                {"name": "front", "destination": {"namespace": namespace}, "manifests": [DEPLOYMENT]},
                {"name": "dup", "destination": {"namespace": namespace}, "manifests": [config, config]},
            ],
        },
        "register": "broken", "ignore_errors": True,
    }
    task = {
        "name": "diff many",
        "gitops.kubernetes.gitops_diff": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}",
            "parallelism": 4,
            "applications": [
                {"name": "front", "destination": {"namespace": namespace}, "manifests": [DEPLOYMENT]},
                {"name": "back", "destination": {"namespace": namespace}, "manifests": [SERVICE]},
            ],
        },
        "register": "fleet",
    }
    run = ansible_playbook(tasks(task, broken))
    fleet = run["fleet"]
    statuses = {app["name"]: app["sync_status"] for app in fleet["applications"]}
    assert statuses == {"front": "Synced", "back": "OutOfSync"}
    assert fleet["summary"]["Synced"] == 1 and fleet["summary"]["Missing"] == 1
    assert fleet["sync_status"] == "OutOfSync" and fleet["changed"] is False
    assert fleet["stats"]["requests"] >= 4
    # one broken application fails the task but does not hide the others' results
    broken = run["broken"]
    assert broken["failed"] is True and broken["failed_applications"] == ["dup"]
    entries = {app["name"]: app for app in broken["applications"]}
    assert entries["front"]["sync_status"] == "Synced"
    assert "defined twice" in entries["dup"]["error"] and entries["dup"]["sync_status"] == "Unknown"


def test_connection_failures_are_clear_and_keep_credentials_out(kubectl, cluster, ansible_playbook, tmp_path):
    token = f"not-a-token-{uuid.uuid4().hex}"
    unreachable = {
        "name": "unreachable",
        "gitops.kubernetes.gitops_diff": {
            "host": "https://127.0.0.1:9", "api_key": token, "validate_certs": False,
            "name": "shop", "manifests": [SERVICE], "destination": {"namespace": "default"},
        },
        "register": "unreachable", "ignore_errors": True,
    }
    wrong_token = {
        "name": "wrong token",
        "gitops.kubernetes.gitops_diff": {
            "host": cluster.server, "api_key": token, "validate_certs": False,
            "name": "shop", "manifests": [SERVICE], "destination": {"namespace": "default"},
            "cache_dir": str(tmp_path / "cache"),
        },
        "register": "wrong_token", "ignore_errors": True,
    }
    untrusted = {
        "name": "untrusted",
        "gitops.kubernetes.gitops_diff": {
            "host": cluster.server, "api_key": token,
            "name": "shop", "manifests": [SERVICE], "destination": {"namespace": "default"},
        },
        "register": "untrusted", "ignore_errors": True,
    }
    run = ansible_playbook(tasks(unreachable, wrong_token, untrusted), verbosity=3)
    assert "TLS verification with the API server" in run["untrusted"]["msg"]
    assert "set ca_cert" in run["untrusted"]["msg"]
    assert run["unreachable"]["failed"] is True
    assert "cannot reach the Kubernetes API server at https://127.0.0.1:9" in run["unreachable"]["msg"]
    assert run["unreachable"]["error_type"] == "ClusterConnectionError"
    assert run["wrong_token"]["failed"] is True
    assert "rejected the credentials (401 Unauthorized)" in run["wrong_token"]["msg"]
    assert token not in run.stdout + run.stderr + json.dumps(run.results)


@pytest.mark.slow
def test_compare_1000_objects_cost(kubectl, cluster, namespace, ansible_playbook, tmp_path):
    """Prints the time and API requests to compare 1,000 objects (figures, not timed assertions)."""
    count = 1000
    desired = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:04d}", "labels": {"tier": "bench"}},
         "data": {"index": str(i), "payload": "x" * 200}}
        for i in range(count)
    ]
    simulate_sync(kubectl, "bench", namespace, desired)
    objects = [DesiredObject(d) for d in desired]
    figures = {}
    for label, app in (("synced with inventory", "bench"), ("no inventory (first sync)", "fresh")):
        client = KubeClient.from_params({"kubeconfig": cluster.kubeconfig, "cache_dir": str(tmp_path / "cache")})
        client.discovery()  # discovery is cached on disk between runs; measure the comparison itself
        before = client.stats.total
        started = time.monotonic()
        diff = compare_application(client, app, objects, namespace=namespace)
        seconds = time.monotonic() - started
        client.close()
        figures[label] = (seconds, client.stats.total - before, dict(client.stats.by_verb), client.parallelism)
        expected = "Synced" if app == "bench" else "OutOfSync"  # unlabelled for "fresh": sync would adopt them
        assert diff.summary[expected] == count, diff.summary
    assert figures["synced with inventory"][1] <= count + 5  # one dry-run per object, plus the inventory parent and one LIST
    assert figures["no inventory (first sync)"][1] <= count + 5  # one unfiltered LIST, not 1,000 GETs

    run = ansible_playbook(tasks(diff_task("bench", desired, namespace, app="bench", cache_dir=str(tmp_path / "cache"))))
    assert run.rc == 0 and run["bench"]["summary"]["Synced"] == count
    module_stats = run["bench"]["stats"]
    lines = [f"compare {count} ConfigMaps:"]
    for label, (secs, reqs, verbs, parallelism) in figures.items():
        lines.append(f"  engine, {label}: {secs:.2f} s, {reqs} API requests {verbs}, parallelism {parallelism}")
    lines.append(f"  gitops_diff module (whole call): {module_stats['seconds']:.2f} s, {module_stats['requests']} API requests")
    report = "\n".join(lines)
    print("\n" + report)
    out = os.environ.get("GITOPS_BENCH_OUTPUT")
    if out:
        with open(out, "a") as handle:
            handle.write(report + "\n")


def test_application_spec_is_rendered_from_git_and_compared(kubectl, namespace, ansible_playbook, git_repo, tmp_path):
    repo = git_repo()
    sha = repo.commit({
        "app/deployment.yaml": yaml.safe_dump(DEPLOYMENT),
        "app/service.yaml": yaml.safe_dump(SERVICE),
        "README.md": "not a manifest\n",
    })
    simulate_sync(kubectl, "shop", namespace, [DEPLOYMENT, SERVICE])
    kubectl.run("patch", "deployment", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":7}}',
                "--field-manager=hpa-controller")
    application = {
        "name": "shop",
        "source": {"repo_url": repo.url, "revision": "main", "path": "app"},
        "destination": {"namespace": namespace},
    }
    with_rule = {**application, "ignore_differences": [
        {"group": "apps", "kind": "Deployment", "managed_fields_managers": ["hpa-controller"]}]}
    common = {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(tmp_path / "cache")}
    run = ansible_playbook(tasks(
        {"name": "plain", "gitops.kubernetes.gitops_diff": {**common, "application": application}, "register": "plain"},
        {"name": "ignored", "gitops.kubernetes.gitops_diff": {**common, "application": with_rule}, "register": "ignored"},
    ), check=True)
    assert run.rc == 0, run.stdout
    plain, ignored = run["plain"], run["ignored"]
    assert plain["revision"] == sha and plain["name"] == "shop"
    assert by_kind(plain)["Deployment/web"]["patch"] == [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    assert by_kind(plain)["Deployment/web"]["source"] == "app/deployment.yaml:1"
    assert by_kind(plain)["Service/web"]["status"] == "Synced"
    assert ignored["sync_status"] == "Synced" and ignored["revision"] == sha


def test_forbidden_access_names_the_object_and_keeps_the_token_out(kubectl, cluster, namespace, ansible_playbook):
    """A real service account without RBAC on the namespace: 403 from the real API server."""
    kubectl.run("create", "serviceaccount", "viewer", "-n", namespace)
    token = kubectl.run("create", "token", "viewer", "-n", namespace, "--duration=10m").stdout.strip()
    task = {
        "name": "forbidden",
        "gitops.kubernetes.gitops_diff": {
            "host": cluster.server, "api_key": token, "validate_certs": False,
            "name": "shop", "manifests": [SERVICE], "destination": {"namespace": namespace},
        },
        "register": "forbidden", "ignore_errors": True,
    }
    run = ansible_playbook(tasks(task), verbosity=3)
    result = run["forbidden"]
    assert result["failed"] is True and result["error_type"] == "KubeApiError"
    assert f"get ConfigMap {namespace}/applyset-shop: access denied (403 Forbidden)" in result["msg"]
    assert f"system:serviceaccount:{namespace}:viewer" in result["msg"]
    assert token not in run.stdout + run.stderr + json.dumps(run.results)


def test_kube_client_verbs_against_the_api_server(kubectl, cluster, namespace):
    """The verbs gitops_sync builds on: apply (dry-run, conflicts, force), create, replace, list, delete."""
    from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError

    client = KubeClient.from_params({"kubeconfig": cluster.kubeconfig, "parallelism": 4})
    configmaps = client.resource_for("v1", "ConfigMap")
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "verbs", "namespace": namespace, "labels": {"suite": "verbs"}}, "data": {"k": "1"}}
    client.apply(configmaps, config)
    assert kubectl.get("configmap/verbs", "-n", namespace)["data"] == {"k": "1"}

    client.apply(configmaps, {**config, "data": {"k": "2"}}, dry_run=True)
    assert kubectl.get("configmap/verbs", "-n", namespace)["data"] == {"k": "1"}  # dry-run wrote nothing

    kubectl.run("patch", "configmap", "verbs", "-n", namespace, "--type=merge", "-p", '{"data":{"k":"other"}}',
                "--field-manager=someone-else")
    with pytest.raises(KubeApiError) as conflict:
        client.apply(configmaps, config)
    assert conflict.value.status == 409 and "someone-else" in conflict.value.message
    client.apply(configmaps, config, force_conflicts=True)
    assert kubectl.get("configmap/verbs", "-n", namespace)["data"] == {"k": "1"}

    created = client.create(configmaps, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "generateName": "hook-", "namespace": namespace, "labels": {"suite": "verbs"}}})
    assert created["metadata"]["name"].startswith("hook-")

    live = client.get(configmaps, namespace, "verbs")
    client.replace(configmaps, {**config, "metadata": {**config["metadata"], "resourceVersion": live["metadata"]["resourceVersion"]},
                                "data": {"replaced": "yes"}})
    assert kubectl.get("configmap/verbs", "-n", namespace)["data"] == {"replaced": "yes"}

    names = sorted(item["metadata"]["name"] for item in client.list_objects(configmaps, namespace, label_selector="suite=verbs"))
    assert names == sorted(["verbs", created["metadata"]["name"]])

    assert client.delete(configmaps, namespace, "verbs", propagation_policy="foreground") is not None
    assert client.delete(configmaps, namespace, "never-existed") is None
    deadline = time.monotonic() + 30
    while client.get(configmaps, namespace, "verbs") is not None:
        assert time.monotonic() < deadline, "ConfigMap not deleted within 30 s"
        time.sleep(0.2)
    assert client.stats.by_verb["PATCH"] == 4 and client.stats.by_verb["POST"] == 1
    client.close()
