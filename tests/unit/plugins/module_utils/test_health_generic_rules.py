"""Unit tests for the generic health judgment's rules that hold across many kinds (_health/generic.py).

Each object here is made up for the rule it protects (kinds of an imaginary example.io group), written as
controllers commonly write their status; none is taken from another project's test data.
"""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._health import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    assess,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.generic import generic


def widget(status: dict[str, Any] | None = None, generation: int | None = 1, kind: str = "Widget",
           spec: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "w1", "namespace": "shop"}
    if generation is not None:
        metadata["generation"] = generation
    obj: dict[str, Any] = {"apiVersion": "example.io/v1", "kind": kind, "metadata": metadata, "spec": spec or {}}
    if status is not None:
        obj["status"] = status
    return obj


def cond(kind: str, status: str, reason: str = "", message: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message, **extra}


def judged(obj: dict[str, Any]) -> tuple[str, str]:
    health = generic(obj)
    return health.status, health.message


def test_observed_generation_is_no_lag_when_the_object_has_no_generation():
    # a controller that starts observedGeneration at -1, on an object served without metadata.generation
    obj = widget({"observedGeneration": -1, "conditions": [cond("Ready", "False", "SourceMissing", "source bucket gone")]},
                 generation=None)
    status, message = judged(obj)
    assert status != PROGRESSING or "observe generation" not in message
    assert status == DEGRADED and "source bucket gone" in message


def test_observed_generation_behind_the_object_is_still_progressing():
    status, message = judged(widget({"observedGeneration": 2, "phase": "Ready"}, generation=3))
    assert status == PROGRESSING and "observe generation 3" in message


@pytest.mark.parametrize("message", ["Error: schema checksum mismatch", "failed to resolve the referenced secret"])
def test_not_ready_with_a_message_that_says_failure_is_degraded_whatever_the_reason(message: str):
    status, said = judged(widget({"conditions": [cond("Ready", "False", "Applying", message)]}))
    assert (status, said) == (DEGRADED, f"Ready is False: {message}")


def test_not_ready_with_a_message_that_only_mentions_an_error_later_is_waited_for():
    status, message = judged(widget({"conditions": [cond("Ready", "False", "Applying", "retrying after a transient error")]}))
    assert status == PROGRESSING and "retrying" in message


@pytest.mark.parametrize("reason", ["Progressing", "Retrying", "ReconcileInProgress"])
def test_a_failure_message_under_a_reason_that_says_work_goes_on_is_waited_for(reason: str):
    status, message = judged(widget({"conditions": [cond("Ready", "False", reason, "failed to pull the chart, will retry")]}))
    assert status == PROGRESSING and "failed to pull the chart" in message


def test_inconclusive_phase_is_unknown():
    assert judged(widget({"phase": "Inconclusive"})) == (UNKNOWN, "status.phase is Inconclusive")


@pytest.mark.parametrize(
    "condition, expected",
    [
        (cond("Admitted", "Unknown"), PROGRESSING),
        (cond("Admitted", "True"), HEALTHY),
        (cond("Admitted", "False", "HostTaken"), DEGRADED),
    ],
)
def test_admitted_conditions_of_each_ingress_entry(condition: dict[str, Any], expected: str):
    obj = widget({"ingress": [{"host": "shop.example", "conditions": [condition]}]})
    assert judged(obj)[0] == expected


@pytest.mark.parametrize(
    "condition, expected",
    [
        # the controller turned the object down: waiting does not change that
        (cond("Accepted", "False", "UnsupportedValue", "listener protocol not supported"), DEGRADED),
        (cond("Accepted", "False", "NoMatchingParent", "no listener matches"), DEGRADED),
        # Pending: not looked at yet
        (cond("Accepted", "False", "Pending", "waiting for a controller"), PROGRESSING),
        (cond("Accepted", "Unknown", "Pending"), PROGRESSING),
        (cond("Valid", "False", "BadQuery", "the query does not parse"), DEGRADED),
        (cond("Valid", "True", "Parsed"), HEALTHY),
    ],
)
def test_a_verdict_on_the_spec_is_degraded_a_pending_one_waits(condition: dict[str, Any], expected: str):
    obj = widget({"parents": [{"controllerName": "example.io/gateway", "conditions": [condition]}]})
    assert judged(obj)[0] == expected


@pytest.mark.parametrize(
    "condition, expected",
    [
        (cond("Complete", "True", "RunFailed", "3 of 4 statements failed"), DEGRADED),
        (cond("Finished", "True", "Errored"), DEGRADED),
        (cond("Complete", "True", "RunSucceeded", "all statements applied"), HEALTHY),
    ],
)
def test_a_run_that_completed_is_degraded_when_its_reason_says_it_failed(condition: dict[str, Any], expected: str):
    assert judged(widget({"conditions": [condition]}, kind="SchemaJob"))[0] == expected


@pytest.mark.parametrize(
    "reason, expected",
    [
        ("Stopped", SUSPENDED),
        ("Hibernated", SUSPENDED),
        ("ReconcileSuspended", SUSPENDED),
        ("NotStopped", PROGRESSING),
        ("Unpaused", PROGRESSING),
    ],
)
def test_not_ready_because_put_to_rest_is_suspended(reason: str, expected: str):
    assert judged(widget({"conditions": [cond("Ready", "False", reason)]}))[0] == expected


def test_a_stopped_phase_explains_a_ready_false_condition():
    obj = widget({"printableStatus": "Stopped", "conditions": [cond("Ready", "False", "GuestGone", "no guest running")]})
    assert judged(obj) == (SUSPENDED, "status.printableStatus is Stopped")


@pytest.mark.parametrize(
    "reason, expected",
    [
        ("Running", PROGRESSING),  # a reconcile at work
        ("Successful", HEALTHY),  # the last one succeeded and the operator awaits the next
    ],
)
def test_running_condition_is_a_reconcile_at_work_until_its_reason_says_success(reason: str, expected: str):
    assert judged(widget({"conditions": [cond("Running", "True", reason, "Running reconciliation")]}))[0] == expected


def test_running_condition_does_not_hide_a_ready_widget_once_successful():
    obj = widget({"conditions": [cond("Running", "True", "Successful"), cond("Successful", "True", "Successful")]})
    assert judged(obj) == (HEALTHY, "Successful is True: Successful")


@pytest.mark.parametrize(
    "spec, status, expected, words",
    [
        # the update reached the partition: the rest waits for a person to lower it
        ({"replicas": 6, "updateStrategy": {"partition": 2}}, {"replicas": 6, "updatedReplicas": 4, "readyReplicas": 6},
         SUSPENDED, "held at partition 2: 4 of 6"),
        ({"updateStrategy": {"rollingUpdate": {"partition": 3}}},
         {"desiredNumberScheduled": 5, "numberReady": 5, "updatedNumberScheduled": 2}, SUSPENDED, "held at partition 3"),
        # not yet at the partition: still rolling
        ({"replicas": 6, "updateStrategy": {"partition": 2}}, {"replicas": 6, "updatedReplicas": 1, "readyReplicas": 6},
         PROGRESSING, "1 of 6 updated"),
        # pods not ready: waited for, partition or not
        ({"replicas": 6, "updateStrategy": {"partition": 2}}, {"replicas": 6, "updatedReplicas": 4, "readyReplicas": 3},
         PROGRESSING, "3 of 6 ready"),
        # all updated despite a partition: nothing held
        ({"replicas": 2, "updateStrategy": {"partition": 1}}, {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2},
         HEALTHY, "no health information found"),
    ],
)
def test_partitioned_update(spec: dict[str, Any], status: dict[str, Any], expected: str, words: str):
    status_, message = judged(widget(status, spec=spec, kind="PodSet"))
    assert status_ == expected and words in message, message


def test_node_counts_of_a_daemonset_like_kind():
    obj = widget({"desiredNumberScheduled": 4, "numberReady": 1, "updatedNumberScheduled": 4}, kind="NodeAgent")
    assert judged(obj) == (PROGRESSING, "Waiting for replicas: 1 of 4 ready")


@pytest.mark.parametrize(
    "status, words",
    [
        ({"ready": 2, "size": 5, "state": "initializing"}, "status.state is initializing"),
        ({"ready": 2, "size": 5}, "Waiting for ready: 2 of 5"),
        ({"shards": {"east": {"members": 3, "readyMembers": 1}}}, "Waiting for shards.east.readyMembers: 1 of 3"),
        ({"scale": {"statusReplicas": "1/4"}}, "Waiting for scale.statusReplicas: 1/4"),
        ({"podsReady": "0/2"}, "Waiting for podsReady: 0/2"),
    ],
)
def test_fewer_ready_than_wanted_is_progressing(status: dict[str, Any], words: str):
    assert judged(widget(status)) == (PROGRESSING, words)


@pytest.mark.parametrize(
    "status",
    [{"ready": 5, "size": 5}, {"scale": {"statusReplicas": "4/4"}}, {"podsReady": "2/2"}],
)
def test_as_many_ready_as_wanted_says_nothing_on_its_own(status: dict[str, Any]):
    status_, message = judged(widget(status))
    assert status_ == HEALTHY and message.startswith("no health information found")


@pytest.mark.parametrize(
    "status, expected",
    [
        ({"compliant": "NonCompliant"}, DEGRADED),
        ({"compliant": "Compliant"}, HEALTHY),
        ({"complianceState": "Pending"}, PROGRESSING),
    ],
)
def test_compliance_words(status: dict[str, Any], expected: str):
    assert judged(widget(status))[0] == expected


@pytest.mark.parametrize(
    "status, expected, words",
    [
        ({"state": "BrokerReconciling"}, PROGRESSING, "status.state is BrokerReconciling"),
        ({"state": "StoreNotReady"}, PROGRESSING, "status.state is StoreNotReady"),
        ({"state": "ClusterRunning"}, HEALTHY, "status.state is ClusterRunning"),
        ({"jobState": {"state": "PENDING_RETRY"}}, PROGRESSING, "status.jobState.state is PENDING_RETRY"),
        ({"phase": "QUEUE_FAILED"}, DEGRADED, "status.phase is QUEUE_FAILED"),
        ({"updateStatus": "expanding"}, PROGRESSING, "status.updateStatus is expanding"),
        # a word that is none of these says nothing
        ({"state": "BrokerBlue"}, HEALTHY, "no health information found"),
    ],
)
def test_compound_phase_words(status: dict[str, Any], expected: str, words: str):
    status_, message = judged(widget(status))
    assert status_ == expected and message.startswith(words), message


@pytest.mark.parametrize(
    "status, expected, words",
    [
        ({"phase": "Bound", "lastOperationStatus": "Progressing"}, PROGRESSING,
         "status.phase is Bound, but status.lastOperationStatus is Progressing"),
        ({"state": "Running", "storageStatus": "Failed"}, DEGRADED, "status.state is Running, but status.storageStatus is Failed"),
        ({"state": "Running", "storageStatus": "Ready"}, HEALTHY, "status.state is Running"),
    ],
)
def test_a_part_at_work_or_failing_outweighs_a_healthy_phase(status: dict[str, Any], expected: str, words: str):
    assert judged(widget(status)) == (expected, words)


def test_outdated_conditions_of_a_parent_the_same_controller_no_longer_serves_are_history():
    gateway = "example.io/gateway"
    obj = widget({"parents": [
        {"controllerName": gateway, "conditions": [cond("Accepted", "False", "NoMatchingParent", observedGeneration=1)]},
        {"controllerName": gateway, "conditions": [cond("Accepted", "True", "Accepted", "route accepted", observedGeneration=2)]},
    ]}, generation=2)
    assert judged(obj) == (HEALTHY, "Accepted is True: route accepted")


def test_another_controller_still_behind_is_waited_for():
    obj = widget({"ancestors": [
        {"controllerName": "example.io/a", "conditions": [cond("Accepted", "True", "Accepted", observedGeneration=4)]},
        {"controllerName": "example.io/b", "conditions": [cond("Accepted", "True", "Accepted", observedGeneration=3)]},
    ]}, generation=4)
    assert judged(obj) == (PROGRESSING, "Waiting for the controller to observe generation 4 (condition Accepted is of generation 3)")


def test_top_level_conditions_are_waited_for_one_by_one():
    obj = widget({"conditions": [cond("Synced", "True", observedGeneration=5), cond("Ready", "True", observedGeneration=4)]},
                 generation=5)
    assert judged(obj)[0] == PROGRESSING


def test_where_the_evidence_is_silent_it_is_never_degraded_and_the_message_says_so():
    # fields no rule knows: a status the controller writes for itself
    obj = widget({"endpoint": "db.shop:5432", "lastBackup": "2027-01-14T02:00:00Z", "state": "BrokerBlue"})
    status, message = judged(obj)
    assert status == HEALTHY and "no health information found" in message


def test_generic_rules_do_not_change_a_built_in_kind():
    # an apps/v1 StatefulSet with a partition is judged by its built-in check, as gitops-engine does
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "generation": 2},
           "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}},
           "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 2,
                      "currentRevision": "db-1", "updateRevision": "db-2"}}
    assert assess(sts).status == HEALTHY
