"""gitops_report: documentation in step with the argument spec; check mode still writes the drift report."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gitops.kubernetes.plugins.modules import gitops_report

RESULT = {"changed": True, "applications": [
    {"name": "shop", "revision": "a" * 40, "changed": True, "sync_status": "OutOfSync", "health_status": "Healthy",
     "counts": {"configured": 1}, "resources": [
         {"group": "", "kind": "ConfigMap", "namespace": "shop", "name": "c", "action": "configured",
          "before": "data:\n  k: old\n", "after": "data:\n  k: new\n"}]},
    {"name": "blog", "sync_status": "Synced", "health_status": "Healthy", "counts": {"unchanged": 2}, "resources": []},
]}


def run(args: dict, capsys: pytest.CaptureFixture, check_mode: bool = False) -> dict:
    with patch_module_args({**args, "_ansible_check_mode": check_mode}), pytest.raises(SystemExit):
        gitops_report.main()
    return json.loads(capsys.readouterr().out)


def test_documentation_matches_the_argument_spec():
    documentation = yaml.safe_load(gitops_report.DOCUMENTATION)
    spec = gitops_report.argument_spec()
    assert set(documentation["options"]) == set(spec)
    for name, option in spec.items():
        documented = documentation["options"][name]
        assert documented["type"] == option["type"], name
        assert documented.get("default") == option.get("default"), name
        assert documented.get("choices") == option.get("choices"), name
    assert set(documentation["options"]["results"]["suboptions"]) == set(spec["results"]["options"])
    assert documentation["attributes"]["check_mode"]["support"] == "full"
    assert yaml.safe_load(gitops_report.EXAMPLES) and yaml.safe_load(gitops_report.RETURN)


def test_check_mode_writes_the_drift_report(tmp_path, capsys):
    result = run({"results": [{"cluster": "prod", "result": RESULT}], "dest": str(tmp_path / "r")}, capsys,
                 check_mode=True)
    assert result["changed"] is False and result["mode"] == "drift"
    assert sorted(os.listdir(tmp_path / "r")) == ["junit.xml", "report.html", "report.json", "report.md"]
    assert result["drifted"] == [{"cluster": "prod", "application": "shop", "sync_status": "OutOfSync"}]
    assert result["summary"][0] == f"prod/shop: OutOfSync, Healthy at {'a' * 12}: would be: 1 configured"
    assert json.loads((tmp_path / "r" / "report.json").read_text())["mode"] == "drift"


def test_without_dest_nothing_is_written(tmp_path, capsys):
    result = run({"results": [{"cluster": "prod", "result": RESULT}], "formats": ["json"]}, capsys)
    assert result["mode"] == "sync" and result["paths"] == {} and result["errors"] == [] and "failed" not in result
    assert result["counts"]["applications"] == 2


def test_unwritable_dest_fails_with_the_path(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run({"results": [{"cluster": "prod", "result": RESULT}], "dest": str(blocker / "sub")}, capsys)
    assert result["failed"] is True and str(blocker / "sub") in result["msg"]


def test_invalid_mode_is_refused(tmp_path, capsys):
    result = run({"results": [], "dest": str(tmp_path), "mode": "rw"}, capsys)
    assert result["failed"] is True and "octal" in result["msg"]
