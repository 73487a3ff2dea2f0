"""ChartWatcher: one conditional request per chart repository per check, one report per application and new version."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._chart_watch import ChartWatcher, _validators
from ansible_collections.gitops.kubernetes.plugins.module_utils._revision_watch import RevisionWatcher
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.transport import Response
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, SourceSpec

from test_revision_watch import App


class IndexServer:
    """index.yaml over HTTP with an ETag, answering If-None-Match with 304; counts requests and their headers."""

    def __init__(self, versions: dict[str, list[str]], expected_auth: str = "") -> None:
        self.versions = versions
        self.expected_auth = expected_auth
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(dict(self.headers.items()))
                if server.expected_auth and self.headers.get("Authorization") != server.expected_auth:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.index()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/charts"

    def index(self) -> bytes:
        entries = {chart: [{"version": v, "urls": [f"{chart}-{v}.tgz"]} for v in versions] for chart, versions in self.versions.items()}
        return yaml.safe_dump({"apiVersion": "v1", "entries": entries}).encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    index = IndexServer({"web": ["1.0.0", "1.2.0"], "db": ["3.0.0"]})
    yield index
    index.close()


def chart_app(name: str, url: str, chart: str, revision: str, cluster: str = "prod") -> App:
    return App(name, Application(name, SourceSpec(repo_url=url, chart=chart, revision=revision)), cluster=cluster)


def test_one_request_per_repository_one_report_per_application_whose_version_moved_none_when_pinned(server):
    apps = [chart_app("web-minor", server.url, "web", "^1"), chart_app("web-star", server.url, "web", "1.*"),
            chart_app("web-pinned", server.url, "web", "1.0.0"), chart_app("db", server.url, "db", ">=3")]
    watcher = RevisionWatcher(apps)
    watcher._seen_versions.update({("prod", "web-minor", 0): "1.2.0", ("prod", "web-star", 0): "1.2.0",
                                   ("prod", "db", 0): "3.0.0"})  # what their last syncs recorded
    assert watcher.check() == [] and len(server.requests) == 1
    server.versions["web"].append("1.3.0")
    reports = watcher.check()
    assert [(r["application"], r["version"], r["previous_version"]) for r in reports] == [
        ("web-minor", "1.3.0", "1.2.0"), ("web-star", "1.3.0", "1.2.0")]
    assert reports[0]["type"] == "revision" and reports[0]["chart"] == "web" and reports[0]["automated"] is True
    assert len(server.requests) == 2 and watcher.chart_requests == 2
    assert watcher.check() == []  # each new version once


def test_an_unchanged_index_is_asked_with_its_etag_and_costs_a_304(server):
    watcher = ChartWatcher([chart_app("web", server.url, "web", "^1")])
    seen: dict = {}
    assert [r["version"] for r in watcher.check(seen)] == ["1.2.0"]  # nothing recorded: the current version is new
    assert watcher.check(seen) == []
    assert "If-None-Match" not in server.requests[0] and server.requests[1]["If-None-Match"].startswith('"')


def test_applications_of_clusters_with_other_credentials_ask_separately_and_credentials_stay_out_of_reports():
    secret = "s3cret-Pa55"
    server = IndexServer({"web": ["1.0.0"]}, expected_auth="Basic " + __import__("base64").b64encode(f"ci:{secret}".encode()).decode())
    logged: list[str] = []
    try:
        good = RepositoryCredential(url=server.url, username="ci", password=secret, kind="helm")
        wrong = RepositoryCredential(url=server.url, username="ci", password="wrong-Pa55", kind="helm")
        watcher = ChartWatcher([chart_app("a", server.url, "web", "^1", "prod"), chart_app("b", server.url, "web", "^1", "stage")],
                               {"prod": [good], "stage": [wrong]}, log=logged.append)
        reports = watcher.check({})
        assert [r["application"] for r in reports] == ["a"] and watcher.requests == 2
        assert any("refused access (HTTP 401)" in line for line in logged)
        assert secret not in repr(reports) + repr(logged) and "wrong-Pa55" not in repr(logged)
    finally:
        server.close()


def test_a_repository_url_with_credentials_is_reported_without_them(server):
    url = server.url.replace("http://", "http://user:url-Pa55@")
    reports = ChartWatcher([chart_app("web", url, "web", "^1")]).check({})
    assert reports[0]["repo_url"] == server.url and "url-Pa55" not in repr(reports)


def test_a_constraint_nothing_matches_is_logged_naming_the_application_and_reports_nothing(server):
    logged: list[str] = []
    assert ChartWatcher([chart_app("web", server.url, "web", "^9")], log=logged.append).check({}) == []
    assert logged and logged[0].startswith("application web: chart 'web'") and "no version matching '^9'" in logged[0]


def test_last_modified_is_used_only_when_safely_older_than_the_answer():
    old = Response("u", 200, b"", {"last-modified": "Sat, 28 Nov 2026 00:00:00 GMT", "date": "Sat, 28 Nov 2026 00:00:10 GMT"})
    fresh = Response("u", 200, b"", {"last-modified": "Sat, 28 Nov 2026 00:00:10 GMT", "date": "Sat, 28 Nov 2026 00:00:10 GMT"})
    assert _validators(old) == {"If-Modified-Since": "Sat, 28 Nov 2026 00:00:00 GMT"}
    assert _validators(fresh) == {}  # a change within the same second would hide behind a 304
    assert _validators(Response("u", 200, b"", {"etag": '"x"', **old.headers})) == {"If-None-Match": '"x"'}


def test_git_applications_are_not_polled_as_charts_and_chart_ones_not_with_ls_remote(server, tmp_path):
    watcher = RevisionWatcher([chart_app("web", server.url, "web", "^1")], {"prod": str(tmp_path)})
    assert watcher.repositories == [server.url] and watcher._repositories == {}


def test_the_versions_last_synced_are_the_baseline_for_single_and_multi_source_applications(server, monkeypatch):
    from ansible_collections.gitops.kubernetes.plugins.module_utils import _revision_watch
    from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import Inventory

    single = chart_app("single", server.url, "web", "^1")
    multi = App("multi", Application("multi", SourceSpec(repo_url="https://git.example.org/values.git", revision="0" * 40),
                                     more_sources=[SourceSpec(repo_url=server.url, chart="web", revision="~1.0")]))
    recorded = {
        "single": Inventory("single", "shop", "id", revision="1.2.0@sha256:" + "a" * 64),
        "multi": Inventory("multi", "shop", "id", revision="0" * 40,
                           history=[{"revision": "0" * 40, "revisions": ["0" * 40, "1.0.0@sha256:" + "b" * 64]}]),
    }
    monkeypatch.setattr(_revision_watch, "read_inventory", lambda client, name, namespace: recorded[name])

    class Client:
        default_namespace = "default"

    watcher = RevisionWatcher([single, multi])
    watcher.baseline({"prod": Client()})
    assert watcher.check() == []  # both still resolve to what they last deployed
    server.versions["web"] += ["1.0.1", "1.4.0"]
    assert sorted((r["application"], r["version"], r["previous_version"]) for r in watcher.check()) == [
        ("multi", "1.0.1", "1.0.0"), ("single", "1.4.0", "1.2.0")]
