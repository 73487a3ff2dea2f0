"""Unit tests for the gitops_diff module's own code: its options and documentation."""

from __future__ import annotations

import yaml

from ansible_collections.gitops.kubernetes.plugins.modules import gitops_diff


def documented_options() -> dict:
    """The module's options with those of every fragment it extends (gitops.kubernetes.<name>)."""
    import importlib

    documentation = yaml.safe_load(gitops_diff.DOCUMENTATION)
    options = {}
    for fragment in documentation["extends_documentation_fragment"]:
        module = importlib.import_module("ansible_collections.gitops.kubernetes.plugins.doc_fragments." + fragment.split(".")[-1])
        options.update(yaml.safe_load(module.ModuleDocFragment.DOCUMENTATION)["options"])
    for name, option in documentation["options"].items():
        options[name] = {**options.get(name, {}), **option}  # the module refines fragment options
    return options


def test_argument_spec_matches_documentation() -> None:
    documented = documented_options()
    spec = gitops_diff.argument_spec()
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name].get("type", "str") == option.get("type", "str"), name
        assert bool(documented[name].get("required")) == bool(option.get("required")), name
    assert set(documented["ignore_differences"]["suboptions"]) == set(gitops_diff.IGNORE_DIFFERENCES_SPEC)


def test_documentation_examples_and_return_are_yaml() -> None:
    assert yaml.safe_load(gitops_diff.EXAMPLES)
    returned = yaml.safe_load(gitops_diff.RETURN)
    assert {"resources", "summary", "sync_status", "out_of_sync", "revision", "stats"} <= set(returned)
