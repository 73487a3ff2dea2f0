"""Argo CD's sync policy: parsing (automated, selfHeal, retry, revisionHistoryLimit, sync options) and the decisions."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import IgnoreRule, keep_ignored_fields
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import desired_digest, parse_sync_policy
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._record import append_history
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import RetryPolicy, SyncPolicy, parse_application, parse_duration
from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.policy import decide

ARGO = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "shop"},
    "spec": {"source": {"repoURL": "https://example.org/apps.git", "path": "shop"}, "destination": {"namespace": "shop"}},
}
OURS = {"name": "shop", "source": {"repo_url": "https://example.org/apps.git"}}


def argo(sync_policy=None, **spec):
    raw = copy.deepcopy(ARGO)
    if sync_policy is not None:
        raw["spec"]["syncPolicy"] = sync_policy
    raw["spec"].update(spec)
    return parse_application(raw)


def argo_error(sync_policy=None, **spec) -> str:
    with pytest.raises(SpecError) as caught:
        argo(sync_policy, **spec)
    assert caught.value.application == "shop"
    return str(caught.value)


@pytest.mark.parametrize("sync_policy, automated, self_heal", [
    (None, False, False),
    ({"syncOptions": ["CreateNamespace=true"]}, False, False),
    ({"automated": {}}, True, False),
    ({"automated": {"prune": True}}, True, False),
    ({"automated": {"selfHeal": True}}, True, True),
    ({"automated": {"enabled": False, "selfHeal": True}}, False, False),
    ({"automated": {"enabled": True}}, True, False),
    ({"automated": {"enabled": None, "selfHeal": True}}, True, True),
])
def test_argocd_automated_and_self_heal_keep_their_argocd_meaning(sync_policy, automated, self_heal):
    policy = argo(sync_policy).sync_policy
    assert (policy.automated, policy.self_heal) == (automated, self_heal)


def test_our_spec_stays_automated_with_self_heal_unless_told_otherwise():
    raw = copy.deepcopy(OURS)
    assert (parse_application(raw).sync_policy.automated, parse_application(raw).sync_policy.self_heal) == (True, True)
    raw["sync_policy"] = {"self_heal": False}
    assert (parse_application(raw).sync_policy.automated, parse_application(raw).sync_policy.self_heal) == (True, False)
    raw["sync_policy"] = {"automated": False}
    assert (parse_application(raw).sync_policy.automated, parse_application(raw).sync_policy.self_heal) == (False, False)
    assert parse_sync_policy({"automated": False, "self_heal": True}).self_heal is False


@pytest.mark.parametrize("text, seconds", [
    ("5s", 5.0), ("3m", 180.0), ("1h30m", 5400.0), ("300ms", 0.3), ("1.5h", 5400.0), ("20", 20.0), (7, 7.0),
])
def test_argocd_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 s", "-5s", "5d", "s", True, -1, "1h-2m"])
def test_invalid_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_retry_is_read_with_argocd_defaults_and_backoff():
    retry = argo({"retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}}).sync_policy.retry
    assert retry == RetryPolicy(limit=5, duration=5.0, factor=2, max_duration=180.0)
    assert [retry.wait_before(n) for n in range(7)] == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 180.0]
    assert [retry.allows(n) for n in (0, 4, 5)] == [True, True, False]
    assert argo({"retry": {"limit": 2}}).sync_policy.retry == RetryPolicy(limit=2, duration=5.0, factor=2, max_duration=180.0)
    unlimited = argo({"retry": {"limit": -1}}).sync_policy.retry
    assert unlimited.allows(10_000)
    assert argo().sync_policy.retry is None
    ours = parse_application({**OURS, "sync_policy": {"retry": {"limit": 1, "backoff": {"duration": "1m", "max_duration": 30}}}})
    assert ours.sync_policy.retry == RetryPolicy(limit=1, duration=60.0, factor=2, max_duration=30.0)
    assert ours.sync_policy.retry.wait_before(0) == 30.0


@pytest.mark.parametrize("retry, words", [
    ({"limit": "x"}, "spec.syncPolicy.retry.limit: must be a whole number, got 'x'"),
    ({"limit": -2}, "spec.syncPolicy.retry.limit: -2 is not a retry limit"),
    ({"limit": 1.5}, "spec.syncPolicy.retry.limit: must be a whole number"),
    ({"limit": True}, "spec.syncPolicy.retry.limit: must be a whole number"),
    ({"backoff": {"duration": "5 s"}}, "spec.syncPolicy.retry.backoff.duration: '5 s' is not a duration"),
    ({"backoff": {"maxDuration": "-1m"}}, "spec.syncPolicy.retry.backoff.maxDuration: '-1m' is not a duration"),
    ({"backoff": {"factor": 0}}, "spec.syncPolicy.retry.backoff.factor: 0 is not a backoff factor"),
    ({"backoff": {"factor": "two"}}, "spec.syncPolicy.retry.backoff.factor: must be a whole number"),
    ({"backoff": {"jitter": 1}}, "spec.syncPolicy.retry.backoff.jitter: unknown key"),
    ({"refresh": True}, "spec.syncPolicy.retry.refresh: retry.refresh is not supported"),
])
def test_invalid_retry_values_are_refused_naming_the_application_and_the_field(retry, words):
    assert words in argo_error({"retry": retry})


def test_revision_history_limit_and_info():
    application = argo(revisionHistoryLimit=3, info=[{"name": "Runbook", "value": "https://wiki.example/shop"}])
    assert application.sync_policy.history_limit == 3
    assert application.info == [{"name": "Runbook", "value": "https://wiki.example/shop"}]
    assert argo().sync_policy.history_limit == 10
    assert argo(revisionHistoryLimit=0).sync_policy.history_limit == 0
    assert "spec.revisionHistoryLimit: -1 is not a number of syncs to keep" in argo_error(revisionHistoryLimit=-1)
    assert "spec.info[0].name: is required" in argo_error(info=[{"value": "x"}])
    assert parse_application({**OURS, "revision_history_limit": 4}).sync_policy.history_limit == 4


def test_history_keeps_the_last_limit_entries_numbered_on():
    history: list = []
    for number in range(5):
        history = append_history(history, {"revision": str(number)}, 2)
    assert [(entry["id"], entry["revision"]) for entry in history] == [(4, "3"), (5, "4")]
    assert append_history(history, {"revision": "x"}, 0) == []


def test_our_spec_has_replace_and_force_as_two_policies():
    policy = parse_application({**OURS, "sync_policy": {"replace": True}}).sync_policy
    assert (policy.replace, policy.force) == (True, False)
    policy = parse_application({**OURS, "sync_policy": {"force": True}}).sync_policy
    assert (policy.replace, policy.force) == (False, True)


def test_sync_options_map_to_the_policy():
    policy = argo({"syncOptions": [
        "CreateNamespace=true", "PruneLast=true", "Replace=true", "PrunePropagationPolicy=orphan", "ServerSideApply=true",
        "ApplyOutOfSyncOnly=false", "SkipDryRunOnMissingResource=true", "FailOnSharedResource=true",
        "RespectIgnoreDifferences=true", "Validate=false", "Prune=confirm", "Delete=false"],
        "managedNamespaceMetadata": {"labels": {"team": "a"}, "annotations": {"owner": "b"}}}).sync_policy
    assert (policy.create_namespace, policy.prune_last, policy.replace, policy.prune_propagation_policy) == (True, True, True, "orphan")
    assert (policy.skip_dry_run_on_missing_resource, policy.fail_on_shared_resource, policy.respect_ignore_differences,
            policy.validate) == (True, True, True, False)
    assert (policy.object_prune, policy.object_delete) == ("confirm", "false")
    assert (policy.managed_namespace_labels, policy.managed_namespace_annotations) == ({"team": "a"}, {"owner": "b"})


@pytest.mark.parametrize("option, words", [
    ("ServerSideApply=false", "client-side apply (ServerSideApply=false) is not done"),
    ("Prune=later", "'later' must be one of true, false, confirm"),
    ("Validate=maybe", "Validate=maybe must be true or false"),
    ("ClientSideApplyMigration=false", "ClientSideApplyMigration is not supported"),
    ("SkipSchemaValidation=true", "is not a sync option Argo CD documents"),
    ("Force=true", "Argo CD does not read Force from the application's syncOptions"),
])
def test_unsupported_or_malformed_sync_options_are_refused_by_name(option, words):
    assert words in argo_error({"syncOptions": [option]})


LAST = {"digest": "d1", "revision": "abc", "result": "Succeeded"}


@pytest.mark.parametrize("policy, manual_sync, digest, last, sync, words", [
    (SyncPolicy(automated=False, self_heal=False), False, "d1", None, False, "manual application"),
    (SyncPolicy(automated=False, self_heal=False), True, "d1", LAST, True, ""),
    (SyncPolicy(automated=True, self_heal=True), False, "d1", LAST, True, ""),
    (SyncPolicy(automated=True, self_heal=False), False, "d1", None, True, ""),
    (SyncPolicy(automated=True, self_heal=False), False, "d2", LAST, True, ""),
    (SyncPolicy(automated=True, self_heal=False), False, "d1", LAST, False, "unchanged since the last sync (abc, Succeeded)"),
    (SyncPolicy(automated=True, self_heal=False), False, "d1", {**LAST, "result": "Failed"}, False, "Failed"),
    (SyncPolicy(automated=True, self_heal=False), True, "d1", LAST, True, ""),
])
def test_when_a_run_syncs(policy, manual_sync, digest, last, sync, words):
    decision = decide(policy, manual_sync, digest, last)
    assert decision.sync is sync
    assert words in decision.reason


def test_the_digest_changes_with_revision_or_spec_only():
    base = desired_digest("abc", {"path": "shop"})
    assert base == desired_digest("abc", {"path": "shop"})
    assert base != desired_digest("abd", {"path": "shop"})
    assert base != desired_digest("abc", {"path": "shop2"})


def test_respect_ignore_differences_keeps_live_values_of_ignored_fields():
    rules = [IgnoreRule(group="apps", kind="Deployment", json_pointers=["/spec/replicas", "/metadata/labels/tier"])]
    ref = ObjectRef("apps", "Deployment", "shop", "api")
    desired = {"metadata": {"name": "api", "labels": {"tier": "web"}}, "spec": {"replicas": 2, "image": "b"}}
    live = {"metadata": {"name": "api"}, "spec": {"replicas": 5, "image": "a"}}
    kept = keep_ignored_fields(rules, ref, desired, live)
    assert kept == {"metadata": {"name": "api", "labels": {}}, "spec": {"replicas": 5, "image": "b"}}
    assert desired["spec"]["replicas"] == 2  # the desired manifest itself is not changed
    assert keep_ignored_fields(rules, ObjectRef("", "ConfigMap", "shop", "api"), desired, live) is desired


def test_the_report_says_why_an_application_was_not_synced_and_how_many_attempts_one_took():
    from ansible_collections.gitops.kubernetes.plugins.module_utils._report import SYNC, build_report

    skipped = {"name": "shop", "sync_status": "OutOfSync", "health_status": "Healthy", "revision": "abc",
               "counts": {"configured": 1, "unchanged": 2}, "resources": [],
               "skipped": "manual application (no automated sync policy): drift is reported, not synced"}
    retried = {"name": "cart", "sync_status": "Synced", "health_status": "Healthy", "revision": "abc",
               "counts": {"created": 1}, "resources": [], "attempts": [{"attempt": 1}, {"attempt": 2}]}
    report = build_report([{"cluster": "prod", "result": {"applications": [skipped, retried]}}], SYNC)
    assert report.summary_lines()[:2] == [
        "prod/shop: OutOfSync, Healthy at abc: not synced (manual application (no automated sync policy)); "
        "would be: 1 configured; 2 unchanged",
        "prod/cart: Synced, Healthy at abc: 1 created; after 2 attempts",
    ]
    apps = report.to_dict()["clusters"][0]["applications"]
    assert apps[0]["skipped"].startswith("manual application") and apps[1]["attempts"] == 2


def _prune_entry(name: str, wave: int, prune_last: bool = False):
    from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import SyncOptions
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync import PRUNED, ObjectResult

    return ObjectResult(ref=ObjectRef("", "ConfigMap", "shop", name), api_version="v1", action=PRUNED, wave=wave,
                        options=SyncOptions(prune_last=prune_last))


@pytest.mark.parametrize("policy, expected", [
    # prune waves reversed (created first, pruned last), each run before the applies of its wave
    (SyncPolicy(prune=True), {-1: ["c"], 1: ["b"], 2: ["a"], 4: ["last"]}),
    # PruneLast: every prune after the last wave
    (SyncPolicy(prune=True, prune_last=True), {4: ["a", "b", "c", "last"]}),
])
def test_prunes_run_per_wave_as_argo_cd_orders_them(policy, expected):
    from types import SimpleNamespace

    from ansible_collections.gitops.kubernetes.plugins.module_utils._plan import build_plan
    from ansible_collections.gitops.kubernetes.plugins.module_utils._sync.run import _Run

    desired = [({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"keep{wave}", "annotations": {
        "argocd.argoproj.io/sync-wave": str(wave)}}}, None) for wave in (0, 3)]
    prepared = SimpleNamespace(diff=SimpleNamespace(namespace="shop", inventory=None), plan=build_plan(desired, []),
                               prune=[_prune_entry("a", -1), _prune_entry("b", 0), _prune_entry("c", 2),
                                      _prune_entry("last", 1, prune_last=True)])
    waves = _Run(None, "shop", prepared, policy, None, None).prune_waves()
    assert {wave: sorted(e.ref.name for e in entries) for wave, entries in waves.items()} == expected
