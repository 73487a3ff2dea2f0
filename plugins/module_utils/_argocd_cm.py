# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD's resource customizations (the argocd-cm ConfigMap) translated into the collection's model.

The one place that reads argocd-cm's spelling (imported by _spec, the other
translation of Argo CD's forms): the stages see a ResourceCustomizations.

Read from the `data` of argocd-cm (or the whole ConfigMap manifest, or its YAML):

- resource.customizations.health.<group_kind>, resource.customizations.useOpenLibs.<group_kind>,
  resource.customizations.ignoreDifferences.<group_kind> (and .all), resource.customizations.ignoreResourceUpdates.*,
  resource.customizations.actions.* and .knownTypeFields.*, and the older resource.customizations YAML block
  (`<group>/<Kind>: {health.lua: ..., ignoreDifferences: ...}`); keys may hold wildcards (`*.crossplane.io/*`);
- resource.exclusions / resource.inclusions (kinds never compared, applied or pruned);
- resource.compareoptions (ignoreAggregatedRoles, ignoreResourceStatusField, ignoreDifferencesOnResourceUpdates);
- resource.ignoreResourceUpdatesEnabled.

What has no meaning here, and why (kept out of any verdict, said in the docs):
ignoreResourceUpdates only stops Argo CD's controller from refreshing an
application when a watched object changes in those fields; this collection
watches nothing and compares every object on every run, so there is no
refresh to skip (using them to skip comparisons would hide drift). actions are
Argo CD UI buttons. knownTypeFields teach Argo CD's client-side diff the type
of a field in a custom resource; here the API server's dry-run produces both
sides of the comparison, so there is nothing to normalise. useOpenLibs: every
script gets the safe libraries (string, table, math, os.time/os.date) and never
io, os or debug. Other argocd-cm keys configure Argo CD's own services; they are
named in a warning, not read.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import HealthChecks, HealthScript, group_kind_key
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.lua import HAS_LUPA, LuaError, check_script

try:
    import yaml

    HAS_YAML = True
except ImportError:
    HAS_YAML = False

PREFIX = "resource.customizations"
CUSTOMIZATION_TYPES = ("health", "useOpenLibs", "actions", "ignoreDifferences", "ignoreResourceUpdates", "knownTypeFields")
OTHER_RESOURCE_KEYS = ("resource.exclusions", "resource.inclusions", "resource.compareoptions",
                       "resource.ignoreResourceUpdatesEnabled", "resource.respectRBAC", "resource.includeEventLabelKeys",
                       "resource.excludeEventLabelKeys", "resource.customLabels")
STATUS_FIELD_CHOICES = {"all": "all", "crd": "crd", "none": "none", "off": "none", "false": "none"}
CRD_KEY = "apiextensions.k8s.io/CustomResourceDefinition"
RBAC_GROUP = "rbac.authorization.k8s.io"
# module options (documented by doc_fragments/_resource_customizations.py)
RESOURCE_CUSTOMIZATIONS_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "resource_customizations": {"type": "raw"},
    "resource_customizations_dir": {"type": "path"},
}


@dataclass(frozen=True)
class ResourceFilter:
    """One resource.exclusions / resource.inclusions entry: globs over API groups, kinds and cluster URLs."""

    api_groups: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    def matches(self, group: str, kind: str, cluster: str) -> bool:
        def any_glob(patterns: tuple[str, ...], value: str) -> bool:
            return not patterns or any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)

        return any_glob(self.api_groups, group) and any_glob(self.kinds, kind) and any_glob(self.clusters, cluster)


@dataclass
class ResourceCustomizations:
    """System-level settings of every application of a run: health scripts, ignore rules, resource filters."""

    health: HealthChecks = field(default_factory=HealthChecks)
    # ignore rules in the collection's form (group, kind, json_pointers, jq_path_expressions, managed_fields_managers)
    ignore_differences: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[ResourceFilter] = field(default_factory=list)
    inclusions: list[ResourceFilter] = field(default_factory=list)
    ignore_aggregated_roles: bool = False
    # which objects' status is left out of the comparison: all (Argo CD's default), crd, none
    ignore_status: str = "all"
    warnings: list[str] = field(default_factory=list)

    def excluded(self, group: str, kind: str, cluster: str = "") -> bool:
        """Argo CD's IsExcludedResource: excluded, or not included when there are inclusions."""
        if any(f.matches(group, kind, cluster) for f in self.exclusions):
            return True
        return bool(self.inclusions) and not any(f.matches(group, kind, cluster) for f in self.inclusions)

    def compares_status(self, group: str, kind: str) -> bool:
        if self.ignore_status == "all":
            return False
        return not (self.ignore_status == "crd" and group_kind_key(group, kind) == CRD_KEY)

    def ignore_rules_for(self, manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The system-level ignore rules, with /rules of each aggregated ClusterRole when ignoreAggregatedRoles."""
        rules = list(self.ignore_differences)
        if self.ignore_aggregated_roles:
            for manifest in manifests:
                if manifest.get("kind") == "ClusterRole" and str(manifest.get("apiVersion") or "").startswith(RBAC_GROUP + "/") \
                        and manifest.get("aggregationRule"):
                    name = (manifest.get("metadata") or {}).get("name")
                    rules.append({"group": RBAC_GROUP, "kind": "ClusterRole", "name": name, "json_pointers": ["/rules"]})
        return rules


def parse_resource_customizations(raw: Any, directory: str | None = None) -> ResourceCustomizations:
    """From the resource_customizations option (argocd-cm data, its manifest, or either as YAML text) and
    resource_customizations_dir; raises SpecError naming the key or file at fault."""
    data = _config_map_data(raw)
    result = ResourceCustomizations()
    scripts: dict[str, HealthScript] = {}
    for key, override in _overrides(data).items():
        origin = override.pop("_origin")
        if override.get("health"):
            scripts[key] = HealthScript(str(override["health"]), origin)
        for rule_key in ("ignoreDifferences",):
            if rule_key in override:
                result.ignore_differences.append(_ignore_rule(key, override[rule_key], origin))
        if "ignoreResourceUpdates" in override:
            _ignore_rule(key, override["ignoreResourceUpdates"], origin)  # validated; see the module docstring
    result.exclusions = _filters(data, "resource.exclusions")
    result.inclusions = _filters(data, "resource.inclusions")
    options = _yaml_value(data, "resource.compareoptions") or {}
    if not isinstance(options, dict):
        raise SpecError("resource_customizations: resource.compareoptions must be a YAML mapping")
    unknown = set(options) - {"ignoreAggregatedRoles", "ignoreResourceStatusField", "ignoreDifferencesOnResourceUpdates"}
    if unknown:
        raise SpecError(f"resource_customizations: resource.compareoptions has unknown keys: {', '.join(sorted(unknown))}")
    result.ignore_aggregated_roles = _flag(options.get("ignoreAggregatedRoles"), "resource.compareoptions.ignoreAggregatedRoles")
    status_field = options.get("ignoreResourceStatusField")
    word = "all" if status_field in (None, "") else ("false" if status_field is False else str(status_field).lower())
    # Argo CD ignores status everywhere for a value it does not know, and says so in its log
    result.ignore_status = STATUS_FIELD_CHOICES.get(word, "all")
    if word not in STATUS_FIELD_CHOICES:
        result.warnings.append(f"resource.compareoptions.ignoreResourceStatusField {status_field!r} is not all, crd or "
                               "none: status is ignored for all objects, as Argo CD does")
    ignored_keys = sorted(k for k in data if not k.startswith(PREFIX) and k not in OTHER_RESOURCE_KEYS)
    if ignored_keys:
        result.warnings.append("resource_customizations: these argocd-cm keys configure Argo CD's own services and are "
                               "not used by this collection: " + ", ".join(ignored_keys))
    directory_scripts = _directory_scripts(directory) if directory else {}
    all_scripts = list(scripts.values()) + list(directory_scripts.values())
    if all_scripts and not HAS_LUPA:
        raise SpecError("resource_customizations: Lua health scripts need the 'lupa' Python package (pip install lupa) "
                        f"on the host that runs the module: {', '.join(script.origin for script in all_scripts[:3])}"
                        + (", ..." if len(all_scripts) > 3 else ""))
    for script in all_scripts:
        try:
            check_script(script.source)
        except LuaError as exc:
            raise SpecError(f"resource_customizations: the health script {script.origin} does not compile: {exc}") from None
    result.health = HealthChecks(scripts, directory_scripts)
    return result


def _config_map_data(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        if not HAS_YAML:
            raise SpecError("resource_customizations given as text needs PyYAML")
        try:
            raw = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise SpecError(f"resource_customizations is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError("resource_customizations must be the data of the argocd-cm ConfigMap, or the ConfigMap itself")
    if raw.get("kind") == "ConfigMap" or ("data" in raw and "apiVersion" in raw):
        raw = raw.get("data") or {}
        if not isinstance(raw, dict):
            raise SpecError("resource_customizations: the ConfigMap's data must be a mapping")
    return raw


def _yaml_value(data: dict[str, Any], key: str) -> Any:
    value = data.get(key)
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise SpecError(f"resource_customizations: {key} is not valid YAML: {exc}") from None


def _flag(value: Any, where: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise SpecError(f"resource_customizations: {where} must be true or false, not {value!r}")


def _overrides(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Argo CD's ResourceOverride map ('group/Kind' -> settings) from both spellings."""
    overrides: dict[str, dict[str, Any]] = {}
    block = _yaml_value(data, PREFIX)
    if block:
        if not isinstance(block, dict):
            raise SpecError(f"resource_customizations: {PREFIX} must be a YAML mapping of group/Kind to settings")
        for key, settings in block.items():
            if not isinstance(settings, dict):
                raise SpecError(f"resource_customizations: {PREFIX} entry {key!r} must be a mapping")
            unknown = set(settings) - {"health.lua", "health.lua.useOpenLibs", "useOpenLibs", "actions",
                                       "ignoreDifferences", "ignoreResourceUpdates", "knownTypeFields"}
            if unknown:
                raise SpecError(f"resource_customizations: {PREFIX} entry {key!r} has unknown keys: {', '.join(sorted(unknown))}")
            entry = overrides.setdefault(str(key), {"_origin": f"argocd-cm {PREFIX} {key}"})
            if settings.get("health.lua"):
                entry["health"] = settings["health.lua"]
            for name in ("ignoreDifferences", "ignoreResourceUpdates"):
                if settings.get(name):
                    entry[name] = settings[name]
    for key in sorted(data):
        if not key.startswith(PREFIX + "."):
            continue
        parts = key.split(".", 3)
        if len(parts) < 4:
            continue
        kind_of_setting, group_kind = parts[2], parts[3]
        if kind_of_setting not in CUSTOMIZATION_TYPES:
            raise SpecError(f"resource_customizations: {key}: resource customization type {kind_of_setting} not supported "
                            f"(one of {', '.join(CUSTOMIZATION_TYPES)})")
        override_key = _override_key(key, group_kind)
        entry = overrides.setdefault(override_key, {})
        entry["_origin"] = f"argocd-cm {key}" if kind_of_setting == "health" else entry.get("_origin", f"argocd-cm {key}")
        if kind_of_setting == "health":
            entry["health"] = data[key]
        elif kind_of_setting in ("ignoreDifferences", "ignoreResourceUpdates"):
            entry[kind_of_setting] = data[key]
        elif kind_of_setting == "useOpenLibs":
            _flag(data[key], key)
    return overrides


def _override_key(key: str, group_kind: str) -> str:
    if group_kind == "all":
        return "*/*"
    parts = group_kind.split("_")
    if len(parts) == 2 and all(parts):
        return f"{parts[0]}/{parts[1]}"
    if len(parts) == 1 and group_kind:
        return group_kind
    raise SpecError(f"resource_customizations: {key}: group kind should be in format "
                    "resource.customizations.<type>.<group_kind> or resource.customizations.<type>.<kind>")


def _ignore_rule(key: str, raw: Any, origin: str) -> dict[str, Any]:
    value = raw
    if isinstance(raw, str):
        try:
            value = yaml.safe_load(raw) or {}
        except yaml.YAMLError as exc:
            raise SpecError(f"resource_customizations: {origin} is not valid YAML: {exc}") from None
    if not isinstance(value, dict):
        raise SpecError(f"resource_customizations: {origin} must be a mapping of jsonPointers, jqPathExpressions, "
                        "managedFieldsManagers")
    unknown = set(value) - {"jsonPointers", "jqPathExpressions", "managedFieldsManagers"}
    if unknown:
        raise SpecError(f"resource_customizations: {origin} has unknown keys: {', '.join(sorted(unknown))}")
    group, dummy, kind = key.rpartition("/")
    rule = {"group": group, "kind": kind,
            "json_pointers": _texts(value.get("jsonPointers"), origin),
            "jq_path_expressions": _texts(value.get("jqPathExpressions"), origin),
            "managed_fields_managers": _texts(value.get("managedFieldsManagers"), origin)}
    for pointer in rule["json_pointers"]:
        if not pointer.startswith("/"):
            raise SpecError(f"resource_customizations: {origin}: {pointer!r} is not a JSON pointer (it must start with '/')")
    return rule


def _texts(value: Any, origin: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SpecError(f"resource_customizations: {origin}: expected a list of strings")
    return list(value)


def _filters(data: dict[str, Any], key: str) -> list[ResourceFilter]:
    value = _yaml_value(data, key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(f"resource_customizations: {key} must be a YAML list of apiGroups/kinds/clusters entries")
    filters = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - {"apiGroups", "kinds", "clusters"}:
            raise SpecError(f"resource_customizations: {key}[{index}] must have only apiGroups, kinds and clusters")
        filters.append(ResourceFilter(*(tuple(_texts(item.get(name), f"{key}[{index}].{name}"))
                                        for name in ("apiGroups", "kinds", "clusters"))))
    return filters


def _directory_scripts(directory: str) -> dict[str, HealthScript]:
    """<dir>/<group>/<Kind>/health.lua (and <dir>/<Kind>/health.lua for the core group); '_' stands for '*'."""
    root = os.path.expanduser(directory)
    if not os.path.isdir(root):
        raise SpecError(f"resource_customizations_dir {directory} is not a directory")
    scripts: dict[str, HealthScript] = {}
    for current, dirs, files in os.walk(root):
        dirs.sort()
        if "health.lua" not in files:
            continue
        relative = os.path.relpath(current, root).split(os.sep)
        if len(relative) == 2:
            key = f"{relative[0]}/{relative[1]}"
        elif len(relative) == 1 and relative[0] != ".":
            key = relative[0]
        else:
            continue
        if "_" in key:
            key = key.replace("_", "*")
        path = os.path.join(current, "health.lua")
        with open(path, encoding="utf-8") as handle:
            scripts[key] = HealthScript(handle.read(), path)
    return scripts
