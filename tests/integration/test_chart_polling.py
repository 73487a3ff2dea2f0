"""The new_revisions event source polls a real chart repository and a real OCI registry (hack/chart_servers.py).

Applications are synced first, so what each last deployed is recorded on its
inventory; the event source then starts from those versions. A new chart
version matching a constraint is one event for the application that follows
the constraint, and none for the one pinned to an exact version. "Nothing more
came" is proven by a barrier: two later polls of the chart repository, each
wait bounded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from module_tasks import tasks

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import chart_servers  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = REPO_ROOT / "extensions" / "eda" / "plugins" / "event_source" / "new_revisions.py"
REPO_PASSWORD = "evict-repo-Pa55-3e1f"
REGISTRY_PASSWORD = "evict-registry-Pa55-77c0"
WAIT = 120  # seconds any one expected event may take on a loaded machine
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  version: {{ .Chart.Version | quote }}\n"


def load_source() -> Any:
    spec = importlib.util.spec_from_file_location("new_revisions_under_test", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RunningSource:
    """The event source's main() on its own event loop in a thread; events collected as they are put."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task | None = None
        source, events = load_source(), self.events

        class Queue(asyncio.Queue):
            async def put(self, item: Any) -> None:
                events.append(item)

        async def run() -> None:
            self.task = asyncio.current_task()
            await source.main(Queue(), args)

        def thread() -> None:
            try:
                self.loop.run_until_complete(run())
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-exception-caught  # reported by the test
                self.error = exc

        self.thread = threading.Thread(target=thread, name="new-revisions", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(30)


def wait_until(what: str, check, source: RunningSource, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        assert source.error is None, f"the event source stopped: {source.error!r}"
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up after {timeout:.0f}s waiting until {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("evict-chart-servers")
    pki = chart_servers.write_pki(base / "pki")
    repository = chart_servers.ChartRepository(base / "repository", pki, "ci", REPO_PASSWORD).start()
    registry = chart_servers.OciRegistry(base / "registry", pki, "ci", REGISTRY_PASSWORD).start()
    try:
        for version in ("1.0.0", "1.2.0"):
            archive = repository.publish(chart_servers.write_chart(base / "charts", "web", version, {"cm.yaml": CONFIG_MAP}))
            registry.push(archive)
        yield {"repository": repository, "registry": registry, "pki": pki, "base": base}
    finally:
        registry.stop()
        repository.stop()


def credentials(servers: dict[str, Any]) -> list[dict[str, Any]]:
    ca_file = str(servers["pki"].ca_file)
    return [{"url": servers["repository"].url, "username": "ci", "password": REPO_PASSWORD, "ca_file": ca_file, "type": "helm"},
            {"url": servers["registry"].host, "username": "ci", "password": REGISTRY_PASSWORD, "ca_file": ca_file, "type": "oci"}]


def test_a_new_chart_version_is_one_event_for_the_application_following_the_constraint_and_none_when_pinned(
        servers, namespace, ansible_playbook, cluster, tmp_path, caplog):
    repository, registry = servers["repository"], servers["registry"]
    apps = [
        {"name": "evict-http-minor", "source": {"repo_url": repository.url, "chart": "web", "revision": "^1"}},
        {"name": "evict-http-pinned", "source": {"repo_url": repository.url, "chart": "web", "revision": "1.2.0"}},
        {"name": "evict-oci-minor", "source": {"repo_url": registry.url, "chart": "web", "revision": "1.*"}},
    ]
    apps = [{**app, "destination": {"namespace": namespace}, "sync_policy": {"prune": True}} for app in apps]
    cache = tmp_path / "cache"
    synced = ansible_playbook(tasks({"name": "sync", "gitops.kubernetes.gitops_sync": {
        "kubeconfig": "{{ gitops_test_kubeconfig }}", "applications": apps, "repositories": credentials(servers),
        "cache_dir": str(cache)}, "register": "synced"}))
    assert not synced["synced"].get("failed"), synced["synced"].get("msg")
    assert sorted(a["revision"].split("@")[0] for a in synced["synced"]["applications"]) == ["1.2.0", "1.2.0", "1.2.0"]

    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"clusters": {"hosts": {"evict": {
        "gitops_kubeconfig": cluster.kubeconfig, "gitops_cache_dir": str(cache), "gitops_applications": apps,
        "gitops_repositories": credentials(servers)}}}}))
    source = RunningSource({"inventory": str(inventory), "interval": 1})
    try:
        def index_polls() -> int:
            return sum(1 for path in repository.requests if path.endswith("/index.yaml"))

        # started from the recorded versions: a few polls, and nothing to report
        start = index_polls()
        wait_until("the chart repository is polled twice", lambda: index_polls() >= start + 2, source)
        assert source.events == []

        archive = repository.publish(chart_servers.write_chart(servers["base"] / "charts", "web", "1.3.0", {"cm.yaml": CONFIG_MAP}))
        registry.push(archive)
        wait_until("both applications following a constraint are reported",
                   lambda: {e["gitops"]["application"] for e in source.events} >= {"evict-http-minor", "evict-oci-minor"}, source)
        barrier = index_polls()
        wait_until("two more polls of the chart repository", lambda: index_polls() >= barrier + 2, source)
        reported = sorted((e["gitops"]["application"], e["gitops"]["version"], e["gitops"]["previous_version"], e["meta"]["hosts"])
                          for e in source.events)
        assert reported == [("evict-http-minor", "1.3.0", "1.2.0", "evict"), ("evict-oci-minor", "1.3.0", "1.2.0", "evict")]
        event = next(e["gitops"] for e in source.events if e["gitops"]["application"] == "evict-http-minor")
        assert event["type"] == "revision" and event["automated"] is True and event["repo_url"] == repository.url
        text = repr(source.events) + caplog.text
        assert REPO_PASSWORD not in text and REGISTRY_PASSWORD not in text
    finally:
        source.stop()
