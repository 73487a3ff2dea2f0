"""A module's main() run in the worker process returns what its own process would: the same JSON result,
warnings, masked no_log values and failure; and it runs there only when its process would be the controller's."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from ansible.module_utils import _internal as module_internal
from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitops.kubernetes.plugins.plugin_utils._in_worker import run_main, runs_here, same_python


def echo_module() -> None:
    module = AnsibleModule(argument_spec={"word": {"type": "str"}, "token": {"type": "str", "no_log": True}},
                           supports_check_mode=True)
    module.warn("a warning")
    # a child writing to the process's stdout, as git or helm could: not part of the result
    subprocess.run([sys.executable, "-c", "print('child output')"], check=True)
    module.exit_json(changed=not module.check_mode, word=module.params["word"], said=f"token is {module.params['token']}")


def failing_module() -> None:
    module = AnsibleModule(argument_spec={"word": {"type": "str"}})
    module.fail_json(msg=f"cannot {module.params['word']}", detail=1)


def crashing_module() -> None:
    AnsibleModule(argument_spec={})
    raise RuntimeError("boom")


@pytest.fixture(autouse=True)
def on_the_controller(monkeypatch):
    """As in an ansible-playbook worker: module_utils know they are on the controller."""
    monkeypatch.setattr(module_internal, "is_controller", True)


def parsed(output: dict) -> dict:
    return json.loads(output["stdout"])


def warnings_of(result: dict) -> list[str]:
    # the JSON carries warnings as WarningSummary objects, as a module's own process prints them
    return [warning["event"]["msg"] for warning in result.get("warnings", [])]


def test_the_worker_run_returns_the_modules_result_with_warnings_and_masked_no_log_values(capfd):
    # on the controller, module_utils' warn() would go to the display, not into the result
    output = run_main(echo_module, {"word": "hello", "token": "s3cret", "_ansible_check_mode": False})
    result = parsed(output)
    assert output["rc"] == 0
    assert result["changed"] is True and result["word"] == "hello"
    assert result["said"] == "token is ********"
    assert warnings_of(result) == ["a warning"]
    assert "child output" not in capfd.readouterr().out


def test_the_worker_run_passes_check_mode_and_restores_the_process_state():
    before = basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE
    result = parsed(run_main(echo_module, {"word": "x", "_ansible_check_mode": True}))
    assert result["changed"] is False
    assert (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE) == before
    assert module_internal.is_controller is True
    # a second run does not inherit the first one's warnings
    assert warnings_of(parsed(run_main(echo_module, {"word": "y"}))) == ["a warning"]


def test_a_failing_module_fails_the_same_way_in_the_worker():
    output = run_main(failing_module, {"word": "sync"})
    assert output["rc"] == 1
    result = parsed(output)
    assert result["failed"] is True and result["msg"] == "cannot sync" and result["detail"] == 1


def test_an_exception_in_the_module_is_a_failed_result_as_from_the_ansiballz_wrapper():
    output = run_main(crashing_module, {})
    assert output["rc"] == 1
    result = parsed(output)
    assert result["failed"] is True
    assert "boom" in json.dumps(result["exception"])


def test_an_unknown_option_is_refused_by_the_modules_argument_spec_in_the_worker():
    result = parsed(run_main(failing_module, {"wrod": "sync"}))
    assert result["failed"] is True and "wrod" in result["msg"]


def action(transport="local", become=False, async_val=0, environment="", delegate_to=None):
    return SimpleNamespace(
        _connection=SimpleNamespace(transport=transport), _play_context=SimpleNamespace(become=become),
        _task=SimpleNamespace(async_val=async_val, delegate_to=delegate_to),
        _compute_environment_string=lambda: environment, _templar=SimpleNamespace(template=lambda value: value))


def test_the_module_runs_in_the_worker_only_on_the_controller_with_its_python_user_and_environment():
    here = {"ansible_python_interpreter": sys.executable}
    assert runs_here(action(), here)
    assert not runs_here(action(transport="ssh"), here)
    assert not runs_here(action(become=True), here)
    assert not runs_here(action(async_val=60), here)
    assert not runs_here(action(environment="KUBECONFIG=/k"), here)
    assert not runs_here(action(), {"ansible_python_interpreter": "/usr/bin/false"})
    assert not runs_here(action(), {"ansible_python_interpreter": "auto_silent"})
    assert not runs_here(action(), {})


def test_without_an_interpreter_variable_the_configured_interpreter_decides(monkeypatch):
    monkeypatch.setenv("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    assert runs_here(action(), {})
    monkeypatch.setenv("ANSIBLE_PYTHON_INTERPRETER", "auto")
    assert not runs_here(action(), {})


def test_a_delegated_task_is_judged_by_the_delegated_hosts_interpreter():
    delegated = {"ansible_python_interpreter": "/usr/bin/false",
                 "ansible_delegated_vars": {"localhost": {"ansible_python_interpreter": sys.executable}}}
    assert runs_here(action(delegate_to="localhost"), delegated)
    assert not runs_here(action(), delegated)


def test_only_the_controllers_own_interpreter_is_the_same_python(tmp_path):
    link = tmp_path / "python"
    link.symlink_to(sys.executable)
    assert same_python(str(link))
    assert not same_python(str(tmp_path / "missing"))
    assert not same_python(None)
