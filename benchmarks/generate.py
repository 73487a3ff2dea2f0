"""The benchmark's Git repository: N applications x M objects of realistic size.

Each application is a directory of plain YAML (one file per kind) holding M
objects cycling through ConfigMap, Secret, Service and Deployment, sized like
what teams really keep in Git: a Deployment of ~2.5 KB with probes,
resources, env and mounts, a ConfigMap with a properties file, a Secret with
a few keys, a Service with two ports. Manifests name no namespace: every tool
is given the destination namespace, so the same files serve every tool.

    python benchmarks/generate.py DIR --apps 100 --objects 10
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

KINDS = ("ConfigMap", "Secret", "Service", "Deployment")
FILES = {"ConfigMap": "configmaps.yaml", "Secret": "secrets.yaml", "Service": "services.yaml", "Deployment": "deployments.yaml"}


def app_name(index: int) -> str:
    return f"app-{index:04d}"


def _labels(app: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "bench-fleet",
        "team": f"team-{sum(map(ord, app)) % 7}",
    }


def config_map(app: str, n: int) -> dict[str, Any]:
    properties = "\n".join(
        f"{app}.setting.{key:02d}=value-{key * 7919 % 10007}-{'x' * 12}" for key in range(40)
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{app}-config-{n}", "labels": _labels(app, "config")},
        "data": {
            "application.properties": properties + "\n",
            "LOG_LEVEL": "info",
            "FEATURE_FLAGS": "search,checkout,recommendations",
            "CACHE_TTL_SECONDS": "300",
        },
    }


def secret(app: str, n: int) -> dict[str, Any]:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{app}-secret-{n}", "labels": _labels(app, "credentials")},
        "type": "Opaque",
        "data": {
            "username": b64(f"{app}-service"),
            "password": b64(f"s3cr3t-{app}-{n}-" + "p" * 24),
            "api-token": b64("tok_" + "a1b2c3d4" * 8),
        },
    }


def service(app: str, n: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{app}-svc-{n}", "labels": _labels(app, "frontend")},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": app, "app.kubernetes.io/component": f"web-{n}"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def deployment(app: str, n: int) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": app, "app.kubernetes.io/component": f"web-{n}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"{app}-web-{n}",
            "labels": _labels(app, f"web-{n}"),
            "annotations": {"bench.example.org/owner": "platform-team", "bench.example.org/runbook": f"https://runbooks.example.org/{app}"},
        },
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {**selector, "team": _labels(app, "")["team"]},
                             "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{
                        "name": "web",
                        "image": f"registry.example.org/{app}/web:1.{n}.7",
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["--config=/etc/app/application.properties", "--port=8080"],
                        "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
                        "env": [{"name": f"ENV_VAR_{i}", "value": f"value-{i}-{app}"} for i in range(8)]
                        + [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{app}-secret-1", "key": "password", "optional": True}}}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": "http"}, "periodSeconds": 10},
                        "livenessProbe": {"httpGet": {"path": "/healthz/live", "port": "http"}, "initialDelaySeconds": 15, "periodSeconds": 20},
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True}],
                        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}},
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": f"{app}-config-1", "optional": True}}],
                },
            },
        },
    }


BUILDERS = {"ConfigMap": config_map, "Secret": secret, "Service": service, "Deployment": deployment}


def app_objects(app: str, count: int) -> list[dict[str, Any]]:
    """count objects cycling through the kinds (4 objects: one of each)."""
    return [BUILDERS[KINDS[i % len(KINDS)]](app, i // len(KINDS) + 1) for i in range(count)]


def write_fleet(root: Path, group: str, apps: int, objects: int) -> None:
    """root/group/app-NNNN/<kind>s.yaml for apps applications of objects objects each."""
    for index in range(1, apps + 1):
        app = app_name(index)
        directory = root / group / app
        directory.mkdir(parents=True, exist_ok=True)
        by_file: dict[str, list[dict[str, Any]]] = {}
        for obj in app_objects(app, objects):
            by_file.setdefault(FILES[obj["kind"]], []).append(obj)
        for name, documents in by_file.items():
            (directory / name).write_text(yaml.safe_dump_all(documents, sort_keys=False))


def make_repo(path: Path, fleets: dict[str, tuple[int, int]]) -> str:
    """A Git repository at path with one directory per fleet {group: (apps, objects)}; returns the commit."""
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.org"}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True, text=True).stdout.strip()

    if not (path / ".git").exists():
        git("init", "-q", "-b", "main")
    for group, (apps, objects) in fleets.items():
        write_fleet(path, group, apps, objects)
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "benchmark fleet")
    return git("rev-parse", "HEAD")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--objects", type=int, default=10)
    args = parser.parse_args()
    print(make_repo(args.path, {"fleet": (args.apps, args.objects)}))


if __name__ == "__main__":
    main()
