"""Unit tests for the live reads of the compare stage (_live): per application and shared by a batch.

The cluster is replaced at the narrowest boundary BatchLiveReads uses of
KubeClient, list_objects() and get(): StubClient answers from a list of
objects, evaluating the equality and set-based label selectors the reads
send, and records every call. The same reads against a real API server (and
a ServiceAccount without cluster-wide LIST rights) are proven in
tests/integration/test_batch_reads.py.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from typing import Any, Iterable

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils import _live
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import KubeApiError
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    ID_LABEL,
    PART_OF_LABEL,
    application_applyset_id,
    build_parent,
    parent_name,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import BatchLiveReads, LiveReads

CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True, ("get", "list", "patch"))
SERVICES = ApiResource("", "v1", "Service", "services", True, ("get", "list", "patch"))
NAMESPACES = ApiResource("", "v1", "Namespace", "namespaces", False, ("get", "list"))
SET_BASED = re.compile(r"^(?P<key>[^ =]+) in \((?P<values>[^)]*)\)$")

Call = tuple[str, str, "str | None", str]


def selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Whether labels match 'key=value' or 'key in (a,b,...)' (the two forms the reads send)."""
    if not selector:
        return True
    found = SET_BASED.match(selector)
    if found:
        return labels.get(found["key"]) in found["values"].split(",")
    key, dummy, value = selector.partition("=")
    return labels.get(key) == value


def selector_values(selector: str) -> list[str]:
    """The values of a set-based selector, in the order sent."""
    found = SET_BASED.match(selector)
    assert found, f"not a set-based selector: {selector!r}"
    return found["values"].split(",")


class StubClient:
    """list_objects() and get() of KubeClient over a list of objects; records every call.

    deny_cluster_wide: plurals whose cluster-wide LIST is refused with 403.
    fail: an error every LIST raises. delay: seconds each LIST takes.
    """

    def __init__(self, *objects: dict[str, Any], deny_cluster_wide: Iterable[str] = (),
                 fail: KubeApiError | None = None, delay: float = 0.0) -> None:
        self.objects = [copy.deepcopy(obj) for obj in objects]
        self.deny_cluster_wide = set(deny_cluster_wide)
        self.fail = fail
        self.delay = delay
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def list_objects(self, resource: ApiResource, namespace: str | None = None, *,
                     label_selector: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self.calls.append(("LIST", resource.plural, namespace, label_selector or ""))
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        if namespace is None and resource.namespaced and resource.plural in self.deny_cluster_wide:
            raise KubeApiError(f"list {resource.plural}.core: access denied (403 Forbidden)", status=403, reason="Forbidden")
        return [
            copy.deepcopy(obj) for obj in self.objects
            if obj["kind"] == resource.kind
            and (namespace is None or obj["metadata"].get("namespace") == namespace)
            and selector_matches(label_selector, obj["metadata"].get("labels") or {})
        ]

    def get(self, resource: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            self.calls.append(("GET", resource.plural, namespace, name))
        for obj in self.objects:
            if obj["kind"] == resource.kind and obj["metadata"]["name"] == name \
                    and obj["metadata"].get("namespace", "") == (namespace or ""):
                return copy.deepcopy(obj)
        return None

    def lists(self, plural: str | None = None) -> list[Call]:
        return [call for call in self.calls if call[0] == "LIST" and (plural is None or call[1] == plural)]

    def gets(self) -> list[Call]:
        return [call for call in self.calls if call[0] == "GET"]


def member(kind: str, name: str, app: str, namespace: str) -> dict[str, Any]:
    """A live object of application app (labelled part-of its ApplySet)."""
    return {
        "apiVersion": "v1", "kind": kind,
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {PART_OF_LABEL: application_applyset_id(app, namespace)}},
    }


def synced_app(app: str, namespace: str) -> list[dict[str, Any]]:
    """The parent, a ConfigMap and a Service of an application synced before."""
    return [build_parent(app, namespace, []), member("ConfigMap", f"{app}-settings", app, namespace),
            member("Service", f"{app}-web", app, namespace)]


def names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{item['metadata'].get('namespace', '')}/{item['metadata']['name']}" for item in items)


APPS = [("shop", "team-a"), ("cart", "team-a"), ("shop", "team-b"), ("blog", "team-c")]


def test_live_reads_get_the_parent_and_list_members_by_the_application_label() -> None:
    """One application: its parent by GET, its members by a LIST with its own part-of label in the namespace."""
    client = StubClient(*synced_app("shop", "team-a"), *synced_app("cart", "team-a"))
    reads = LiveReads(client)  # type: ignore[arg-type]
    parent = reads.parent(CONFIGMAPS, "team-a", parent_name("shop"))
    found = reads.labelled(CONFIGMAPS, "team-a", application_applyset_id("shop", "team-a"))
    assert parent is not None and parent["metadata"]["name"] == "applyset-shop"
    assert names(found) == ["team-a/shop-settings"]
    assert client.calls == [
        ("GET", "configmaps", "team-a", "applyset-shop"),
        ("LIST", "configmaps", "team-a", f"{PART_OF_LABEL}={application_applyset_id('shop', 'team-a')}"),
    ]


def test_a_batch_across_namespaces_lists_each_kind_once_cluster_wide_and_splits_the_items() -> None:
    """Four applications in three namespaces: one parents LIST and one LIST per kind, all cluster-wide."""
    objects = [obj for app, ns in APPS for obj in synced_app(app, ns)]
    # same name, other namespace, not of the batch: must land nowhere
    objects.append(member("ConfigMap", "stranger", "other", "team-a"))
    client = StubClient(*objects)
    reads = BatchLiveReads(client, APPS)  # type: ignore[arg-type]
    assert reads.namespace is None
    for app, ns in APPS:
        set_id = application_applyset_id(app, ns)
        parent = reads.parent(CONFIGMAPS, ns, parent_name(app))
        assert parent is not None and parent["metadata"]["namespace"] == ns
        assert parent["metadata"]["labels"][ID_LABEL] == set_id
        assert names(reads.labelled(CONFIGMAPS, ns, set_id)) == [f"{ns}/{app}-settings"]
        assert names(reads.labelled(SERVICES, ns, set_id)) == [f"{ns}/{app}-web"]
    # shop in team-a and shop in team-b are different applications: nothing crosses over
    assert names(reads.labelled(CONFIGMAPS, "team-b", application_applyset_id("shop", "team-b"))) == ["team-b/shop-settings"]
    ids = sorted(application_applyset_id(app, ns) for app, ns in APPS)
    assert client.calls == [
        ("LIST", "configmaps", None, f"{ID_LABEL} in ({','.join(ids)})"),
        ("LIST", "configmaps", None, f"{PART_OF_LABEL} in ({','.join(ids)})"),
        ("LIST", "services", None, f"{PART_OF_LABEL} in ({','.join(ids)})"),
    ]
    assert not client.gets()


def test_labelled_returns_a_copy_of_the_list_so_callers_cannot_change_the_shared_index() -> None:
    client = StubClient(*synced_app("shop", "team-a"), *synced_app("blog", "team-c"))
    reads = BatchLiveReads(client, [("shop", "team-a"), ("blog", "team-c")])  # type: ignore[arg-type]
    set_id = application_applyset_id("shop", "team-a")
    reads.labelled(SERVICES, "team-a", set_id).clear()
    assert names(reads.labelled(SERVICES, "team-a", set_id)) == ["team-a/shop-web"]
    assert len(client.lists("services")) == 1


def test_a_batch_in_one_namespace_lists_in_that_namespace() -> None:
    """No cluster-wide LIST (which a namespaced identity may not do) when every application is in one namespace."""
    batch = [("shop", "team-a"), ("cart", "team-a")]
    client = StubClient(*synced_app("shop", "team-a"), *synced_app("cart", "team-a"), *synced_app("shop", "team-b"))
    reads = BatchLiveReads(client, batch)  # type: ignore[arg-type]
    assert reads.namespace == "team-a"
    for app, ns in batch:
        assert reads.parent(CONFIGMAPS, ns, parent_name(app)) is not None
        assert names(reads.labelled(SERVICES, ns, application_applyset_id(app, ns))) == [f"{ns}/{app}-web"]
    assert [call[:3] for call in client.calls] == [("LIST", "configmaps", "team-a"), ("LIST", "services", "team-a")]


def test_a_member_in_another_namespace_or_cluster_scoped_is_listed_cluster_wide() -> None:
    """A one-namespace batch whose application has a member elsewhere (or cluster-scoped) lists that kind everywhere."""
    set_id = application_applyset_id("shop", "team-a")
    elsewhere = {**member("Service", "shared", "shop", "team-a"), "metadata": {
        "name": "shared", "namespace": "infra", "labels": {PART_OF_LABEL: set_id}}}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop-extra", "labels": {PART_OF_LABEL: set_id}}}
    client = StubClient(*synced_app("shop", "team-a"), *synced_app("cart", "team-a"), elsewhere, namespace)
    reads = BatchLiveReads(client, [("shop", "team-a"), ("cart", "team-a")])  # type: ignore[arg-type]
    assert names(reads.labelled(SERVICES, "infra", set_id)) == ["infra/shared"]
    assert names(reads.labelled(NAMESPACES, None, set_id)) == ["/shop-extra"]
    assert names(reads.labelled(SERVICES, "team-a", set_id)) == ["team-a/shop-web"]
    assert [call[:3] for call in client.calls] == [
        ("LIST", "services", None), ("LIST", "namespaces", None), ("LIST", "services", "team-a")]


def test_more_than_ids_per_selector_applications_cost_two_lists_per_kind_with_each_id_once() -> None:
    batch = [(f"app-{i:03d}", f"ns-{i % 7}") for i in range(_live.IDS_PER_SELECTOR + 30)]
    objects = [obj for app, ns in batch for obj in synced_app(app, ns)]
    client = StubClient(*objects)
    reads = BatchLiveReads(client, batch)  # type: ignore[arg-type]
    for app, ns in batch:
        set_id = application_applyset_id(app, ns)
        assert reads.parent(CONFIGMAPS, ns, parent_name(app)) is not None
        assert names(reads.labelled(CONFIGMAPS, ns, set_id)) == [f"{ns}/{app}-settings"]
        assert names(reads.labelled(SERVICES, ns, set_id)) == [f"{ns}/{app}-web"]
    every_id = sorted(application_applyset_id(app, ns) for app, ns in batch)
    for label, plural in ((ID_LABEL, "configmaps"), (PART_OF_LABEL, "configmaps"), (PART_OF_LABEL, "services")):
        sent = [call for call in client.lists(plural) if call[3].startswith(f"{label} in ")]
        assert len(sent) == 2 and all(call[2] is None for call in sent)
        chunks = [selector_values(call[3]) for call in sent]
        assert [len(chunk) for chunk in chunks] == [_live.IDS_PER_SELECTOR, 30]
        assert sorted(chunks[0] + chunks[1]) == every_id  # each id exactly once
    assert len(client.calls) == 6 and not client.gets()


def test_a_forbidden_cluster_wide_list_falls_back_to_one_list_per_namespace() -> None:
    """403 on the cluster-wide LIST: that kind is listed per namespace from then on, tried cluster-wide only once."""
    batch = [("shop", "team-a"), ("blog", "team-b")]
    client = StubClient(*synced_app("shop", "team-a"), *synced_app("blog", "team-b"), deny_cluster_wide={"configmaps"})
    reads = BatchLiveReads(client, batch)  # type: ignore[arg-type]
    for app, ns in batch:
        set_id = application_applyset_id(app, ns)
        parent = reads.parent(CONFIGMAPS, ns, parent_name(app))
        assert parent is not None and parent["metadata"]["namespace"] == ns
        assert names(reads.labelled(CONFIGMAPS, ns, set_id)) == [f"{ns}/{app}-settings"]
        assert names(reads.labelled(SERVICES, ns, set_id)) == [f"{ns}/{app}-web"]
    configmaps = client.lists("configmaps")
    assert [call[2] for call in configmaps if call[2] is None] == [None]  # one cluster-wide attempt, for parents and members
    assert sorted((call[2], call[3].split(" ")[0]) for call in configmaps if call[2] is not None) == [
        ("team-a", ID_LABEL), ("team-a", PART_OF_LABEL), ("team-b", ID_LABEL), ("team-b", PART_OF_LABEL)]
    assert [call[2] for call in client.lists("services")] == [None]  # services stay cluster-wide: allowed
    assert not client.gets()  # the parents came from the per-namespace LISTs


def test_a_forbidden_cluster_wide_list_is_attempted_once_by_concurrent_callers() -> None:
    """Four applications asking for the same kind at once after one 403: one cluster-wide attempt, not four."""
    batch = [(f"app-{i}", f"team-{i}") for i in range(4)]
    objects = [obj for app, ns in batch for obj in synced_app(app, ns)]
    client = StubClient(*objects, deny_cluster_wide={"services"}, delay=0.05)
    reads = BatchLiveReads(client, batch)  # type: ignore[arg-type]
    barrier = threading.Barrier(len(batch))
    found: dict[str, list[str]] = {}

    def work(app: str, ns: str) -> None:
        barrier.wait()
        found[app] = names(reads.labelled(SERVICES, ns, application_applyset_id(app, ns)))

    threads = [threading.Thread(target=work, args=one) for one in batch]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert found == {app: [f"{ns}/{app}-web"] for app, ns in batch}
    services = client.lists("services")
    assert [call[2] for call in services if call[2] is None] == [None], services
    assert sorted(call[2] for call in services if call[2] is not None) == [ns for dummy, ns in batch]


@pytest.mark.parametrize("status", [401, 404, 500, None])
def test_other_list_errors_propagate(status: int | None) -> None:
    client = StubClient(*synced_app("shop", "team-a"), fail=KubeApiError("boom", status=status))
    reads = BatchLiveReads(client, [("shop", "team-a"), ("blog", "team-b")])  # type: ignore[arg-type]
    with pytest.raises(KubeApiError, match="boom") as raised:
        reads.labelled(SERVICES, "team-a", application_applyset_id("shop", "team-a"))
    assert raised.value.status == status
    assert [call[2] for call in client.lists()] == [None]  # no per-namespace retry for anything but 403


def test_a_forbidden_list_in_a_namespace_propagates() -> None:
    """A 403 in the batch's own namespace has nowhere narrower to go: the error reaches the application."""
    client = StubClient(fail=KubeApiError("forbidden", status=403))
    reads = BatchLiveReads(client, [("shop", "team-a"), ("cart", "team-a")])  # type: ignore[arg-type]
    with pytest.raises(KubeApiError) as raised:
        reads.parent(CONFIGMAPS, "team-a", parent_name("shop"))
    assert raised.value.status == 403
    assert [call[2] for call in client.calls] == ["team-a"]


def test_a_forbidden_cluster_scoped_list_propagates() -> None:
    """A cluster-scoped kind has no per-namespace fallback."""
    client = StubClient(fail=KubeApiError("forbidden", status=403))
    reads = BatchLiveReads(client, [("shop", "team-a"), ("blog", "team-b")])  # type: ignore[arg-type]
    with pytest.raises(KubeApiError):
        reads.labelled(NAMESPACES, None, application_applyset_id("shop", "team-a"))
    assert client.calls == [("LIST", "namespaces", None, client.calls[0][3])]


def test_a_listed_parent_needs_no_get_and_an_unlisted_one_is_read_by_name() -> None:
    """shop's parent comes from the LIST; new has none yet (GET: None); clash's ConfigMap is not an ApplySet parent."""
    clash = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": parent_name("clash"), "namespace": "team-b", "labels": {"owner": "someone"}}}
    client = StubClient(*synced_app("shop", "team-a"), clash)
    reads = BatchLiveReads(client, [("shop", "team-a"), ("new", "team-a"), ("clash", "team-b")])  # type: ignore[arg-type]
    shop = reads.parent(CONFIGMAPS, "team-a", parent_name("shop"))
    assert shop is not None and shop["metadata"]["labels"][ID_LABEL] == application_applyset_id("shop", "team-a")
    assert not client.gets()
    assert reads.parent(CONFIGMAPS, "team-a", parent_name("new")) is None
    found = reads.parent(CONFIGMAPS, "team-b", parent_name("clash"))
    assert found is not None and found["metadata"]["labels"] == {"owner": "someone"}  # read_inventory then says it is not ours
    assert client.gets() == [("GET", "configmaps", "team-a", "applyset-new"), ("GET", "configmaps", "team-b", "applyset-clash")]
    assert len(client.lists()) == 1  # the parents LIST was made once and reused


def test_a_parent_of_the_same_name_in_another_namespace_is_not_taken() -> None:
    """shop in team-b has no parent although shop in team-a has one: the parents are matched by namespace too."""
    client = StubClient(*synced_app("shop", "team-a"))
    reads = BatchLiveReads(client, [("shop", "team-a"), ("shop", "team-b")])  # type: ignore[arg-type]
    assert reads.parent(CONFIGMAPS, "team-b", parent_name("shop")) is None
    assert client.gets() == [("GET", "configmaps", "team-b", "applyset-shop")]


def test_labelled_for_a_set_outside_the_batch_uses_the_application_selector() -> None:
    batch = [("shop", "team-a"), ("blog", "team-b")]
    client = StubClient(*synced_app("shop", "team-a"), *synced_app("other", "team-a"))
    reads = BatchLiveReads(client, batch)  # type: ignore[arg-type]
    other = application_applyset_id("other", "team-a")
    assert names(reads.labelled(SERVICES, "team-a", other)) == ["team-a/other-web"]
    assert client.calls == [("LIST", "services", "team-a", f"{PART_OF_LABEL}={other}")]
    # and the batch's own LIST is still made (and made once) for its applications
    assert names(reads.labelled(SERVICES, "team-a", application_applyset_id("shop", "team-a"))) == ["team-a/shop-web"]
    assert names(reads.labelled(SERVICES, "team-b", application_applyset_id("blog", "team-b"))) == []
    assert len(client.lists("services")) == 2 and client.lists("services")[1][2] is None


def test_concurrent_callers_for_one_kind_share_one_list() -> None:
    """Eight applications asking for Services at the same moment: one LIST, every application gets its own items."""
    batch = [(f"app-{i}", f"team-{i % 3}") for i in range(8)]
    objects = [obj for app, ns in batch for obj in synced_app(app, ns)]
    client = StubClient(*objects, delay=0.05)
    reads = BatchLiveReads(client, batch)  # type: ignore[arg-type]
    barrier = threading.Barrier(len(batch))
    found: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def work(app: str, ns: str) -> None:
        try:
            barrier.wait()
            found[app] = names(reads.labelled(SERVICES, ns, application_applyset_id(app, ns)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=one) for one in batch]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert found == {app: [f"{ns}/{app}-web"] for app, ns in batch}
    assert len(client.lists("services")) == 1


def test_concurrent_callers_for_different_kinds_do_not_wait_for_each_other() -> None:
    """Each kind has its own lock: two kinds listed at the same time take about one LIST's time, not two."""
    batch = [("shop", "team-a"), ("blog", "team-b")]
    client = StubClient(*synced_app("shop", "team-a"), *synced_app("blog", "team-b"), delay=0.4)
    reads = BatchLiveReads(client, batch)  # type: ignore[arg-type]
    set_id = application_applyset_id("shop", "team-a")
    threads = [threading.Thread(target=reads.labelled, args=(resource, "team-a", set_id)) for resource in (SERVICES, CONFIGMAPS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert time.monotonic() - started < 0.7  # one after the other: 0.8
    assert sorted(call[1] for call in client.lists()) == ["configmaps", "services"]
