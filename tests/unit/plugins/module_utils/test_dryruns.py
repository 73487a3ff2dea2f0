"""Unit tests for the dry-run verdict cache (_dryruns): what makes a verdict reusable, and its file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils import _dryruns
from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts

MANIFEST = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "1"}}


OURS = {"manager": "gitops.kubernetes", "operation": "Apply", "apiVersion": "v1", "time": "2026-11-26T10:00:00Z",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}


def live(uid: str = "uid-1", resource_version: str = "100", **changes: Any) -> dict[str, Any]:
    """A live ConfigMap as the API server returns it; changes replace top-level fields or metadata entries."""
    metadata = {**MANIFEST["metadata"], "uid": uid, "resourceVersion": resource_version, "managedFields": [OURS]}
    metadata.update(changes.pop("metadata", {}))
    return {**MANIFEST, "metadata": metadata, **changes}


def verdicts(tmp_path: Path, server_version: str = "v1.34.4", manager: str = "gitops.kubernetes") -> DryRunVerdicts:
    return DryRunVerdicts(tmp_path / "server.json", server_version, manager)


def test_a_recorded_verdict_is_reused_for_the_same_manifest_and_live_object(tmp_path: Path) -> None:
    first = verdicts(tmp_path)
    key = first.key(MANIFEST, "[]")
    assert not first.still_synced(key, live())
    first.record(key, live())
    first.save()
    second = verdicts(tmp_path)
    assert second.still_synced(second.key(MANIFEST, "[]"), live())
    assert second.reused == 1


@pytest.mark.parametrize("change", ["manifest", "rules", "server version", "field manager", "uid", "live content",
                                    "field ownership"])
def test_any_input_of_the_dry_run_that_changed_means_a_new_dry_run(tmp_path: Path, change: str) -> None:
    first = verdicts(tmp_path)
    first.record(first.key(MANIFEST, "[]"), live())
    first.save()
    second = verdicts(tmp_path, server_version="v1.35.0" if change == "server version" else "v1.34.4",
                      manager="someone-else" if change == "field manager" else "gitops.kubernetes")
    manifest = {**MANIFEST, "data": {"a": "2"}} if change == "manifest" else MANIFEST
    rules = '[{"kind": "ConfigMap", "jsonPointers": ["/data"]}]' if change == "rules" else "[]"
    current = live(uid="uid-2" if change == "uid" else "uid-1")
    if change == "live content":
        current = live(resource_version="101", data={"a": "2"})
    if change == "field ownership":  # another manager now shares a field: same content, new owners
        other = {**OURS, "manager": "kubectl-edit", "operation": "Update"}
        current = live(resource_version="101", metadata={"managedFields": [OURS, other]})
    assert not second.still_synced(second.key(manifest, rules), current)


def test_a_status_only_change_keeps_the_verdict(tmp_path: Path) -> None:
    first = verdicts(tmp_path)
    key = first.key(MANIFEST, "[]")
    first.record(key, live())
    first.save()
    status_writer = {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "subresource": "status",
                     "time": "2026-11-26T10:05:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}
    later = live(resource_version="250", status={"ready": True},
                 metadata={"managedFields": [{**OURS, "time": "2026-11-26T10:06:00Z"}, status_writer]})
    second = verdicts(tmp_path)
    assert second.still_synced(key, later)
    second.save()  # the new resourceVersion is remembered: the next check matches it directly
    assert json.loads((tmp_path / "server.json").read_text())["verdicts"][key][1] == "250"


def test_verdicts_expire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = verdicts(tmp_path)
    key = first.key(MANIFEST, "[]")
    first.record(key, live())
    first.save()
    later = _dryruns.time.time() + _dryruns.VERDICT_TTL + 1
    monkeypatch.setattr(_dryruns.time, "time", lambda: later)
    assert not verdicts(tmp_path).still_synced(key, live())


def test_save_merges_with_what_another_run_saved_and_drops_expired_entries(tmp_path: Path) -> None:
    one, other = verdicts(tmp_path), verdicts(tmp_path)
    key_one = one.key(MANIFEST, "[]")
    key_other = other.key({**MANIFEST, "data": {"a": "2"}}, "[]")
    one.record(key_one, live())
    other.record(key_other, live(uid="uid-2"))
    path = tmp_path / "server.json"
    path.write_text(json.dumps({"format": _dryruns.FORMAT, "verdicts": {"old": ["u", "1", "f", 0.0]}}))
    one.save()
    other.save()
    stored = json.loads(path.read_text())["verdicts"]
    assert set(stored) == {key_one, key_other}
    assert "MANIFEST" not in path.read_text() and '"data"' not in path.read_text()  # hashes, never content


@pytest.mark.parametrize("content", ["not json", '{"format": "something else", "verdicts": {}}', '["a list"]',
                                     '{"format": "%s", "verdicts": {"k": "not a list"}}' % _dryruns.FORMAT])
def test_a_corrupt_or_foreign_file_is_ignored(tmp_path: Path, content: str) -> None:
    (tmp_path / "server.json").write_text(content)
    cache = verdicts(tmp_path)
    key = cache.key(MANIFEST, "[]")
    assert not cache.still_synced(key, live())
    cache.record(key, live())
    cache.save()
    assert verdicts(tmp_path).still_synced(key, live())


def test_an_object_without_uid_or_resource_version_is_not_recorded(tmp_path: Path) -> None:
    cache = verdicts(tmp_path)
    cache.record(cache.key(MANIFEST, "[]"), MANIFEST)
    cache.record(cache.key(MANIFEST, "[]"), None)
    cache.save()
    assert not (tmp_path / "server.json").exists()


class Client:
    """The two things for_client reads from a KubeClient."""

    def __init__(self, cache_dir: str | None) -> None:
        self.cache_dir, self.server, self.field_manager = cache_dir, "https://127.0.0.1:6443", "gitops.kubernetes"
        self.version_requests = 0

    def server_version(self) -> str:
        self.version_requests += 1
        return "v1.34.4"


def test_for_client_keeps_one_file_per_server_in_the_cache_dir(tmp_path: Path) -> None:
    client = Client(str(tmp_path))
    cache = DryRunVerdicts.for_client(client)
    assert cache is not None and cache.path is not None
    assert cache.path.parent == tmp_path / "dry-runs" and client.version_requests == 1
    assert DryRunVerdicts.for_client(client, enabled=False) is None
    assert DryRunVerdicts.for_client(Client(None)).path is None  # type: ignore[union-attr]


def test_the_option_is_documented_as_specified() -> None:
    import yaml

    from ansible_collections.gitops.kubernetes.plugins.doc_fragments._dry_run_cache import ModuleDocFragment

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert {name: {"type": o["type"], "default": o["default"]} for name, o in documented.items()} == \
        _dryruns.DRY_RUN_CACHE_ARGUMENT_SPEC
