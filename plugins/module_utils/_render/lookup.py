# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm's `lookup` against the destination cluster, with the run's own identity and nothing more.

An application opts in (helm.lookup, or the gitops.kubernetes/helm-lookup
annotation on an Argo CD Application); its charts are then rendered with
`helm template --dry-run=server`, which lets `lookup` read live objects while
everything else stays a client-side render (default capabilities, no release
storage). Helm connects with a kubeconfig written here from the connection the
module already resolved: the same server, TLS settings and credentials, in a
file of mode 0600 inside the render's private 0700 directory, removed with it.
The credentials never reach the command line, and Helm's own cluster variables
(HELM_KUBETOKEN, ...) of the controller's environment are blanked so they
cannot widen the identity. A read the identity may not perform fails the
render with a message naming the object it tried to read.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ResolvedConnection
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import private_file

# helm's settings that would otherwise take the cluster, or the identity, from the controller's environment
HELM_CLUSTER_VARIABLES = ("HELM_KUBECONTEXT", "HELM_KUBETOKEN", "HELM_KUBEASUSER", "HELM_KUBEASGROUPS", "HELM_KUBEAPISERVER",
                          "HELM_KUBECAFILE", "HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "HELM_KUBETLS_SERVER_NAME")

# helm: `... at <lookup "v1" "Secret" .Release.Namespace "db">: error calling lookup: secrets "db" is forbidden:
# User "system:serviceaccount:ns:sa" cannot get resource "secrets" in API group "" in the namespace "ns"`
_LOOKUP_CALL = re.compile(r'at <lookup "(?P<api_version>[^"]*)" "(?P<kind>[^"]*)"')
_FORBIDDEN = re.compile(
    r'error calling lookup: (?P<resource>[^\s"]+)(?: "(?P<name>[^"]*)")? is forbidden: User "(?P<user>[^"]*)" cannot '
    r'(?P<verb>\w+) resource "(?P<plural>[^"]*)" in API group "(?P<group>[^"]*)"'
    r'(?: in the namespace "(?P<namespace>[^"]*)"| at the cluster scope)?')
_UNAUTHORIZED = re.compile(r"error calling lookup: [^;]*\bUnauthorized\b")


def lookup_kubeconfig(connection: ResolvedConnection, namespace: str) -> tuple[dict[str, object], list[str]]:
    """A kubeconfig holding exactly the run's connection, and the secret strings in it (to keep out of messages)."""
    configuration = connection.configuration
    cluster: dict[str, object] = {"server": connection.server}
    user: dict[str, object] = {}
    secrets: list[str] = []
    if configuration is not None:
        # the kubernetes library resolved it (exec plugin, auth-provider, proxy): it keeps its material in files
        ca_file, ca_data = configuration.ssl_ca_cert, None
        cert_file, cert_data = configuration.cert_file, None
        key_file, key_data = configuration.key_file, None
        tls_server_name = getattr(configuration, "tls_server_name", None)
        if getattr(configuration, "proxy", None):
            cluster["proxy-url"] = configuration.proxy
    else:
        ca_file, ca_data = connection.ca_file, connection.ca_data
        cert_file, cert_data = connection.cert_file, connection.cert_data
        key_file, key_data = connection.key_file, connection.key_data
        tls_server_name = connection.tls_server_name
    if not connection.verify:
        cluster["insecure-skip-tls-verify"] = True
    elif ca_data:
        cluster["certificate-authority-data"] = _b64(ca_data)
    elif ca_file:
        cluster["certificate-authority"] = str(ca_file)
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    if cert_data:
        user["client-certificate-data"] = _b64(cert_data)
    elif cert_file:
        user["client-certificate"] = str(cert_file)
    if key_data:
        encoded_key = _b64(key_data)
        user["client-key-data"] = encoded_key
        secrets += [key_data, encoded_key]
    elif key_file:
        user["client-key"] = str(key_file)
    # the header the module sends itself (for an exec plugin, the token it produced for this run)
    authorization = connection.auth_headers().get("Authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization[len("Bearer "):]
        user["token"] = token
        secrets.append(token)
    elif authorization.startswith("Basic "):
        username, dummy, password = base64.b64decode(authorization[len("Basic "):]).decode("utf-8").partition(":")
        user.update(username=username, password=password)
        secrets += [password] if password else []
    document: dict[str, object] = {
        "apiVersion": "v1", "kind": "Config", "current-context": "run",
        "clusters": [{"name": "run", "cluster": cluster}],
        "users": [{"name": "run", "user": user}],
        "contexts": [{"name": "run", "context": {"cluster": "run", "user": "run", "namespace": namespace}}],
    }
    return document, [secret for secret in secrets if secret]


def lookup_environment(connection: ResolvedConnection, namespace: str, home: Path) -> tuple[dict[str, str], list[str]]:
    """helm's environment for a lookup render (KUBECONFIG a private file under home), and the secrets it holds."""
    document, secrets = lookup_kubeconfig(connection, namespace)
    env = {name: "" for name in HELM_CLUSTER_VARIABLES}  # an empty value is no value to helm
    # JSON is YAML; mode 0600 in the render's 0700 directory, removed with it
    env["KUBECONFIG"] = private_file(home / "lookup-kubeconfig", json.dumps(document))
    return env, secrets


def lookup_error(err: RenderError, identity: str) -> RenderError:
    """The render error, made clear when a lookup was forbidden or unauthenticated; the error itself otherwise.

    identity says where the run's credentials came from (never the credentials themselves).
    """
    forbidden = _FORBIDDEN.search(err.message)
    if forbidden:
        call = _LOOKUP_CALL.search(err.message)
        kind = call.group("kind") if call else forbidden.group("plural")
        group, name, namespace = forbidden.group("group"), forbidden.group("name"), forbidden.group("namespace")
        if forbidden.group("plural") == "namespaces" and not group:
            namespace = None  # the API server names a Namespace as its own namespace
        what = f"{kind} {name!r}" if name else f"the list of {forbidden.group('plural')}"
        where = f" in namespace {namespace!r}" if namespace else " (cluster-scoped)"
        resource = f"{forbidden.group('plural')}.{group}" if group else forbidden.group("plural")
        message = (f"helm lookup may not read {what}{where}: the identity of this run ({identity}, user "
                   f"{forbidden.group('user')!r}) is not allowed to {forbidden.group('verb')} {resource}; grant it that "
                   f"read, or render without helm lookup")
        kind_shown = f"{kind}.{group}" if group else kind
        target = f"{namespace}/{name}" if namespace and name else (name or f"{namespace or ''}/*".lstrip("/"))
        return RenderError(message, file=err.file, line=err.line, column=err.column, object_ref=f"{kind_shown} {target}")
    if _UNAUTHORIZED.search(err.message):
        return RenderError(f"helm lookup: the cluster refused the credentials of this run ({identity}): 401 Unauthorized",
                           file=err.file, line=err.line, column=err.column)
    return err


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode("utf-8")).decode("ascii")
