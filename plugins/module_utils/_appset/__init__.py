# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD ApplicationSet manifests, read unchanged, turned into Application manifests.

`expand_applicationset` is the one place the ApplicationSet form is
translated: generators give parameter sets (generators.py), the template
(merged under a generator's own template, as Argo CD's mergo.Merge does) is
rendered once per set (templates.py), templatePatch applied, and every
Application is routed to its cluster: the inventory host whose cluster name or
server its destination names; an in-cluster or empty destination means the host
that lists the ApplicationSet. The Applications then go through the same parser
as any other (_spec.parse_application).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.generators import (
    Cluster,
    Context,
    ParamSet,
    generate_params,
    one_kind,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._appset.templates import check_go_options
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    ARGOCD_API_VERSION,
    DELETION_FINALIZERS,
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    RESOURCES_FINALIZER,
)

__all__ = ["APPLICATIONSET_CLUSTER_LABEL", "APPLICATIONSET_LABEL", "ApplicationSetResult", "Cluster", "GeneratedApplication",
           "bind_destination", "expand_applicationset", "load_applicationset_files", "parse_clusters"]

# recorded on every generated application's inventory parent: which ApplicationSet made it, for which cluster
# (two inventory hosts may share one API server; each only deletes what it generated)
APPLICATIONSET_LABEL = "gitops.kubernetes/applicationset"
APPLICATIONSET_CLUSTER_LABEL = "gitops.kubernetes/applicationset-cluster"
APPLICATIONS_SYNC = ("create-only", "create-update", "create-delete", "sync")
_SPEC_KEYS = ("generators", "template", "goTemplate", "goTemplateOptions", "templatePatch", "syncPolicy", "strategy")
_SPEC_REFUSED = {
    "ignoreApplicationDifferences": "lets Argo CD users edit generated Applications in its UI; a run always "
                                    "generates them from Git, so there is nothing to keep",
    "preservedFields": "keeps fields users edited on generated Applications; a run always generates them from Git",
}


@dataclass
class GeneratedApplication:
    manifest: dict[str, Any]  # an Argo CD Application manifest, destination bound to this cluster
    origin: str  # ApplicationSet, generator and element, for errors and the report


@dataclass
class ApplicationSetResult:
    name: str
    applications: list[GeneratedApplication] = field(default_factory=list)  # those of this cluster
    elsewhere: list[str] = field(default_factory=list)  # names generated for other inventory clusters
    preserve_resources_on_deletion: bool = False
    applications_sync: str = "sync"
    revisions: dict[str, str] = field(default_factory=dict)

    @property
    def deletes_disappeared(self) -> bool:
        """Whether an application this set no longer generates is deleted (Argo CD: create-only/create-update keep it)."""
        return self.applications_sync in ("create-delete", "sync")


def parse_clusters(raw: Any) -> list[Cluster]:
    """The inventory's clusters (name, server, labels, annotations), as the role passes them."""
    clusters = []
    for position, item in enumerate(raw or []):
        if not isinstance(item, dict) or not item.get("name"):
            raise SpecError(f"clusters[{position}] needs a name")
        unknown = set(item) - {"name", "server", "labels", "annotations"}
        if unknown:
            raise SpecError(f"clusters[{position}] has unknown keys: {', '.join(sorted(unknown))}")
        clusters.append(Cluster(name=str(item["name"]), server=str(item.get("server") or "").rstrip("/"),
                                labels={str(k): str(v) for k, v in (item.get("labels") or {}).items()},
                                annotations={str(k): str(v) for k, v in (item.get("annotations") or {}).items()}))
    return clusters


def _empty(value: Any) -> bool:
    return value in (None, "", 0, False) or (isinstance(value, (list, dict)) and not value)


def merge_template(own: Any, base: Any) -> Any:
    """mergo.Merge(own, base): what the generator's template leaves empty comes from the ApplicationSet's."""
    if isinstance(own, dict) and isinstance(base, dict):
        merged = copy.deepcopy(own)
        for key, value in base.items():
            merged[key] = merge_template(merged[key], value) if key in merged and not _empty(merged[key]) else copy.deepcopy(value)
        return merged
    return copy.deepcopy(base) if _empty(own) else copy.deepcopy(own)


def merge_patch(target: Any, patch: Any) -> Any:
    """templatePatch over an Application: mappings merge, null removes, lists replace (finalizers are a set)."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif key == "finalizers" and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + [item for item in value if item not in merged[key]]
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _spec_reader(manifest: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(manifest, dict):
        raise SpecError("an ApplicationSet must be a mapping")
    metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
    name = str(metadata.get("name") or "")
    if manifest.get("apiVersion") != ARGOCD_API_VERSION or manifest.get("kind") != "ApplicationSet":
        raise SpecError(f"ApplicationSet {name or '(unnamed)'}: apiVersion must be {ARGOCD_API_VERSION} and kind "
                        f"ApplicationSet, got {manifest.get('apiVersion')!r}, {manifest.get('kind')!r}")
    if not name:
        raise SpecError("an ApplicationSet needs metadata.name")
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        raise SpecError(f"ApplicationSet {name}: spec must be a mapping")
    for key in spec:
        if key in _SPEC_REFUSED and not _empty(spec[key]):
            raise SpecError(f"ApplicationSet {name}: spec.{key} is not supported: {_SPEC_REFUSED[key]}")
        if key not in _SPEC_KEYS and key not in _SPEC_REFUSED:
            raise SpecError(f"ApplicationSet {name}: spec.{key} is unknown (accepted: {', '.join(_SPEC_KEYS)})")
    strategy = spec.get("strategy") or {}
    if strategy and (not isinstance(strategy, dict) or set(strategy) - {"type"} or strategy.get("type") not in ("AllAtOnce", None, "")):
        raise SpecError(f"ApplicationSet {name}: spec.strategy is not supported except type AllAtOnce (progressive "
                        f"syncs order Argo CD's own sync operations; a run syncs all generated applications)")
    return name, spec


def expand_applicationset(manifest: Any, clusters: list[Cluster], cluster_name: str | None,
                          cache_dir: str | None = None) -> ApplicationSetResult:
    """The Applications an ApplicationSet generates for the cluster named cluster_name (None: the local host)."""
    name, spec = _spec_reader(manifest)
    go = spec.get("goTemplate") is True
    options = check_go_options([str(o) for o in spec.get("goTemplateOptions") or []], f"ApplicationSet {name}")
    policy = spec.get("syncPolicy") or {}
    if set(policy) - {"preserveResourcesOnDeletion", "applicationsSync"}:
        raise SpecError(f"ApplicationSet {name}: spec.syncPolicy accepts preserveResourcesOnDeletion and "
                        f"applicationsSync, got {', '.join(sorted(policy))}")
    applications_sync = str(policy.get("applicationsSync") or "sync")
    if applications_sync not in APPLICATIONS_SYNC:
        raise SpecError(f"ApplicationSet {name}: spec.syncPolicy.applicationsSync must be one of {', '.join(APPLICATIONS_SYNC)}")
    result = ApplicationSetResult(name, preserve_resources_on_deletion=policy.get("preserveResourcesOnDeletion") is True,
                                  applications_sync=applications_sync)
    template = spec.get("template") or {}
    patch_text = spec.get("templatePatch")
    if patch_text is not None and not isinstance(patch_text, str):
        raise SpecError(f"ApplicationSet {name}: spec.templatePatch must be a string (a YAML or JSON template)")
    generators = spec.get("generators")
    if not isinstance(generators, list) or not generators:
        raise SpecError(f"ApplicationSet {name}: spec.generators must be a non-empty list")
    ctx = Context(name=name, go=go, options=options, clusters=clusters, cache_dir=cache_dir)
    seen: dict[str, str] = {}
    with ctx.stack:
        for index, generator in enumerate(generators):
            where = f"generators[{index}]"
            kind = one_kind(generator, where, ctx)
            own = (generator[kind] or {}).get("template") if isinstance(generator[kind], dict) else None
            merged = merge_template(own or {}, template)
            sets = generate_params(generator, where, ctx)
            rendered = _render_applications(merged, patch_text, sets, where, ctx, cluster_name,
                                            result.preserve_resources_on_deletion)
            for one, app in zip(sets, rendered):
                app_name = str((app.get("metadata") or {}).get("name") or "")
                if not app_name:
                    raise ctx.fail(one.origin, "the template gives the application no name (metadata.name)")
                if app_name in seen:
                    raise ctx.fail(one.origin, f"generates application {app_name!r}, which {seen[app_name]} "
                                               f"generates too; application names must be unique")
                seen[app_name] = one.origin
                target = _route(app, clusters, cluster_name, one.origin, ctx)
                if target is None:
                    result.applications.append(GeneratedApplication(app, f"ApplicationSet {name} {one.origin}"))
                else:
                    result.elsewhere.append(app_name)
        result.revisions = dict(ctx.revisions)
    return result


def _render_applications(template: dict[str, Any], patch_text: str | None, sets: list[ParamSet], where: str,
                         ctx: Context, cluster_name: str | None, preserve: bool = False) -> list[dict[str, Any]]:
    if not isinstance(template, dict):
        raise ctx.fail(where, "template must be a mapping")
    body = {"metadata": template.get("metadata") or {}, "spec": template.get("spec") or {}}
    rendered = ctx.render(body, [one.params for one in sets], f"{where} template")
    if patch_text is not None:
        import yaml

        patches = ctx.render(patch_text, [one.params for one in sets], f"{where} templatePatch")
        for position, (app, text) in enumerate(zip(rendered, patches)):
            try:
                patch = yaml.safe_load(text)
            except yaml.YAMLError as err:
                raise ctx.fail(sets[position].origin, f"templatePatch is not valid YAML once rendered: {err}") from None
            if patch is not None and not isinstance(patch, dict):
                raise ctx.fail(sets[position].origin, "templatePatch must render to a mapping")
            spec = app.get("spec") or {}
            patched = merge_patch(app, patch or {})
            patched_spec = patched.setdefault("spec", {})
            patched_spec.pop("project", None)  # Argo CD: a templatePatch never changes the project
            if "project" in spec:
                patched_spec["project"] = spec["project"]
            rendered[position] = patched
    applications = []
    for app in rendered:
        metadata = dict(app.get("metadata") or {})
        metadata.pop("namespace", None)  # Argo CD puts every Application in the ApplicationSet's namespace
        # deletion follows syncPolicy.preserveResourcesOnDeletion: as Argo CD's controller, the resources finalizer
        # (the template's variant, else the foreground one) unless preserved; recorded, it also rules a deletion
        # that is not the set's (gitops_owner, or the app of apps parent that stops rendering the set)
        given = [f for f in metadata.pop("finalizers", None) or [] if f in DELETION_FINALIZERS]
        if not preserve:
            metadata["finalizers"] = given[:1] or [RESOURCES_FINALIZER]
        labels = dict(metadata.get("labels") or {})
        labels[APPLICATIONSET_LABEL] = ctx.name
        if cluster_name:
            labels[APPLICATIONSET_CLUSTER_LABEL] = cluster_name
        metadata["labels"] = labels
        applications.append({"apiVersion": ARGOCD_API_VERSION, "kind": "Application", "metadata": metadata,
                             "spec": app.get("spec") or {}})
    return applications


def bind_destination(app: Any, clusters: list[Cluster], cluster_name: str | None, where: str) -> Any:
    """An app of apps child bound to this cluster (destination kept to its namespace); SpecError for another
    cluster's, which the parent's cluster cannot sync."""
    if not isinstance(app, dict) or not isinstance(app.get("spec"), dict):
        return app
    app = copy.deepcopy(app)
    ctx = Context(name=where, go=False, options=[], clusters=clusters, cache_dir=None)
    other = _route(app, clusters, cluster_name, where, ctx) if clusters else None
    if other is not None:
        raise SpecError(f"{where}: child application {app['metadata'].get('name')!r} has the destination of "
                        f"inventory cluster {other!r}; an app of apps syncs its children on its own cluster "
                        f"(list the parent on {other!r}'s host, or use an ApplicationSet)")
    return app


def _route(app: dict[str, Any], clusters: list[Cluster], cluster_name: str | None, origin: str, ctx: Context) -> str | None:
    """None when the application belongs to this cluster (destination bound to it), else the other cluster's name."""
    destination = (app.get("spec") or {}).get("destination")
    if not isinstance(destination, dict):
        return None
    name, server = str(destination.get("name") or ""), str(destination.get("server") or "").rstrip("/")
    if (not name or name == IN_CLUSTER_NAME) and (not server or server == IN_CLUSTER_SERVER):
        return None
    matches = [c for c in clusters if (not name or c.name == name) and (not server or c.server == server)]
    if not matches:
        what = " and ".join(part for part in (f"name {name!r}" if name else "", f"server {server!r}" if server else "") if part)
        known = ", ".join(f"{c.name} ({c.server or 'no server'})" for c in clusters) or "none"
        raise ctx.fail(origin, f"application {app['metadata']['name']!r} has destination {what}, which no inventory "
                               f"cluster has (clusters: {known})")
    if cluster_name is not None and matches[0].name != cluster_name:
        return matches[0].name
    # bound to this host: the cluster comes from the inventory, the Application keeps only its namespace
    destination.pop("name", None)
    destination.pop("server", None)
    return None


def load_applicationset_files(paths: list[str]) -> list[dict[str, Any]]:
    """ApplicationSet manifests from YAML files as Argo CD users keep them (multi-document; other kinds refused).

    Files keep the manifests away from Ansible's own templating, which would
    otherwise evaluate their {{ }} before this collection sees them.
    """
    import yaml

    from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_documents

    manifests = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                text = handle.read()
            documents = list(load_documents(text))
        except OSError as err:
            raise SpecError(f"applicationset_files: cannot read {path}: {err.strerror}") from None
        except (yaml.YAMLError, YamlLimitError) as err:
            raise SpecError(f"applicationset_files: {path} is not valid YAML: {err}") from None
        for line, document in documents:
            if document is None:
                continue
            if not isinstance(document, dict) or document.get("kind") != "ApplicationSet":
                kind = document.get("kind") if isinstance(document, dict) else type(document).__name__
                raise SpecError(f"applicationset_files: {path} line {line}: expected an ApplicationSet, got {kind!r}")
            manifests.append(document)
    return manifests
