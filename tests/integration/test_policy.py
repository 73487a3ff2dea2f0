"""The policy option (Argo CD's AppProject, in one option) against the real control plane.

An application that breaks the policy fails as a whole, with a message naming
every object and the rule, before anything is written: no object, no
inventory parent, no Lease. An application that keeps to it syncs, also when
it shares a task with one that does not. A disallowed repository is not even
fetched. The applications role passes gitops_policy on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL, application_applyset_id

CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}


def manifests_repo(git_repo, namespace: str, other_namespace: str):
    repo = git_repo("policy-apps")
    repo.commit({
        "good/config.yaml": yaml.safe_dump(CONFIG),
        "good/service.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                             "spec": {"ports": [{"port": 80}]}}),
        "bad/config.yaml": yaml.safe_dump(CONFIG),
        "bad/elsewhere.yaml": yaml.safe_dump({**CONFIG, "metadata": {"name": "elsewhere", "namespace": other_namespace}}),
        "bad/role.yaml": yaml.safe_dump({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                         "metadata": {"name": f"policy-{namespace}"}, "rules": []}),
        "bad/secret.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                                           "stringData": {"k": "v"}}),
    })
    return repo


def app(name: str, repo_url: str, path: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "source": {"repo_url": repo_url, "path": path}, "destination": {"namespace": namespace},
            "sync_policy": {"prune": True}}


def labelled(kubectl, namespaces: list[str], apps: list[tuple[str, str]]) -> list[str]:
    """Objects anywhere carrying the ApplySet label of one of (app, namespace)."""
    selector = f"{PART_OF_LABEL} in ({','.join(application_applyset_id(a, ns) for a, ns in apps)})"
    items = kubectl.get("configmaps,secrets,services,clusterroles", "-A", "-l", selector)["items"]
    return sorted(f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}" for i in items)


def test_policy_refuses_a_violating_application_as_a_whole_and_syncs_the_rest(kubectl, namespace, git_repo, ansible_playbook,
                                                                              tmp_path):
    other = f"{namespace}-other"
    kubectl.run("create", "namespace", other)
    try:
        repo = manifests_repo(git_repo, namespace, other)
        policy = {"allowed_namespaces": [namespace], "denied_kinds": ["Secret"],
                  "allowed_repos": [f"file://{repo.path.parent}/*"]}
        stranger = f"https://token:s3cr3t@git.example.invalid/other/{uuid.uuid4().hex[:6]}.git"
        cache = tmp_path / "cache"
        tasks = [
            {"name": "sync a violating application", "register": "bad", "ignore_errors": True,
             "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache),
                                               "policy": policy, "application": app("bad", repo.url, "bad", namespace)}},
            {"name": "diff a violating application", "register": "bad_diff", "ignore_errors": True,
             "gitops.kubernetes.gitops_diff": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache),
                                               "policy": policy, "application": app("bad", repo.url, "bad", namespace)}},
            {"name": "sync a repository the policy does not allow", "register": "stranger", "ignore_errors": True,
             "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache),
                                               "policy": policy, "application": app("stranger", stranger, "apps", namespace)}},
            {"name": "one good, one bad in one task", "register": "both", "ignore_errors": True,
             "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache),
                                               "policy": policy, "applications": [
                                                   app("good", repo.url, "good", namespace),
                                                   app("bad", repo.url, "bad", namespace)]}},
            {"name": "rendered manifests breaking the policy", "register": "manifests", "ignore_errors": True,
             "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "name": "raw",
                                               "destination": {"namespace": namespace}, "policy": policy,
                                               "manifests": [CONFIG, {"apiVersion": "v1", "kind": "Namespace",
                                                                      "metadata": {"name": f"{namespace}-new"}}]}},
        ]
        run = ansible_playbook(yaml.safe_dump(tasks))
        bad, bad_diff, both = run["bad"], run["bad_diff"], run["both"]
        assert bad["failed"] and bad_diff["failed"]
        message = bad["msg"]
        assert message.startswith("application 'bad': policy violated, nothing was applied: ")
        assert f"ClusterRole.rbac.authorization.k8s.io policy-{namespace} (bad/role.yaml:1): cluster-scoped objects are not " \
               "allowed (rule allow_cluster_scoped: false)" in message
        assert f"ConfigMap {other}/elsewhere (bad/elsewhere.yaml:1): namespace '{other}' is not allowed " \
               f"(rule allowed_namespaces: {namespace})" in message
        assert f"Secret {namespace}/creds (bad/secret.yaml:1): kind Secret is denied (rule denied_kinds: Secret)" in message
        assert f"ConfigMap {namespace}/settings" not in message  # the object that keeps to the policy is not named
        assert "policy violated" in bad_diff["msg"] or "policy violated" in json.dumps(bad_diff)

        assert run["stranger"]["failed"]
        assert "policy: repository https://git.example.invalid/other/" in run["stranger"]["msg"]
        assert "is not allowed (rule allowed_repos: " in run["stranger"]["msg"]
        assert "s3cr3t" not in json.dumps(run["stranger"])
        mirrors = list((cache / "git").glob("*.git")) if (cache / "git").exists() else []
        assert len(mirrors) == 1, f"only the allowed repository is fetched: {mirrors}"

        assert both["failed"] and both["failed_applications"] == ["bad"]
        entries = {entry["name"]: entry for entry in both["applications"]}
        assert entries["good"]["sync_status"] == "Synced" and entries["good"]["counts"]["created"] == 2
        assert "policy violated" in entries["bad"]["error"]
        assert f"Namespace {namespace}-new: cluster-scoped objects are not allowed" in run["manifests"]["msg"]

        assert labelled(kubectl, [namespace, other], [("bad", namespace), ("raw", namespace)]) == []
        assert not kubectl.exists("configmap", "applyset-bad", "-n", namespace)
        assert not kubectl.exists("lease", "gitops-sync-bad", "-n", namespace)
        assert not kubectl.exists("clusterrole", f"policy-{namespace}")
        assert not kubectl.exists("namespace", f"{namespace}-new")
        assert labelled(kubectl, [namespace], [("good", namespace)]) == [
            f"ConfigMap/{namespace}/settings", f"Service/{namespace}/web"]
    finally:
        kubectl.run("delete", "namespace", other, "--wait=false", "--ignore-not-found", check=False)


def test_policy_applies_to_hooks_before_anything_is_written(kubectl, namespace, ansible_playbook):
    other = f"{namespace}-other"
    kubectl.run("create", "namespace", other)
    try:
        hook = "argocd.argoproj.io/hook"
        elsewhere = {**CONFIG, "metadata": {"name": "pre-elsewhere", "namespace": other, "annotations": {hook: "PreSync"}}}
        secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"token": "hook-value-5d1x"},
                  "metadata": {"generateName": "pre-secret-", "annotations": {hook: "PreSync"}}}
        cluster_hook = {"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": f"{namespace}-by-hook", "annotations": {hook: "PostSync"}}}
        policy = {"allowed_namespaces": [namespace], "denied_kinds": ["Secret"]}
        task = {"name": "hooks breaking the policy", "register": "hooks", "ignore_errors": True,
                "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "name": "hooked",
                                                  "destination": {"namespace": namespace}, "policy": policy,
                                                  "manifests": [CONFIG, elsewhere, secret, cluster_hook]}}
        run = ansible_playbook(yaml.safe_dump([task]))
        result = run["hooks"]
        assert result["failed"] is True
        message = result["msg"]
        assert message.startswith("application 'hooked': policy violated, nothing was applied: "), message
        assert f"ConfigMap {other}/pre-elsewhere: namespace '{other}' is not allowed (rule allowed_namespaces: {namespace})" in message
        assert f"Secret {namespace}/pre-secret-: kind Secret is denied (rule denied_kinds: Secret)" in message
        assert f"Namespace {namespace}-by-hook: cluster-scoped objects are not allowed" in message
        assert f"ConfigMap {namespace}/settings" not in message
        assert "hook-value-5d1x" not in json.dumps({key: value for key, value in result.items() if key != "invocation"})
        # nothing written: not the ordinary object, no hook, no inventory, no Lease
        written = {item["metadata"]["name"] for item in kubectl.get("configmaps,secrets", "-n", namespace)["items"]}
        assert written <= {"kube-root-ca.crt"}, written  # the controller manager's CA bundle only
        assert not kubectl.exists("configmap", "pre-elsewhere", "-n", other)
        assert not kubectl.exists("namespace", f"{namespace}-by-hook")
        assert not kubectl.exists("lease", "gitops-sync-hooked", "-n", namespace)
    finally:
        kubectl.run("delete", "namespace", other, "--wait=false", "--ignore-not-found", check=False)


def test_the_applications_role_enforces_gitops_policy(cluster, kubectl, namespace, git_repo, tmp_path):
    other = f"{namespace}-other"
    repo = manifests_repo(git_repo, namespace, other)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"clusters": {"hosts": {"local": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "gitops_kubeconfig": cluster.kubeconfig, "gitops_cache_dir": str(tmp_path / "cache"),
        "gitops_report_dir": str(tmp_path / "reports"),
        "gitops_policy": {"allowed_namespaces": [namespace], "denied_kinds": ["Secret"]},
        "gitops_applications": [app("good", repo.url, "good", namespace), app("bad", repo.url, "bad", namespace)],
    }}}}))
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "sync", "hosts": "clusters", "gather_facts": False,
                                         "roles": [{"role": "gitops.kubernetes.applications"}]}]))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", str(inventory)],
                          capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    assert proc.returncode != 0, "a cluster with an application that breaks the policy fails"
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert "policy violated, nothing was applied" in json.dumps(report)
    assert labelled(kubectl, [namespace], [("bad", namespace)]) == []
    assert labelled(kubectl, [namespace], [("good", namespace)]) == [f"ConfigMap/{namespace}/settings", f"Service/{namespace}/web"]


def test_allowed_repos_cannot_be_left_with_dot_segments_or_through_a_submodule(kubectl, namespace, git_repo, ansible_playbook,
                                                                               tmp_path):
    private = git_repo("private")
    private.commit({"apps/secret.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "private"},
                                                        "stringData": {"token": "not-for-this-team"}})})
    allowed = git_repo("platform/apps")
    allowed.commit({"apps/config.yaml": yaml.safe_dump(CONFIG)})
    platform = allowed.path.parent
    policy = {"allowed_repos": [f"file://{platform}/*"]}
    # git resolves these to the private repository; the policy must see what git fetches
    sneaky = [f"file://{platform}/../private", f"file://{platform}/%2e%2e/private", f"file://{platform}/apps/../../private"]
    # an allowed repository whose submodule is the private one
    allowed.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", "../../private", "apps/vendored")
    allowed.commit({}, "vendor the private repository")
    cache = tmp_path / "cache"
    run = ansible_playbook(yaml.safe_dump([
        *[{"name": f"sync {url}", "register": f"sneaky{index}", "ignore_errors": True,
           "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache), "policy": policy,
                                             "application": app(f"sneaky{index}", url, "apps", namespace)}}
          for index, url in enumerate(sneaky)],
        {"name": "sync an allowed repository with a private submodule", "register": "vendoring", "ignore_errors": True,
         "gitops.kubernetes.gitops_sync": {"kubeconfig": "{{ gitops_test_kubeconfig }}", "cache_dir": str(cache), "policy": policy,
                                           "application": {**app("vendoring", allowed.url, "apps", namespace),
                                                           "source": {"repo_url": allowed.url, "path": "apps",
                                                                      "directory": {"recurse": True}}}}},
    ]))
    for index, url in enumerate(sneaky):
        result = run[f"sneaky{index}"]
        assert result.get("failed"), f"{url} must be refused"
        assert result["msg"] == (f"application 'sneaky{index}': policy: repository file://{private.path} (written {url}) is not "
                                 f"allowed (rule allowed_repos: file://{platform}/*); nothing was fetched or applied")
    vendoring = run["vendoring"]
    assert vendoring.get("failed")
    assert vendoring["msg"].startswith(f"application 'vendoring': policy: repository file://{private.path} (submodule "
                                       f"'apps/vendored' of {allowed.url}) is not allowed"), vendoring["msg"]
    assert not kubectl.exists("secret", "private", "-n", namespace)
    assert labelled(kubectl, [namespace], [("vendoring", namespace)]) == []
    assert "not-for-this-team" not in json.dumps(run.results)
