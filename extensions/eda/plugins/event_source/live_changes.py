# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_changes: an event when an application's live objects drift from what the collection applied.

WATCHes (no polling) the objects of every application of the inventory,
kind by kind, by their ApplySet membership label, and puts one event on the
queue per application whose objects changed in a way that can be drift.
"""

from __future__ import annotations

import asyncio
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
from ansible_collections.gitops.kubernetes.plugins.module_utils._live_watch import LiveMonitor, Timing  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._watch import GIVE_UP_AFTER  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_eviction import evict_periodically  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_targets import inventory_sources, load_targets  # noqa: E402


DOCUMENTATION = r"""
---
short_description: Events when the live objects of an application drift from Git.
description:
  - Reads the clusters and applications from the same Ansible inventory the C(gitops.kubernetes.sync) playbook uses
    (hosts of group O(hosts), with C(gitops_kubeconfig) and the other connection variables, C(gitops_applications),
    C(gitops_generators), C(gitops_only), C(gitops_skip)).
  - WATCHes the ApplySet parent of every application and, kind by kind, its members (by the
    C(applyset.kubernetes.io/part-of) label). No polling of the cluster.
  - A change counts when an object of the inventory is deleted, or a field the collection applied changes value or owner
    (C(kubectl edit), C(kubectl scale), a server-side apply of another manager). Status-only, resourceVersion-only and
    managedFields-only updates, controllers' own fields and the collection's own writes are not reported.
  - Changes are coalesced per application; reports to one application back off like Argo CD's self-heal
    (at once, then O(backoff) x O(backoff_factor)^n seconds, capped at O(backoff_max)); a sync recorded as failed in
    the application's history is reported again when the backoff allows.
  - A dropped watch resumes from its resourceVersion, C(410 Gone) relists, and an unreachable API server is retried with
    backoff for O(give_up_after) seconds, after which the source stops with an error (an activation restarts it).
  - "While it runs, the cache directory of every cluster (C(gitops_cache_dir)) is evicted at most once an hour, with the
    inventory's C(gitops_cache_max_size) and C(gitops_cache_max_age) (see the role), so a rulebook running for days
    keeps its disk bounded even when nothing is synced."
  - "Event: C(gitops.type=drift), C(gitops.application), C(gitops.cluster) (the inventory host), C(gitops.namespace),
    C(gitops.automated), C(gitops.self_heal), C(gitops.reason), C(gitops.changed), C(gitops.deleted), C(gitops.attempt),
    C(gitops.retry_of_failed_sync); C(meta.hosts) is the cluster's inventory host."
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
  coalesce:
    description: Seconds of quiet after which an application's changes are reported as one event.
    type: float
    default: 0.5
  coalesce_max:
    description: Longest time in seconds changes are held back while they keep coming.
    type: float
    default: 5.0
  backoff:
    description: Seconds between the first and the second report to one application.
    type: float
    default: 2.0
  backoff_factor:
    description: Each further report to the application waits this many times longer.
    type: float
    default: 3.0
  backoff_max:
    description: Longest wait in seconds between two reports to one application.
    type: float
    default: 300.0
  backoff_reset:
    description: Seconds without changes after which an application's next report goes at once again.
    type: float
    default: 300.0
  give_up_after:
    description: Seconds a watch keeps reconnecting to an unreachable API server before the source stops.
    type: float
    default: 300.0
"""

EXAMPLES = r"""
- name: Heal drift
  hosts: all
  sources:
    - gitops.kubernetes.live_changes:
        coalesce: 0.5
  rules:
    - name: Sync applications with selfHeal
      condition: event.gitops.type == "drift" and event.gitops.self_heal
      action:
        run_playbook:
          name: gitops.kubernetes.auto_sync
          extra_vars:
            gitops_hosts: "{{ event.gitops.cluster }}"
            gitops_only: ["{{ event.gitops.application }}"]
"""

LOGGER = logging.getLogger("gitops.kubernetes.live_changes")
TICK = 0.1  # seconds between looks at what is due (part of every heal's latency)


def _timing(args: dict[str, Any]) -> Timing:
    defaults = Timing()
    return Timing(
        coalesce=float(args.get("coalesce", defaults.coalesce)),
        coalesce_max=float(args.get("coalesce_max", defaults.coalesce_max)),
        backoff=float(args.get("backoff", defaults.backoff)),
        factor=float(args.get("backoff_factor", defaults.factor)),
        backoff_max=float(args.get("backoff_max", defaults.backoff_max)),
        backoff_reset=float(args.get("backoff_reset", defaults.backoff_reset)),
    )


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """Watch the inventory's applications and put a drift event on queue per drifted application."""
    sources = inventory_sources(args.get("inventory"))
    targets = await asyncio.to_thread(load_targets, sources, str(args.get("hosts") or "clusters"))
    timing = _timing(args)
    give_up_after = float(args.get("give_up_after", GIVE_UP_AFTER))
    monitors: list[LiveMonitor] = []
    eviction = asyncio.create_task(evict_periodically(targets, LOGGER.info))
    try:
        for target in targets:
            if not target.applications:
                continue
            client = KubeClient.from_params({**target.connection, "cache_dir": target.cache_dir})
            monitor = LiveMonitor(client, target.host, target.applications, timing, log=LOGGER.warning,
                                  give_up_after=give_up_after)
            await asyncio.to_thread(monitor.start)
            monitors.append(monitor)
        # the first lists are bounded like every watch: a cluster that never answers stops the source
        deadline = asyncio.get_running_loop().time() + give_up_after
        for monitor in monitors:
            while not monitor.ready and not monitor.failures:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"gitops.kubernetes.live_changes: the watches of {monitor.cluster} were not "
                                       f"ready within {give_up_after:.0f}s")
                await asyncio.sleep(TICK)
            LOGGER.info("watching %d applications of %s", len(monitor.applications), monitor.cluster)
        while True:
            for monitor in monitors:
                if monitor.failures:
                    raise RuntimeError(f"gitops.kubernetes.live_changes stopped: {monitor.failures[0]}")
                for report in monitor.due():
                    LOGGER.info("application %s on %s: %s (report %d; the next waits at least %.0fs)", report["application"],
                                report["cluster"], report["reason"], report["attempt"], report["next_report_not_before_seconds"])
                    await queue.put({"gitops": report, "meta": {"hosts": report["cluster"]}})
            await asyncio.sleep(TICK)
    finally:
        eviction.cancel()
        for monitor in monitors:
            monitor.close()
            monitor.client.close()


if __name__ == "__main__":
    # python live_changes.py INVENTORY: print the events (for trying the source without ansible-rulebook)
    class _PrintQueue(asyncio.Queue):
        async def put(self, item: Any) -> None:
            print(item, flush=True)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {"inventory": sys.argv[1:] or None}))
