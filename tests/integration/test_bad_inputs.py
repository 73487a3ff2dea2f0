"""The bad input corpus: every case in bad_inputs/ fails with the exact message a user sees, and changes nothing.

Each case is a YAML file in bad_inputs/ (see README.md there): the Git files
(or rendered manifests, or module options) that are wrong, and the substring
the task's ``msg`` must contain. All cases run through the real modules in
one ansible-playbook run (one task per case) against the local control
plane, into one namespace; the namespace is snapshotted before and after, and
no object anywhere may carry the ApplySet label of a corpus application.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import PART_OF_LABEL, application_applyset_id
from ansible_collections.gitops.kubernetes.plugins.module_utils._ownership import CLAIM_ANNOTATION

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import local_cluster  # noqa: E402

CASES_DIR = Path(__file__).parent / "bad_inputs"
CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))
BOGUS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.bm90LWEtdG9rZW4.c2lnbmF0dXJl"
DEFAULT_FILES = {"apps/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: would-be-created}\n"}
SNAPSHOT_KINDS = "configmaps,secrets,services,deployments,jobs,serviceaccounts,leases.coordination.k8s.io,roles,rolebindings"
CLUSTER_KINDS = "namespaces,clusterroles,clusterrolebindings,customresourcedefinitions"


def case_id(path: Path) -> str:
    return path.stem


def app_name(path: Path) -> str:
    return "bad-" + path.stem.split("-", 1)[0]


def substitute(value: Any, markers: dict[str, str]) -> Any:
    """@MARKER@ placeholders replaced in every string of a case."""
    if isinstance(value, str):
        for marker, replacement in markers.items():
            value = value.replace(f"@{marker}@", replacement)
        return value
    if isinstance(value, list):
        return [substitute(item, markers) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, markers) for key, item in value.items()}
    return value


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge; a None in override removes the key."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def git(path: Path, *args: str) -> None:
    env_args = ["-c", "user.name=Test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", *env_args, *args], cwd=path, check=True, capture_output=True, timeout=60)


def make_repo(root: Path, case: dict[str, Any]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    files = case.get("files") or ({} if case.get("generate") or case.get("binary_files") else DEFAULT_FILES)
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    for relative, content in (case.get("binary_files") or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(content))
    for relative, spec in (case.get("generate") or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": spec["configmap"]},
            "data": {"blob": "x" * int(spec["bytes"])},
        }))
    for relative, link_target in (case.get("symlinks") or {}).items():
        link = root / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(link_target)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "case")
    return root


CASE_OPTIONS = ("application", "manifests", "name", "destination", "kubeconfig", "host", "api_key", "ca_cert",
                "cache_dir", "wait_timeout", "policy")


def build_args(path: Path, case: dict[str, Any], markers: dict[str, str], kubeconfig: str, cache_dir: str) -> dict[str, Any]:
    """The module arguments of one case (placeholders filled in)."""
    name = app_name(path)
    args: dict[str, Any] = {}
    if "manifests" in case:
        args.update({"name": name, "destination": {"namespace": markers["NAMESPACE"]}, "manifests": case["manifests"]})
    elif case.get("argocd"):
        base = {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
            "spec": {
                "project": "default",
                "source": {"repoURL": markers["REPO"], "targetRevision": "main", "path": "apps"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": markers["NAMESPACE"]},
            },
        }
        application = merge(base, case.get("application") or {})
        if "sources" in application["spec"]:
            application["spec"].pop("source", None)
        args.update({"application": application, "cache_dir": cache_dir})
    else:
        base = {
            "name": name,
            "source": {"repo_url": markers["REPO"], "revision": "main", "path": "apps"},
            "destination": {"namespace": markers["NAMESPACE"]},
            "sync_policy": {"prune": True},
        }
        args.update({"application": merge(base, case.get("application") or {}), "cache_dir": cache_dir})
    if case.get("module", "gitops_sync") != "gitops_render":
        options = case.get("options") or {}
        if "host" not in options and "kubeconfig" not in options:
            args["kubeconfig"] = kubeconfig
        args.update(options)
    if case.get("module", "gitops_sync") == "gitops_sync":
        args.setdefault("wait_timeout", 30)
    assert set(args) <= set(CASE_OPTIONS), f"add {set(args) - set(CASE_OPTIONS)} to CASE_OPTIONS"
    return substitute(args, markers)


def run_cases(tmp: Path, cases: dict[str, tuple[str, dict[str, Any]]], forks: int = 4) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    """Run each case (host name -> (module, args)) as its own inventory host, `forks` at a time.

    One ansible-playbook run for the whole corpus: the free strategy lets every
    case run as soon as a fork is free, and each host writes its result to a file.
    """
    out = tmp / f"results-{uuid.uuid4().hex[:8]}"
    out.mkdir()
    inventory = {"all": {"hosts": {
        host: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
               "case_module": module, "case_args": args}
        for host, (module, args) in cases.items()
    }}}
    task_args = {option: f"{{{{ case_args.{option} | default(omit) }}}}" for option in CASE_OPTIONS}
    tasks = [
        {"name": f"run {module}", f"gitops.kubernetes.{module}": task_args, "register": "case_result",
         "when": f"case_module == '{module}'"}
        for module in ("gitops_render", "gitops_diff", "gitops_sync")
    ]
    dump = {"name": "Write the result",
            "ansible.builtin.copy": {"dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                                     "content": "{{ case_result | default(None) | to_json }}", "mode": "0600"}}
    play = [{"name": "bad inputs", "hosts": "all", "strategy": "free", "gather_facts": False,
             "tasks": [{"block": tasks, "always": [dump]}]}]
    playbook = tmp / f"play-{uuid.uuid4().hex[:8]}.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    inventory_file = tmp / f"inventory-{uuid.uuid4().hex[:8]}.json"
    inventory_file.write_text(json.dumps(inventory))
    env = {
        **os.environ, "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_FORKS": str(forks), "ANSIBLE_HOST_KEY_CHECKING": "false",
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", str(inventory_file)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )
    results = {host: json.loads((out / f"{host}.json").read_text()) for host in cases if (out / f"{host}.json").exists()}
    return proc, results


def content(live: dict[str, Any]) -> str:
    """An object's content: all of it but what a claim changes (the claim annotation, its field ownership and the
    resourceVersion). A refused takeover claims the other application's object on purpose, and nothing else."""
    document = copy.deepcopy(live)
    metadata = document["metadata"]
    for key in ("resourceVersion", "managedFields"):
        metadata.pop(key, None)
    (metadata.get("annotations") or {}).pop(CLAIM_ANNOTATION, None)
    if metadata.get("annotations") == {}:
        del metadata["annotations"]
    return json.dumps(document, sort_keys=True)


def snapshot(kubectl: Any, namespace: str, set_ids: list[str]) -> dict[str, Any]:
    """Every object in the namespace (kind/name -> content) and every object anywhere labelled for a case."""
    items = kubectl.get(SNAPSHOT_KINDS, "-n", namespace)["items"]
    in_namespace = {f"{i['kind']}/{i['metadata']['name']}": content(i) for i in items}
    selector = f"{PART_OF_LABEL} in ({','.join(set_ids)})"
    labelled = kubectl.get(f"{SNAPSHOT_KINDS},{CLUSTER_KINDS}", "-A", "-l", selector)["items"]
    names = sorted(f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}" for i in labelled)
    return {"namespace": in_namespace, "labelled": names}


@pytest.fixture(scope="module")
def corpus(cluster, kubectl, tmp_path_factory):
    """Run every case once; returns (results by case, snapshot before, snapshot after, markers)."""
    tmp = tmp_path_factory.mktemp("bad-inputs")
    namespace = f"bad-inputs-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", namespace)
    kubectl.run("create", "serviceaccount", "nobody", "-n", namespace)
    nobody_token = kubectl.run("create", "token", "nobody", "-n", namespace, "--duration=1h").stdout.strip()
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    ca_cert = tmp / "ca.crt"
    ca_cert.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    cases = {path: yaml.safe_load(path.read_text()) for path in CASE_FILES}
    cache_dir = str(tmp / "cache")
    markers_common = {
        "NAMESPACE": namespace, "SERVER": cluster.server, "CA_CERT": str(ca_cert), "BOGUS_TOKEN": BOGUS_TOKEN,
        "NOBODY_TOKEN": nobody_token, "CLOSED_PORT": str(local_cluster.free_port()),
    }
    markers: dict[str, dict[str, str]] = {}
    runs: dict[str, tuple[str, dict[str, Any]]] = {}
    setup: dict[str, tuple[str, dict[str, Any]]] = {}
    for path, case in cases.items():
        repo = make_repo(tmp / "repos" / case_id(path), case)
        markers[case_id(path)] = {**markers_common, "REPO": f"file://{repo}"}
        runs[case_id(path)] = (case.get("module", "gitops_sync"),
                               build_args(path, case, markers[case_id(path)], cluster.kubeconfig, cache_dir))
        if case.get("setup"):
            setup[case_id(path)] = ("gitops_sync", {
                "kubeconfig": cluster.kubeconfig, "name": case["setup"]["name"],
                "destination": {"namespace": namespace}, "manifests": case["setup"]["manifests"],
            })
    if setup:
        proc, results = run_cases(tmp, setup)
        assert all(not r.get("failed") for r in results.values()) and len(results) == len(setup), \
            f"setup failed:\n{proc.stdout[-3000:]}"
    set_ids = [application_applyset_id(app_name(path), namespace) for path in cases]
    before = snapshot(kubectl, namespace, set_ids)
    proc, by_case = run_cases(tmp, runs)
    after = snapshot(kubectl, namespace, set_ids)
    yield {"cases": cases, "results": by_case, "before": before, "after": after, "markers": markers, "proc": proc,
           "namespace": namespace}
    kubectl.run("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_the_corpus_has_at_least_30_cases():
    assert len(CASE_FILES) >= 30
    assert len({app_name(path) for path in CASE_FILES}) == len(CASE_FILES), "case numbers must be unique"


@pytest.mark.parametrize("path", CASE_FILES, ids=case_id)
def test_bad_input_fails_with_the_exact_message(corpus, path):
    result = corpus["results"][case_id(path)]
    case = corpus["cases"][path]
    expected = substitute(case["expect"], corpus["markers"][case_id(path)])
    assert result is not None, f"no result for {case_id(path)}:\n{corpus['proc'].stdout[-3000:]}"
    assert result.get("failed"), f"{case_id(path)} did not fail: {json.dumps(result)[:2000]}"
    assert expected in result.get("msg", ""), textwrap.dedent(f"""
        {case_id(path)}: {case['what']}
        expected: {expected}
        got:      {result.get('msg')}""")
    assert "Traceback" not in json.dumps(result), "a bad input must never surface as a Python traceback"
    assert "tok3nNeverShown" not in json.dumps(result)
    assert result.get("changed") is not True


def test_bad_inputs_leave_the_cluster_unchanged(corpus, kubectl):
    assert corpus["after"]["labelled"] == [], "objects labelled for a failing application were created"
    assert corpus["after"]["namespace"] == corpus["before"]["namespace"]
    # the one write a refused takeover makes: the claim on the other application's object, content untouched
    namespace = corpus["namespace"]
    claimed = kubectl.get("configmap/shared-by-two", "-n", namespace)
    assert claimed["metadata"]["annotations"][CLAIM_ANNOTATION] == application_applyset_id("bad-49", namespace)
    assert claimed["data"] == {"owner": "first"}
