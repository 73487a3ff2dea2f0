"""A ServiceAccount with Roles in some namespaces only, and how modules connect as it (tests' helper)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def namespaced_deployer(cluster: Any, kubectl: Any, namespaces: list[str], rules: list[dict[str, Any]],
                        tmp_path: Path) -> dict[str, Any]:
    """ServiceAccount 'deployer' in namespaces[0], bound to a Role with `rules` in every namespace given.

    Returns its TokenRequest token (one hour), the cluster CA as a file and the server: what the modules
    take as api_key, ca_cert and host.
    """
    kubectl.run("create", "serviceaccount", "deployer", "-n", namespaces[0])
    for namespace in namespaces:
        kubectl.apply([
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "deployer", "namespace": namespace},
             "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "deployer", "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
             "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": namespaces[0]}]},
        ])
    token = kubectl.run("create", "token", "deployer", "-n", namespaces[0], "--duration=1h").stdout.strip()
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    ca_cert = tmp_path / "ca.crt"
    ca_cert.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    return {"allowed": namespaces, "token": token, "ca_cert": str(ca_cert), "server": cluster.server}
