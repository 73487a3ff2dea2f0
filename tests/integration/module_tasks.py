"""Playbook tasks for module tests: one module call on rendered manifests, and reading its resources."""

from __future__ import annotations

from typing import Any

import yaml


def manifests_task(module: str, register: str, manifests: list[dict[str, Any]], namespace: str, app: str = "shop",
                   **options: Any) -> dict[str, Any]:
    """A task calling gitops.kubernetes.<module> with the manifests form, on the test cluster."""
    return {
        "name": f"{module} {register}",
        f"gitops.kubernetes.{module}": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}",
            "name": app,
            "destination": {"namespace": namespace},
            "manifests": manifests,
            **options,
        },
        "register": register,
    }


def application_task(register: str, repo: Any, namespace: str, app: str = "shop", *, path: str = "app",
                     revision: str = "main", source: dict[str, Any] | None = None, **sync_policy: Any) -> dict[str, Any]:
    """A gitops_sync task for an application spec from a test GitRepo (prune on; failures read from the result)."""
    return {
        "name": f"sync {register}",
        "gitops.kubernetes.gitops_sync": {
            "kubeconfig": "{{ gitops_test_kubeconfig }}",
            "cache_dir": str(repo.path.parent.parent / "cache"),
            "application": {
                "name": app,
                "source": {"repo_url": repo.url, "revision": revision, "path": path, **(source or {})},
                "destination": {"namespace": namespace},
                "sync_policy": {"prune": True, **sync_policy},
            },
        },
        "register": register,
        "ignore_errors": True,
    }


def tasks(*task_list: dict[str, Any]) -> str:
    return yaml.safe_dump(list(task_list), sort_keys=False)


def resources_by_kind_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A result's resources keyed 'Kind/name'."""
    return {f"{r['kind']}/{r['name']}": r for r in result["resources"]}
