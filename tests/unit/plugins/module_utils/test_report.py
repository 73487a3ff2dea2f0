"""The report engine: what each format says about a run, and what it never says."""

from __future__ import annotations

import base64
import json
import os
import stat
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from html.parser import HTMLParser

import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._report import (
    DRIFT,
    SYNC,
    build_report,
    cluster_report,
    to_html,
    to_json,
    to_junit,
    to_markdown,
    unified_diff,
    write_reports,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
SECRET_VALUE = "hunter2-very-secret"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def resource(kind, name, action, group="", namespace="shop", **extra):
    return {"group": group, "version": "v1", "kind": kind, "namespace": namespace, "name": name, "action": action,
            "result": "Planned", "phase": "Sync", "wave": 0, "hook": False,
            "health": {"status": "Healthy", "message": ""}, **extra}


def deployment_yaml(replicas):
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                           "spec": {"replicas": replicas}})


def secret_yaml(value):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                           "data": {"password": base64.b64encode(value.encode()).decode()},
                           "stringData": {"token": value}})


def counts(**given):
    base = dict.fromkeys(("created", "configured", "replaced", "pruned", "prune_skipped", "unchanged", "hooks", "failed"), 0)
    base.update(given)
    return base


def sync_result():
    """A gitops_sync result (applications form, check mode, diff on) for three applications."""
    return {
        "changed": True,
        "failed": True,
        "msg": "could not sync application(s): broken",
        "applications": [
            {"name": "shop", "namespace": "shop", "revision": REVISION, "changed": True, "sync_status": "OutOfSync",
             "health_status": "Healthy", "counts": counts(configured=2, unchanged=1, pruned=1),
             "duration": 0.25,
             "resources": [
                 resource("Deployment", "web", "configured", group="apps",
                          before=deployment_yaml(5), after=deployment_yaml(2)),
                 resource("Secret", "db", "configured", before=secret_yaml(SECRET_VALUE), after=secret_yaml("other-value")),
                 resource("Service", "web", "unchanged"),
                 resource("ConfigMap", "old", "pruned", message="no longer in Git"),
             ]},
            {"name": "blog", "namespace": "blog", "revision": REVISION, "changed": False, "sync_status": "Synced",
             "health_status": "Healthy", "counts": counts(unchanged=3), "resources": [resource("Service", "blog", "unchanged")]},
            {"name": "broken", "sync_status": "Unknown",
             "error": "application 'broken', path 'nope' does not exist in https://git.example.org/apps.git"},
        ],
    }


def diff_result():
    """A gitops_diff result, single-application form."""
    return {
        "changed": False, "name": "legacy", "revision": REVISION, "sync_status": "OutOfSync", "out_of_sync": True,
        "summary": {"Synced": 1, "OutOfSync": 1, "Missing": 1, "Extraneous": 0, "Unknown": 0},
        "resources": [
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "legacy", "name": "api",
             "status": "OutOfSync", "patch": [{"op": "replace", "path": "/spec/replicas", "value": 3}]},
            {"group": "", "version": "v1", "kind": "Secret", "namespace": "legacy", "name": "creds",
             "status": "Missing", "patch": [{"op": "add", "path": "/data/key", "value": SECRET_VALUE}]},
            {"group": "", "version": "v1", "kind": "Service", "namespace": "legacy", "name": "api", "status": "Synced",
             "patch": []},
        ],
    }


def drift_report():
    return build_report([{"cluster": "prod", "result": sync_result()}, {"cluster": "edge", "result": diff_result()},
                         {"cluster": "lab", "result": {"failed": True, "msg": "https://admin:pa55word@10.0.0.1:6443 refused"}},
                         {"cluster": "idle", "result": {"skipped": True, "changed": False}}],
                        DRIFT, title="Fleet", details={"job": "42", "user": "ops"}, now=NOW)


def test_applications_statuses_and_counts():
    report = drift_report()
    apps = {(app.cluster, app.name): app for app in report.applications}
    assert list(apps) == [("prod", "shop"), ("prod", "blog"), ("prod", "broken"), ("edge", "legacy")]
    assert apps["prod", "shop"].status == "OutOfSync"
    assert [obj.ref for obj in apps["prod", "shop"].drifted_objects] == [
        "Deployment.apps shop/web", "Secret shop/db", "ConfigMap shop/old"]
    assert apps["prod", "broken"].status == "Failed"
    # gitops_diff statuses are mapped to the action a sync would take
    assert [obj.action for obj in apps["edge", "legacy"].objects] == ["configured", "created", "unchanged"]
    assert apps["edge", "legacy"].counts["created"] == 1
    assert report.counts() == {"clusters": 4, "cluster_errors": 1, "applications": 4, "synced": 1, "out_of_sync": 2,
                               "unknown": 0, "failed": 1, "changed": 1, "unhealthy": 0}
    assert [(app.cluster, app.name) for app in report.drifted()] == [("prod", "shop"), ("edge", "legacy")]


def test_summary_is_one_line_per_application_and_a_total():
    lines = drift_report().summary_lines()
    assert lines[0] == "lab: Failed: https://10.0.0.1:6443 refused"
    assert lines[1] == "prod/shop: OutOfSync, Healthy at 0123456789ab: would be: 2 configured, 1 pruned; 1 unchanged"
    assert lines[2] == "prod/blog: Synced, Healthy at 0123456789ab: no drift; 3 unchanged"
    assert lines[3].startswith("prod/broken: Failed: application 'broken', path 'nope' does not exist")
    assert lines[-1] == "4 applications on 4 clusters: 1 synced, 2 drifted, 2 failed"


def test_sync_mode_speaks_of_changes_not_drift():
    result = {"changed": True, "applications": [
        {"name": "shop", "revision": REVISION, "changed": True, "sync_status": "Synced", "health_status": "Healthy",
         "counts": counts(created=2), "resources": [resource("Service", "a", "created"), resource("Service", "b", "created")]}]}
    report = build_report([{"cluster": "prod", "result": result}], SYNC, now=NOW)
    assert report.summary_lines() == ["prod/shop: Synced, Healthy at 0123456789ab: 2 created",
                                      "1 applications on 1 clusters: 1 synced, 1 changed, 0 failed"]
    assert "Sync report" in to_markdown(report) and "Objects written" in to_markdown(report)
    assert report.drifted() == []


def test_secrets_and_credentials_never_reach_any_format():
    report = drift_report()
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    for text in (to_json(report), to_markdown(report), to_junit(report), to_html(report)):
        assert SECRET_VALUE not in text
        assert encoded not in text
        assert "pa55word" not in text
    shop = json.loads(to_json(report))["clusters"][0]["applications"][0]
    secret = next(obj for obj in shop["drifted"] if obj["kind"] == "Secret")
    # the keys that changed are named, their values are not
    assert "-  password: ++++++++\n" in secret["diff"] and "+  password: ++++++++ (changed)\n" in secret["diff"]
    legacy = json.loads(to_json(report))["clusters"][1]["applications"][0]
    assert next(obj for obj in legacy["drifted"] if obj["kind"] == "Secret")["patch"][0]["value"] == "++++++++"


def test_scrubs_the_values_it_is_given():
    result = {"applications": [{"name": "a", "sync_status": "Synced", "error": "token s3cr3t-token leaked"}]}
    report = build_report([{"cluster": "c", "result": result}], DRIFT, secrets=["s3cr3t-token"], now=NOW)
    assert "s3cr3t-token" not in to_json(report)


def test_json_is_machine_readable_per_cluster_per_application():
    document = json.loads(to_json(drift_report()))
    assert document["mode"] == "drift" and document["generated_at"] == "2026-01-02T03:04:05Z"
    assert document["details"] == {"job": "42", "user": "ops"}
    assert [c["name"] for c in document["clusters"]] == ["prod", "edge", "lab", "idle"]
    shop = document["clusters"][0]["applications"][0]
    assert shop["revision"] == REVISION and shop["health_status"] == "Healthy" and shop["counts"]["configured"] == 2
    web = shop["drifted"][0]
    assert web["kind"] == "Deployment" and "-  replicas: 5" in web["diff"] and "+  replicas: 2" in web["diff"]
    # gitops_sync results carry before/after: the patch is computed from them
    assert web["patch"] == [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    secret = next(obj for obj in shop["drifted"] if obj["kind"] == "Secret")
    assert {op["value"] for op in secret["patch"]} == {"++++++++"}
    assert "patch" not in next(obj for obj in shop["drifted"] if obj["kind"] == "ConfigMap")  # pruned: no after
    legacy = document["clusters"][1]["applications"][0]
    assert legacy["drifted"][0]["patch"] == [{"op": "replace", "path": "/spec/replicas", "value": 3}]
    assert document["clusters"][2]["error"].endswith("refused")
    assert document["clusters"][3]["applications"] == []


def test_junit_one_case_per_application_failed_when_drifted_or_broken():
    root = ET.fromstring(to_junit(drift_report()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "2", "2")
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["prod", "edge", "lab", "idle"]
    cases = {case.get("name"): case for case in suites["prod"].findall("testcase")}
    assert set(cases) == {"shop", "blog", "broken"}
    assert cases["blog"].find("failure") is None and cases["blog"].find("error") is None
    failure = cases["shop"].find("failure")
    assert failure.get("type") == "OutOfSync"
    assert failure.get("message").startswith("OutOfSync (drift): Deployment.apps shop/web configured")
    assert "replicas: 5" in failure.text
    assert cases["broken"].find("error").get("message").startswith("application 'broken'")
    assert suites["lab"].find("testcase/error").get("type") == "ClusterError"
    assert suites["idle"].get("tests") == "0"


def test_junit_fails_an_unhealthy_application_in_sync():
    result = {"applications": [{"name": "web", "sync_status": "Synced", "health_status": "Degraded",
                                "counts": counts(unchanged=1), "resources": []}]}
    case = ET.fromstring(to_junit(build_report([{"cluster": "c", "result": result}], SYNC, now=NOW))).find(".//testcase")
    assert case.find("failure").get("message") == "health Degraded"


def skipped_sync_report():
    """A sync run where one application was not synced on purpose (manual) and one lists orphaned resources."""
    result = {"applications": [
        {"name": "manual", "sync_status": "OutOfSync", "health_status": "Healthy", "counts": counts(configured=1),
         "skipped": "not synced: manual application (no automated sync policy); select it with gitops_only to sync it",
         "resources": [resource("ConfigMap", "settings", "configured")]},
        {"name": "web", "sync_status": "Synced", "health_status": "Healthy", "counts": counts(unchanged=1), "resources": [],
         "orphaned_resources": [{"group": "", "kind": "ConfigMap", "namespace": "web", "name": "left-behind"}]},
    ]}
    return build_report([{"cluster": "c", "result": result}], SYNC, now=NOW)


def test_junit_reports_an_application_not_synced_on_purpose_as_skipped_not_failed():
    root = ET.fromstring(to_junit(skipped_sync_report()))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("2", "0", "0", "1")
    case = root.find(".//testcase[@name='manual']")
    assert case.find("failure") is None
    assert case.find("skipped").get("message").startswith("not synced: manual application")
    assert root.find("testsuite").get("skipped") == "1"


def test_junit_drift_run_still_fails_a_drifted_application_a_sync_would_skip():
    report = build_report([{"cluster": "c", "result": {"applications": [
        {"name": "manual", "sync_status": "OutOfSync", "counts": counts(configured=1), "skipped": "manual",
         "resources": [resource("ConfigMap", "settings", "configured")]}]}}], DRIFT, now=NOW)
    case = ET.fromstring(to_junit(report)).find(".//testcase")
    assert case.find("skipped") is None and case.find("failure").get("type") == "OutOfSync"


def test_html_shows_why_an_application_was_skipped_and_its_orphaned_resources():
    page = to_html(skipped_sync_report())
    assert '<div class="skipped">not synced: manual application' in page
    assert "1 orphaned resources</summary>" in page and "<code>ConfigMap web/left-behind</code>" in page


def test_markdown_table_row_per_application():
    text = to_markdown(drift_report())
    assert text.startswith("# Fleet: Drift report\n")
    assert "| Cluster | Application | Status | Health | Revision | Changes |" in text
    assert "| prod | shop | OutOfSync | Healthy | `0123456789ab` | would be: 2 configured, 1 pruned |" in text
    assert "| prod | blog | Synced | Healthy | `0123456789ab` | no drift |" in text
    assert "- **lab**: could not be checked: https://10.0.0.1:6443 refused" in text
    assert "```diff" in text


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_with_a_row_and_badges_per_application():
    page = to_html(drift_report())
    parser = _Collector()
    parser.feed(page)
    tags = [tag for tag, dummy in parser.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not any(("src" in attrs or "href" in attrs) for dummy, attrs in parser.tags)
    rows = [attrs for tag, attrs in parser.tags if tag == "tr" and attrs.get("class") == "application"]
    assert [(row["data-application"], row["data-status"]) for row in rows] == [
        ("shop", "OutOfSync"), ("blog", "Synced"), ("broken", "Failed"), ("legacy", "OutOfSync")]
    assert page.count("<details>") == 2  # the objects with a diff: web and db (masked); gitops_diff gave patches only
    assert '<span class="badge warn">OutOfSync</span>' in page and '<span class="badge bad">Failed</span>' in page


def test_html_escapes_what_it_shows():
    result = {"applications": [{"name": "a", "sync_status": "Synced", "error": "<script>alert(1)</script>"}]}
    page = to_html(build_report([{"cluster": "<b>c</b>", "result": result}], DRIFT, now=NOW))
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;c&lt;/b&gt;" in page


def test_unified_diff_names_both_sides():
    text = unified_diff("a: 1\n", "a: 2\n", "ConfigMap x")
    assert text.splitlines()[:2] == ["--- ConfigMap x (live)", "+++ ConfigMap x (desired)"]
    assert "-a: 1" in text and "+a: 2" in text


def test_single_application_failure_and_skips():
    failed = {"failed": True, "msg": "boom", "name": "shop", "sync_status": "OutOfSync", "resources": []}
    (app,) = cluster_report("c", failed).applications
    assert app.error == "boom" and app.status == "Failed"
    assert cluster_report("c", {"skipped": True}).applications == []
    assert cluster_report("c", None).applications == []


def test_write_reports_atomically_with_the_requested_formats(tmp_path):
    dest = tmp_path / "out" / "reports"
    paths = write_reports(drift_report(), str(dest), ["json", "junit"], mode=0o640)
    assert set(paths) == {"json", "junit"} and sorted(os.listdir(dest)) == ["junit.xml", "report.json"]
    assert stat.S_IMODE(os.stat(paths["json"]).st_mode) == 0o640
    paths = write_reports(drift_report(), str(dest), ["json", "markdown", "junit", "html"])
    assert sorted(os.listdir(dest)) == ["junit.xml", "report.html", "report.json", "report.md"]


def test_an_app_of_apps_child_shows_its_parent_in_the_summary_and_the_json():
    from ansible_collections.gitops.kubernetes.plugins.module_utils._report import build_report as build

    report = build([{"cluster": "prod", "result": {"applications": [
        {"name": "root", "sync_status": "Synced", "health_status": "Healthy", "resources": []},
        {"name": "web", "parent": "root", "sync_status": "Synced", "health_status": "Healthy", "resources": []},
    ]}}], "sync")
    lines = report.summary_lines()
    assert any(line.startswith("prod/root -> web: Synced") for line in lines), lines
    assert report.to_dict()["clusters"][0]["applications"][1]["parent"] == "root"


def test_depends_on_order_is_reported_per_cluster_and_a_dependency_skip_by_its_reason():
    reason = "skipped: depends on db, which failed: render failed"
    report = build_report([{"cluster": "prod", "result": {"sync_order": [["db", "cache"], ["api"]], "applications": [
        {"name": "db", "sync_status": "Unknown", "error": "render failed", "resources": []},
        {"name": "cache", "sync_status": "Synced", "health_status": "Healthy", "resources": []},
        {"name": "api", "sync_status": "Unknown", "health_status": "Unknown", "skipped": reason, "resources": []},
    ]}}], SYNC, now=NOW)
    assert json.loads(to_json(report))["clusters"][0]["sync_order"] == [["db", "cache"], ["api"]]
    assert "- **prod** sync order (depends_on): db, cache -> api" in to_markdown(report)
    assert f"prod/api: Unknown, Unknown: not synced ({reason})" in report.summary_lines()
    # without dependencies there is no order to report
    plain = build_report([{"cluster": "prod", "result": {"applications": [
        {"name": "cache", "sync_status": "Synced", "health_status": "Healthy", "resources": []}]}}], SYNC, now=NOW)
    assert "sync_order" not in json.loads(to_json(plain))["clusters"][0]
