# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preview a change before it merges: the applications rendered at another revision (a branch).

A run with a preview revision renders every application whose source is the
preview repository at that revision, compares the result with the live
cluster (the usual drift check, in gitops_diff or gitops_sync's check mode),
and renders the same application at its current target revision to list what
the change itself alters: objects added, changed and removed, independent of
live drift. Git generators of ApplicationSets (and of the generators option)
that read the preview repository read it at the preview revision too, so the
applications a branch adds or removes show as such. Nothing is written to the
cluster: a real sync with a preview revision is refused.
"""

from __future__ import annotations

import copy
import html
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import ObjectRef
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import scrub_text, secret_values, strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._report import unified_diff
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, SourceSpec
from ansible_collections.gitops.kubernetes.plugins.module_utils._urls import RepoUrlError, normalize_repo_url

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.app_of_apps import is_argo_object

try:
    from ansible_collections.gitops.kubernetes.plugins.module_utils._compare import masked_pair, to_yaml
except ImportError:  # needs PyYAML and jsonpatch: prepare_module() reports them missing before any of this runs
    pass

# the module options (gitops_diff, gitops_sync), documented by doc_fragments/_preview.py
PREVIEW_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "preview_revision": {"type": "str"},
    "preview_repo": {"type": "str"},
}
ADDED, CHANGED, REMOVED, UNCHANGED = "added", "changed", "removed", "unchanged"
PREVIEW_FILE = "preview.md"
# keys of a git generator's body naming its repository (Argo CD's and ours)
_GENERATOR_REPO_KEYS = ("repoURL", "repo_url")
_FENCE = re.compile(r"`{3,}")


def _comparable_url(url: str, what: str) -> str:
    try:
        return normalize_repo_url(strip_url_credentials(url.strip())).rstrip("/")
    except RepoUrlError as exc:
        raise SpecError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class PreviewOverride:
    """The revision a run previews, and the repository it concerns ('' for every Git source)."""

    revision: str
    repo: str = ""  # normalised (credentials stripped)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "PreviewOverride | None":
        """The module's preview options, or None when there is no preview revision."""
        revision = (params.get("preview_revision") or "").strip()
        repo = (params.get("preview_repo") or "").strip()
        if repo and not revision:
            raise SpecError("preview_repo needs preview_revision (the revision to preview in that repository)")
        if not revision:
            return None
        return cls(revision, _comparable_url(repo, "preview_repo") if repo else "")

    def concerns(self, repo_url: str, chart: bool = False) -> bool:
        """Whether a source (or git generator) of this repository takes the preview revision.

        Without a preview repository every Git source does, and no chart source: a branch name is no chart version.
        """
        if not self.repo:
            return not chart
        try:
            return _comparable_url(repo_url, "repository URL") == self.repo
        except SpecError:
            return False  # a URL that cannot be normalised is refused where it is used, with its application

    def source(self, source: SourceSpec) -> SourceSpec | None:
        """The source at the preview revision, or None when the preview does not concern it."""
        if not self.concerns(source.repo_url, bool(source.chart)):
            return None
        return replace(source, revision=self.revision)

    def application(self, app: Application) -> Application | None:
        """The application with the preview revision on the sources it concerns; None when it concerns none.

        A multi-source application keeps the revisions of its other sources.
        """
        previewed = [self.source(source) for source in app.sources]
        if all(source is None for source in previewed):
            return None
        sources = [new or old for new, old in zip(previewed, app.sources)]
        return replace(app, source=sources[0], more_sources=sources[1:])

    def generators(self, value: Any) -> Any:
        """A copy of generators (or ApplicationSet manifests) whose git generators of the repository read the preview
        revision; matrix and merge generators are walked into."""
        if isinstance(value, list):
            return [self.generators(item) for item in value]
        if not isinstance(value, dict):
            return value
        result = {}
        for key, item in value.items():
            if key == "git" and isinstance(item, dict):
                url = next((item[k] for k in _GENERATOR_REPO_KEYS if isinstance(item.get(k), str)), None)
                item = copy.deepcopy(item)
                if url is not None and self.concerns(url):
                    item["revision"] = self.revision
                result[key] = item
            else:
                result[key] = self.generators(item)
        return result

    def params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The module's parameters with every git generator of the repository at the preview revision
        (ApplicationSet files read here, so their generators can be rewritten too)."""
        previewed = dict(params)
        previewed["generators"] = self.generators(params.get("generators") or [])
        applicationsets = list(params.get("applicationsets") or [])
        if params.get("applicationset_files"):
            from ansible_collections.gitops.kubernetes.plugins.module_utils._appset import load_applicationset_files

            applicationsets += load_applicationset_files(params["applicationset_files"])
            previewed["applicationset_files"] = None
        previewed["applicationsets"] = self.generators(applicationsets)
        return previewed

    def to_result(self) -> dict[str, str]:
        return {"revision": self.revision, "repo": self.repo}


def refuse_real_sync(override: PreviewOverride | None, check_mode: bool) -> None:
    """A preview writes nothing: gitops_sync takes a preview revision in check mode only."""
    if override is not None and not check_mode:
        raise SpecError(f"preview_revision {override.revision!r} previews a change and never syncs it: run in check mode "
                        "(the drift playbook, or ansible-playbook --check), or sync the revision by setting it on the "
                        "applications")


# --------------------------------------------------------------------------
# what the change alters, object by object


@dataclass
class ObjectChange:
    """One object the change adds, changes or removes, with its YAML diff (Secret values masked)."""

    ref: ObjectRef
    change: str
    diff: str

    def to_result(self) -> dict[str, Any]:
        return {**self.ref.to_dict(), "change": self.change, "diff": self.diff}


def _keyed(manifests: Iterable[dict[str, Any]], namespace: str) -> dict[ObjectRef, dict[str, Any]]:
    keyed = {}
    for manifest in manifests:
        if is_argo_object(manifest):
            continue  # an app of apps' children are applications of the run, not objects of this one
        ref = ObjectRef.from_manifest(manifest)
        # both sides default the namespace alike, so a manifest that names it matches one that leaves it out
        keyed[replace(ref, namespace=ref.namespace or namespace)] = manifest
    return keyed


def object_changes(current: list[dict[str, Any]], previewed: list[dict[str, Any]], namespace: str) -> list[ObjectChange]:
    """What rendering at the preview revision adds, changes and removes compared with the current revision."""
    before, after = _keyed(current, namespace), _keyed(previewed, namespace)
    secrets = secret_values([*before.values(), *after.values()])
    changes = []
    for ref in sorted(set(before) | set(after), key=lambda r: (r.group, r.kind, r.namespace, r.name)):
        old, new = before.get(ref), after.get(ref)
        if old == new:
            continue
        change = ADDED if old is None else REMOVED if new is None else CHANGED
        shown_old, shown_new = masked_pair(old, new)
        diff = unified_diff(to_yaml(shown_old), to_yaml(shown_new), str(ref), sides=("current", "preview"))
        changes.append(ObjectChange(ref, change, scrub_text(diff, secrets)))
    return changes


@dataclass
class ApplicationPreview:
    """One application as the change alters it."""

    name: str
    namespace: str
    change: str  # ADDED, REMOVED (by a generator), CHANGED or UNCHANGED
    revision: str = ""  # the commit (or chart version) previewed
    current_revision: str = ""
    objects: list[ObjectChange] = field(default_factory=list)
    error: str = ""

    def to_result(self) -> dict[str, Any]:
        counts = {kind: sum(1 for o in self.objects if o.change == kind) for kind in (ADDED, CHANGED, REMOVED)}
        result: dict[str, Any] = {"name": self.name, "namespace": self.namespace, "change": self.change,
                                  "revision": self.revision, "current_revision": self.current_revision,
                                  "counts": counts, "objects": [o.to_result() for o in self.objects]}
        if self.error:
            result["error"] = self.error
        return result


# --------------------------------------------------------------------------
# the applications of a preview run


def _key(one: Any) -> tuple[str, str]:
    return one.name, one.namespace or ""


@dataclass
class PreviewPlan:
    """The applications the change concerns: `inputs` at the preview revision (compared with the live cluster),
    `current` the same applications at their current revision (by id of the preview input; absent for an
    application the change adds), `removed` the applications only the current revision generates."""

    override: PreviewOverride
    inputs: list[Any]
    current: dict[int, Any]
    removed: list[Any]

    @classmethod
    def for_params(cls, params: dict[str, Any], cache_dir: str,
                   applicationsets: dict[str, dict[str, Any]] | None = None) -> "PreviewPlan | None":
        """The plan of the module's preview options, or None without a preview revision; applicationsets receives
        what the ApplicationSets generate at the preview revision (as inputs_from_params)."""
        from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import inputs_from_params

        override = PreviewOverride.from_params(params)
        if override is None:
            return None
        if params.get("manifests") is not None:
            raise SpecError("preview_revision previews applications rendered from their sources; rendered manifests have "
                            "no source to render at another revision: give application specs")
        current = {_key(one): one for one in inputs_from_params(params, cache_dir)}
        previewed = inputs_from_params(override.params(params), cache_dir, applicationsets)
        inputs, base = [], {}
        for one in previewed:
            touched = override.application(one.app) if one.app is not None else None
            if touched is not None:
                one.app = touched
            before = current.get(_key(one))
            if before is None or touched is not None or before.raw != one.raw:
                inputs.append(one)
                if before is not None:
                    base[id(one)] = before
        seen = {_key(one) for one in previewed}
        removed = [one for key, one in current.items() if key not in seen]
        return cls(override, inputs, base, removed)

    def place(self, params: dict[str, Any], client: Any) -> None:
        """The current applications placed on the cluster of the run as their previews are (policy and projects
        check them against it); removed applications of other clusters are left out."""
        from ansible_collections.gitops.kubernetes.plugins.module_utils._clusters import HostCluster
        from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import place_inputs

        option = params.get("cluster") or {}
        host = HostCluster(option.get("server") or client.server, option.get("name") or "")
        self.removed = place_inputs(self.removed, host)[0]
        by_id = {id(one): one for one in self.inputs}
        for key, before in self.current.items():
            before.cluster = by_id[key].cluster if key in by_id else None

    def result(self, client: Any, inputs: list[Any], states: dict[int, Any]) -> dict[str, Any]:
        """What the change alters per application; inputs/states: the run's inputs (children included) and their
        DesiredState or GitopsError by id. An app of apps' children are compared with the cluster only."""
        from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import run_each

        planned = {id(one) for one in self.inputs}
        mine = [one for one in inputs if id(one) in planned]
        work = [self.current[id(one)] for one in mine if id(one) in self.current] + self.removed
        rendered = dict(zip((id(one) for one in work), run_each(work, lambda one: one.desired(client))))
        applications = []
        for one in mine:
            before = self.current.get(id(one))
            applications.append(self._compare(client, one, states.get(id(one)), before,
                                              rendered.get(id(before)) if before is not None else None))
        for one in self.removed:
            applications.append(self._compare(client, one, None, one, rendered.get(id(one)), removed=True))
        entries = [a.to_result() for a in applications]
        summary = {kind: sum(1 for a in applications if a.change == kind) for kind in (ADDED, CHANGED, REMOVED, UNCHANGED)}
        return {**self.override.to_result(), "summary": summary, "applications": entries}

    @staticmethod
    def _compare(client: Any, one: Any, previewed: Any, before: Any, current: Any, removed: bool = False) -> ApplicationPreview:
        namespace = one.namespace or client.default_namespace
        entry = ApplicationPreview(one.name, one.namespace or "", REMOVED if removed else ADDED if before is None else CHANGED)
        for state, side in ((previewed, "preview"), (current, "current")):
            if isinstance(state, GitopsError):
                entry.error = f"could not render the {side} revision: {state}"
                return entry
        # a multi-source application's revision is every source's, in order: the preview may concern any of them
        if previewed is not None:
            entry.revision = " ".join(previewed.revisions) or previewed.revision or ""
        if current is not None:
            entry.current_revision = " ".join(current.revisions) or current.revision or ""
        entry.objects = object_changes([o.manifest for o in current.objects] if current is not None else [],
                                       [o.manifest for o in previewed.objects] if previewed is not None else [],
                                       namespace)
        if entry.change == CHANGED and not entry.objects:
            entry.change = UNCHANGED
        return entry


# --------------------------------------------------------------------------
# preview.md: made for a pull request comment


def _fenced(text: str, language: str) -> str:
    """A fenced block longer than any backtick run of the text, so no content closes it."""
    longest = max((len(m.group(0)) for m in _FENCE.finditer(text)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}{'' if text.endswith(chr(10)) else chr(10)}{fence}\n"


def _live_status(result: dict[str, Any], name: str) -> str:
    entries = result.get("applications") if isinstance(result.get("applications"), list) else [result]
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            return str(entry.get("sync_status") or "")
    return ""


def preview_markdown(results: list[dict[str, Any]]) -> str | None:
    """preview.md of a run's results ({cluster, result} each), or None when no result carries a preview."""
    previews = [(one.get("cluster") or "", one.get("result") or {}) for one in results
                if isinstance((one.get("result") or {}).get("preview"), dict)]
    if not previews:
        return None
    revisions = sorted({str(result["preview"].get("revision") or "").replace("`", "'") for dummy, result in previews})
    sections, totals = [], {ADDED: 0, CHANGED: 0, REMOVED: 0}
    changing, errors = 0, 0
    for cluster, result in previews:
        for app in result["preview"].get("applications") or []:
            if app.get("change") == UNCHANGED and not app.get("error"):
                continue
            changing += not app.get("error")
            errors += bool(app.get("error"))
            counts = app.get("counts") or {}
            for kind in totals:
                totals[kind] += int(counts.get(kind) or 0)
            sections.append(_section(cluster, result, app, len(previews) > 1))
    objects = ", ".join(f"{totals[kind]} {kind}" for kind in (ADDED, CHANGED, REMOVED))
    summary = (f"**Preview of `{'`, `'.join(revisions)}`**: {changing} application(s) change "
               f"({objects} object(s))" + (f", {errors} could not be previewed" if errors else "") + ".")
    if not sections:
        return summary + "\n\nNo application changes.\n"
    return summary + "\n\n" + "\n".join(sections)


def _section(cluster: str, result: dict[str, Any], app: dict[str, Any], show_cluster: bool) -> str:
    name = html.escape(str(app.get("name") or ""))
    where = f"{html.escape(cluster)} / " if show_cluster else ""
    counts = app.get("counts") or {}
    if app.get("error"):
        headline = "error"
    elif app.get("change") in (ADDED, REMOVED):
        headline = f"application {app['change']}"
    else:
        headline = ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in (ADDED, CHANGED, REMOVED))
    live = _live_status(result, str(app.get("name") or ""))
    lines = [f"<details><summary><b>{where}{name}</b>: {headline}</summary>", ""]
    if app.get("error"):
        lines += [_fenced(str(app["error"]), "text")]
    if app.get("current_revision") or app.get("revision"):
        lines.append(f"Revision: `{app.get('current_revision') or '-'}` → `{app.get('revision') or '-'}`"
                     + (f"; the preview against the cluster: {live}" if live and app.get("change") != REMOVED else ""))
        lines.append("")
    objects = app.get("objects") or []
    if objects:
        lines += ["| change | kind | namespace | name |", "|---|---|---|---|"]
        for obj in objects:
            kind = f"{obj['kind']}.{obj['group']}" if obj.get("group") else obj.get("kind", "")
            lines.append(f"| {obj['change']} | {kind} | {obj.get('namespace') or ''} | {obj.get('name') or ''} |")
        lines.append("")
        lines.append(_fenced("".join(obj.get("diff") or "" for obj in objects), "diff"))
    lines += ["</details>", ""]
    return "\n".join(lines)
