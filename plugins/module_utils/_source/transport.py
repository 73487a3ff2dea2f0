# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTPS requests to chart repositories and OCI registries: bounded in time and size, credentials kept in their place.

Credentials go to the repository's own scheme, host and port only; a redirect
or a chart URL elsewhere gets none unless the caller says so (Helm's
passCredentials). Every failure is a SourceError whose message names the URL
(without credentials) and says what to do: 401/403, a TLS failure and an
unreachable host each read differently.
"""

from __future__ import annotations

import base64
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.common import RemoteUnreachableError
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential

try:
    import urllib3
except ImportError:  # the modules check for urllib3 (it comes with kubernetes) before any work
    urllib3 = None

CONNECT_TIMEOUT = 10.0  # seconds to open a connection: an unreachable repository fails fast
READ_TIMEOUT = 60.0  # seconds without a byte from the server
MAX_REDIRECTS = 5

_pools: dict[tuple[str, bool], "urllib3.PoolManager"] = {}
_pools_lock = threading.Lock()


class AccessDeniedError(RemoteUnreachableError):
    """The repository answered 401 or 403."""


class NotFoundError(SourceError):
    """The repository answered 404."""


@dataclass
class Response:
    url: str  # after redirects
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _pool(credential: RepositoryCredential | None) -> "urllib3.PoolManager":
    ca_file = credential.ca_file if credential else ""
    insecure = bool(credential and credential.insecure_skip_tls_verify)
    with _pools_lock:
        if (ca_file, insecure) not in _pools:
            if insecure:
                pool = urllib3.PoolManager(cert_reqs=ssl.CERT_NONE, assert_hostname=False, num_pools=8)
            else:
                # the system's trust store, and the repository's own CA on top of it
                context = ssl.create_default_context()
                if ca_file:
                    try:
                        context.load_verify_locations(cafile=ca_file)
                    except (OSError, ssl.SSLError) as err:
                        raise SourceError(f"the CA file {ca_file} cannot be read: {getattr(err, 'strerror', None) or err}") from None
                pool = urllib3.PoolManager(ssl_context=context, num_pools=8)
            _pools[(ca_file, insecure)] = pool
        return _pools[(ca_file, insecure)]


def same_origin(first: str, second: str) -> bool:
    one, two = urlsplit(first), urlsplit(second)
    return (one.scheme, one.hostname, one.port) == (two.scheme, two.hostname, two.port)


def basic_auth(credential: RepositoryCredential | None) -> dict[str, str]:
    if not credential or not (credential.username or credential.password):
        return {}
    token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def http_get(url: str, credential: RepositoryCredential | None, *, what: str, max_bytes: int,
             auth_origin: str = "", pass_credentials: bool = False, headers: dict[str, str] | None = None,
             authorization: dict[str, str] | None = None, allow_status: tuple[int, ...] = ()) -> Response:
    """GET url, following redirects; raises SourceError unless the answer is 2xx or in allow_status.

    Credentials (basic auth from `credential`, or the `authorization` headers given) are sent to the
    origin of `auth_origin` (default: url's) only, anywhere when pass_credentials.
    """
    if urllib3 is None:
        raise SourceError("urllib3 is needed to fetch charts (it comes with the kubernetes package)")
    shown = strip_url_credentials(url)
    origin = auth_origin or url
    current = url
    for dummy in range(MAX_REDIRECTS + 1):
        send = dict(headers or {})
        if pass_credentials or same_origin(current, origin):
            send.update(authorization if authorization is not None else basic_auth(credential))
        try:
            response = _pool(credential).request(
                "GET", current, headers=send, redirect=False, retries=False, preload_content=False,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT))
        except urllib3.exceptions.SSLError as err:
            raise SourceError(f"TLS verification of {shown} failed ({_reason(err)}); give the repository's CA "
                              f"(ca_file) or, for a test server only, insecure_skip_tls_verify") from None
        except urllib3.exceptions.HTTPError as err:
            raise RemoteUnreachableError(f"{what} {shown} is unreachable ({_reason(err)}; waited at most "
                                         f"{CONNECT_TIMEOUT:.0f}s to connect, {READ_TIMEOUT:.0f}s for data)") from None
        try:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                current = urljoin(current, response.headers["Location"])
                continue
            body = _read_bounded(response, max_bytes, what, shown)
        finally:
            response.release_conn()
        if 200 <= response.status < 300 or response.status in allow_status:
            return Response(current, response.status, body, {key.lower(): value for key, value in response.headers.items()})
        if response.status in (401, 403):
            given = "the credentials given were refused" if (credential and credential.username) else \
                "no credentials matched this URL (see the repositories option)"
            raise AccessDeniedError(f"{what} {shown} refused access (HTTP {response.status}): {given}")
        if response.status == 404:
            raise NotFoundError(f"{what} {shown} was not found (HTTP 404)")
        raise RemoteUnreachableError(f"{what} {shown} answered HTTP {response.status}")
    raise RemoteUnreachableError(f"{what} {shown} redirected more than {MAX_REDIRECTS} times")


def _read_bounded(response: "urllib3.BaseHTTPResponse", max_bytes: int, what: str, shown: str) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.stream(1 << 16):
            size += len(chunk)
            if size > max_bytes:
                raise SourceError(f"{what} {shown} is larger than {max_bytes // (1 << 20)} MiB; refused")
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as err:
        raise RemoteUnreachableError(f"{what} {shown} could not be read ({_reason(err)})") from None
    return b"".join(chunks)


def _reason(err: Exception) -> str:
    """The innermost reason of a urllib3 error, without the URL (it may carry credentials)."""
    reason = getattr(err, "reason", None) or err
    while getattr(reason, "reason", None) is not None and reason is not getattr(reason, "reason"):
        reason = reason.reason
    text = str(reason)
    # urllib3 prefixes "<urllib3.connection.HTTPSConnection object at 0x..>: "
    return text.split(">: ", 1)[-1] if ">: " in text else text
