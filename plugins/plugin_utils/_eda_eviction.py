# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cache eviction for the long-running event sources: a rulebook running for days keeps its disk bounded.

The syncs the rulebook starts evict their cache directory at the end of each
run; this task does it too while nothing is synced, with the limits the
inventory gives the role (gitops_cache_max_size, gitops_cache_max_age). It
looks every few minutes, which costs one stat of the marker file until an
eviction is due (once an hour per cache directory, whichever process runs it).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_evict import EvictionPolicy, evict_quietly
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.paths import default_cache_dir
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_targets import ClusterTarget

CHECK_EVERY = 300.0  # seconds between two looks at whether an eviction is due


def cache_policies(targets: list[ClusterTarget]) -> dict[str, EvictionPolicy]:
    """Each cache directory the clusters use, with its limits (the first cluster's, when several share one)."""
    policies: dict[str, EvictionPolicy] = {}
    for target in targets:
        policies.setdefault(target.cache_dir or default_cache_dir(), target.eviction)
    return policies


async def evict_periodically(targets: list[ClusterTarget], log: Callable[[str], None], every: float = CHECK_EVERY) -> None:
    """Until cancelled: evict each cache directory when due."""
    policies = cache_policies(targets)
    while True:
        for directory, policy in policies.items():
            result = await asyncio.to_thread(evict_quietly, directory, policy)
            if result is not None and (result.removed or result.kept_in_use):
                log(f"cache {directory}: removed {len(result.removed)} entries ({result.freed_bytes >> 20} MiB), "
                    f"{result.kept_bytes >> 20} MiB kept" + (f", {len(result.kept_in_use)} over the limits kept because a "
                                                             f"process uses them" if result.kept_in_use else ""))
        await asyncio.sleep(every)
