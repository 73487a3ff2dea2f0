#!/usr/bin/python
# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gitops_render
short_description: Render an application's desired Kubernetes objects from Git
version_added: 0.1.0
author:
  - gitops.kubernetes maintainers (@gitops-kubernetes)
description:
  - Resolves the application's Git revision to a commit, checks that commit out from a cached mirror and renders
    it with the renderer the path calls for (plain manifests, Jsonnet, kustomize or Helm), the way Argo CD would;
    an application with several C(sources) has each rendered and their objects combined.
  - Returns the objects in a deterministic order together with the commit and, for each object, the
    repository-relative file it came from. Never talks to a cluster, except to let Helm's C(lookup) read live
    objects for an application that asks for it (see O(kubeconfig) and the notes).
  - Rendering the same commit, path and options again is served from the render cache.
  - Secret values are masked in the returned RV(manifests); use O(dest) to get the objects as files.
extends_documentation_fragment:
  - gitops.kubernetes._application
  - gitops.kubernetes._repositories
  - gitops.kubernetes._kube_connection
  - gitops.kubernetes._cache_eviction
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Rendering changes nothing; with O(dest), check mode reports whether the files would change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  dest:
    description:
      - Write the rendered objects to this directory, one YAML file per object, named
        C(<4-digit position>-<kind>-<namespace>-<name>.yaml), instead of returning them in RV(manifests).
      - Files of an earlier render that match that naming pattern and are no longer rendered are removed;
        other files are left alone.
      - The files hold the objects exactly as rendered, Secret values included (they are in Git already), and
        are created with mode C(0600).
    type: path
notes:
  - The module runs where the task runs (usually the controller); that host needs git, GitPython and, for charts
    and kustomizations, the C(helm) and C(kustomize) binaries.
  - Chart dependencies not vendored under C(charts/) are fetched from their chart repositories or OCI registries at
    render time, with the credentials of O(repositories).
  - "Helm's C(lookup) finds nothing (Helm's and Argo CD's default) unless the application asks for it: C(helm.lookup: true)
    on a source of this collection's spec, or the annotation C(gitops.kubernetes/helm-lookup: \"true\") on an Argo CD
    Application. Its charts are then rendered with C(helm template --dry-run=server) against the cluster of the
    connection options (O(kubeconfig), O(context), O(host), O(api_key), ...), read with that identity and nothing
    more: Helm gets a private kubeconfig file (mode C(0600), removed after the render) holding only that connection.
    Such renders are never cached. A lookup the identity may not perform fails the render, naming the object it
    tried to read. The connection options are only used, and only needed, for such applications."
seealso:
  - module: gitops.kubernetes.gitops_diff
  - name: Argo CD Application specification
    description: The Application fields this module accepts.
    link: https://argo-cd.readthedocs.io/en/stable/user-guide/application-specification/
"""

EXAMPLES = r"""
- name: Render the guestbook from its main branch
  gitops.kubernetes.gitops_render:
    application:
      name: guestbook
      source:
        repo_url: https://github.com/argoproj/argocd-example-apps.git
        revision: master
        path: guestbook
      destination:
        namespace: guestbook
  register: guestbook

- name: Show what it would deploy
  ansible.builtin.debug:
    msg: "{{ guestbook.manifests | length }} objects from {{ guestbook.commit.sha[:12] }} ({{ guestbook.commit.subject }})"

- name: Render a chart from an OCI registry, the newest 1.x
  gitops.kubernetes.gitops_render:
    application:
      name: podinfo
      source:
        repo_url: oci://ghcr.io/stefanprodan/charts
        chart: podinfo
        revision: "1.*"
      destination:
        namespace: podinfo
    repositories:
      - url: ghcr.io/stefanprodan
        username: "{{ registry_user }}"
        password: "{{ registry_token }}"
  register: podinfo  # podinfo.revision is "<version>@sha256:<archive digest>"

- name: Render an existing Argo CD Application file
  gitops.kubernetes.gitops_render:
    application: "{{ lookup('ansible.builtin.file', 'apps/helm-guestbook.yaml') | from_yaml }}"

- name: Render a Helm chart from a private repository into a directory
  gitops.kubernetes.gitops_render:
    application:
      name: payments
      source:
        repo_url: https://git.example.org/platform/deploy.git
        username: deploy-bot
        password: "{{ vault_git_token }}"
        revision: v2.4.1
        path: charts/payments
        helm:
          value_files:
            - values-prod.yaml
          parameters:
            - name: image.tag
              value: "2.4.1"
              force_string: true
      destination:
        namespace: payments
    dest: /tmp/rendered/payments

- name: Render a kustomization over SSH with an image override
  gitops.kubernetes.gitops_render:
    application:
      name: shop-frontend
      source:
        repo_url: git@git.example.org:shop/deploy.git
        ssh_private_key_file: ~/.ssh/deploy_key
        ssh_known_hosts_file: ~/.ssh/known_hosts
        path: frontend/overlays/prod
        kustomize:
          images:
            - frontend=registry.example.org/shop/frontend:1.8.0
    cache_dir: /var/cache/gitops
"""

RETURN = r"""
application:
  description: The application name.
  returned: always
  type: str
  sample: guestbook
revision:
  description:
    - The commit the objects were rendered from (a full SHA); for several C(sources), the first one's.
    - For a chart from a chart repository or an OCI registry, C(<version>@sha256:<archive digest>).
  returned: success
  type: str
  sample: 53e28ff20cc530b9ada2173fbbd64d48338583ba
revisions:
  description: The commit of every source, in the order of the sources (one for a single source).
  returned: success
  type: list
  elements: str
source_revisions:
  description: What each source contributed.
  returned: success
  type: list
  elements: dict
  contains:
    repo_url:
      description: The repository, without credentials.
      type: str
    path:
      description: The path inside it.
      type: str
    revision:
      description: The commit.
      type: str
    renderer:
      description: The renderer used; empty for a C(ref) source without a path, which only lends its files.
      type: str
    objects:
      description: How many objects the source rendered.
      type: int
    cache_hit:
      description: Whether they came from the render cache.
      type: bool
    ref:
      description: The source's C(ref), if it has one.
      type: str
      returned: when the source has a ref
commit:
  description:
    - The commit's author, author date and subject.
    - For a chart from a chart repository or an OCI registry, C(sha) is the archive digest, C(subject) names the
      chart, its version and repository, C(author) and C(date) are empty.
  returned: success
  type: dict
  contains:
    sha:
      description: The full commit SHA (the same as RV(revision)).
      type: str
    author:
      description: Author name and e-mail address.
      type: str
      sample: Jane Doe <jane@example.org>
    date:
      description: Author date, ISO 8601.
      type: str
      sample: "2025-03-01T10:15:00+01:00"
    subject:
      description: First line of the commit message.
      type: str
      sample: Raise guestbook replicas to 3
renderer:
  description: The renderer used (for several C(sources), the first rendering source's; RV(source_revisions) has each).
  returned: success
  type: str
  choices: [directory, kustomize, helm]
cache_hit:
  description: Whether the objects came from the render cache.
  returned: success
  type: bool
object_count:
  description: How many objects were rendered.
  returned: success
  type: int
  sample: 3
manifests:
  description:
    - The rendered objects, in render order (files sorted by path for directories, the tool's output order
      for kustomize and Helm). Secret C(data) and C(stringData) values are masked.
  returned: success and O(dest) not set
  type: list
  elements: dict
objects:
  description: The identity of each rendered object, in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    api_version:
      description: The object's apiVersion.
      type: str
    kind:
      description: The object's kind.
      type: str
    namespace:
      description: The namespace the object names (empty when it does not name one).
      type: str
    name:
      description: The object's name.
      type: str
sources:
  description:
    - For each object, in the same order, the repository-relative file it came from.
  returned: success
  type: list
  elements: dict
  contains:
    file:
      description: Repository-relative path of the file (for Helm the template, for kustomize the resource file).
      type: str
      sample: guestbook/guestbook-ui-deployment.yaml
    line:
      description: Line of the object's document in the file (plain manifests only; null otherwise).
      type: int
files:
  description: With O(dest), the files written, in object order.
  returned: success and O(dest) set
  type: list
  elements: str
error_type:
  description: On failure, the kind of error (for example V(SpecError), V(UnknownRevisionError), V(RenderError)).
  returned: failure
  type: str
file:
  description: On failure, the repository-relative file at fault, if any.
  returned: failure
  type: str
line:
  description: On failure, the line in RV(file), if known.
  returned: failure
  type: int
column:
  description: On failure, the column in RV(file), if known.
  returned: failure
  type: int
"""

import os
import re
from typing import Any

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.gitops.kubernetes.plugins.module_utils._module import GitopsModule

from ansible_collections.gitops.kubernetes.plugins.module_utils._cache_evict import CACHE_EVICTION_ARGUMENT_SPEC, EvictionPolicy, evict_quietly
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import GitopsError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import kube_connection_argument_spec
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ConnectionSettings, resolve_connection
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import mask_helm_values, mask_secret
from ansible_collections.gitops.kubernetes.plugins.module_utils._render import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    dump_yaml,
    render_application,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source import GIT_IMPORT_ERROR, HAS_GIT, default_cache_dir
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import (
    REPOSITORIES_ARGUMENT_SPEC,
    parse_repositories,
    repository_secret_values,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import (
    APPLICATION_ARGUMENT_SPEC,
    credential_values,
    parse_application,
)

_DEST_FILE = re.compile(r"^\d{4}-[a-z0-9.-]+\.yaml$")


def dest_file_name(index: int, obj: DesiredObject) -> str:
    ref = obj.ref
    parts = [f"{index:04d}", ref.kind.lower(), ref.namespace, ref.name]
    return re.sub(r"[^a-z0-9.-]+", "-", "-".join(part for part in parts if part).lower()) + ".yaml"


def write_dest(dest: str, objects: list[DesiredObject], check_mode: bool) -> tuple[list[str], bool]:
    """Write one YAML file per object; returns (paths, changed)."""
    wanted = {dest_file_name(index, obj): dump_yaml(obj.manifest) for index, obj in enumerate(objects, 1)}
    existing = {name for name in (os.listdir(dest) if os.path.isdir(dest) else []) if _DEST_FILE.match(name)}
    changed = bool(existing - set(wanted))
    for name, text in wanted.items():
        path = os.path.join(dest, name)
        try:
            with open(path, encoding="utf-8") as handle:
                changed = changed or handle.read() != text
        except OSError:
            changed = True
    if changed and not check_mode:
        os.makedirs(dest, mode=0o700, exist_ok=True)
        for name in existing - set(wanted):
            os.unlink(os.path.join(dest, name))
        for name, text in wanted.items():
            path = os.path.join(dest, name)
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
    return [os.path.join(dest, name) for name in wanted], changed


def main() -> None:
    module = GitopsModule(
        argument_spec={**APPLICATION_ARGUMENT_SPEC, **REPOSITORIES_ARGUMENT_SPEC, **kube_connection_argument_spec(),
                       **CACHE_EVICTION_ARGUMENT_SPEC, "dest": {"type": "path"}},
        supports_check_mode=True,
    )
    # the spec is a free-form dict, so its secrets are registered by hand before anything can echo them
    module.no_log_values.update(credential_values(module.params["application"]))
    module.no_log_values.update(repository_secret_values(module.params["repositories"]))
    # -vvv echoes the arguments: Helm values often carry passwords
    invocation = {"module_args": {**module.params, "application": mask_helm_values(module.params["application"])}}
    if not HAS_GIT:
        module.fail_json(msg=missing_required_lib("GitPython"), exception=GIT_IMPORT_ERROR, invocation=invocation)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR, invocation=invocation)

    result: dict[str, Any] = {"changed": False}
    try:
        eviction = EvictionPolicy.from_options(module.params["cache_max_size"], module.params["cache_max_age"])
        app = parse_application(module.params["application"])
        result["application"] = app.name
        # the cluster is only reached for helm lookup, and only when the application asks for it
        wants_lookup = any(app.lookup_wanted(source) for source in app.sources)
        connection = resolve_connection(ConnectionSettings.from_params(module.params)) if wants_lookup else None
        rendered = render_application(app, module.params["cache_dir"],
                                      repositories=parse_repositories(module.params["repositories"]),
                                      lookup_connection=connection)
    except GitopsError as err:
        module.fail_json(msg=str(err), invocation=invocation, **{**result, **err.to_result()})
    # the caches this render filled stay bounded (at most once an hour; never what a running process uses)
    evict_quietly(module.params["cache_dir"] or default_cache_dir(), eviction)

    result.update(
        revision=rendered.revision,
        revisions=rendered.revisions,
        source_revisions=[source.to_dict() for source in rendered.sources],
        commit=rendered.commit.to_dict(),
        renderer=rendered.renderer,
        cache_hit=rendered.cache_hit,
        object_count=len(rendered.objects),
        objects=[{"api_version": obj.api_version, **obj.ref.to_dict()} for obj in rendered.objects],
        sources=[{"file": obj.source_file, "line": obj.source_line} for obj in rendered.objects],
    )
    for entry in result["objects"]:
        del entry["group"]  # part of api_version already
    if module.params["dest"]:
        result["files"], result["changed"] = write_dest(module.params["dest"], rendered.objects, module.check_mode)
    else:
        result["manifests"] = [mask_secret(obj.manifest) for obj in rendered.objects]
    module.exit_json(invocation=invocation, **result)


if __name__ == "__main__":
    main()
