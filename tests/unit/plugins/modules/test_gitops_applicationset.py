"""gitops_applicationset: documentation in step with the argument spec, results without credentials."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gitops.kubernetes.plugins.modules import gitops_applicationset


def run(args: dict, capsys: pytest.CaptureFixture) -> dict:
    with patch_module_args(args), pytest.raises(SystemExit):
        gitops_applicationset.main()
    return json.loads(capsys.readouterr().out)


def test_documentation_matches_the_argument_spec():
    documentation = yaml.safe_load(gitops_applicationset.DOCUMENTATION)
    spec = gitops_applicationset.argument_spec()
    assert set(documentation["options"]) == set(spec)
    for name, option in spec.items():
        assert documentation["options"][name]["type"] == option["type"], name
        assert documentation["options"][name].get("default") == option.get("default"), name
    assert documentation["attributes"]["check_mode"]["support"] == "full"
    assert yaml.safe_load(gitops_applicationset.EXAMPLES) and yaml.safe_load(gitops_applicationset.RETURN)


def test_explicit_applications_with_credentials_are_selected_by_index(capsys):
    explicit = [{"name": "private", "source": {"repo_url": "https://bot:s3cr3t-t0ken@git.example.org/a.git"}},
                {"name": "public", "source": {"repo_url": "https://git.example.org/b.git"}}]
    generator = {"list": {"template": {"source": {"repo_url": "https://git.example.org/c.git"}},
                          "elements": [{"name": "team-a"}, {"name": "team-b"}]}}
    result = run({"applications": explicit, "generators": [generator], "skip": ["public", "team-b"],
                  "only": ["typo"]}, capsys)
    assert result.get("failed") is not True, result
    assert result["explicit"] == [] and result["generated"] == [] and result["names"] == []
    result = run({"applications": explicit, "generators": [generator], "skip": ["public", "team-b"]}, capsys)
    assert result["explicit"] == [0]
    assert [app["name"] for app in result["generated"]] == ["team-a"]
    assert result["names"] == ["private", "team-a"] and result["excluded"] == ["public", "team-b"]
    assert "s3cr3t-t0ken" not in json.dumps(result)


def test_only_patterns_that_select_nothing_warn(capsys):
    result = run({"applications": [{"name": "a", "source": {"repo_url": "x"}}], "only": ["b"]}, capsys)
    assert result["names"] == [] and "only: 'b' matches no application" in json.dumps(result["warnings"])


def test_spec_errors_fail_the_task_with_the_generator(capsys):
    result = run({"generators": [{"list": {"elements": [{"name": "Bad_Name"}]}}]}, capsys)
    assert result["failed"] is True and result["msg"].startswith("generators[0].list.elements[0]")
