# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare desired objects with the live cluster, without noise.

For every desired object the API server itself predicts the result of our
apply (server-side apply, dryRun=All, our field manager, forced), and that
prediction is compared with the live object after both are normalised. So
defaults the server fills in are never drift; a field removed from Git that
our manager still owns is drift (the prediction drops it); a field another
manager changed is drift (the forced prediction restores it).

Statuses: Synced, OutOfSync, Missing (not in the cluster), Extraneous (in the
application's inventory, no longer desired: a prune candidate) and Unknown
(the kind is not served and no CRD in the application defines it, or the
server could not predict the apply).

Secret values never leave this module: patches, before/after documents and
messages of Secrets carry masks (_redact) that still tell which keys changed.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._dryruns import DryRunVerdicts
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import (
    CompareError,
    GitopsError,
    KubeApiError,
    SpecError,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._inventory import (
    PART_OF_LABEL,
    Inventory,
    find_previous_inventories,
    read_inventory,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import ApiResource, KubeClient
from ansible_collections.gitops.kubernetes.plugins.module_utils._live import LiveReads
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import (
    DesiredObject,
    ObjectRef,
    split_api_version,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import (
    SECRET_MASK,
    SECRET_MASK_CHANGED,
    is_secret,
    mask_secret,
    scrub_text,
    secret_values,
)

if TYPE_CHECKING:
    from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import ResourceCustomizations

try:
    import jsonpatch

    HAS_JSONPATCH = True
    JSONPATCH_IMPORT_ERROR: str | None = None
except ImportError:
    HAS_JSONPATCH = False
    JSONPATCH_IMPORT_ERROR = traceback.format_exc()

try:
    import jq

    HAS_JQ = True
except ImportError:
    HAS_JQ = False

try:
    import yaml

    HAS_YAML = True
    SAFE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter when PyYAML has it
except ImportError:
    HAS_YAML = False

SYNCED = "Synced"
OUT_OF_SYNC = "OutOfSync"
MISSING = "Missing"
EXTRANEOUS = "Extraneous"
UNKNOWN = "Unknown"
STATUSES = (SYNCED, OUT_OF_SYNC, MISSING, EXTRANEOUS, UNKNOWN)
DRIFT_STATUSES = frozenset({OUT_OF_SYNC, MISSING, EXTRANEOUS})

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DROPPED_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")
HOOK_ANNOTATIONS = ("argocd.argoproj.io/hook", "helm.sh/hook")
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
CRD_GROUP = "apiextensions.k8s.io"
# Above this many objects of one kind in one namespace not found by the
# inventory label, one unfiltered LIST is cheaper than a GET each.
LIST_INSTEAD_OF_GET = 16


# --------------------------------------------------------------------------
# ignore rules


@dataclass
class IgnoreRule:
    """One ignore_differences entry (as in Argo CD) selecting objects and fields."""

    group: str = ""
    kind: str = ""
    name: str | None = None
    namespace: str | None = None
    json_pointers: list[str] = field(default_factory=list)
    jq_path_expressions: list[str] = field(default_factory=list)
    managed_fields_managers: list[str] = field(default_factory=list)

    @classmethod
    def from_any(cls, raw: Any) -> "IgnoreRule":
        """From a module option dict or the application spec's IgnoreDifference."""
        get = raw.get if isinstance(raw, dict) else (lambda key, default=None: getattr(raw, key, default))
        rule = cls(
            group=get("group") or "",
            kind=get("kind") or "",
            name=get("name") or None,
            namespace=get("namespace") or None,
            json_pointers=list(get("json_pointers") or []),
            jq_path_expressions=list(get("jq_path_expressions") or []),
            managed_fields_managers=list(get("managed_fields_managers") or []),
        )
        rule.validate()
        return rule

    def validate(self) -> None:
        """Raise SpecError for a rule that could never work."""
        if not self.kind:
            raise SpecError("every ignore_differences entry needs a kind (use '*' for any)")
        for pointer in self.json_pointers:
            if not pointer.startswith("/"):
                raise SpecError(f"ignore_differences json_pointers entry {pointer!r} must start with '/'")
        if self.jq_path_expressions:
            if not HAS_JQ:
                raise SpecError(
                    "ignore_differences jq_path_expressions need the 'jq' Python package (pip install jq) "
                    "on the host that runs the module; use json_pointers otherwise"
                )
            for expression in self.jq_path_expressions:
                try:
                    jq.compile(f"del({expression})")
                except ValueError as exc:
                    raise SpecError(f"ignore_differences jq_path_expressions entry {expression!r} is invalid: {exc}") from None

    def matches(self, ref: ObjectRef) -> bool:
        """True when the rule selects this object."""
        return (
            _glob_match(self.group, ref.group)
            and _glob_match(self.kind, ref.kind)
            and (self.name is None or self.name == ref.name)
            and (self.namespace is None or self.namespace == ref.namespace)
        )


def _glob_match(pattern: str, value: str) -> bool:
    """'*' alone, or a glob such as '*.crossplane.io' (argocd-cm keys may hold them)."""
    return pattern == value or pattern == "*" or ("*" in pattern and fnmatch.fnmatchcase(value, pattern))


def _pointer_tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def remove_pointer(document: Any, pointer: str) -> None:
    """Delete the value at a JSON pointer, if it is there."""
    tokens = _pointer_tokens(pointer)
    if not tokens:
        return
    node = document
    for token in tokens[:-1]:
        node = _child(node, token)
        if node is None:
            return
    last = tokens[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token)
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    return None


PathElement = tuple[str, Any]  # ("f", field) | ("k", {key: value}) | ("v", value) | ("i", index)


def managed_paths(managed_fields: list[dict[str, Any]] | None, managers: Iterable[str]) -> list[list[PathElement]]:
    """Paths of the fields the given managers own, from a live object's managedFields."""
    wanted = set(managers)
    paths: list[list[PathElement]] = []
    for entry in managed_fields or []:
        if entry.get("manager") in wanted and entry.get("fieldsType", "FieldsV1") == "FieldsV1":
            _collect_paths(entry.get("fieldsV1") or {}, [], paths)
    return paths


def _collect_paths(tree: dict[str, Any], prefix: list[PathElement], out: list[list[PathElement]]) -> None:
    if prefix and "." in tree:
        out.append(prefix)  # the manager owns the whole element, not only fields below it
        return
    for key, subtree in tree.items():
        if key == ".":
            continue
        kind, raw = key.split(":", 1) if ":" in key else (key, "")
        try:
            value: Any = json.loads(raw) if kind in ("k", "v") else int(raw) if kind == "i" else raw
        except ValueError:
            continue
        element = prefix + [(kind, value)]
        if subtree:
            _collect_paths(subtree, element, out)
        else:
            out.append(element)


def remove_managed_path(document: Any, path: list[PathElement]) -> None:
    """Delete the field a managedFields path names, if it is there."""
    node = document
    for position, (kind, value) in enumerate(path):
        last = position == len(path) - 1
        if kind == "f":
            if not isinstance(node, dict) or value not in node:
                return
            if last:
                del node[value]
                return
            node = node[value]
            continue
        if not isinstance(node, list):
            return
        if kind == "k":
            index = next(
                (i for i, item in enumerate(node) if isinstance(item, dict) and all(item.get(k) == v for k, v in value.items())),
                None,
            )
        elif kind == "v":
            index = next((i for i, item in enumerate(node) if item == value), None)
        else:
            index = value if isinstance(value, int) and value < len(node) else None
        if index is None:
            return
        if last:
            del node[index]
            return
        node = node[index]


def apply_ignore_rules(
    rules: list[IgnoreRule], ref: ObjectRef, live_raw: dict[str, Any], documents: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Remove ignored fields from every document (live and predicted alike)."""
    selected = [rule for rule in rules if rule.matches(ref)]
    if not selected:
        return documents
    result = []
    for document in documents:
        document = copy.deepcopy(document)  # normalised views share nested values with the raw objects
        for rule in selected:
            for pointer in rule.json_pointers:
                remove_pointer(document, pointer)
            for expression in rule.jq_path_expressions:
                document = jq.compile(f"del({expression})").input_value(document).first()
            if rule.managed_fields_managers:
                # ownership as it is live, before our forced dry-run took the fields over
                for path in managed_paths((live_raw.get("metadata") or {}).get("managedFields"), rule.managed_fields_managers):
                    remove_managed_path(document, path)
        result.append(document)
    return result


def keep_ignored_fields(rules: list[IgnoreRule], ref: ObjectRef, desired: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """The desired manifest with every field the rules ignore set to its live value (Argo CD's
    RespectIgnoreDifferences): removed where the live object has none, so the apply leaves it as it is."""
    selected = [rule for rule in rules if rule.matches(ref)]
    if not selected or not live:
        return desired
    result = copy.deepcopy(desired)
    for rule in selected:
        for pointer in rule.json_pointers:
            _copy_at(result, live, _pointer_tokens(pointer))
        for expression in rule.jq_path_expressions:
            result = jq.compile(f"del({expression})").input_value(result).first()
            for path in jq.compile(f"[path({expression})]").input_value(live).first() or []:
                _copy_at(result, live, list(path))
        if rule.managed_fields_managers:
            # fields another manager owns are left out of our apply: they stay as that manager set them
            for managed in managed_paths((live.get("metadata") or {}).get("managedFields"), rule.managed_fields_managers):
                remove_managed_path(result, managed)
    return result


def _copy_at(target: Any, source: Any, tokens: list[Any]) -> None:
    """target[tokens] = source[tokens], creating mappings on the way; removed from target when source has none."""
    if not tokens:
        return
    value: Any = source
    for token in tokens:
        value = _child(value, str(token)) if not isinstance(token, int) else (
            value[token] if isinstance(value, list) and token < len(value) else None)
        if value is None:
            break
    node = target
    for token in tokens[:-1]:
        child = _child(node, str(token)) if not isinstance(token, int) else (
            node[token] if isinstance(node, list) and token < len(node) else None)
        if child is None:
            if value is None or not isinstance(node, dict):
                return
            child = node[str(token)] = {}
        node = child
    last = tokens[-1]
    if isinstance(node, dict):
        if value is None:
            node.pop(str(last), None)
        else:
            node[str(last)] = copy.deepcopy(value)
    elif isinstance(node, list) and str(last).isdigit() and int(last) < len(node) and value is not None:
        node[int(last)] = copy.deepcopy(value)


# --------------------------------------------------------------------------
# immutable fields

# The API server's wording for "this field cannot change in place" (apimachinery's FieldImmutableErrorMsg and the
# whole-spec rules of PVCs, PVs, StatefulSets, Pods, StorageClasses), matched in one cause's detail only
IMMUTABLE_DETAIL = re.compile(r"\bimmutable\b|may not change once set|^updates to .* are forbidden|may not change fields other than")
FIELD_CAUSES = ("FieldValueInvalid", "FieldValueForbidden")


def _cause_detail(cause: dict[str, Any]) -> str:
    """The rule a cause states, without the rejected value (which may hold any word, an object name included)."""
    message = str(cause.get("message") or "").split("\n", 1)[0]
    if cause.get("reason") == "FieldValueForbidden":
        return message.partition("Forbidden: ")[2] or message
    return message.rpartition(": ")[2]  # "Invalid value: <value>: <detail>"


def immutable_fields(error: KubeApiError) -> list[str]:
    """The fields an update was refused for because they cannot change in place, from the Status' causes.

    Empty unless every cause is such a field: an update that is also invalid
    otherwise (replicas: -1) is an invalid object, never a reason to delete
    and recreate it.
    """
    causes = error.causes
    if error.status != 422 or error.reason != "Invalid" or not causes:
        return []
    if not all(c.get("reason") in FIELD_CAUSES and IMMUTABLE_DETAIL.search(_cause_detail(c)) for c in causes):
        return []
    return [str(c.get("field") or "") for c in causes]


# --------------------------------------------------------------------------
# results


@dataclass
class ComparedObject:
    """The comparison of one object: its status, the JSON Patch live -> desired, and views for --diff.

    `desired`, `live` and `predicted` are raw (Secret values included) for
    gitops_sync; only `to_result()` is for output, and it is masked.
    """

    ref: ObjectRef
    status: str
    api_version: str = ""
    patch: list[dict[str, Any]] | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    desired: dict[str, Any] | None = None
    live: dict[str, Any] | None = None
    predicted: dict[str, Any] | None = None
    message: str = ""
    source: str = ""
    resource: ApiResource | None = None
    counts_as_drift: bool = True
    immutable_fields: list[str] = field(default_factory=list)  # the dry-run was refused for these only
    unvalidated_namespace: str = ""  # Missing, and not validated: this namespace does not exist yet
    verdict_key: str = ""  # the dry-run verdict cache's key for this manifest (gitops_sync records its applies)
    inventory_set_id: str = ""  # Extraneous: the ApplySet whose inventory lists it (ours, or one we left behind)
    _yaml: tuple[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def drifted(self) -> bool:
        return self.status in DRIFT_STATUSES and self.counts_as_drift

    def to_result(self, with_diff: bool = False) -> dict[str, Any]:
        """The module's view of this object (masked; before/after only with diff)."""
        result: dict[str, Any] = {
            **self.ref.identity(self.api_version),
            "status": self.status,
            "patch": self.patch,
        }
        if self.message:
            result["message"] = self.message
        if self.source:
            result["source"] = self.source
        if with_diff and self.status in DRIFT_STATUSES:
            # only what differs: a fleet's synced objects would make the result (and Ansible's work on it) huge
            result["before"], result["after"] = self._yaml_pair()
        return result

    def ansible_diff(self) -> dict[str, str]:
        """One entry of Ansible's `diff` list."""
        before, after = self._yaml_pair()
        return {
            "before": before,
            "after": after,
            "before_header": f"{self.ref} (live)",
            "after_header": f"{self.ref} ({'desired' if self.status != EXTRANEOUS else 'pruned'})",
        }

    def _yaml_pair(self) -> tuple[str, str]:
        """before/after as YAML, rendered once (the result and Ansible's diff both show them)."""
        if self._yaml is None:
            self._yaml = (to_yaml(self.before), to_yaml(self.after))
        return self._yaml


@dataclass
class ApplicationDiff:
    """The comparison of one application."""

    name: str
    revision: str | None
    namespace: str
    resources: list[ComparedObject]
    summary: dict[str, int]
    sync_status: str
    inventory: Inventory | None = None
    # parents of this application in namespaces it was moved away from, still holding members
    previous: list[Inventory] = field(default_factory=list)
    # what the user should know that is no error (objects of kinds resource.exclusions leaves out)
    warnings: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)  # every source's, for a multi-source application

    @property
    def set_ids(self) -> set[str]:
        """The ApplySet ids whose objects are this application's: its own and those it left behind."""
        return {inv.set_id for inv in ([self.inventory] if self.inventory else []) + self.previous}

    @property
    def out_of_sync(self) -> bool:
        return self.sync_status != SYNCED

    def to_result(self, with_diff: bool = False) -> dict[str, Any]:
        """The module's view of this application."""
        result = {
            "name": self.name,
            "revision": self.revision,
            "namespace": self.namespace,
            "resources": [obj.to_result(with_diff) for obj in self.resources],
            "summary": dict(self.summary),
            "sync_status": self.sync_status,
            "out_of_sync": self.out_of_sync,
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }
        if self.revisions:
            result["revisions"] = list(self.revisions)
        return result

    def ansible_diffs(self) -> list[dict[str, str]]:
        """Ansible `diff` entries for the drifted objects only."""
        return [obj.ansible_diff() for obj in self.resources if obj.drifted]


def summarise(resources: list[ComparedObject]) -> tuple[dict[str, int], str]:
    """Counts per status and the application's sync status.

    OutOfSync if anything drifted; else Unknown if anything could not be
    compared; else Synced.
    """
    summary = {status: 0 for status in STATUSES}
    for obj in resources:
        summary[obj.status] += 1
    if any(obj.drifted for obj in resources):
        return summary, OUT_OF_SYNC
    if summary[UNKNOWN]:
        return summary, UNKNOWN
    return summary, SYNCED


def to_yaml(document: dict[str, Any] | None) -> str:
    """Stable YAML for --diff ('' for an absent side)."""
    if document is None:
        return ""
    return yaml.dump(document, Dumper=SAFE_DUMPER, sort_keys=True, default_flow_style=False, allow_unicode=True)


# --------------------------------------------------------------------------
# normalisation


def normalise(document: dict[str, Any], keep_status: bool = False) -> dict[str, Any]:
    """A view without what the server owns or changes on every write (status too, unless keep_status:
    argocd-cm's resource.compareoptions ignoreResourceStatusField).

    Only the top level and metadata are new dicts; deeper values are shared
    with `document`, so whoever edits deeper (ignore rules, masking) copies first.
    """
    result = {key: value for key, value in document.items() if keep_status or key != "status"}
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        metadata = result["metadata"] = {key: value for key, value in metadata.items() if key not in DROPPED_METADATA}
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            metadata["annotations"] = {key: value for key, value in annotations.items() if key != LAST_APPLIED}
        for key in ("annotations", "labels"):
            if key in metadata and not metadata[key]:
                del metadata[key]
    return result


def label_member(manifest: dict[str, Any], set_id: str) -> dict[str, Any]:
    """The manifest as gitops_sync applies it: a copy labelled as an ApplySet member.

    Compare dry-runs exactly this, so an object synced before is Synced and
    an object never synced (no part-of label) shows the label as drift.
    """
    result = dict(manifest)  # new top level and metadata; the rest is never edited, so it is shared
    metadata = result["metadata"] = dict(result.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), PART_OF_LABEL: set_id}
    return result


def masked_pair(live: dict[str, Any] | None, predicted: dict[str, Any] | None) -> tuple[dict | None, dict | None]:
    """before/after views; for Secrets, values replaced by markers that differ where values differ."""
    if not (is_secret(live) or is_secret(predicted)):
        return live, predicted
    after = mask_secret(predicted, other=live) if predicted is not None else None
    before = None
    if live is not None:
        before = mask_secret(live, other=predicted) if predicted is not None else mask_secret(live)
        # a changed value shows as plain mask before and "(changed)" after, so the line diff shows it
        for section in ("data", "stringData"):
            values = before.get(section)
            if isinstance(values, dict):
                for key, value in values.items():
                    if value == SECRET_MASK_CHANGED:
                        values[key] = SECRET_MASK
    return before, after


# --------------------------------------------------------------------------
# the comparison


@dataclass
class _Planned:
    desired: DesiredObject
    manifest: dict[str, Any]  # namespace-defaulted and labelled: exactly what sync applies
    ref: ObjectRef
    resource: ApiResource | None
    unknown_reason: str = ""
    crd_in_app: bool = False


def _crds_in(objects: Iterable[DesiredObject]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for every CRD the application itself defines."""
    found: dict[tuple[str, str], bool] = {}
    for obj in objects:
        manifest = obj.manifest
        if obj.kind == "CustomResourceDefinition" and split_api_version(obj.api_version)[0] == CRD_GROUP:
            spec = manifest.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                found[(spec["group"], kind)] = spec.get("scope", "Namespaced") == "Namespaced"
    return found


def is_hook_manifest(manifest: dict[str, Any]) -> bool:
    """Whether a manifest is an Argo CD or Helm hook (run by the sync, never part of the compared state)."""
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(key) for key in HOOK_ANNOTATIONS)


def plan_objects(
    client: KubeClient, app_name: str, objects: list[DesiredObject], namespace: str, set_id: str
) -> list[_Planned]:
    """Validate, default namespaces (decided by discovery) and resolve each desired object's resource."""
    app_crds = _crds_in(objects)
    planned: list[_Planned] = []
    seen: dict[ObjectRef, DesiredObject] = {}
    for obj in objects:
        manifest = obj.manifest
        if not isinstance(manifest, dict) or not obj.api_version or not obj.kind:
            raise CompareError("object has no apiVersion or kind", application=app_name, file=obj.source_file or None, line=obj.source_line)
        if is_hook_manifest(manifest):
            continue  # hooks run during sync (and may use generateName); they are not part of the compared state
        if not (manifest.get("metadata") or {}).get("name"):
            raise CompareError(f"{obj.kind} has no metadata.name", application=app_name, file=obj.source_file or None, line=obj.source_line)
        group = split_api_version(obj.api_version)[0]
        resource = client.resource_for(obj.api_version, obj.kind)
        manifest = label_member(manifest, set_id)
        metadata = manifest["metadata"]
        unknown_reason = ""
        crd_in_app = (group, obj.kind) in app_crds
        if resource is not None:
            namespaced: bool | None = resource.namespaced
        elif crd_in_app:
            namespaced = app_crds[(group, obj.kind)]
        else:
            namespaced = None
            # Argo CD takes a kind it does not know for a namespaced one (SkipDryRunOnMissingResource applies it so)
            metadata["namespace"] = metadata.get("namespace") or namespace
            served = client.discovery().served_versions(group, obj.kind)
            unknown_reason = (
                f"{obj.api_version} {obj.kind} is not served by the cluster"
                + (f" (served versions: {', '.join(served)})" if served else " and no CustomResourceDefinition in the application defines it")
            )
        if namespaced:
            metadata["namespace"] = metadata.get("namespace") or namespace
        elif namespaced is False:
            metadata.pop("namespace", None)
        ref = ObjectRef.from_manifest(manifest)
        if ref in seen:
            first = seen[ref]
            raise CompareError(
                f"{ref} is defined twice (also in {first.location() or 'another document'})",
                application=app_name, file=obj.source_file or None, line=obj.source_line, object_ref=str(ref),
            )
        seen[ref] = obj
        planned.append(_Planned(obj, manifest, ref, resource, unknown_reason, crd_in_app))
    return planned


def fetch_live(
    client: KubeClient, planned: list[_Planned], inventories: list[Inventory], reads: LiveReads
) -> tuple[dict[ObjectRef, dict[str, Any]], dict[ObjectRef, ApiResource]]:
    """Live objects for desired objects and the members of the application's inventories.

    Members by the ApplySet label (reads: a LIST per kind and namespace, or
    the batch's shared LIST), then GET (or, above LIST_INSTEAD_OF_GET per
    kind+namespace, one unfiltered LIST) for what the label did not find.
    """
    discovery = client.discovery()
    wanted: dict[ObjectRef, ApiResource] = {p.ref: p.resource for p in planned if p.resource is not None}
    for inventory in inventories:
        for member in inventory.members:
            if member not in wanted:
                resource = discovery.preferred(member.group, member.kind)
                if resource is not None:
                    wanted[member] = resource
    live: dict[ObjectRef, dict[str, Any]] = {}

    def scope(ref: ObjectRef, resource: ApiResource) -> tuple[ApiResource, str | None]:
        return resource, (ref.namespace or None) if resource.namespaced else None

    def index(items: list[dict[str, Any]]) -> None:
        for item in items:
            ref = ObjectRef.from_manifest(item)
            if ref in wanted:
                live[ref] = item

    scopes = sorted({scope(ref, res) for ref, res in wanted.items()}, key=lambda s: (s[0].plural, s[0].group, s[1] or ""))
    labelled = [(s, inv.set_id) for inv in inventories if inv.exists for s in scopes]
    for items in client.map(lambda job: reads.labelled(job[0][0], job[0][1], job[1]), labelled):
        index(items)
    remaining: dict[tuple[ApiResource, str | None], list[ObjectRef]] = {}
    for ref, resource in wanted.items():
        if ref not in live:
            remaining.setdefault(scope(ref, resource), []).append(ref)
    big = [s for s, refs in remaining.items() if len(refs) > LIST_INSTEAD_OF_GET]
    for items in client.map(lambda s: client.list_objects(s[0], s[1]), big):
        index(items)
    gets = [(s, ref) for s, refs in remaining.items() if s not in big for ref in refs]
    for (s, ref), item in zip(gets, client.map(lambda job: client.get(job[0][0], job[0][1], job[1].name), gets)):
        if item is not None:
            live[ref] = item
    return live, wanted


def _compare_one(
    client: KubeClient, plan: _Planned, live: dict[str, Any] | None, rules: list[IgnoreRule],
    verdicts: DryRunVerdicts | None = None, raw_rules: list[Any] | None = None, keep_status: bool = False,
    validate_all: bool = True,
) -> ComparedObject:
    # Validate=false (the application's, or the object's sync-options annotation): fieldValidation=Ignore
    validate = validate_all and "validate=false" not in _sync_options_text(plan.manifest)
    result = ComparedObject(
        ref=plan.ref, status=UNKNOWN, api_version=plan.desired.api_version, desired=plan.manifest, live=live,
        source=plan.desired.location(), resource=plan.resource,
    )
    if verdicts is not None and plan.resource is not None:
        # the rules that apply to this object are part of its verdict (raw_rules[i] is rules[i] as given)
        applying: list[Any] = [raw for raw, rule in zip(raw_rules or [], rules) if rule.matches(plan.ref)]
        if keep_status:
            applying.append("status compared")
        result.verdict_key = verdicts.key(plan.manifest, json.dumps(applying, sort_keys=True, default=str))
        if live is not None and verdicts.still_synced(result.verdict_key, live):
            result.status, result.patch = SYNCED, []  # the same dry-run said so, and nothing it depends on changed
            return result
    secrets = secret_values([plan.manifest, live])
    if plan.resource is None and not plan.crd_in_app:
        result.message = plan.unknown_reason
        return result
    if live is None:
        result.status = MISSING
        after = normalise(plan.manifest)
        result.after = mask_secret(after) if is_secret(after) else after
        if plan.resource is None:
            result.message = "its CustomResourceDefinition is part of the application and not yet served"
            return result
        try:
            # validate what would be created (schema, types, size, admission) so an invalid object is
            # reported here, before a sync writes anything, instead of failing halfway through the sync
            client.apply(plan.resource, plan.manifest, dry_run=True, force_conflicts=True, validate=validate)
        except KubeApiError as exc:
            missing_namespace = missing_namespace_of(exc)
            if missing_namespace:
                # nothing to validate against yet: gitops_sync creates the namespace, then validates, before any other write
                result.unvalidated_namespace = missing_namespace
                result.message = f"not validated yet: its namespace {missing_namespace} does not exist"
            else:
                result.status = UNKNOWN
                result.message = scrub_text(f"the API server rejected the dry-run apply: {exc.message}", secrets)
        return result
    if plan.resource is None:
        # live exists although the kind is not served: discovery is stale; nothing to dry-run against
        result.message = "the cluster returned the object but does not serve its kind"
        return result
    try:
        predicted = client.apply(plan.resource, plan.manifest, dry_run=True, force_conflicts=True, validate=validate)
    except KubeApiError as exc:
        result.message = scrub_text(f"the API server rejected the dry-run apply: {exc.message}", secrets)
        result.immutable_fields = immutable_fields(exc)
        if result.immutable_fields:
            # Git changes a field that cannot change in place: certainly drift (sync needs Replace=true)
            result.status = OUT_OF_SYNC
        return result
    result.predicted = predicted
    live_view, predicted_view = apply_ignore_rules(rules, plan.ref, live, [normalise(live, keep_status),
                                                                           normalise(predicted, keep_status)])
    # equal documents (the common case) need no patch search
    raw_patch = [] if live_view == predicted_view else jsonpatch.make_patch(live_view, predicted_view).patch
    result.status = OUT_OF_SYNC if raw_patch else SYNCED
    if verdicts is not None and not raw_patch:
        verdicts.record(result.verdict_key, live)
    result.before, result.after = masked_pair(live_view, predicted_view)
    if is_secret(live_view) or is_secret(predicted_view):
        result.patch = jsonpatch.make_patch(result.before, result.after).patch if raw_patch else []
    else:
        result.patch = raw_patch
    return result


def _sync_options_text(manifest: dict[str, Any]) -> str:
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get("argocd.argoproj.io/sync-options") or "").replace(" ", "").lower()


def missing_namespace_of(error: KubeApiError) -> str:
    """The namespace a 404 says does not exist (details.kind 'namespaces'), else ''."""
    if error.status == 404 and error.details.get("kind") == "namespaces" and not error.details.get("group"):
        return str(error.details.get("name") or "")
    return ""


def _extraneous(ref: ObjectRef, resource: ApiResource, live: dict[str, Any], set_id: str) -> ComparedObject:
    before = normalise(live)
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    ignored = "IgnoreExtraneous" in (annotations.get(COMPARE_OPTIONS) or "")
    return ComparedObject(
        ref=ref, status=EXTRANEOUS, api_version=live.get("apiVersion") or resource.api_version,
        before=mask_secret(before) if is_secret(before) else before, live=live, resource=resource,
        message="no longer in the application: a prune candidate"
        + (" (not counted as drift: compare-options IgnoreExtraneous)" if ignored else ""),
        counts_as_drift=not ignored, inventory_set_id=set_id,
    )


def compare_application(
    client: KubeClient,
    name: str,
    objects: list[DesiredObject],
    *,
    namespace: str | None = None,
    ignore_differences: Iterable[Any] = (),
    revision: str | None = None,
    reads: LiveReads | None = None,
    verdicts: DryRunVerdicts | None = None,
    source: str | None = None,
    customizations: ResourceCustomizations | None = None,
    validate: bool = True,
) -> ApplicationDiff:
    """Compare an application's desired objects with the cluster.

    `namespace` is the destination namespace: namespaced objects without one
    get it, and the application's inventory parent lives there. `reads`
    shares the live reads of a batch of applications (default: this
    application's own GET and LISTs); `verdicts` reuses Synced dry-runs whose
    inputs did not change (default: every object is dry-run). `source`
    identifies where the application comes from: the parents it left in
    other namespaces are found by it, and their members compared too.
    `customizations` (argocd-cm's, see _argocd_cm) add system-level ignore
    rules, leave out kinds resource.exclusions / inclusions exclude (never
    compared, applied or pruned) and say whose status is compared.
    validate=False dry-runs without field validation (Argo CD's Validate=false). Raises
    CompareError/SpecError for problems in the application, and
    ClusterConnectionError when the cluster cannot be used at all.
    """
    if not HAS_JSONPATCH or not HAS_YAML:
        raise CompareError("the 'jsonpatch' and 'PyYAML' Python packages are required", application=name)
    destination = namespace or client.default_namespace
    try:
        ignore_differences = list(ignore_differences or [])
        warnings: list[str] = []
        if customizations is not None:
            objects, warnings = _leave_out_excluded(customizations, list(objects), getattr(client, "server", ""))
            ignore_differences += customizations.ignore_rules_for(obj.manifest for obj in objects
                                                                  if isinstance(obj.manifest, dict))
        rules = [IgnoreRule.from_any(raw) for raw in ignore_differences]
        reads = reads or LiveReads(client)
        inventory = read_inventory(client, name, destination, reads)
        clash = inventory.source_problem(source)
        if clash:  # its members are another application's: never prune candidates of this one
            raise CompareError(clash, application=name)
        previous = find_previous_inventories(client, inventory, source)
        planned = plan_objects(client, name, list(objects), destination, inventory.set_id)
        live, resources = fetch_live(client, planned, [inventory] + previous, reads)
        compared = client.map(lambda p: _compare_one(
            client, p, live.get(p.ref), rules, verdicts, ignore_differences,
            customizations is not None and customizations.compares_status(p.ref.group, p.ref.kind), validate), planned)
        desired_refs = {p.ref for p in planned}
        # a member reached under another API group (Event in v1 and events.k8s.io/v1) is the desired object itself
        desired_uids = {_uid(live.get(ref)) for ref in desired_refs} - {""}
        listed: set[ObjectRef] = set()
        for owner in [inventory] + previous:
            for ref in sorted(owner.members - desired_refs - listed):
                if customizations is not None and customizations.excluded(ref.group, ref.kind, getattr(client, "server", "")):
                    continue  # Argo CD does not see objects of excluded kinds: never pruned
                if ref in live and _uid(live[ref]) not in desired_uids:
                    listed.add(ref)
                    compared.append(_extraneous(ref, resources[ref], live[ref], owner.set_id))
    except GitopsError as exc:
        raise exc.with_application(name)
    summary, sync_status = summarise(compared)
    return ApplicationDiff(name, revision, destination, compared, summary, sync_status, inventory, previous, warnings)


def _leave_out_excluded(customizations: ResourceCustomizations, objects: list[DesiredObject],
                        cluster: str) -> tuple[list[DesiredObject], list[str]]:
    """The desired objects of kinds not excluded, and a warning per object left out (Argo CD's
    ExcludedResourceWarning)."""
    kept: list[DesiredObject] = []
    warnings: list[str] = []
    for obj in objects:
        group = split_api_version(obj.api_version)[0] if obj.api_version else ""
        if obj.kind and customizations.excluded(group, obj.kind, cluster):
            name = ((obj.manifest or {}).get("metadata") or {}).get("name") or ""
            where = f" ({obj.location()})" if obj.location() else ""
            warnings.append(f"{group + '/' if group else ''}{obj.kind} {name}{where} is excluded by resource.exclusions / "
                            "resource.inclusions: not compared, applied or pruned")
        else:
            kept.append(obj)
    return kept, warnings


def _uid(live: dict[str, Any] | None) -> str:
    return ((live or {}).get("metadata") or {}).get("uid") or ""
