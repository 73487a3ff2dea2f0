# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gitops_sync, run in the task's worker process when its module would run on the controller anyway.

The role delegates its sync task to localhost: there the module's usual run (packing it with its
module_utils, a new Python compiling them) costs more CPU than a heal's sync itself. The module's main()
runs in the worker instead, with the same JSON parameters and result (see plugin_utils/_in_worker.py);
a task for another host, interpreter or user runs the module as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._in_worker import run_main, runs_here

display = Display()


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        if not runs_here(self, task_vars):
            # as the normal action: the module packed and run by the host's interpreter
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        display.vvv("gitops_sync: the module runs in this worker process (the controller's Python, connection local)")
        return merge_hash(result, self._run_here(task_vars))

    def _run_here(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """The module's main() in this process, its output parsed and cleaned as _execute_module does."""
        from ansible_collections.gitops.kubernetes.plugins.modules.gitops_sync import main

        module_args = self._task.args.copy()
        self._update_module_args(self._task.action, module_args, task_vars)
        data = self._parse_returned_data(run_main(main, module_args), "legacy")
        data.pop("_ansible_suppress_tmpdir_delete", None)
        if "results" in data and (not isinstance(data["results"], Sequence) or isinstance(data["results"], str)):
            data["ansible_module_results"] = data.pop("results")
        remove_internal_keys(data)
        return data
