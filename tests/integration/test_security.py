"""No secret leaks: every module and the applications role at -vvv, searched for known secret values.

Known values are planted where a GitOps tool meets secrets: Secret ``data``
and ``stringData`` in Git, Helm values that end up in a Secret (given as
``helm.values`` and as ``helm.parameters``), Git tokens and passwords (in an
https URL and as ``source.password``), and the ServiceAccount token in the
kubeconfig (as a file, as a dict, and as ``api_key``). The tasks succeed,
fail, run in check mode and with ``--diff``; then everything a user or a log
collector could see is searched for every value, raw and base64-encoded:
ansible-playbook's output at -vvv, ANSIBLE_LOG_PATH, the registered results,
the report files and the inventory parents written into the cluster.
Zero occurrences allowed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import local_cluster  # noqa: E402


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(label: str) -> str:
    return f"{label}{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def secrets() -> dict[str, str]:
    return {name: secret(name.replace("_", "")) for name in (
        "data_v1", "data_v2", "string_v1", "string_v2", "helm_value", "helm_parameter", "git_url_token",
        "git_password", "bad_base64",
    )}


def forms(value: str) -> set[str]:
    """What a leak of value could look like: raw and base64 (and base64 of base64, as data of data)."""
    return {value, b64(value), b64(b64(value))}


def write_repo(path: Path, secrets: dict[str, str]) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=path, check=True,
                       capture_output=True, timeout=60)

    def files(version: str) -> None:
        (path / "apps").mkdir(parents=True, exist_ok=True)
        (path / "apps" / "secret.yaml").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
            "data": {"token": b64(secrets[f"data_{version}"])},
            "stringData": {"password": secrets[f"string_{version}"]},
        }))
        (path / "apps" / "config.yaml").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"version": version},
        }))

    path.mkdir(parents=True)
    git("init", "-q", "-b", "main")
    files("v1")
    (path / "chart" / "templates").mkdir(parents=True)
    (path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: creds\nversion: 0.1.0\n")
    (path / "chart" / "values.yaml").write_text("dbPassword: ''\napiKey: ''\n")
    (path / "chart" / "templates" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: helm-creds\ntype: Opaque\n"
        "stringData:\n  dbPassword: {{ .Values.dbPassword | quote }}\n"
        "data:\n  apiKey: {{ .Values.apiKey | b64enc | quote }}\n"
    )
    git("add", "-A")
    git("commit", "-q", "-m", "v1")
    git("checkout", "-q", "-b", "v2")
    files("v2")
    git("add", "-A")
    git("commit", "-q", "-m", "v2")
    git("checkout", "-q", "main")


@pytest.fixture(scope="module")
def setting(cluster, kubectl, tmp_path_factory, secrets):
    """A namespace, a ServiceAccount (admin there only) whose token is in a kubeconfig, and the Git repository."""
    tmp = tmp_path_factory.mktemp("security")
    namespace = f"security-{uuid.uuid4().hex[:6]}"
    for name in (namespace, f"{namespace}-b"):
        kubectl.run("create", "namespace", name)
        kubectl.run("create", "rolebinding", "deployer-admin", "--clusterrole=cluster-admin",
                    f"--serviceaccount={namespace}:deployer", "-n", name)
    kubectl.run("create", "serviceaccount", "deployer", "-n", namespace)
    token = kubectl.run("create", "token", "deployer", "-n", namespace, "--duration=1h").stdout.strip()
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    ca_data = config["clusters"][0]["cluster"]["certificate-authority-data"]
    ca_file = tmp / "ca.crt"
    ca_file.write_bytes(base64.b64decode(ca_data))
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "deployer",
        "clusters": [{"name": "local", "cluster": {"server": cluster.server, "certificate-authority-data": ca_data}}],
        "users": [{"name": "deployer", "user": {"token": token}}],
        "contexts": [{"name": "deployer", "context": {"cluster": "local", "user": "deployer", "namespace": namespace}}],
    }
    kubeconfig_file = tmp / "kubeconfig"
    kubeconfig_file.write_text(yaml.safe_dump(kubeconfig))
    kubeconfig_file.chmod(0o600)
    repo = tmp / "repo"
    write_repo(repo, secrets)
    yield {"tmp": tmp, "namespace": namespace, "token": token, "ca_file": str(ca_file), "kubeconfig": kubeconfig,
           "kubeconfig_file": str(kubeconfig_file), "repo": f"file://{repo}", "server": cluster.server,
           "closed_port": local_cluster.free_port()}
    kubectl.run("delete", "namespace", namespace, f"{namespace}-b", "--wait=false", "--ignore-not-found", check=False)


def applications(setting: dict[str, Any], secrets: dict[str, str], revision: str = "main") -> dict[str, dict[str, Any]]:
    ns = setting["namespace"]
    return {
        "plain": {"name": "sec-plain", "source": {"repo_url": setting["repo"], "revision": revision, "path": "apps"},
                  "destination": {"namespace": ns}, "sync_policy": {"prune": True}},
        "helm": {"name": "sec-helm", "destination": {"namespace": ns},
                 "source": {"repo_url": setting["repo"], "revision": "main", "path": "chart",
                            "helm": {"values": {"dbPassword": secrets["helm_value"]},
                                     "parameters": [{"name": "apiKey", "value": secrets["helm_parameter"]}]}}},
        "password": {"name": "sec-password", "destination": {"namespace": f"{ns}-b"},
                     "source": {"repo_url": setting["repo"], "revision": revision, "path": "apps",
                                "username": "deployer", "password": secrets["git_password"]}},
        "url_token": {"name": "sec-url-token", "destination": {"namespace": ns},
                      "source": {"repo_url": f"https://gitops:{secrets['git_url_token']}@127.0.0.1:{setting['closed_port']}/org/apps.git",
                                 "revision": "main", "path": "apps"}},
    }


def run_playbook(tmp: Path, play: list[dict[str, Any]], inventory: str, args: list[str] = ()) -> dict[str, Any]:
    """ansible-playbook at -vvv with a log file; returns every text it produced."""
    name = uuid.uuid4().hex[:8]
    playbook = tmp / f"play-{name}.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    log = tmp / f"ansible-{name}.log"
    env = {**os.environ, "ANSIBLE_LOG_PATH": str(log), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "false",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_RETRY_FILES_ENABLED": "false",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "GITOPS_CACHE_DIR": str(tmp / "cache")}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", inventory, "-vvv",
                           *args], capture_output=True, text=True, env=env, timeout=900, check=False, cwd=tmp)
    return {"stdout": proc.stdout, "stderr": proc.stderr, "log": log.read_text() if log.exists() else "", "rc": proc.returncode}


def find_leaks(texts: dict[str, str], secrets: dict[str, str]) -> list[str]:
    found = []
    for where, text in texts.items():
        for name, value in secrets.items():
            for form in forms(value):
                if form in text:
                    found.append(f"{name} ({'raw' if form == value else 'base64'}) in {where}")
    return found


def module_tasks(setting: dict[str, Any], secrets: dict[str, str], results_file: Path, report_dir: Path) -> list[dict[str, Any]]:
    apps = applications(setting, secrets)
    v2 = applications(setting, secrets, revision="v2")
    kubeconfig = {"kubeconfig": setting["kubeconfig_file"]}
    by_api_key = {"host": setting["server"], "api_key": setting["token"], "ca_cert": setting["ca_file"]}
    by_dict = {"kubeconfig": setting["kubeconfig"]}
    ns = setting["namespace"]
    bad_secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"},
                  "data": {"key": secrets["bad_base64"] + "!!"}}
    inline = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "inline"},
              "stringData": {"password": secrets["string_v1"]}}

    def task(name: str, module: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"name": name, f"gitops.kubernetes.{module}": args, "register": name, "ignore_errors": True, **extra}

    tasks = [
        task("render_plain", "gitops_render", {"application": apps["plain"]}),
        task("render_helm", "gitops_render", {"application": apps["helm"]}),
        task("render_password", "gitops_render", {"application": apps["password"]}),
        task("render_url_token", "gitops_render", {"application": apps["url_token"]}),
        task("appset", "gitops_applicationset", {"applications": list(apps.values())}),
        task("diff_before", "gitops_diff", {"applications": [apps["plain"], apps["helm"]], **kubeconfig}, diff=True),
        task("sync_first", "gitops_sync", {"applications": [apps["plain"], apps["helm"], apps["password"]], **kubeconfig},
             diff=True),
        task("diff_v2", "gitops_diff", {"application": v2["plain"], **by_api_key}, diff=True),
        task("sync_v2_check", "gitops_sync", {"application": v2["plain"], **by_dict}, diff=True, check_mode=True),
        task("sync_v2", "gitops_sync", {"application": v2["plain"], **by_dict}, diff=True),
        task("sync_url_token", "gitops_sync", {"application": apps["url_token"], **kubeconfig}),
        task("diff_url_token", "gitops_diff", {"application": apps["url_token"], **by_api_key}),
        task("sync_bad_secret", "gitops_sync", {"name": "sec-bad", "destination": {"namespace": ns},
                                                "manifests": [bad_secret], **by_api_key}, diff=True),
        task("sync_inline", "gitops_sync", {"name": "sec-inline", "destination": {"namespace": ns},
                                            "manifests": [inline], **by_api_key}, diff=True),
        task("sync_inline_yaml", "gitops_sync", {"name": "sec-inline", "destination": {"namespace": ns},
                                                 "manifests": yaml.safe_dump(inline), **by_api_key}, diff=True),
        task("sync_inline_json", "gitops_sync", {"name": "sec-inline", "destination": {"namespace": ns},
                                                 "manifests": json.dumps(inline), **by_api_key}, diff=True),
        task("diff_inline_json", "gitops_diff", {"name": "sec-inline", "destination": {"namespace": ns},
                                                 "manifests": json.dumps(inline), **by_api_key}, diff=True),
        task("report", "gitops_report", {"dest": str(report_dir), "results": [
            {"cluster": "local", "result": "{{ sync_first }}"}, {"cluster": "v2", "result": "{{ sync_v2 }}"},
            {"cluster": "diff", "result": "{{ diff_v2 }}"}, {"cluster": "broken", "result": "{{ sync_url_token }}"}]}),
    ]
    names = [t["register"] for t in tasks]
    dump = {"name": "Dump the results", "ansible.builtin.copy": {
        "dest": str(results_file), "mode": "0600",
        "content": "{{ {" + ", ".join(f"'{n}': ({n} | default(None))" for n in names) + "} | to_json }}"}}
    return [{"block": tasks, "always": [dump]}]


def test_no_secret_reaches_output_results_reports_logs_or_the_cluster(setting, secrets, kubectl):
    tmp: Path = setting["tmp"]
    secrets = {**secrets, "service_account_token": setting["token"]}
    results_file, report_dir = tmp / "results.json", tmp / "reports"
    play = [{"name": "every module", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "tasks": module_tasks(setting, secrets, results_file, report_dir)}]
    modules_run = run_playbook(tmp, play, "localhost,")
    results = json.loads(results_file.read_text())
    # the tasks did what they should, or the search would prove little
    assert not results["sync_first"].get("failed"), results["sync_first"].get("msg")
    assert results["sync_v2"]["changed"] and not results["sync_v2"].get("failed"), results["sync_v2"].get("msg")
    assert results["sync_v2_check"]["changed"]
    assert results["diff_v2"]["out_of_sync"]
    assert results["render_url_token"]["failed"] and results["sync_url_token"]["failed"]
    assert results["sync_bad_secret"]["failed"]
    for name in ("sync_inline", "sync_inline_yaml", "sync_inline_json", "diff_inline_json", "report"):
        assert not results[name].get("failed"), f"{name}: {results[name].get('msg')}"
    assert kubectl.get("secret", "db", "-n", setting["namespace"])["data"]["token"] == b64(secrets["data_v2"])
    assert kubectl.get("secret", "helm-creds", "-n", setting["namespace"])["data"]["apiKey"] == b64(secrets["helm_parameter"])

    texts = {f"modules {key}": value for key, value in modules_run.items() if key != "rc"}
    texts["registered results"] = results_file.read_text()
    for report in sorted(report_dir.iterdir()):
        texts[f"report {report.name}"] = report.read_text()
    parents = kubectl.get("configmaps", "-n", setting["namespace"])
    texts["inventory parents and configmaps"] = json.dumps(parents)
    texts["leases"] = json.dumps(kubectl.get("leases.coordination.k8s.io", "-n", setting["namespace"]))
    assert len(list(report_dir.iterdir())) >= 4
    assert "++++++++" in texts["modules stdout"]  # Secrets were shown, masked

    leaks = find_leaks(texts, secrets)
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks)


def test_the_applications_role_leaks_nothing(setting, secrets, kubectl):
    tmp: Path = setting["tmp"]
    secrets = {**secrets, "service_account_token": setting["token"]}
    apps = applications(setting, secrets)
    inventory = tmp / "role-inventory.yml"
    inventory.write_text(yaml.safe_dump({"clusters": {"hosts": {"local": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "gitops_host": setting["server"], "gitops_api_key": setting["token"], "gitops_ca_cert": setting["ca_file"],
        "gitops_applications": [apps["plain"], apps["helm"], apps["password"], apps["url_token"]],
        "gitops_report_dir": str(tmp / "role-reports"),
    }}}}))
    play = [{"name": "the role", "hosts": "clusters", "gather_facts": False,
             "roles": [{"role": "gitops.kubernetes.applications"}]}]
    texts: dict[str, str] = {}
    for label, args in (("sync", ["--diff"]), ("drift", ["--check", "--diff"])):
        run = run_playbook(tmp, play, str(inventory), args)
        assert "sec-url-token" in run["stdout"], run["stdout"][-3000:]
        texts.update({f"role {label} {key}": value for key, value in run.items() if key != "rc"})
        for report in sorted((tmp / "role-reports").iterdir()):
            texts[f"role {label} report {report.name}"] = report.read_text()
    assert any(name.startswith("role sync report") for name in texts)
    leaks = find_leaks(texts, secrets)
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks)
