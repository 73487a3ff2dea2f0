"""Unit tests for the gitops_sync module's own code: which option combinations it refuses before any work."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.modules import gitops_sync


def params(**given: Any) -> dict[str, Any]:
    """The module's parameters as AnsibleModule gives them: every option, at its default unless given."""
    return {**{name: option.get("default") for name, option in gitops_sync.argument_spec().items()}, **given}


def test_state_absent_deletes_an_application_named_without_manifests():
    gitops_sync.check_lifecycle_params(params(name="shop", state="absent"), check_mode=False)


def test_a_name_without_manifests_is_refused_for_a_sync():
    with pytest.raises(SpecError, match="name without manifests"):
        gitops_sync.check_lifecycle_params(params(name="shop"), check_mode=False)


@pytest.mark.parametrize("given, refused", [
    ({"state": "absent", "name": "shop", "preview_revision": "feature"}, "cannot be combined with state=absent"),
    ({"name": "shop", "manifests": [], "preview_revision": "feature", "rollback": "1"}, "cannot be combined with preview_revision"),
    ({"state": "absent", "name": "shop", "rollback": "1"}, "cannot be combined with state=absent"),
])
def test_combinations_that_mean_nothing_are_refused(given, refused):
    with pytest.raises(SpecError, match=refused):
        gitops_sync.check_lifecycle_params(params(**given), check_mode=True)
