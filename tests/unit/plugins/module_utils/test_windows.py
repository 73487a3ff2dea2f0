"""Sync windows: cron schedules and durations as Argo CD reads them, and Argo CD's CanSync rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._windows import (
    CronSchedule,
    SyncWindow,
    WindowError,
    can_sync,
    parse_duration,
)

# a Wednesday
NOW = datetime(2026, 11, 25, 12, 30, 20, tzinfo=timezone.utc)


def window(kind: str = "deny", schedule: str = "* * * * *", duration: str = "1h", manual: bool = False,
           time_zone: str = "UTC", **match: list[str]) -> SyncWindow:
    return SyncWindow(kind=kind, schedule=CronSchedule.parse(schedule), duration=parse_duration(duration),
                      duration_text=duration, time_zone=time_zone, manual_sync=manual,
                      applications=match.get("applications", ["*"]), namespaces=match.get("namespaces", []),
                      clusters=match.get("clusters", []), and_operator=bool(match.get("and_operator")))


@pytest.mark.parametrize("schedule, moment, fires", [
    ("30 12 * * *", datetime(2026, 11, 25, 12, 30), True),
    ("30 12 * * *", datetime(2026, 11, 25, 12, 31), False),
    ("*/15 * * * *", datetime(2026, 11, 25, 9, 45), True),
    ("*/15 * * * *", datetime(2026, 11, 25, 9, 46), False),
    ("0 9-17 * * mon-fri", datetime(2026, 11, 25, 17, 0), True),  # Wednesday
    ("0 9-17 * * mon-fri", datetime(2026, 11, 29, 12, 0), False),  # Sunday
    ("0 0 * * 7", datetime(2026, 11, 29, 0, 0), True),  # 7 is Sunday too
    ("0 0 1 jan *", datetime(2027, 1, 1, 0, 0), True),
    # both day fields restricted: either matches (robfig/cron, like Vixie cron)
    ("0 0 1 * mon", datetime(2026, 11, 30, 0, 0), True),
    ("0 0 1 * mon", datetime(2026, 11, 25, 0, 0), False),
    # one restricted, the other '*': both must match
    ("0 0 1 * *", datetime(2026, 11, 30, 0, 0), False),
    ("5/20 * * * *", datetime(2026, 11, 25, 9, 45), True),
])
def test_cron_schedules_fire_like_robfig_cron(schedule, moment, fires):
    assert CronSchedule.parse(schedule).fires_at(moment) is fires


@pytest.mark.parametrize("schedule, message", [
    ("* * * *", "must have 5 fields"),
    ("61 * * * *", "minute 61 is outside 0-59"),
    ("* * * * funday", "'funday' is not a valid day of week"),
    ("*/0 * * * *", "step '0' of the minute must be a positive number"),
    ("10-5 * * * *", "runs backwards"),
    ("@daily", "must have 5 fields"),  # Argo CD's parser takes no descriptors either
])
def test_malformed_schedules_are_refused_with_the_reason(schedule, message):
    with pytest.raises(WindowError, match=message):
        CronSchedule.parse(schedule)


@pytest.mark.parametrize("text, expected", [("1h", timedelta(hours=1)), ("1h30m", timedelta(minutes=90)),
                                            ("90s", timedelta(seconds=90)), ("1.5h", timedelta(minutes=90))])
def test_durations_are_go_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["1d", "", "h", "-1h", "0s", "10 minutes", "800h"])
def test_malformed_durations_are_refused(text):
    with pytest.raises(WindowError):
        parse_duration(text)


def test_a_window_is_active_for_its_duration_after_each_firing_in_its_time_zone():
    daily = window(schedule="0 12 * * *", duration="1h")
    assert daily.active(NOW)
    assert not daily.active(NOW + timedelta(hours=1))
    assert not daily.active(NOW - timedelta(minutes=31))
    # 12:00 in Berlin (UTC+1 in November) is 11:00 UTC: closed at 12:30 UTC
    berlin = window(schedule="0 12 * * *", duration="1h", time_zone="Europe/Berlin")
    assert not berlin.active(NOW)
    assert berlin.active(NOW - timedelta(hours=1))


def test_a_firing_at_this_very_minute_opens_the_window_only_after_it():
    assert not window(schedule="30 12 * * *", duration="1h").active(NOW.replace(second=0))
    assert window(schedule="30 12 * * *", duration="1h").active(NOW)


def test_deny_wins_over_allow_and_manual_sync_needs_every_active_deny_to_allow_it():
    allow, deny = window("allow"), window("deny")
    verdict = can_sync([allow, deny], "shop", "shop", "", "", manual=False, now=NOW)
    assert not verdict.allowed and verdict.windows == [deny]
    assert verdict.reason() == "inside deny window '* * * * *' for 1h"
    assert can_sync([window("deny", manual=True)], "shop", "shop", "", "", manual=True, now=NOW).allowed
    assert not can_sync([window("deny", manual=True)], "shop", "shop", "", "", manual=False, now=NOW).allowed
    assert not can_sync([window("deny", manual=True), deny], "shop", "shop", "", "", manual=True, now=NOW).allowed


def test_matching_allow_windows_that_are_all_closed_block_the_sync():
    closed = window("allow", schedule="0 0 1 1 *", duration="1m")
    verdict = can_sync([closed], "shop", "shop", "", "", manual=False, now=NOW)
    assert not verdict.allowed and verdict.reason().startswith("outside every allow window: allow window '0 0 1 1 *'")
    assert can_sync([closed, window("allow")], "shop", "shop", "", "", manual=False, now=NOW).allowed
    assert can_sync([window("allow", schedule="0 0 1 1 *", duration="1m", manual=True)], "shop", "shop", "", "",
                    manual=True, now=NOW).allowed
    # a window for other applications does not concern this one
    assert can_sync([window("allow", schedule="0 0 1 1 *", duration="1m", applications=["web-*"])], "shop", "shop",
                    "", "", manual=False, now=NOW).allowed


def test_windows_match_applications_namespaces_or_clusters_and_all_of_them_with_and_operator():
    by_cluster = window(applications=[], clusters=["prod-*"])
    assert by_cluster.matches("shop", "shop", "https://10.0.0.1:6443", "prod-eu")
    assert not by_cluster.matches("shop", "shop", "https://10.0.0.1:6443", "staging")
    either = window(applications=["shop"], namespaces=["team-*"])
    assert either.matches("shop", "other", "", "") and either.matches("web", "team-a", "", "")
    both = window(applications=["shop"], namespaces=["team-*"], and_operator=["yes"])
    assert both.matches("shop", "team-a", "", "") and not both.matches("shop", "other", "", "")
