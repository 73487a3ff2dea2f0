# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report stage: what a sync or a drift check found, for people and for machines.

Takes the registered results of gitops_sync (or gitops_diff), one per cluster,
and turns them into one RunReport, written as report.json, report.md,
junit.xml and a self-contained report.html. Secrets are masked again here
(defence in depth: the modules mask them already), credentials in messages and
URLs are scrubbed.
"""

from __future__ import annotations

import difflib
import html
import json
import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import SECRET_MASK, mask_secret, scrub_text
from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_one

try:
    import yaml

    HAS_YAML = True
except ImportError:  # the module reports it with missing_required_lib()
    HAS_YAML = False

try:
    import jsonpatch

    HAS_JSONPATCH = True
except ImportError:  # patches are then left out of report.json; the diffs stay
    HAS_JSONPATCH = False

DRIFT = "drift"
SYNC = "sync"
FORMATS = {"json": "report.json", "markdown": "report.md", "junit": "junit.xml", "html": "report.html"}

SYNCED = "Synced"
OUT_OF_SYNC = "OutOfSync"
UNKNOWN = "Unknown"
FAILED = "Failed"
# health states that fail a JUnit test case; Progressing and Suspended are not failures
UNHEALTHY = frozenset({"Degraded", "Missing", "Unknown"})
# gitops_sync actions that write (or in check mode would write) an object
WRITE_ACTIONS = ("created", "configured", "replaced", "recreated", "pruned")
# gitops_diff statuses mapped to the action a sync would take
DIFF_ACTIONS = {"Synced": "unchanged", "OutOfSync": "configured", "Missing": "created", "Extraneous": "pruned",
                "Unknown": "unknown"}
# how gitops_sync words the skip of an application whose dependency failed or is not Healthy (_sync.dependencies)
DEPENDENCY_SKIP = "skipped: depends on "
COUNT_KEYS = ("created", "configured", "replaced", "recreated", "pruned", "prune_skipped", "handed_over", "unchanged", "hooks", "failed")


def short_revision(revision: str) -> str:
    """A revision as reports show it: a commit SHA cut to 12 characters, a chart's '<version>@sha256:<digest>' to
    its version and 12 characters of the digest."""
    version, at, digest = revision.partition("@sha256:")
    if at:
        return f"{version}@sha256:{digest[:12]}"
    return revision[:12]


@dataclass
class ObjectReport:
    """One Kubernetes object of an application, as the report shows it."""

    group: str
    kind: str
    namespace: str
    name: str
    action: str
    result: str = ""
    health: str = ""
    message: str = ""
    source: str = ""
    diff: str = ""  # unified diff live -> desired (empty without diff mode)
    patch: list[dict[str, Any]] | None = None  # JSON patch, when the result carried one (gitops_diff)

    @property
    def ref(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"

    @property
    def drifted(self) -> bool:
        return self.action in WRITE_ACTIONS or self.action == "unknown"

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "group": self.group, "kind": self.kind, "namespace": self.namespace, "name": self.name,
            "action": self.action, "result": self.result, "health": self.health,
        }
        for key in ("message", "source", "diff"):
            if getattr(self, key):
                entry[key] = getattr(self, key)
        if self.patch is not None:
            entry["patch"] = self.patch
        return entry


@dataclass
class ApplicationReport:
    """One application on one cluster."""

    cluster: str
    name: str
    namespace: str = ""
    revision: str = ""
    sync_status: str = UNKNOWN
    health_status: str = UNKNOWN
    changed: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    objects: list[ObjectReport] = field(default_factory=list)
    error: str = ""
    duration: float = 0.0
    # why the run did not sync it (a sync window; a manual application; no selfHeal): its drift is reported
    skipped: str = ""
    skipped_by_window: bool = False  # the reason is a sync window (said in full after the counts)
    orphaned: list[dict[str, Any]] | None = None  # the project's orphaned resources, when it lists them
    attempts: int = 0  # how many attempts the sync took, when its policy retries
    parent: str = ""  # the application that rendered this one (app of apps)

    @property
    def label(self) -> str:
        """cluster/name, with the parent of an app of apps child: 'prod/root -> web'."""
        return f"{self.cluster}/{self.parent} -> {self.name}" if self.parent else f"{self.cluster}/{self.name}"
    revisions: list[str] = field(default_factory=list)  # every source's, for a multi-source application
    # app of apps: children it rendered before and no longer does, pruned or left in place (name, action, message)
    removed_children: list[dict[str, Any]] = field(default_factory=list)
    # applicationsSync create-only/create-delete: the set, and where the generated application differs (not applied)
    applicationset_kept: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The badge: Failed, OutOfSync, Unknown or Synced."""
        return FAILED if self.error else self.sync_status

    @property
    def drifted_objects(self) -> list[ObjectReport]:
        return [obj for obj in self.objects if obj.drifted]

    def passed(self) -> bool:
        """Whether the JUnit test case passes: no error, in sync afterwards, not unhealthy."""
        return not self.error and self.sync_status == SYNCED and self.health_status not in UNHEALTHY

    def failure(self, mode: str) -> str:
        """Why the test case fails, in one line."""
        if self.error:
            return self.error
        if self.sync_status != SYNCED:
            what = ", ".join(f"{obj.ref} {obj.action}" for obj in self.drifted_objects[:10])
            more = len(self.drifted_objects) - 10
            what += f" and {more} more" if more > 0 else ""
            return f"{self.sync_status}{' (drift)' if mode == DRIFT else ''}: {what}" if what else self.sync_status
        return f"health {self.health_status}"

    def changes(self, mode: str) -> str:
        """What changed (sync) or would change (drift, or a sync a window skipped), e.g. '1 configured, 1 pruned'."""
        mode = DRIFT if self.skipped else mode
        counted = [(key.replace("_", " "), self.counts.get(key, 0))
                   for key in ("created", "configured", "replaced", "recreated", "pruned", "prune_skipped", "handed_over",
                               "failed")]
        parts = [f"{count} {what}" for what, count in counted if count]
        unknown = sum(1 for obj in self.objects if obj.action == "unknown")
        if unknown:
            parts.append(f"{unknown} unknown")
        if not parts:
            return "no changes" if mode == SYNC else "no drift"
        return ("would be: " if mode == DRIFT else "") + ", ".join(parts)

    def summary_line(self, mode: str) -> str:
        """One readable line for the job output."""
        revision = f" at {short_revision(self.revision)}" if self.revision else ""
        if self.error:
            return f"{self.label}: {FAILED}{revision}: {self.error}"
        unchanged = self.counts.get("unchanged", 0)
        tail = f"; {unchanged} unchanged" if unchanged else ""
        tail += f"; after {self.attempts} attempts" if self.attempts > 1 else ""
        tail += f"; {self.skipped}" if self.skipped_by_window else ""
        tail += f"; {len(self.orphaned)} orphaned resources" if self.orphaned else ""
        tail += "".join(f"; {removed_child_line(child, mode)}" for child in self.removed_children)
        if self.applicationset_kept.get("differences"):
            tail += (f"; generated application not applied (ApplicationSet {self.applicationset_kept.get('applicationset')} "
                     f"is {self.applicationset_kept.get('applications_sync')}; differs at "
                     f"{', '.join(self.applicationset_kept['differences'])})")
        # a skipped application's counts are what a sync would do, as in a drift report; one its dependencies
        # kept from running was not compared at all, so the reason is all there is to say
        if self.skipped.startswith(DEPENDENCY_SKIP):
            changes = f"not synced ({self.skipped})"
        elif self.skipped:
            changes = f"not synced ({self.skipped.split(':', 1)[0]}); {self.changes(DRIFT)}"
        else:
            changes = self.changes(mode)
        return (f"{self.label}: {self.sync_status}, {self.health_status}{revision}: "
                f"{changes}{tail}")

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "cluster": self.cluster, "name": self.name, "namespace": self.namespace, "revision": self.revision,
            "status": self.status, "sync_status": self.sync_status, "health_status": self.health_status,
            "changed": self.changed, "counts": self.counts, "duration": self.duration,
            "drifted": [obj.to_dict() for obj in self.drifted_objects],
            "objects": len(self.objects),
        }
        if self.revisions:
            entry["revisions"] = list(self.revisions)
        if self.error:
            entry["error"] = self.error
        if self.skipped:
            entry["skipped"] = self.skipped
        if self.orphaned is not None:
            entry["orphaned_resources"] = self.orphaned
        if self.attempts:
            entry["attempts"] = self.attempts
        if self.parent:
            entry["parent"] = self.parent
        if self.removed_children:
            entry["removed_children"] = self.removed_children
        if self.applicationset_kept:
            entry["applicationset_kept"] = self.applicationset_kept
        return entry


def removed_child_line(child: dict[str, Any], mode: str) -> str:
    """What became of a child application its parent no longer renders, in a few words."""
    name = child.get("name")
    if child.get("error"):
        return f"child {name} not pruned: {child['error']}"
    if child.get("action") != "pruned":
        return f"child {name} requires pruning ({child.get('message')})"
    cascade = child.get("cascade") or "orphan"
    what = "its resources left in place" if cascade == "orphan" else f"with its resources ({cascade})"
    return f"child {name} {'would be ' if mode == DRIFT else ''}pruned, {what}"


@dataclass
class ClusterReport:
    name: str
    applications: list[ApplicationReport] = field(default_factory=list)
    error: str = ""  # the cluster could not be reached, or its applications not listed
    # the waves of the applications' depends_on (gitops_sync's sync_order), when some depend on others
    sync_order: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "applications": [app.to_dict() for app in self.applications]}
        if self.error:
            entry["error"] = self.error
        if self.sync_order:
            entry["sync_order"] = [list(wave) for wave in self.sync_order]
        return entry


@dataclass
class RunReport:
    """Everything one run found, over every cluster."""

    mode: str  # DRIFT (check mode) or SYNC
    title: str
    generated_at: str
    clusters: list[ClusterReport] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # shown in the header: AWX job, user, ...
    # applications whose destination names no cluster of the run: {name, destination, listed_on}
    unmatched: list[dict[str, Any]] = field(default_factory=list)

    @property
    def applications(self) -> list[ApplicationReport]:
        return [app for cluster in self.clusters for app in cluster.applications]

    def drifted(self) -> list[ApplicationReport]:
        """Applications out of sync (in a drift report: the drift)."""
        return [app for app in self.applications if not app.error and app.sync_status != SYNCED]

    def failed(self) -> list[ApplicationReport]:
        return [app for app in self.applications if app.error]

    def counts(self) -> dict[str, int]:
        apps = self.applications
        return {
            "clusters": len(self.clusters),
            "cluster_errors": sum(1 for cluster in self.clusters if cluster.error),
            "applications": len(apps),
            "synced": sum(1 for app in apps if app.status == SYNCED),
            "out_of_sync": sum(1 for app in apps if app.status == OUT_OF_SYNC),
            "unknown": sum(1 for app in apps if app.status == UNKNOWN),
            "failed": sum(1 for app in apps if app.status == FAILED),
            "changed": sum(1 for app in apps if app.changed),
            "unhealthy": sum(1 for app in apps if not app.error and app.health_status in UNHEALTHY),
        }

    def summary_lines(self) -> list[str]:
        lines = [f"{cluster.name}: {FAILED}: {cluster.error}" for cluster in self.clusters if cluster.error]
        lines += [app.summary_line(self.mode) for app in self.applications]
        lines += [unmatched_line(entry) for entry in self.unmatched]
        counts = self.counts()
        verdict = (f"{counts['out_of_sync'] + counts['unknown']} drifted" if self.mode == DRIFT
                   else f"{counts['changed']} changed")
        lines.append(f"{counts['applications']} applications on {counts['clusters']} clusters: {counts['synced']} synced, "
                     f"{verdict}, {counts['failed'] + counts['cluster_errors']} failed")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "mode": self.mode, "generated_at": self.generated_at, "details": self.details,
            "counts": self.counts(), "clusters": [cluster.to_dict() for cluster in self.clusters],
            "unmatched": self.unmatched,
        }


def unmatched_line(entry: dict[str, Any]) -> str:
    """One line for an application no inventory host took."""
    return (f"{entry['name']}: destination {entry['destination']} matches no inventory host "
            f"(listed on {', '.join(entry['listed_on'])}); not synced")


def find_unmatched(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Applications some host left for another cluster (other_clusters) that no host of the run synced."""
    taken: set[str] = set()
    left: dict[tuple[str, str], list[str]] = {}
    for entry in results:
        result = entry.get("result") if isinstance(entry.get("result"), dict) else {}
        cluster = _text(entry.get("cluster")) or "cluster"
        taken.update(_text(app.get("name")) for app in result.get("applications") or [] if isinstance(app, dict))
        for other in result.get("other_clusters") or []:
            if isinstance(other, dict):
                left.setdefault((_text(other.get("name")), _text(other.get("destination"))), []).append(cluster)
    return [{"name": name, "destination": destination, "listed_on": sorted(hosts)}
            for (name, destination), hosts in sorted(left.items()) if name not in taken]


# -- building the report from module results --------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _load_secret(text: str) -> dict[str, Any] | None:
    """A Secret's YAML as a document, or None when it is not one (or cannot be read)."""
    if not text or not HAS_YAML:
        return None
    try:
        document = load_one(text)
    except (yaml.YAMLError, YamlLimitError):
        return None
    if not isinstance(document, dict):
        return None
    document.setdefault("apiVersion", "v1")
    document.setdefault("kind", "Secret")
    return document


def mask_secret_texts(before: str, after: str) -> tuple[str, str]:
    """Both sides of a Secret's diff with every value masked; on the desired side changed keys are marked
    (as gitops_diff shows them), so the diff names the keys that changed and no value.

    Text that cannot be read as a Secret is masked whole.
    """
    documents = [_load_secret(before), _load_secret(after)]
    masked = []
    for text, document, other in ((before, documents[0], None), (after, documents[1], documents[0])):
        if not text:
            masked.append(text)
        elif document is None:
            masked.append(SECRET_MASK + "\n")
        else:
            shown = mask_secret(document, other) if other is not None else mask_secret(document)
            masked.append(yaml.safe_dump(shown, default_flow_style=False, sort_keys=False))
    return masked[0], masked[1]


def _mask_patch(patch: list[Any]) -> list[Any]:
    masked = []
    for operation in patch:
        if isinstance(operation, dict) and str(operation.get("path", "")).startswith(("/data", "/stringData")) \
                and "value" in operation:
            operation = {**operation, "value": SECRET_MASK}
        masked.append(operation)
    return masked


def unified_diff(before: str, after: str, ref: str, sides: tuple[str, str] = ("live", "desired")) -> str:
    """A unified diff of two YAML texts (live -> desired, or the two sides named)."""
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True),
        fromfile=f"{ref} ({sides[0]})", tofile=f"{ref} ({sides[1]})", n=3,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def patch_between(before: str, after: str) -> list[dict[str, Any]] | None:
    """The JSON Patch (RFC 6902) from the live YAML to the desired YAML, or None when a side is missing."""
    if not (before and after and HAS_YAML and HAS_JSONPATCH):
        return None
    try:
        live, desired = load_one(before), load_one(after)
    except (yaml.YAMLError, YamlLimitError):
        return None
    if not isinstance(live, dict) or not isinstance(desired, dict):
        return None
    return list(jsonpatch.make_patch(live, desired).patch)


def _object(raw: dict[str, Any], secrets: list[str]) -> ObjectReport:
    health = raw.get("health")
    health_status = _text(health.get("status")) if isinstance(health, dict) else _text(health)
    action = _text(raw.get("action")) or DIFF_ACTIONS.get(_text(raw.get("status")), "unknown")
    obj = ObjectReport(
        group=_text(raw.get("group")), kind=_text(raw.get("kind")), namespace=_text(raw.get("namespace")),
        name=_text(raw.get("name")), action=action, result=_text(raw.get("result")), health=health_status,
        message=scrub_text(_text(raw.get("message")), secrets), source=_text(raw.get("source")),
    )
    before, after = _text(raw.get("before")), _text(raw.get("after"))
    secret = obj.kind == "Secret" and obj.group == ""
    if secret:
        before, after = mask_secret_texts(before, after)
    if before or after:
        obj.diff = scrub_text(unified_diff(before, after, obj.ref), secrets)
    patch = raw.get("patch")
    if isinstance(patch, list):
        obj.patch = _mask_patch(patch) if secret else patch
    elif obj.drifted:
        # gitops_sync gives before/after (diff mode); the patch is computed from them (already masked for Secrets)
        computed = patch_between(before, after)
        obj.patch = _mask_patch(computed) if secret and computed is not None else computed
    return obj


def _counts(raw: dict[str, Any], objects: list[ObjectReport]) -> dict[str, int]:
    given = raw.get("counts")
    if isinstance(given, dict):
        return {key: int(given.get(key) or 0) for key in COUNT_KEYS}
    counts = {key: 0 for key in COUNT_KEYS}  # gitops_diff results: derived from the statuses
    for obj in objects:
        if obj.action in counts:
            counts[obj.action] += 1
    return counts


def _application(cluster: str, raw: dict[str, Any], secrets: list[str]) -> ApplicationReport:
    objects = [_object(item, secrets) for item in raw.get("resources") or [] if isinstance(item, dict)]
    error = _text(raw.get("error"))
    sync_status = _text(raw.get("sync_status")) or UNKNOWN
    return ApplicationReport(
        cluster=cluster, name=_text(raw.get("name")) or "(unnamed)", namespace=_text(raw.get("namespace")),
        revision=_text(raw.get("revision")), sync_status=sync_status,
        health_status=_text(raw.get("health_status")) or (UNKNOWN if error else "Healthy"),
        changed=bool(raw.get("changed")), counts=_counts(raw, objects), objects=objects,
        error=scrub_text(error, secrets), duration=float(raw.get("duration") or 0.0),
        skipped=_skipped(raw) or _text(raw.get("skipped")), skipped_by_window=bool(_skipped(raw)), orphaned=_orphaned(raw),
        attempts=len(raw["attempts"]) if isinstance(raw.get("attempts"), list) else 0,
        parent=_text(raw.get("parent")),
        revisions=[_text(item) for item in raw.get("revisions") or [] if _text(item)],
        removed_children=_removed_children(raw, secrets),
        applicationset_kept=_applicationset_kept(raw),
    )


def _applicationset_kept(raw: dict[str, Any]) -> dict[str, Any]:
    found = raw.get("applicationset_kept")
    if not isinstance(found, dict):
        return {}
    return {"applicationset": _text(found.get("applicationset")), "applications_sync": _text(found.get("applications_sync")),
            "created_now": bool(found.get("created_now")), "generated_differs": bool(found.get("generated_differs")),
            "differences": [_text(item) for item in found.get("differences") or []]}


def _removed_children(raw: dict[str, Any], secrets: list[str]) -> list[dict[str, Any]]:
    found = raw.get("removed_children")
    if not isinstance(found, list):
        return []
    return [{key: scrub_text(_text(item[key]), secrets) for key in ("name", "namespace", "action", "cascade", "message", "error")
             if item.get(key)} for item in found if isinstance(item, dict)]


def _skipped(raw: dict[str, Any]) -> str:
    if raw.get("sync_skipped"):
        return _text(raw["sync_skipped"])
    windows = raw.get("sync_blocked_by")
    if isinstance(windows, list) and windows:
        shown = ", ".join(f"{_text(w.get('kind'))} window '{_text(w.get('schedule'))}' for {_text(w.get('duration'))}"
                          for w in windows if isinstance(w, dict))
        return f"a sync now would be skipped: {shown}"
    return ""


def _orphaned(raw: dict[str, Any]) -> list[dict[str, Any]] | None:
    found = raw.get("orphaned_resources")
    if not isinstance(found, list):
        return None
    return [{key: _text(item.get(key)) for key in ("group", "kind", "namespace", "name")} for item in found if isinstance(item, dict)]


def cluster_report(cluster: str, result: dict[str, Any] | None, secrets: Iterable[str] = ()) -> ClusterReport:
    """One cluster from a registered gitops_sync or gitops_diff result (either form).

    A skipped task (no application selected) gives a cluster without
    applications; a failed task without per-application results gives a
    cluster error.
    """
    secrets = list(secrets)
    report = ClusterReport(name=cluster)
    if not isinstance(result, dict) or result.get("skipped"):
        return report
    if isinstance(result.get("applications"), list):
        report.applications = [_application(cluster, raw, secrets) for raw in result["applications"] if isinstance(raw, dict)]
        order = result.get("sync_order")
        if isinstance(order, list):
            report.sync_order = [[_text(name) for name in wave] for wave in order if isinstance(wave, list)]
    elif "sync_status" in result and "name" in result:
        single = dict(result)
        if single.get("failed") and not single.get("error"):
            single["error"] = single.get("msg") or "failed"
        report.applications = [_application(cluster, single, secrets)]
    elif result.get("failed"):
        report.error = scrub_text(_text(result.get("msg")) or "failed without a message", secrets)
    return report


def build_report(results: list[dict[str, Any]], mode: str, title: str = "GitOps report",
                 details: dict[str, str] | None = None, secrets: Iterable[str] = (),
                 now: datetime | None = None) -> RunReport:
    """The run report from [{cluster, result}, ...]."""
    secrets = list(secrets)
    clusters = [cluster_report(_text(entry.get("cluster")) or "cluster", entry.get("result"), secrets)
                for entry in results]
    generated = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return RunReport(mode=mode, title=title, generated_at=generated, clusters=clusters, unmatched=find_unmatched(results),
                     details={str(k): scrub_text(_text(v), secrets) for k, v in (details or {}).items() if v not in (None, "")})


# -- formats ---------------------------------------------------------------------------------------------


def to_json(report: RunReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: RunReport) -> str:
    counts = report.counts()
    heading = "Drift report" if report.mode == DRIFT else "Sync report"
    lines = [f"# {_md(report.title)}: {heading}", ""]
    lines.append(" ".join([f"Generated {report.generated_at}."] + [f"{_md(k)}: {_md(v)}." for k, v in report.details.items()]))
    lines += ["", f"**{counts['applications']}** applications on **{counts['clusters']}** clusters: "
              f"{counts['synced']} synced, {counts['out_of_sync']} out of sync, {counts['unknown']} unknown, "
              f"{counts['failed']} failed.", ""]
    for cluster in report.clusters:
        if cluster.error:
            lines.append(f"- **{_md(cluster.name)}**: could not be checked: {_md(cluster.error)}")
        if cluster.sync_order:
            waves = " -> ".join(", ".join(_md(name) for name in wave) for wave in cluster.sync_order)
            lines.append(f"- **{_md(cluster.name)}** sync order (depends_on): {waves}")
    lines += ["| Cluster | Application | Status | Health | Revision | Changes |", "|---|---|---|---|---|---|"]
    for app in report.applications:
        changes = app.error if app.error else app.changes(report.mode) + (f"; {app.skipped}" if app.skipped else "")
        lines.append(f"| {_md(app.cluster)} | {_md(app.name)} | {app.status} | {app.health_status} | "
                     f"`{short_revision(app.revision) or '-'}` | {_md(changes)} |")
    if report.unmatched:
        lines += ["", "## Applications no cluster took", ""]
        lines += [f"- {_md(unmatched_line(entry))}" for entry in report.unmatched]
    orphaned = [app for app in report.applications if app.orphaned]
    if orphaned:
        lines += ["", "## Orphaned resources", ""]
        for app in orphaned:
            kinds = ", ".join(f"`{o['kind']}{'.' + o['group'] if o['group'] else ''} {o['namespace']}/{o['name']}`"
                              for o in app.orphaned or [])
            lines.append(f"- {_md(app.cluster)} / {_md(app.name)}: {kinds}")
    drifted = [app for app in report.applications if app.drifted_objects]
    if drifted:
        lines += ["", "## Objects" + (" that drifted" if report.mode == DRIFT else " written"), ""]
        for app in drifted:
            lines.append(f"### {app.cluster} / {app.name}")
            lines.append("")
            for obj in app.drifted_objects:
                note = f": {obj.message}" if obj.message else ""
                lines.append(f"- `{obj.ref}`: {obj.action}{_md(note)}")
                if obj.diff:
                    lines += ["", "  ```diff"] + [f"  {line}" for line in obj.diff.rstrip("\n").split("\n")] + ["  ```", ""]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def to_junit(report: RunReport) -> str:
    """JUnit XML: a test suite per cluster, a test case per application."""
    suites = ET.Element("testsuites", name=report.title)
    total = failures = errors = skipped = 0
    for cluster in report.clusters:
        suite = ET.SubElement(suites, "testsuite", name=cluster.name, timestamp=report.generated_at)
        suite_failures = suite_errors = suite_skipped = 0
        if cluster.error:
            case = ET.SubElement(suite, "testcase", classname=cluster.name, name="(cluster)")
            ET.SubElement(case, "error", message=cluster.error, type="ClusterError").text = cluster.error
            suite_errors += 1
        for app in cluster.applications:
            case = ET.SubElement(suite, "testcase", classname=cluster.name, name=app.name, time=f"{app.duration:.3f}")
            if app.error:
                ET.SubElement(case, "error", message=app.error, type="SyncError").text = app.error
                suite_errors += 1
            elif app.skipped and report.mode != DRIFT:
                # not synced on purpose (manual, a sync window, a dependency): JUnit's skipped, not a failure
                ET.SubElement(case, "skipped", message=app.skipped)
                suite_skipped += 1
            elif not app.passed():
                message = app.failure(report.mode)
                body = "\n".join(f"{obj.ref}: {obj.action}{' - ' + obj.message if obj.message else ''}"
                                 + (f"\n{obj.diff}" if obj.diff else "") for obj in app.drifted_objects)
                ET.SubElement(case, "failure", message=message, type=app.status).text = body or message
                suite_failures += 1
            ET.SubElement(case, "system-out").text = app.summary_line(report.mode)
        tests = len(cluster.applications) + (1 if cluster.error else 0)
        suite.set("tests", str(tests))
        suite.set("failures", str(suite_failures))
        suite.set("errors", str(suite_errors))
        suite.set("skipped", str(suite_skipped))
        total, failures, errors = total + tests, failures + suite_failures, errors + suite_errors
        skipped += suite_skipped
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    suites.set("skipped", str(skipped))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


_BADGE_CLASS = {
    SYNCED: "ok", OUT_OF_SYNC: "warn", UNKNOWN: "muted", FAILED: "bad",
    "Healthy": "ok", "Suspended": "muted", "Progressing": "info", "Missing": "warn", "Degraded": "bad",
}

_CSS = """
:root{--ok:#1a7f37;--warn:#b35900;--bad:#cf222e;--info:#0969da;--muted:#6e7781;--line:#d0d7de}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#d0d7de}
main{padding:16px 24px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line)}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f6f8fa;font-weight:600}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.ok{background:var(--ok)}.warn{background:var(--warn)}.bad{background:var(--bad)}.info{background:var(--info)}.muted{background:var(--muted)}
details{margin:4px 0}
summary{cursor:pointer}
pre.diff{background:#fff;border:1px solid var(--line);padding:8px;overflow:auto;max-height:480px;margin:4px 0}
pre.diff span{display:block}
.add{background:#dafbe1}.del{background:#ffebe9}.hunk{color:var(--info)}
.error{color:var(--bad)}
.skipped{color:var(--muted)}
"""


def _badge(status: str) -> str:
    return f'<span class="badge {_BADGE_CLASS.get(status, "muted")}">{html.escape(status)}</span>'


def _diff_html(diff: str) -> str:
    rows = []
    for line in diff.rstrip("\n").split("\n"):
        css = ""
        if line.startswith(("+++", "---")):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        elif line.startswith("@@"):
            css = "hunk"
        rows.append(f'<span class="{css}">{html.escape(line) or " "}</span>' if css else f"<span>{html.escape(line) or ' '}</span>")
    return '<pre class="diff">' + "".join(rows) + "</pre>"


def to_html(report: RunReport) -> str:
    """A single self-contained page: inline CSS, no scripts, no external assets."""
    esc = html.escape
    counts = report.counts()
    heading = "Drift report" if report.mode == DRIFT else "Sync report"
    details = " · ".join(f"{esc(k)}: {esc(v)}" for k, v in report.details.items())
    out = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}: {heading}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f'<header><h1>{esc(report.title)}: {heading}</h1><p>Generated {esc(report.generated_at)}'
        f'{" · " + details if details else ""}</p></header>', "<main>", '<div class="cards">',
    ]
    for label, key in (("Applications", "applications"), ("Synced", "synced"), ("Out of sync", "out_of_sync"),
                       ("Unknown", "unknown"), ("Failed", "failed"), ("Clusters", "clusters")):
        out.append(f'<div class="card" id="count-{key}"><b>{counts[key]}</b>{label}</div>')
    out.append("</div>")
    for cluster in report.clusters:
        if cluster.error:
            out.append(f'<p class="error" data-cluster="{esc(cluster.name)}"><b>{esc(cluster.name)}</b>: {esc(cluster.error)}</p>')
    out.append('<table id="applications"><thead><tr><th>Cluster</th><th>Application</th><th>Status</th><th>Health</th>'
               "<th>Revision</th><th>Changes</th></tr></thead><tbody>")
    for app in report.applications:
        cell = [f'<span class="error">{esc(app.error)}</span>' if app.error else esc(app.changes(report.mode))]
        if app.skipped and not app.error:
            cell.append(f'<div class="skipped">{esc(app.skipped)}</div>')
        if app.orphaned:
            items = "".join(f"<li><code>{esc(o['kind'] + ('.' + o['group'] if o['group'] else ''))} "
                            f"{esc(o['namespace'])}/{esc(o['name'])}</code></li>" for o in app.orphaned)
            cell.append(f'<details class="orphaned"><summary>{len(app.orphaned)} orphaned resources</summary><ul>{items}</ul></details>')
        for obj in app.drifted_objects:
            label = f"<code>{esc(obj.ref)}</code> {esc(obj.action)}"
            if obj.message:
                label += f" – {esc(obj.message)}"
            if obj.diff:
                cell.append(f"<details><summary>{label}</summary>{_diff_html(obj.diff)}</details>")
            else:
                cell.append(f"<div>{label}</div>")
        out.append(
            f'<tr class="application" data-application="{esc(app.name)}" data-status="{esc(app.status)}">'
            f"<td>{esc(app.cluster)}</td><td><b>{esc(app.name)}</b>"
            f'{"<br><small>" + esc(app.namespace) + "</small>" if app.namespace else ""}</td>'
            f"<td>{_badge(app.status)}</td><td>{_badge(app.health_status)}</td>"
            f"<td><code>{esc(short_revision(app.revision)) or '-'}</code></td><td>{''.join(cell)}</td></tr>"
        )
    if not report.applications:
        out.append('<tr><td colspan="6">No applications.</td></tr>')
    out += ["</tbody></table>", "</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


RENDERERS = {"json": to_json, "markdown": to_markdown, "junit": to_junit, "html": to_html}


def write_atomic(path: str, text: str, mode: int) -> None:
    directory = os.path.dirname(path)
    handle, temp = tempfile.mkstemp(prefix=".report-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def write_reports(report: RunReport, dest: str, formats: Iterable[str], mode: int = 0o644) -> dict[str, str]:
    """Write the requested formats under dest (created if needed); returns {format: path}."""
    dest = os.path.abspath(os.path.expanduser(dest))
    os.makedirs(dest, exist_ok=True)
    written: dict[str, str] = {}
    for name in formats:
        path = os.path.join(dest, FORMATS[name])
        write_atomic(path, RENDERERS[name](report), mode)
        written[name] = path
    return written
