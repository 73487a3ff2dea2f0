# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""new_revisions: an event per application whose Git branch or tag moved to a new commit, or whose chart version
constraint resolves to a new version.

Polls each repository of the inventory's applications with one ``git ls-remote``
(or one index.yaml / OCI tag list request) per interval, and, given a secret,
listens for push webhooks that make the pushed repository's check immediate.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import sys
from typing import Any


def _import_collection() -> None:
    """ansible-rulebook runs this file by path: make the collection it lies in importable (its module_utils)."""
    parts = os.path.abspath(__file__).split(os.sep)  # .../ansible_collections/gitops/kubernetes/extensions/eda/plugins/event_source/x.py
    if len(parts) > 8 and parts[-8] == "ansible_collections" and os.sep.join(parts[:-8]) not in sys.path:
        sys.path.append(os.sep.join(parts[:-8]))


_import_collection()

from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._revision_watch import RevisionWatcher  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_eviction import evict_periodically  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_targets import inventory_sources, load_targets  # noqa: E402


DOCUMENTATION = r"""
---
short_description: Events when a new commit lands on the revision an application follows.
description:
  - Reads the clusters and applications from the same Ansible inventory the C(gitops.kubernetes.sync) playbook uses
    (see C(gitops.kubernetes.live_changes)).
  - Every O(interval) seconds, one C(git ls-remote) per repository (not per application), with the applications'
    own credentials; the branch, tag or C(HEAD) each application follows is resolved as a sync resolves it. A revision
    that is a commit SHA never moves and is not polled.
  - The first commit compared is the one recorded on the application's inventory by its last successful sync, so a
    commit pushed while nothing watched is reported at the start, and each new commit is reported once.
  - "Applications whose source is a Helm chart (C(chart) with a chart repository or an OCI registry) and whose
    revision is a version constraint (C(^1.2), C(1.*), C(>=2.0.0 <3)): every O(interval) seconds one request per
    chart repository (its C(index.yaml)) or per OCI repository (its tag list), not per application, with
    C(If-None-Match) or C(If-Modified-Since) when the server gave an ETag or a Last-Modified date, so an unchanged
    repository costs a C(304). Each application's constraint is resolved as its sync resolves it, and an application
    is reported when the version differs from the one its last sync recorded (then once per new version). An exact
    version never moves and is not polled. Credentials are the inventory's C(gitops_repositories), as for the sync;
    they never appear in events or logs."
  - "While it runs, the cache directory of every cluster (C(gitops_cache_dir)) is evicted at most once an hour, with the
    inventory's C(gitops_cache_max_size) and C(gitops_cache_max_age) (see the role), so a rulebook running for days
    keeps its disk bounded; the Git mirrors this source polls count as in use and stay."
  - With O(webhook_secret), an HTTP server on O(webhook_host):O(webhook_port) takes push webhooks (GitHub, Gitea,
    Forgejo and anything else that signs the body with HMAC-SHA256 in C(X-Hub-Signature-256)); a push to a watched
    repository checks that repository at once. Unsigned or wrongly signed requests get 401 and change nothing.
  - "Event: C(gitops.type=revision), C(gitops.application), C(gitops.cluster), C(gitops.namespace), C(gitops.automated),
    C(gitops.self_heal), C(gitops.repo_url), C(gitops.revision), C(gitops.commit), C(gitops.previous_commit),
    C(gitops.reason); C(meta.hosts) is the cluster's inventory host. For a chart source also C(gitops.chart),
    C(gitops.version) and C(gitops.previous_version) (C(gitops.commit) is null)."
options:
  inventory:
    description:
      - Inventory file(s) or directory to read. Default, the inventory C(ansible-rulebook -i) was given, else
        E(ANSIBLE_INVENTORY).
    type: raw
  hosts:
    description: The inventory group (or pattern) whose hosts are the clusters.
    type: str
    default: clusters
  interval:
    description: Seconds between two polls of every repository; V(0) polls only once, at the start (webhooks only).
    type: float
    default: 60
  webhook_secret:
    description:
      - The secret the push webhooks are signed with. Without it no webhook server is started.
    type: str
  webhook_host:
    description: Address the webhook server listens on (loopback unless a proxy or the network must reach it).
    type: str
    default: 127.0.0.1
  webhook_port:
    description: Port of the webhook server.
    type: int
    default: 5000
"""

EXAMPLES = r"""
- name: Deploy new commits
  hosts: all
  sources:
    - gitops.kubernetes.new_revisions:
        interval: 60
        webhook_secret: "{{ gitops_webhook_secret }}"
        webhook_port: 5000
  rules:
    - name: Sync automated applications
      condition: event.gitops.type == "revision" and event.gitops.automated
      action:
        run_playbook:
          name: gitops.kubernetes.auto_sync
          extra_vars:
            gitops_hosts: "{{ event.gitops.cluster }}"
            gitops_only: ["{{ event.gitops.application }}"]
"""

LOGGER = logging.getLogger("gitops.kubernetes.new_revisions")
MAX_BODY = 5 * 1024 * 1024  # a push payload is small; anything bigger is refused unread
# where push payloads name the repository: GitHub/Gitea/Forgejo (repository.*), GitLab (project.*)
URL_FIELDS = (("repository", "clone_url"), ("repository", "ssh_url"), ("repository", "git_url"), ("repository", "html_url"),
              ("project", "git_http_url"), ("project", "git_ssh_url"))


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether header is GitHub's X-Hub-Signature-256 of body with secret (constant-time comparison)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def pushed_urls(payload: Any) -> list[str]:
    """The repository URLs a push payload names."""
    found = []
    for section, key in URL_FIELDS:
        value = (payload.get(section) or {}).get(key) if isinstance(payload, dict) and isinstance(payload.get(section), dict) else None
        if isinstance(value, str) and value:
            found.append(value)
    return found


async def _emit(queue: asyncio.Queue, reports: list[dict[str, Any]]) -> None:
    for report in reports:
        LOGGER.info("application %s on %s: %s", report["application"], report["cluster"], report["reason"])
        await queue.put({"gitops": report, "meta": {"hosts": report["cluster"]}})


async def _serve_webhooks(queue: asyncio.Queue, watcher: RevisionWatcher, secret: str, host: str, port: int) -> Any:
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="payload too large\n")
        body = await request.read()
        if not signature_valid(secret, body, request.headers.get("X-Hub-Signature-256")):
            LOGGER.warning("webhook from %s refused: missing or wrong X-Hub-Signature-256", request.remote)
            return web.Response(status=401, text="signature missing or wrong\n")
        if request.headers.get("X-GitHub-Event", "push") == "ping":
            return web.Response(status=200, text="pong\n")
        try:
            payload = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="the body is not JSON\n")
        keys = sorted({key for url in pushed_urls(payload) for key in watcher.repository_keys(url)})
        if not keys:
            return web.Response(status=202, text="no watched application uses this repository\n")
        reports = await asyncio.to_thread(watcher.check, keys)
        await _emit(queue, reports)
        return web.json_response({"applications": [r["application"] for r in reports]}, status=202)

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/{tail:.*}", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    LOGGER.info("push webhooks on http://%s:%d/", host, port)
    return runner


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """Poll (and take webhooks for) the inventory's repositories; put a revision event per application that moved."""
    sources = inventory_sources(args.get("inventory"))
    targets = await asyncio.to_thread(load_targets, sources, str(args.get("hosts") or "clusters"))
    interval = float(args.get("interval", 60))
    if interval < 0:
        raise ValueError(f"gitops.kubernetes.new_revisions: interval must be 0 or more seconds, got {interval}")
    apps = [app for target in targets for app in target.applications]
    watcher = RevisionWatcher(apps, {target.host: target.cache_dir for target in targets}, log=LOGGER.warning,
                              credentials={target.host: target.repositories for target in targets})
    clients = {target.host: KubeClient.from_params({**target.connection, "cache_dir": target.cache_dir}) for target in targets}
    runner = None
    eviction = asyncio.create_task(evict_periodically(targets, LOGGER.info))
    try:
        await asyncio.to_thread(watcher.baseline, clients)
        secret = str(args.get("webhook_secret") or "")
        if secret:
            runner = await _serve_webhooks(queue, watcher, secret, str(args.get("webhook_host") or "127.0.0.1"),
                                           int(args.get("webhook_port") or 5000))
        LOGGER.info("watching %d repositories for %d applications", len(watcher.repositories), len(apps))
        while True:
            await _emit(queue, await asyncio.to_thread(watcher.check))
            if interval == 0:
                await asyncio.Event().wait()  # webhooks only, until cancelled
            await asyncio.sleep(interval)
    finally:
        eviction.cancel()
        if runner is not None:
            await runner.cleanup()
        for client in clients.values():
            client.close()


if __name__ == "__main__":
    # python new_revisions.py INVENTORY: print the events (for trying the source without ansible-rulebook)
    class _PrintQueue(asyncio.Queue):
        async def put(self, item: Any) -> None:
            print(item, flush=True)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {"inventory": sys.argv[1:] or None, "interval": 5}))
