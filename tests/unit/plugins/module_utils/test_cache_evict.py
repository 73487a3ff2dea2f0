"""Cache eviction: by age, by total size least recently used first, never an entry a process uses, once per interval."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils import _cache_use
from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_evict import (
    EvictionPolicy,
    evict,
    evict_if_due,
    parse_age,
    parse_size,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.cache import RenderCache
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.chart import ChartCache
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.git import GitSource
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import SourceSpec

from test_revision_watch import git

NOW = 2_000_000_000.0
DAY = 86400.0


@pytest.fixture(autouse=True)
def _release():
    yield
    _cache_use.release_all()


def aged(path: Path, days_ago: float) -> Path:
    os.utime(path, (NOW - days_ago * DAY, NOW - days_ago * DAY))
    return path


def render_file(root: Path, key: str, size: int, days_ago: float) -> Path:
    path = root / "render" / key[:2] / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return aged(path, days_ago)


def mirror(root: Path, name: str, size: int, days_ago: float) -> Path:
    path = root / "git" / f"{name}.git"
    (path / "objects").mkdir(parents=True)
    (path / "objects" / "pack").write_bytes(b"x" * size)
    inuse = root / "git" / f".{name}.git.inuse"
    inuse.touch()
    aged(inuse, days_ago)
    return path


@pytest.mark.parametrize("text,expected", [("5GiB", 5 << 30), ("500M", 500 << 20), ("1g", 1 << 30), ("2 KB", 2048),
                                           ("1048576", 1 << 20), ("0", 0), (1024, 1024)])
def test_sizes_read_like_ansible_binary_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text,expected", [("14d", 14 * DAY), ("12h", 12 * 3600), ("2w", 14 * DAY), ("90s", 90), ("30m", 1800),
                                           ("3", 3 * DAY), ("0", 0)])
def test_ages_take_units_and_a_bare_number_is_days(text, expected):
    assert parse_age(text) == expected


def test_a_bad_size_or_age_is_refused_naming_the_option():
    with pytest.raises(SpecError, match="cache_max_size must be a size such as 5GiB.*'lots'"):
        EvictionPolicy.from_options("lots", "14d")
    with pytest.raises(SpecError, match="cache_max_age must be an age such as 14d.*'-1d'"):
        EvictionPolicy.from_options("5GiB", "-1d")


def test_entries_unused_longer_than_the_maximum_age_are_removed_and_recent_ones_kept(tmp_path):
    old_render = render_file(tmp_path, "aa" + "0" * 62, 10, days_ago=20)
    new_render = render_file(tmp_path, "bb" + "0" * 62, 10, days_ago=1)
    old_mirror = mirror(tmp_path, "old-1234", 10, days_ago=30)
    new_mirror = mirror(tmp_path, "new-1234", 10, days_ago=2)
    result = evict(tmp_path, EvictionPolicy.from_options("0", "14d"), now=NOW)
    assert not old_render.exists() and not old_mirror.exists()
    assert new_render.exists() and new_mirror.exists()
    assert sorted(result.removed) == ["git/old-1234.git", f"render/aa/{old_render.name}"]
    assert result.freed_bytes == 20 and result.kept_bytes == 20
    assert not list((tmp_path / "git").glob(".evicted-*"))  # the renamed mirror is deleted too


def test_over_the_maximum_size_the_least_recently_used_go_first_until_under_it(tmp_path):
    files = [render_file(tmp_path, f"{i:02d}" + "0" * 62, 100, days_ago=age) for i, age in enumerate([5, 1, 3, 2, 4])]
    result = evict(tmp_path, EvictionPolicy.from_options("300", "0"), now=NOW)
    # 500 bytes, 300 allowed: the two least recently used (5 and 4 days ago) go, in that order
    assert result.removed == [f"render/00/{files[0].name}", f"render/04/{files[4].name}"]
    assert [f.exists() for f in files] == [False, True, True, True, False]
    assert result.kept_bytes == 300


def test_a_cache_hit_makes_a_render_recently_used(tmp_path):
    cache = RenderCache(str(tmp_path))
    for key in ("a" * 64, "b" * 64):
        cache.store(key, "directory", [])
    for key, days_ago in (("a" * 64, 10), ("b" * 64, 5)):
        os.utime(tmp_path / "render" / key[:2] / f"{key}.json", (time.time() - days_ago * DAY,) * 2)
    assert cache.load("a" * 64) is not None  # used now: "b" is the least recently used
    size = (tmp_path / "render" / "aa" / f"{'a' * 64}.json").stat().st_size
    evict(tmp_path, EvictionPolicy.from_options(str(size), "0"), now=time.time())
    assert cache.load("a" * 64) is not None and cache.load("b" * 64) is None


def remote_repository(tmp_path: Path) -> Path:
    path = tmp_path / "remote"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "a.yaml").write_text("a: 1\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "one")
    return path


def _use_mirror_and_wait(cache_dir: str, remote: str, ready, done) -> None:
    GitSource(SourceSpec(repo_url=f"file://{remote}", revision="main"), cache_dir=cache_dir).resolve()
    ready.set()
    done.wait(60)


def test_a_mirror_another_process_uses_is_kept_however_old_and_removed_once_it_exits(tmp_path):
    remote = remote_repository(tmp_path)
    cache = tmp_path / "cache"
    context = multiprocessing.get_context("fork")
    ready, done = context.Event(), context.Event()
    user = context.Process(target=_use_mirror_and_wait, args=(str(cache), str(remote), ready, done))
    user.start()
    try:
        assert ready.wait(60)
        (mirror_dir,) = (cache / "git").glob("*.git")
        aged(cache / "git" / f".{mirror_dir.name}.inuse", 100)
        result = evict(cache, EvictionPolicy.from_options("1", "1d"), now=NOW)
        assert mirror_dir.exists() and result.kept_in_use == [f"git/{mirror_dir.name}"] and result.removed == []
    finally:
        done.set()
        user.join(60)
    result = evict(cache, EvictionPolicy.from_options("1", "1d"), now=NOW)
    assert result.removed == [f"git/{mirror_dir.name}"] and not mirror_dir.exists()


def test_a_mirror_this_process_used_is_kept_and_resolving_again_after_eviction_rebuilds_it(tmp_path):
    remote = remote_repository(tmp_path)
    source = GitSource(SourceSpec(repo_url=f"file://{remote}", revision="main"), cache_dir=str(tmp_path / "cache"))
    first = source.resolve().sha
    assert evict(tmp_path / "cache", EvictionPolicy.from_options("1", "0")).kept_in_use == [f"git/{source.mirror_dir.name}"]
    _cache_use.release_all()  # as a new process would be
    assert evict(tmp_path / "cache", EvictionPolicy.from_options("1", "0")).removed == [f"git/{source.mirror_dir.name}"]
    assert not source.mirror_dir.exists()
    again = source.resolve()
    assert again.sha == first and again.fetched and source.mirror_dir.exists()


def test_chart_archives_of_a_repository_in_use_are_kept_and_go_least_recently_used_first_when_free(tmp_path):
    cache = ChartCache(str(tmp_path), "https://charts.example.org")
    cache.store("web", "1.0.0", b"a" * 100)
    cache.store("web", "1.1.0", b"b" * 100)
    aged(cache.directory / "web" / "1.0.0.tgz", 3)
    aged(cache.directory / "web" / "1.1.0.tgz", 2)
    assert evict(tmp_path, EvictionPolicy.from_options("250", "0"), now=NOW).removed == []  # this process uses them
    _cache_use.release_all()
    result = evict(tmp_path, EvictionPolicy.from_options("250", "0"), now=NOW)
    assert result.removed == [f"charts/{cache.directory.name}/web/1.0.0.tgz"]
    assert not (cache.directory / "web" / "1.0.0.json").exists()
    assert cache.load("web", "1.1.0") is not None and cache.load("web", "1.0.0") is None


def test_eviction_runs_at_most_once_per_interval_per_cache_directory(tmp_path):
    old = render_file(tmp_path, "aa" + "0" * 62, 10, days_ago=20)
    policy = EvictionPolicy.from_options("0", "14d", interval=3600)
    assert evict_if_due(tmp_path, policy, now=NOW).removed == [f"render/aa/{old.name}"]
    again = render_file(tmp_path, "ab" + "0" * 62, 10, days_ago=20)
    assert evict_if_due(tmp_path, policy, now=NOW + 3500) is None and again.exists()  # not due: one stat
    assert evict_if_due(tmp_path, policy, now=NOW + 3700).removed == [f"render/ab/{again.name}"]


def test_a_process_that_finds_another_evicting_goes_on_without_evicting(tmp_path):
    import fcntl

    old = render_file(tmp_path, "aa" + "0" * 62, 10, days_ago=20)
    with open(tmp_path / ".eviction.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert evict_if_due(tmp_path, EvictionPolicy.from_options("0", "14d"), now=NOW) is None
    assert old.exists()


def test_no_limits_means_no_eviction(tmp_path):
    old = render_file(tmp_path, "aa" + "0" * 62, 10, days_ago=2000)
    assert evict_if_due(tmp_path, EvictionPolicy.from_options("0", "0"), now=NOW) is None and old.exists()


def test_chart_dependency_builds_go_whole_by_the_age_of_their_last_use_and_leftovers_of_killed_runs_go(tmp_path):
    builds = tmp_path / "chart-deps" / "ab"
    for name, days_ago in (("ab-old", 30), ("ab-new", 1)):
        (builds / name).mkdir(parents=True)
        (builds / name / "dep-1.0.0.tgz").write_bytes(b"x" * 10)
        (builds / name / ".complete").touch()
        aged(builds / name / ".complete", days_ago)
    (builds / "ab-new.partial-4242").mkdir()
    aged(builds / "ab-new.partial-4242", 3)
    (tmp_path / "git").mkdir()
    (tmp_path / "git" / ".evicted-x.git-12345678").mkdir()  # a mirror an eviction renamed, then was killed
    result = evict(tmp_path, EvictionPolicy.from_options("0", "14d"), now=NOW)
    assert result.removed == ["chart-deps/ab/ab-old"] and result.kept_bytes == 10
    assert sorted(p.name for p in builds.iterdir()) == ["ab-new"]
    assert list((tmp_path / "git").iterdir()) == []
