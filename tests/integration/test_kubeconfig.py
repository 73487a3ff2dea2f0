"""Kubeconfig forms against the real control plane: client certificate files at paths relative to the
kubeconfig (read by the collection itself), and an exec credential plugin (handed to the kubernetes
library), each through a real gitops_diff run."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from module_tasks import tasks

CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "blue"}}


def admin_parts(cluster: Any) -> dict[str, str]:
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    user = config["users"][0]["user"]
    return {"ca": config["clusters"][0]["cluster"]["certificate-authority-data"],
            "cert": base64.b64decode(user["client-certificate-data"]).decode(),
            "key": base64.b64decode(user["client-key-data"]).decode()}


def kubeconfig(cluster: Any, user: dict[str, Any], namespace: str) -> dict[str, Any]:
    server = {"server": cluster.server, "certificate-authority-data": admin_parts(cluster)["ca"]}
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "local", "cluster": server}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "local", "user": "u", "namespace": namespace}}]}


def diff_with(path: Path, register: str) -> dict[str, Any]:
    # no destination: the namespace comes from the kubeconfig's context
    return {"name": register, "gitops.kubernetes.gitops_diff": {"kubeconfig": str(path), "name": "conn", "manifests": [CONFIG]},
            "register": register}


def test_client_certificate_files_relative_to_the_kubeconfig(cluster, namespace, ansible_playbook, tmp_path):
    parts = admin_parts(cluster)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "admin.crt").write_text(parts["cert"])
    (tmp_path / "certs" / "admin.key").write_text(parts["key"])
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(cluster, {"client-certificate": "certs/admin.crt",
                                                        "client-key": "certs/admin.key"}, namespace)))
    run = ansible_playbook(tasks(diff_with(path, "files")))
    result = run["files"]
    assert not result.get("failed"), result.get("msg")
    assert result["namespace"] == namespace and result["resources"][0]["status"] == "Missing"


def test_an_exec_credential_plugin_goes_through_the_kubernetes_library(cluster, namespace, ansible_playbook, tmp_path):
    parts = admin_parts(cluster)
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"clientCertificateData": parts["cert"], "clientKeyData": parts["key"]}}
    plugin = tmp_path / "credential-plugin"
    calls = tmp_path / "calls"
    plugin.write_text(f"#!{sys.executable}\nimport json, pathlib\n"
                      f"pathlib.Path({str(calls)!r}).open('a').write('called\\n')\n"
                      f"print(json.dumps({json.dumps(credential)}))\n")
    plugin.chmod(0o700)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(cluster, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                                 "command": str(plugin), "interactiveMode": "Never"}},
                                              namespace)))
    run = ansible_playbook(tasks(diff_with(path, "exec")))
    result = run["exec"]
    assert not result.get("failed"), result.get("msg")
    assert result["namespace"] == namespace and result["resources"][0]["status"] == "Missing"
    assert calls.read_text().count("called") >= 1  # the plugin really provided the credentials
    assert parts["key"] not in run.stdout + run.stderr + json.dumps(result)
