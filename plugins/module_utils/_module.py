# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule every module of the collection is built on."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule


class GitopsModule(AnsibleModule):
    """AnsibleModule that logs only *that* it ran, never its arguments.

    AnsibleModule writes every invocation with its arguments to syslog (or the
    systemd journal) of the host it runs on. Ours carry application specs
    (Helm values, Git passwords in URLs), rendered manifests with Secrets and
    kubeconfig dictionaries as free-form values that no_log cannot describe,
    so they are kept out of the system log altogether.
    """

    def _log_invocation(self) -> None:
        self.log("Invoked")
