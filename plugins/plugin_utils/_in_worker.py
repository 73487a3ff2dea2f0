# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one of the collection's modules inside the task's worker process, when that is where it would run anyway.

A module task delegated to the controller (connection local, the controller's own Python, no become, no
environment, not async) runs its module in a new Python process: Ansible first scans the module's imports
to pack it with every module_utils file it may import (AnsiballZ), then the new interpreter unpacks them and
compiles them from the zip, on every run. For gitops_sync that is most of a heal's CPU. The worker Ansible
forked for the task already is such a Python process, on the same host, as the same user, with the same
environment: the module's main() runs there, fed the same JSON parameters and printing the same JSON result,
which is parsed as a module's output is. Anything else (another host or interpreter, become, a task
environment, async, an Ansible without the 2.19 module protocol) runs the module the usual way.

The worker is a fork of ansible-playbook made for this one task and gone after it, so what the module
leaves behind (imports, caches, the locale it sets) dies with it, as with the module's own process.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Any, Callable, Iterator

try:
    from ansible.module_utils import _internal as module_internal
    from ansible.module_utils import basic
    from ansible.module_utils.common import warnings as module_warnings
    from ansible.module_utils.common.json import Direction, get_module_encoder
    from ansible.module_utils._internal import _traceback
    from ansible.module_utils._internal._ansiballz import _loader
    HAS_MODULE_PROTOCOL = hasattr(basic, "_ANSIBLE_PROFILE") and hasattr(module_warnings, "_global_warnings") \
        and hasattr(module_warnings, "_global_deprecations") and hasattr(module_internal, "is_controller") \
        and hasattr(_traceback, "_is_module_traceback_enabled")
except ImportError:  # an Ansible before 2.19: the module runs as a module
    HAS_MODULE_PROTOCOL = False

# the serialization profile of a module without metadata (as the collection's modules), as AnsiballZ uses it
PROFILE = "legacy"


def same_python(interpreter: Any) -> bool:
    """Whether the configured interpreter is the controller's own (an unset or 'auto' one would be discovered)."""
    if not isinstance(interpreter, str) or not interpreter or interpreter.startswith("auto"):
        return False
    try:
        return os.path.samefile(interpreter, sys.executable)
    except OSError:
        return False


def runs_here(action: Any, task_vars: dict[str, Any]) -> bool:
    """Whether the module of the task would run on the controller, as this process's user, with its Python and
    environment: then running it in this worker process is the same run without packing and a new interpreter."""
    if not HAS_MODULE_PROTOCOL or action._connection.transport != "local" or action._play_context.become:
        return False
    if action._task.async_val:
        return False
    if action._compute_environment_string():
        return False
    host_vars = task_vars.get("ansible_delegated_vars", {}).get(action._task.delegate_to, {}) \
        if action._task.delegate_to else task_vars
    interpreter = host_vars.get("ansible_python_interpreter")
    if interpreter is None:  # then the configured one (ansible.cfg's interpreter_python, ANSIBLE_PYTHON_INTERPRETER)
        # imported here: importing the controller's constants makes module_utils in this process act as the controller
        from ansible import constants
        interpreter = constants.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
    return same_python(action._templar.template(interpreter) if interpreter is not None else None)


@contextmanager
def module_output() -> Iterator[io.StringIO]:
    """The module's standard output (its JSON result) captured; what its children write to the process's
    stdout and stderr is kept off the controller's terminal, as the module's own process keeps it."""
    captured = io.StringIO()
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as children:
        try:
            os.dup2(children.fileno(), 1)
            os.dup2(children.fileno(), 2)
            sys.stdout, sys.stderr = captured, io.StringIO()
            yield captured
        finally:
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])


@contextmanager
def module_globals(params: bytes) -> Iterator[None]:
    """The process-wide state a module reads (its parameters, the side it runs on, which tracebacks to keep) and
    fills (warnings, deprecations), set as in the module's own process for this run and put back after it.

    On the controller, module_utils' warn() and deprecate() would go to the display instead of the result, and
    tracebacks would follow the controller's settings instead of the module's _ansible_tracebacks_for."""
    saved = basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, module_internal.is_controller
    saved_tracebacks = _traceback._is_traceback_enabled, _traceback._module_tracebacks_enabled_events
    saved_warnings = dict(module_warnings._global_warnings), dict(module_warnings._global_deprecations)
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, module_internal.is_controller = params, PROFILE, False
    # read from this run's _ansible_tracebacks_for, as in a new module process
    _traceback._is_traceback_enabled, _traceback._module_tracebacks_enabled_events = _traceback._is_module_traceback_enabled, None
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, module_internal.is_controller = saved
        _traceback._is_traceback_enabled, _traceback._module_tracebacks_enabled_events = saved_tracebacks
        module_warnings._global_warnings.clear()
        module_warnings._global_warnings.update(saved_warnings[0])
        module_warnings._global_deprecations.clear()
        module_warnings._global_deprecations.update(saved_warnings[1])


def run_main(main: Callable[[], None], module_args: dict[str, Any]) -> dict[str, Any]:
    """Run a module's main() with these arguments (internal ones included) as AnsiballZ runs it; returns what
    its process would have returned: stdout, stderr (empty: the module reports in its JSON) and rc."""
    params = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE))
    rc: Any = 0
    with module_globals(params.encode()), module_output() as stdout:
        try:
            try:
                main()
            except Exception as ex:  # pylint: disable=broad-exception-caught
                # as the AnsiballZ wrapper reports a module's exception (prints the failed result, exits 1)
                _loader._handle_exception(ex, PROFILE)
        except SystemExit as done:
            rc = done.code
    return {"stdout": stdout.getvalue(), "stderr": "", "rc": 0 if rc is None else rc if isinstance(rc, int) else 1}
