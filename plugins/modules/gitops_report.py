#!/usr/bin/python
# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gitops_report
short_description: Write the sync or drift report of a run as JSON, Markdown, JUnit XML and HTML
version_added: 0.1.0
author:
  - gitops.kubernetes maintainers (@gitops-kubernetes)
description:
  - Turns the registered results of M(gitops.kubernetes.gitops_sync) (or M(gitops.kubernetes.gitops_diff)), one
    per cluster, into one report of the run and writes it under O(dest).
  - C(report.json) holds, per cluster and per application, the status, health, revision, object counts and the
    objects that drifted (or were written), with their diffs and their JSON patches (as
    M(gitops.kubernetes.gitops_diff) returns them, or computed from the C(before) and C(after) that
    M(gitops.kubernetes.gitops_sync) returns in diff mode).
  - C(report.md) is a table a person reads in a merge request or in the job output.
  - C(junit.xml) has a test suite per cluster and a test case per application, failed when the application is out of
    sync (in a drift report, when it drifted) or unhealthy (V(Degraded), V(Missing), V(Unknown)), an error when it
    could not be synced or compared.
  - C(report.html) is a single self-contained page (inline styles, no scripts, no external assets) with one row per
    application, status and health badges, and an expandable diff per drifted object.
  - Diffs are there when the results carry C(before) and C(after), that is when the modules ran with C(diff) on.
  - "The report is a drift report when this module runs in check mode (as it does under C(ansible-playbook --check)
    next to a M(gitops.kubernetes.gitops_sync) in check mode), a sync report otherwise."
  - C(preview.md) is written when a result carries a C(preview) (the modules ran with C(preview_revision)); a summary
    line, then one collapsible section per application the change alters, with the objects added, changed and removed
    and their YAML diff (Secret values masked), made to be posted on a pull request. A C(preview.md) of an earlier
    run is removed when no result carries one.
  - Secret values never reach the report; Secret objects' diffs and patches are masked again here, and credentials
    in messages are removed.
attributes:
  check_mode:
    support: full
    description:
      - "The report files are written in check mode too. This is deliberate: in check mode the report B(is) the
        drift report, the output of a run that changed nothing in any cluster."
  diff_mode:
    support: none
    description: Nothing it does has a before and after to show.
options:
  results:
    description:
      - One entry per cluster.
    type: list
    elements: dict
    required: true
    suboptions:
      cluster:
        description: The cluster's name (usually the inventory host).
        type: str
        required: true
      result:
        description:
          - The registered result of M(gitops.kubernetes.gitops_sync) or M(gitops.kubernetes.gitops_diff), in its
            single or O(gitops.kubernetes.gitops_sync#module:applications) form.
          - A skipped task means the cluster had no application; a failed one without per-application results is
            reported as a cluster error.
        type: dict
  dest:
    description:
      - Directory the reports are written to, created when missing. Existing report files are replaced.
      - Without it nothing is written, and the module only returns the summary.
    type: path
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, markdown, junit, html]
    default: [json, markdown, junit, html]
  title:
    description: Title of the report.
    type: str
    default: GitOps report
  details:
    description:
      - Key/value pairs shown in the report header, for example the AWX job id and the user who started it.
    type: dict
  mode:
    description: File permissions of the reports, as an octal string.
    type: str
    default: "0644"
notes:
  - RV(ignore:changed) is always V(false). A report is the output of a run, not a change to the systems it manages; this
    keeps a second identical run idempotent.
seealso:
  - module: gitops.kubernetes.gitops_sync
  - module: gitops.kubernetes.gitops_diff
requirements:
  - PyYAML
  - jsonpatch (for the patches in C(report.json); without it they are left out)
"""

EXAMPLES = r"""
- name: Sync (or, with --check, report drift)
  gitops.kubernetes.gitops_sync:
    applications: "{{ gitops_applications }}"
  register: sync
  ignore_errors: true

- name: Write the reports
  gitops.kubernetes.gitops_report:
    dest: /var/lib/gitops/reports
    results:
      - cluster: "{{ inventory_hostname }}"
        result: "{{ sync }}"
    details:
      job: "{{ awx_job_id | default('local') }}"
  register: report

- name: Print one line per application
  ansible.builtin.debug:
    msg: "{{ report.summary }}"
"""

RETURN = r"""
mode:
  description: V(drift) (the module ran in check mode) or V(sync).
  returned: always
  type: str
  sample: drift
paths:
  description: The files written, by format (and C(preview) for C(preview.md)).
  returned: always
  type: dict
  sample: {json: /srv/reports/report.json, markdown: /srv/reports/report.md, junit: /srv/reports/junit.xml,
           html: /srv/reports/report.html}
summary:
  description: One line per application (and per cluster that failed), then a total.
  returned: always
  type: list
  elements: str
  sample:
    - "prod/guestbook: OutOfSync, Healthy at 1f2e3d4c5b6a: would be: 1 configured; 3 unchanged"
    - "1 applications on 1 clusters: 0 synced, 1 drifted, 0 failed"
counts:
  description: Clusters, clusters that failed, applications, and applications per status.
  returned: always
  type: dict
  sample: {clusters: 1, cluster_errors: 0, applications: 3, synced: 2, out_of_sync: 1, unknown: 0, failed: 0,
           changed: 1, unhealthy: 0}
drifted:
  description: The applications that are not in sync (in a drift report, the drift), with their cluster.
  returned: always
  type: list
  elements: dict
  sample: [{cluster: prod, application: guestbook, sync_status: OutOfSync}]
errors:
  description: The applications (and clusters) that could not be synced or compared, with the error.
  returned: always
  type: list
  elements: dict
  sample: [{cluster: prod, application: shop, error: "application 'shop', path 'shop' does not exist"}]
unmatched:
  description:
    - Applications whose C(destination.server) or C(destination.name) names no cluster of the run (the C(other_clusters)
      of every result, less the applications some cluster synced), with the hosts they were listed on. Each is also
      a warning and a line of RV(summary); none is dropped silently.
  returned: always
  type: list
  elements: dict
  sample: [{name: billing, destination: "name 'staging'", listed_on: [prod-eu, prod-us]}]
"""

import os
import traceback
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule
from ansible_collections.gitops.kubernetes.plugins.module_utils._preview import PREVIEW_FILE, preview_markdown
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text

from ansible_collections.gitops.kubernetes.plugins.module_utils._report import (
    DRIFT,
    FORMATS,
    HAS_YAML,
    SYNC,
    build_report,
    write_atomic,
    unmatched_line,
    write_reports,
)

YAML_IMPORT_ERROR = None if HAS_YAML else traceback.format_exc()


def argument_spec() -> dict[str, Any]:
    return {
        "results": {
            "type": "list", "elements": "dict", "required": True,
            "options": {"cluster": {"type": "str", "required": True}, "result": {"type": "dict"}},
        },
        "dest": {"type": "path"},
        "formats": {"type": "list", "elements": "str", "choices": list(FORMATS),
                    "default": ["json", "markdown", "junit", "html"]},
        "title": {"type": "str", "default": "GitOps report"},
        "details": {"type": "dict"},
        "mode": {"type": "str", "default": "0644"},
    }


def run_module(module: AnsibleModule) -> dict[str, Any]:
    """Build the report, write it, and return the summary."""
    params = module.params
    mode = DRIFT if module.check_mode else SYNC
    report = build_report(params["results"], mode, title=params["title"], details=params["details"],
                          secrets=module.no_log_values)
    paths: dict[str, str] = {}
    if params["dest"]:
        try:
            paths = write_reports(report, params["dest"], params["formats"], mode=int(params["mode"], 8))
            preview = preview_markdown(params["results"])
            preview_path = os.path.join(os.path.abspath(params["dest"]), PREVIEW_FILE)
            if preview is not None:
                paths["preview"] = preview_path
                write_atomic(preview_path, scrub_text(preview, module.no_log_values), int(params["mode"], 8))
            elif os.path.exists(preview_path):
                os.unlink(preview_path)  # an earlier run's preview must not pass for this run's
        except OSError as exc:
            module.fail_json(msg=f"could not write the report under {params['dest']}: {exc.strerror or exc}")
    # not "failed": Ansible reads that key as the task's own failure
    errors = [{"cluster": cluster.name, "application": "", "error": cluster.error}
              for cluster in report.clusters if cluster.error]
    errors += [{"cluster": app.cluster, "application": app.name, "error": app.error} for app in report.failed()]
    for entry in report.unmatched:  # never silently dropped
        module.warn(unmatched_line(entry))
    return {
        "changed": False,
        "mode": mode,
        "paths": paths,
        "summary": report.summary_lines(),
        "counts": report.counts(),
        "drifted": [{"cluster": app.cluster, "application": app.name, "sync_status": app.sync_status}
                    for app in report.drifted()],
        "errors": errors,
        "unmatched": report.unmatched,
    }


def main() -> None:
    module = GitopsModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    try:
        int(module.params["mode"], 8)
    except ValueError:
        module.fail_json(msg=f"mode must be an octal string such as 0644, not {module.params['mode']!r}")
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
