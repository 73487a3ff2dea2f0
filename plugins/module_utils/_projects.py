# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD AppProject manifests, translated into our model (the only place that reads their camelCase).

A project becomes a `Project`: its rule set (a `_policy.Policy`, the same one
the `policy` option builds), its sync windows (`_windows.SyncWindow`) and its
orphaned resources settings. Every manifest is checked when it is read, so a
malformed project or window fails the task before any Git or cluster work.
Fields that would change what is deployed and that the collection does not
do are refused by name; nothing is accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._policy import DestinationPattern, KindPattern, KindRule, Policy
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import ARGOCD_API_VERSION, _Reader
from ansible_collections.gitops.kubernetes.plugins.module_utils._windows import (
    ALLOW,
    DENY,
    CronSchedule,
    SyncWindow,
    WindowError,
    load_zone,
    parse_duration,
)

DEFAULT_PROJECT = "default"
# the projects option of gitops_sync and gitops_diff; documented by doc_fragments/_projects.py
PROJECTS_ARGUMENT_SPEC = {"projects": {"type": "list", "elements": "raw"}}

_UNSUPPORTED = {
    "signatureKeys": "commit signature verification (GnuPG) is not supported",
    "sourceNamespaces": "Applications in other namespaces are an Argo CD server feature; applications here come from "
                        "the playbook",
    "destinationServiceAccounts": "impersonation of a service account per destination is not supported; the cluster "
                                  "identity is the inventory host's kubeconfig",
    "permitOnlyProjectScopedClusters": "project-scoped cluster Secrets are not supported; clusters are inventory hosts",
}
# accepted and without effect here, by their nature: who may use the project in Argo CD's API and UI (AWX
# decides who runs a job), and free text
_NOT_DEPLOYMENT = ("roles", "description")


@dataclass
class OrphanedResources:
    """Argo CD's orphanedResources: list objects of the destination namespace no application owns."""

    warn: bool = False
    ignore: list[KindPattern] = field(default_factory=list)

    def ignored(self, group: str, kind: str, name: str) -> bool:
        return any(pattern.matches(group, kind, name) for pattern in self.ignore)


@dataclass
class Project:
    """An AppProject in our words."""

    name: str
    rules: Policy
    windows: list[SyncWindow] = field(default_factory=list)
    orphaned_resources: OrphanedResources | None = None


def default_project() -> Project:
    """Argo CD's default project when none named 'default' is given: everything allowed, no windows."""
    label = f"project {DEFAULT_PROJECT!r}"
    return Project(DEFAULT_PROJECT, Policy(
        label=label,
        namespaced=KindRule(None, [], "namespaceResourceWhitelist", "namespaceResourceBlacklist", ""),
        cluster_scoped=KindRule(None, [], "clusterResourceWhitelist", "clusterResourceBlacklist", ""),
    ))


def parse_projects(raw: Any) -> dict[str, Project]:
    """AppProject manifests (mappings, or YAML text as lookup('file') reads it) by name; SpecError if one is bad."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raw = [raw]
    manifests: list[tuple[str, Any]] = []
    for index, item in enumerate(raw):
        where = f"projects[{index}]"
        if isinstance(item, str):
            manifests += [(where, doc) for doc in _load_documents(item, where) if doc is not None]
        else:
            manifests.append((where, item))
    projects: dict[str, Project] = {}
    for where, manifest in manifests:
        project = parse_project(manifest, where)
        if project.name in projects:
            raise SpecError(f"{where}: two AppProjects are named {project.name!r}")
        projects[project.name] = project
    return projects


def _load_documents(text: str, where: str) -> list[Any]:
    import yaml

    from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_documents

    try:
        return [data for dummy, data in load_documents(text)]
    except YamlLimitError as err:
        raise SpecError(f"{where}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise SpecError(f"{where} is not valid YAML{at}: {getattr(err, 'problem', None) or err}") from None


def parse_project(raw: Any, where: str = "projects") -> Project:
    """One AppProject manifest; SpecError naming the project and the key."""
    if not isinstance(raw, dict) or raw.get("kind") != "AppProject" or raw.get("apiVersion") != ARGOCD_API_VERSION:
        kind = raw.get("kind") if isinstance(raw, dict) else type(raw).__name__
        raise SpecError(f"{where}: an AppProject manifest (apiVersion {ARGOCD_API_VERSION}, kind AppProject) is "
                        f"expected, got {kind!r}")
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: metadata.name is required")
    top = _Reader(raw, f"AppProject {name!r}", None)
    top.only(("apiVersion", "kind", "metadata", "spec", "status"))
    spec = top.child("spec")
    spec.only(("sourceRepos", "destinations", "clusterResourceWhitelist", "clusterResourceBlacklist",
               "namespaceResourceWhitelist", "namespaceResourceBlacklist", "syncWindows", "orphanedResources",
               *_NOT_DEPLOYMENT), hint=_UNSUPPORTED, when_empty=tuple(_UNSUPPORTED))
    label = f"project {name!r}"
    repos = spec.texts("sourceRepos")
    destinations = []
    for item in spec.items("destinations"):
        item.only(("server", "name", "namespace"))
        destination = DestinationPattern(item.text("server"), item.text("name"), item.text("namespace"))
        for key in ("server", "name", "namespace"):
            if getattr(destination, key) == "!*":
                item.fail("'!*' denies everything; remove the destination instead", key)
        destinations.append(destination)
    rules = Policy(
        label=label,
        # Argo CD: no sourceRepos or destinations means no application may use the project
        allowed_repos=repos,
        repos_rule="sourceRepos",
        repo_separator="/",
        destinations=destinations,
        destinations_rule="destinations: " + ("; ".join(str(d) for d in destinations) if destinations else "none given"),
        namespaced=KindRule(
            _kinds(spec, "namespaceResourceWhitelist", with_name=False) if "namespaceResourceWhitelist" in spec.raw
            and spec.raw["namespaceResourceWhitelist"] is not None else None,
            _kinds(spec, "namespaceResourceBlacklist", with_name=False),
            "namespaceResourceWhitelist", "namespaceResourceBlacklist",
            "namespaced objects are not allowed (rule namespaceResourceWhitelist: [])"),
        # Argo CD: an empty (or absent) clusterResourceWhitelist allows no cluster-scoped kind at all
        cluster_scoped=KindRule(
            _kinds(spec, "clusterResourceWhitelist", with_name=True), _kinds(spec, "clusterResourceBlacklist", with_name=True),
            "clusterResourceWhitelist", "clusterResourceBlacklist",
            "cluster-scoped objects are not allowed (rule clusterResourceWhitelist: none given)"),
    )
    windows = [_window(item) for item in spec.items("syncWindows")]
    orphaned = None
    if spec.has("orphanedResources"):
        section = spec.child("orphanedResources")
        section.only(("warn", "ignore"))
        ignore = []
        for item in section.items("ignore"):
            item.only(("group", "kind", "name"))
            ignore.append(KindPattern(item.text("group") or "*", item.text("kind") or "*", item.text("name")))
        orphaned = OrphanedResources(section.flag("warn"), ignore)
    return Project(name, rules, windows, orphaned)


def _kinds(spec: _Reader, key: str, with_name: bool) -> list[KindPattern]:
    patterns = []
    for item in spec.items(key):
        item.only(("group", "kind", "name") if with_name else ("group", "kind"))
        if not item.text("kind"):
            item.fail("is required (use '*' for every kind)", "kind")
        patterns.append(KindPattern(item.text("group"), item.text("kind"), item.text("name") if with_name else ""))
    return patterns


def _window(item: _Reader) -> SyncWindow:
    # syncOverrun lets a sync that is running continue when a window closes or opens: a sync here is checked once,
    # when it starts, and is never stopped by a window, whatever its value
    item.only(("kind", "schedule", "duration", "applications", "namespaces", "clusters", "manualSync", "timeZone",
               "andOperator", "description", "syncOverrun"))
    kind = item.text("kind", required=True)
    if kind not in (ALLOW, DENY):
        item.fail(f"{kind!r} must be allow or deny", "kind")
    time_zone = item.text("timeZone") or "UTC"
    try:
        schedule = CronSchedule.parse(item.text("schedule", required=True))
    except WindowError as err:
        item.fail(str(err), "schedule")
    duration_text = item.text("duration", required=True)
    try:
        duration = parse_duration(duration_text)
    except WindowError as err:
        item.fail(str(err), "duration")
    try:
        load_zone(time_zone)
    except WindowError as err:
        item.fail(str(err), "timeZone")
    window = SyncWindow(
        kind=kind, schedule=schedule, duration=duration, duration_text=duration_text, time_zone=time_zone,
        applications=item.texts("applications"), namespaces=item.texts("namespaces"), clusters=item.texts("clusters"),
        manual_sync=item.flag("manualSync"), and_operator=item.flag("andOperator"), description=item.text("description"),
    )
    if not (window.applications or window.namespaces or window.clusters):
        item.fail("matches no application: give applications, namespaces or clusters")
    return window
