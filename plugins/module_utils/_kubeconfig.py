# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options -> a ready connection: server, TLS, credentials.

The options are kubernetes.core's (kubeconfig path or dict, context, host,
api_key, certificates, validate_certs; in-cluster service-account auth inside
a pod). Kubeconfigs with client certificates, tokens, token files or basic
auth, and the in-cluster service account, are read here: importing the
`kubernetes` library costs ~0.2 s per module run, a good part of a no-op
check. What only that library implements (exec credential plugins,
auth-provider, proxy-url, proxies from the environment, KUBECONFIG lists
of several files) is handed to it, and the pool it configures is used.

Client certificate data is loaded into one SSL context, through a private
temporary file removed at once; nothing secret stays on disk.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_KUBECONFIG = "~/.kube/config"
# the proxy variables the kubernetes library honours; with one set, that library connects
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


@dataclass
class ConnectionSettings:
    """What the user asked for (module options, K8S_AUTH_* fallbacks applied)."""

    kubeconfig: str | dict[str, Any] | None = None
    context: str | None = None
    host: str | None = None
    api_key: str | None = None
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    validate_certs: bool | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "ConnectionSettings":
        """Pick the connection options out of module parameters."""
        return cls(**{name: params.get(name) for name in cls.__dataclass_fields__})


@dataclass
class ResolvedConnection:
    """Where and how to connect, plus what messages may say about it (never a credential)."""

    server: str
    default_namespace: str
    description: str  # "kubeconfig /path, context 'dev'", "the in-cluster service account", ...
    verify: bool = True
    ca_file: str | None = None
    ca_data: str | None = None  # PEM
    cert_file: str | None = None
    cert_data: str | None = None  # PEM
    key_file: str | None = None
    key_data: str | None = None  # PEM
    tls_server_name: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    # the kubernetes library's Configuration when that library resolved the connection
    configuration: Any = None

    def auth_headers(self) -> dict[str, str]:
        """The credential headers for the next request (the library's may refresh an exec token)."""
        if self.configuration is not None:
            return {auth["key"].title(): auth["value"] for auth in self.configuration.auth_settings().values()
                    if auth.get("in") == "header" and auth.get("value")}
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode("utf-8")
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    def pool_manager(self, size: int) -> Any:
        """A urllib3 pool for this connection, at most `size` connections kept."""
        import urllib3

        if self.configuration is not None:
            from kubernetes.client.rest import RESTClientObject

            self.configuration.connection_pool_maxsize = size
            if not self.configuration.verify_ssl:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            return RESTClientObject(self.configuration).pool_manager
        options: dict[str, Any] = {"num_pools": 4, "maxsize": size}
        if self.server.startswith("https://"):
            options["ssl_context"] = self._ssl_context()
            if self.verify:
                options["cert_reqs"] = "CERT_REQUIRED"
                if self.tls_server_name:
                    options["server_hostname"] = self.tls_server_name
            else:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        return urllib3.PoolManager(**options)

    def _ssl_context(self) -> ssl.SSLContext:
        from urllib3.util.ssl_ import create_urllib3_context

        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if self.verify else ssl.CERT_NONE)
        try:
            if self.verify:
                if self.ca_file or self.ca_data:
                    context.load_verify_locations(cafile=self.ca_file, cadata=self.ca_data)
                else:
                    context.load_default_certs()
            else:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if self.cert_file or self.cert_data:
                _load_client_certificate(context, self.cert_file, self.cert_data, self.key_file, self.key_data)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ClusterConnectionError(
                f"cannot use the TLS settings of {self.description}: {type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        return context


def _load_client_certificate(context: ssl.SSLContext, cert_file: str | None, cert_data: str | None,
                             key_file: str | None, key_data: str | None) -> None:
    """load_cert_chain reads files only: PEM data goes through a private file that is removed at once."""
    if cert_data is None and key_data is None:
        context.load_cert_chain(cert_file or "", key_file)
        return
    with tempfile.TemporaryDirectory(prefix="gitops-tls-") as private:  # mode 0700
        cert_path = cert_file or os.path.join(private, "client.crt")
        key_path = key_file or os.path.join(private, "client.key")
        for path, data in ((cert_path, cert_data), (key_path, key_data)):
            if data is not None:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    handle.write(data)
        context.load_cert_chain(cert_path, key_path if (key_file or key_data) else None)


# --------------------------------------------------------------------------
# kubeconfig


class _LibraryNeeded(Exception):
    """The kubeconfig uses something only the kubernetes library implements."""


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        os.path.join(SERVICE_ACCOUNT_DIR, "token")
    )


def _proxy_in_environment() -> bool:
    return any(os.environ.get(name) for name in PROXY_VARIABLES)


def _pem(value: str, what: str) -> str:
    try:
        return base64.b64decode("".join(str(value).split()), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ClusterConnectionError(f"invalid cluster configuration: {what} is not base64-encoded PEM") from None


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(what) or {}
    raise ClusterConnectionError(f"invalid cluster configuration: the kubeconfig has no {what} named {name!r}")


def _read_kubeconfig(path: str) -> dict[str, Any]:
    import yaml

    from ansible_collections.gitops.kubernetes.plugins.module_utils._yaml import YamlLimitError, load_one

    try:
        document = load_one(Path(path).read_text(encoding="utf-8"))
    except YamlLimitError as exc:
        raise ClusterConnectionError(f"invalid cluster configuration: kubeconfig file {path} is refused: {exc}") from None
    except OSError as exc:
        raise ClusterConnectionError(f"cannot read kubeconfig file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ClusterConnectionError(f"invalid cluster configuration: kubeconfig file {path} is not YAML{where}") from None
    if not isinstance(document, dict):
        raise ClusterConnectionError(f"invalid cluster configuration: kubeconfig file {path} is not a mapping")
    return document


def _context_cluster(document: dict[str, Any], context: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kubeconfig's context (the given one, else its current-context) and the cluster it names."""
    chosen = context or document.get("current-context")
    if not chosen:
        raise ClusterConnectionError("invalid cluster configuration: the kubeconfig has no current-context; give context")
    ctx = _named(document.get("contexts"), chosen, "context")
    return ctx, _named(document.get("clusters"), ctx.get("cluster"), "cluster")


def _from_kubeconfig(document: dict[str, Any], context: str | None, base_dir: str | None,
                     description: str) -> ResolvedConnection:
    """Our own reading of one kubeconfig; raises _LibraryNeeded for what only the library does."""
    ctx, cluster = _context_cluster(document, context)
    user = _named(document.get("users"), ctx.get("user"), "user") if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user or "proxy-url" in cluster or _proxy_in_environment():
        raise _LibraryNeeded()

    def path(value: str | None) -> str | None:
        if not value:
            return None
        value = os.path.expanduser(value)
        return value if os.path.isabs(value) or base_dir is None else os.path.join(base_dir, value)

    server = str(cluster.get("server") or "")
    if not server:
        raise ClusterConnectionError(f"invalid cluster configuration: cluster {ctx.get('cluster')!r} has no server")
    resolved = ResolvedConnection(
        server=server.rstrip("/"), default_namespace=ctx.get("namespace") or "default", description=description,
        verify=not cluster.get("insecure-skip-tls-verify", False), tls_server_name=cluster.get("tls-server-name"),
        ca_file=path(cluster.get("certificate-authority")),
        cert_file=path(user.get("client-certificate")), key_file=path(user.get("client-key")),
    )
    if cluster.get("certificate-authority-data"):
        resolved.ca_data = _pem(cluster["certificate-authority-data"], "certificate-authority-data")
    if user.get("client-certificate-data"):
        resolved.cert_data = _pem(user["client-certificate-data"], "client-certificate-data")
    if user.get("client-key-data"):
        resolved.key_data = _pem(user["client-key-data"], "client-key-data")
    if user.get("token"):
        resolved.token = str(user["token"])
    elif user.get("tokenFile"):
        token_file = path(user["tokenFile"]) or ""
        try:
            resolved.token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ClusterConnectionError(f"invalid cluster configuration: cannot read tokenFile {token_file}: {exc.strerror}") from None
    elif user.get("username") is not None:
        resolved.username, resolved.password = str(user["username"]), str(user.get("password") or "")
    return resolved


def _with_library(kubeconfig: str | dict[str, Any] | None, context: str | None, description: str) -> ResolvedConnection:
    """The kubernetes library's reading (exec plugins, auth-provider, proxies, KUBECONFIG lists)."""
    try:
        from kubernetes import config as kube_config
        from kubernetes.client import Configuration
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise ClusterConnectionError(
            f"{description} needs the 'kubernetes' Python library (exec or auth-provider credentials, "
            "a proxy, or several KUBECONFIG files)"
        ) from None
    configuration = Configuration()
    try:
        if isinstance(kubeconfig, dict):
            kube_config.load_kube_config_from_dict(config_dict=kubeconfig, context=context,
                                                   client_configuration=configuration, persist_config=False)
            contexts, active = kubeconfig.get("contexts") or [], {"name": kubeconfig.get("current-context")}
        else:
            kube_config.load_kube_config(config_file=kubeconfig, context=context,
                                         client_configuration=configuration, persist_config=False)
            contexts, active = kube_config.list_kube_config_contexts(config_file=kubeconfig)
    except ConfigException as exc:
        raise ClusterConnectionError(f"invalid cluster configuration: {strip_url_credentials(str(exc))}") from None
    wanted = context or (active or {}).get("name")
    chosen = next((c for c in contexts if isinstance(c, dict) and c.get("name") == wanted), {})
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return ResolvedConnection(server=(configuration.host or "").rstrip("/"), default_namespace=namespace,
                              description=description, verify=bool(configuration.verify_ssl), configuration=configuration)


def _kubeconfig_connection(kubeconfig: str | dict[str, Any] | None, context: str | None) -> ResolvedConnection:
    if isinstance(kubeconfig, dict):
        source = "the kubeconfig given as a dict"
    else:
        source = f"kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig"
    description = f"{source}, context {context!r}" if context else source
    if kubeconfig is None:
        paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p] or [os.path.expanduser(DEFAULT_KUBECONFIG)]
        if len(paths) > 1:
            return _with_library(None, context, description)
        kubeconfig = paths[0]
        if not os.path.exists(kubeconfig):
            raise ClusterConnectionError(
                "no cluster to talk to: give kubeconfig (and context) or host, or run inside a pod with a service account"
            )
    try:
        if isinstance(kubeconfig, dict):
            return _from_kubeconfig(kubeconfig, context, None, description)
        return _from_kubeconfig(_read_kubeconfig(kubeconfig), context, os.path.dirname(os.path.abspath(kubeconfig)), description)
    except _LibraryNeeded:
        return _with_library(kubeconfig, context, description)


def _in_cluster_connection() -> ResolvedConnection:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    account = Path(SERVICE_ACCOUNT_DIR)
    try:
        token = (account / "token").read_text(encoding="utf-8").strip()
        namespace = (account / "namespace").read_text(encoding="utf-8").strip() if (account / "namespace").exists() else ""
    except OSError as exc:
        raise ClusterConnectionError(f"cannot read the service account token: {exc.strerror}") from None
    return ResolvedConnection(server=f"https://{host}:{port}", default_namespace=namespace or "default",
                              description="the in-cluster service account", ca_file=str(account / "ca.crt"), token=token)


def _given_kubeconfig(kubeconfig: Any) -> Any:
    """The kubeconfig option: a path made absolute (ClusterConnectionError when there is no such file), or as given."""
    if isinstance(kubeconfig, str):
        kubeconfig = os.path.expanduser(kubeconfig)
        if not os.path.exists(kubeconfig):
            raise ClusterConnectionError(f"kubeconfig file {kubeconfig} does not exist")
    return kubeconfig


def resolve_connection(settings: ConnectionSettings) -> ResolvedConnection:
    """Turn connection options into a ResolvedConnection.

    Order: an explicit kubeconfig (path or dict) or context; else host with
    api_key/certificates; else the in-cluster service account when running in
    a pod; else the default kubeconfig ($KUBECONFIG or ~/.kube/config).
    Explicit host/api_key/cert options override what the kubeconfig says.
    """
    kubeconfig = _given_kubeconfig(settings.kubeconfig)
    if kubeconfig is not None or settings.context:
        resolved = _kubeconfig_connection(kubeconfig, settings.context)
    elif settings.host:
        resolved = ResolvedConnection(server="", default_namespace="default", description="the host/api_key options")
    elif _in_cluster():
        resolved = _in_cluster_connection()
    else:
        resolved = _kubeconfig_connection(None, None)
    _override(resolved, settings)
    if not resolved.server or resolved.server == "http://localhost":
        raise ClusterConnectionError(
            "no cluster to talk to: give kubeconfig (and context) or host, or run inside a pod with a service account"
        )
    resolved.server = strip_url_credentials(resolved.server)
    return resolved


def _override(resolved: ResolvedConnection, settings: ConnectionSettings) -> None:
    """host/api_key/ca_cert/client_cert/client_key/validate_certs win over what the kubeconfig says."""
    configuration = resolved.configuration
    if settings.host:
        resolved.server = settings.host.rstrip("/")
    if settings.api_key:
        resolved.token, resolved.username = settings.api_key, None
    if settings.ca_cert:
        resolved.ca_file, resolved.ca_data = settings.ca_cert, None
    if settings.client_cert:
        resolved.cert_file, resolved.cert_data = settings.client_cert, None
    if settings.client_key:
        resolved.key_file, resolved.key_data = settings.client_key, None
    if settings.validate_certs is not None:
        resolved.verify = settings.validate_certs
    if configuration is not None:  # the library's pool reads its Configuration
        configuration.host = resolved.server
        if settings.api_key:
            configuration.api_key = {"BearerToken": f"Bearer {settings.api_key}"}
            configuration.api_key_prefix = {}
            configuration.refresh_api_key_hook = None
        configuration.ssl_ca_cert = settings.ca_cert or configuration.ssl_ca_cert
        configuration.cert_file = settings.client_cert or configuration.cert_file
        configuration.key_file = settings.client_key or configuration.key_file
        configuration.verify_ssl = resolved.verify


def cluster_server(settings: ConnectionSettings) -> str:
    """The API server URL a connection with these settings talks to, as resolve_connection finds it, read without
    connecting and without running credential plugins (an inventory host's default gitops_cluster_server)."""
    if settings.host:
        return strip_url_credentials(settings.host.rstrip("/"))
    kubeconfig = _given_kubeconfig(settings.kubeconfig)
    if kubeconfig is None and not _in_cluster():
        paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p] or [os.path.expanduser(DEFAULT_KUBECONFIG)]
        kubeconfig = paths[0] if len(paths) == 1 and os.path.exists(paths[0]) else None
    if kubeconfig is None:  # in a pod, or several KUBECONFIG files: as the connection itself resolves them
        return resolve_connection(settings).server
    document = kubeconfig if isinstance(kubeconfig, dict) else _read_kubeconfig(kubeconfig)
    ctx, cluster = _context_cluster(document, settings.context)
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ClusterConnectionError(f"invalid cluster configuration: cluster {ctx.get('cluster')!r} has no server")
    return strip_url_credentials(server)
