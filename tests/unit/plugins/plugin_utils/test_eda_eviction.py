"""The event sources evict the cache directories of their clusters with the inventory's limits, while they run."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_eviction import evict_periodically
from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_targets import load_targets


def inventory(tmp_path, **host_vars):
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump({"clusters": {"hosts": {"prod": {"gitops_cache_dir": str(tmp_path / "cache"), **host_vars}}}}))
    return load_targets([str(path)])


def test_the_inventory_limits_and_chart_credentials_reach_the_event_sources(tmp_path):
    [target] = inventory(tmp_path, gitops_cache_max_size="1GiB", gitops_cache_max_age="2d",
                         gitops_repositories=[{"url": "https://charts.example.org", "username": "ci", "password": "p"}])
    assert (target.eviction.max_bytes, target.eviction.max_age) == (1 << 30, 2 * 86400)
    assert [(c.url, c.username) for c in target.repositories] == [("https://charts.example.org", "ci")]
    [default] = inventory(tmp_path)
    assert (default.eviction.max_bytes, default.eviction.max_age) == (5 << 30, 14 * 86400)


def test_a_bad_limit_in_the_inventory_names_the_host_and_the_variable_option(tmp_path):
    with pytest.raises(SpecError, match="inventory host prod: cache_max_size must be a size"):
        inventory(tmp_path, gitops_cache_max_size="huge")


def test_a_running_source_evicts_entries_older_than_the_maximum_age(tmp_path):
    [target] = inventory(tmp_path, gitops_cache_max_age="1d")
    old = tmp_path / "cache" / "render" / "ab" / ("ab" + "0" * 62 + ".json")
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    logged: list[str] = []

    async def run() -> None:
        task = asyncio.create_task(evict_periodically([target], logged.append, every=0.01))
        deadline = time.monotonic() + 30
        while old.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    assert not old.exists() and logged and logged[0].startswith(f"cache {tmp_path / 'cache'}: removed 1 entries")
