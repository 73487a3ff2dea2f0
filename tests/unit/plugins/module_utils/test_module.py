"""GitopsModule: the system log learns that a module ran, never its arguments."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gitops.kubernetes.plugins.module_utils import _module
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule

SECRET = "pw-only-in-the-secret"


def test_the_invocation_is_logged_without_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[Any] = []
    monkeypatch.setattr(_module.GitopsModule, "log", lambda self, msg, log_args=None: logged.append((msg, log_args)))
    manifests = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": SECRET}}]
    application = {"name": "a", "source": {"repo_url": f"https://u:{SECRET}@git.example.org/r.git",
                                           "helm": {"values": {"password": SECRET}}}}
    with patch_module_args({"manifests": manifests, "application": application}):
        GitopsModule(argument_spec={"manifests": {"type": "raw"}, "application": {"type": "dict"}})
    assert logged == [("Invoked", None)]
    assert SECRET not in repr(logged)
