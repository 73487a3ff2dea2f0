"""Unit tests for Lua health scripts (_health.lua, _health.testing): Argo CD's globals, the sandbox, the bounds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._health import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    UNKNOWN,
    Health,
    HealthChecks,
    HealthScript,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.lua import run_health_script
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.testing import main, run_health_tests

FIXTURES = Path(__file__).parent / "fixtures" / "resource_customizations"
GADGET_DIR = FIXTURES / "health.gitops.test" / "Gadget"
WIDGET = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w1"}, "status": {"phase": "Ready"}}


def run(source: str, obj: dict | None = None) -> Health:
    return run_health_script(source, "test.lua", obj if obj is not None else WIDGET)


def test_script_sees_obj_and_returns_hs_like_argo_cd():
    script = 'hs = {}\nhs.status = "Progressing"\nhs.message = "phase " .. obj.status.phase .. " of " .. obj.metadata.name\nreturn hs'
    assert run(script) == Health(PROGRESSING, "phase Ready of w1")


def test_lists_are_lua_arrays_and_string_table_math_os_date_work():
    obj = {"kind": "Widget", "items": [{"n": 3}, {"n": 4}]}
    script = ('local total = 0 for i, item in ipairs(obj.items) do total = total + item.n end '
              'return {status = "Healthy", message = string.upper("ok") .. table.getn(obj.items) .. math.max(total, 1) '
              '.. (os.date("%Y") ~= nil and "y" or "n")}')
    assert run(script, obj) == Health(HEALTHY, "OK27y")


def test_runtime_error_is_unknown_with_the_script_line_and_message():
    assert run('local x = nil\nreturn {status = x.field}') == \
        Health(UNKNOWN, "test.lua: health.lua:2: attempt to index local 'x' (a nil value)")
    assert run('error("controller said no")') == Health(UNKNOWN, "test.lua: health.lua:1: controller said no")


def test_invalid_status_and_wrong_return_type_are_unknown():
    assert run('return {status = "Fine"}') == Health(UNKNOWN, "Lua returned an invalid health status: 'Fine'")
    assert run('return "Healthy"').status == UNKNOWN


def test_script_returning_nothing_does_not_count_against_the_object():
    assert run('local hs = {}').status == HEALTHY


@pytest.mark.parametrize("escape", [
    'return {status = "Healthy", message = io.open("/etc/hostname"):read("*a")}',
    'return {status = "Healthy", message = os.getenv("HOME")}',
    'os.execute("true") return {status = "Healthy"}',
    'return dofile("/etc/hostname")',
    'return loadfile("/etc/hostname")()',
    'return require("io")',
    'return loadstring("return 1")()',
    'return load(function() return nil end)',
    'return debug.getinfo(1)',
    'return getfenv(0).io',
    'return python.builtins.open("/etc/hostname")',
    'return coroutine.create(function() end)',
    'return string.dump(function() end)',
])
def test_sandboxed_script_cannot_reach_files_processes_or_python(escape: str):
    health = run(escape)
    assert health.status == UNKNOWN and "nil" in health.message, health


def test_script_cannot_change_the_string_library_other_scripts_use():
    run('string.upper = function() return "hacked" end return {status = "Healthy"}')
    assert run('return {status = "Healthy", message = string.upper("a")}') == Health(HEALTHY, "A")
    assert run('local mt = getmetatable("") return {status = "Healthy", message = tostring(mt)}') == Health(HEALTHY, "false")


def test_endless_script_is_stopped_and_unknown():
    health = run("while true do end")
    assert health.status == UNKNOWN and "ran too long" in health.message


def test_memory_hungry_script_is_stopped_and_unknown():
    health = run('local s = string.rep("x", 200 * 1024 * 1024) return {status = "Healthy"}')
    assert health.status == UNKNOWN and "MiB" in health.message


def test_checks_prefer_exact_key_then_wildcard_then_directory_then_built_in():
    healthy = HealthScript('return {status = "Healthy", message = "exact"}', "exact")
    wildcard = HealthScript('return {status = "Degraded", message = "wildcard"}', "wildcard")
    directory = HealthScript('return {status = "Progressing", message = "directory"}', "directory")
    checks = HealthChecks({"example.io/Widget": healthy, "*.crossplane.io/*": wildcard},
                          {"example.io/*": directory, "apps/Deployment": directory})
    assert checks.assess(WIDGET) == Health(HEALTHY, "exact")
    assert checks.assess({"apiVersion": "s3.aws.crossplane.io/v1", "kind": "Bucket"}) == Health(DEGRADED, "wildcard")
    assert checks.assess({"apiVersion": "example.io/v1", "kind": "Gizmo"}) == Health(PROGRESSING, "directory")
    assert checks.assess({"apiVersion": "apps/v1", "kind": "Deployment"}).message == "directory"
    assert checks.assess({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"suspend": True}}).message == "CronJob is Suspended"


def test_health_test_yaml_runner_passes_on_own_fixture():
    assert run_health_tests(str(GADGET_DIR)) == []
    assert main([str(FIXTURES)]) == 0


def test_health_test_yaml_runner_reports_a_wrong_expectation(tmp_path: Path):
    copy = tmp_path / "Gadget"
    shutil.copytree(GADGET_DIR, copy)
    test_file = copy / "health_test.yaml"
    test_file.write_text(test_file.read_text().replace("gadget g1 is ready", "gadget is fine"))
    failures = run_health_tests(str(copy))
    assert [(f.input_path, f.expected, f.got) for f in failures] == \
        [("testdata/ready.yaml", ("Healthy", "gadget is fine"), ("Healthy", "gadget g1 is ready"))]
    assert main([str(tmp_path)]) == 1
    assert os.path.isdir(copy)


def test_one_script_judges_a_thousand_objects_alike():
    """The compiled script is reused; the cost per object is measured by benchmarks/lua_health.py, not here."""
    source = (GADGET_DIR / "health.lua").read_text()
    objects = [{**WIDGET, "metadata": {"name": f"w{i}"}} for i in range(1000)]
    verdicts = {run_health_script(source, "gadget", obj).status for obj in objects}
    assert verdicts == {HEALTHY}
