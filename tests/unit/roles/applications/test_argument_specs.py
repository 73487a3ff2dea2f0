"""The applications role: defaults/main.yml and meta/argument_specs.yml say the same thing."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[4] / "roles" / "applications"


def load(relative: str) -> dict:
    return yaml.safe_load((ROLE / relative).read_text())


def test_defaults_equal_the_argument_spec_defaults():
    defaults = load("defaults/main.yml")
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    spec_defaults = {name: option["default"] for name, option in options.items() if "default" in option}
    assert defaults == spec_defaults


def test_every_variable_is_prefixed_and_documented():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert all(name.startswith("gitops_") for name in options)
    assert all(option.get("description") and option.get("type") for option in options.values())
    # the per-cluster connection comes from host vars, so it has no default
    for name in ("gitops_kubeconfig", "gitops_context", "gitops_host", "gitops_api_key", "gitops_ca_cert"):
        assert name in options and "default" not in options[name]
    assert options["gitops_api_key"]["no_log"] is True


def test_tasks_use_only_documented_role_variables():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    # main.yml and the task files it imports
    text = (ROLE / "tasks" / "main.yml").read_text() + (ROLE / "tasks" / "clusters.yml").read_text()
    used = set(re.findall(r"(?<![.\w])(gitops_[a-z_]+)\b", text))
    registered = {"gitops_selection", "gitops_sync_result", "gitops_outcome", "gitops_report", "gitops_play_clusters",
                  "gitops_managed", "gitops_removed_applications", "gitops_removed"}
    assert used - registered <= set(options), used - registered - set(options)
    # every option is used by the tasks
    assert set(options) <= used
