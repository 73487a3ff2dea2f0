"""Unit tests for resolving connection options (_kubeconfig): our own kubeconfig reading, the
in-cluster service account, and what is handed to the kubernetes library (exec plugins, proxies)."""

from __future__ import annotations

import base64
import datetime
import os
import re
import ssl
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_fixtures import KUBECONFIG, TOKEN

from ansible_collections.gitops.kubernetes.plugins.module_utils import _kubeconfig
from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import ClusterConnectionError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import (
    ConnectionSettings,
    resolve_connection,
)


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _kubeconfig.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed CA certificate and key, and a client certificate it signed, as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def pem_key(key: Any) -> str:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    client = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")]))
              .issuer_name(ca_name).public_key(client_key.public_key()).serial_number(2).not_valid_before(now)
              .not_valid_after(now + datetime.timedelta(days=1)).sign(ca_key, hashes.SHA256()))
    return {"ca": ca.public_bytes(serialization.Encoding.PEM).decode(),
            "cert": client.public_bytes(serialization.Encoding.PEM).decode(), "key": pem_key(client_key),
            "other_key": pem_key(ec.generate_private_key(ec.SECP256R1()))}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def with_user(user: dict[str, Any], cluster: dict[str, Any] | None = None) -> dict[str, Any]:
    config = yaml.safe_load(yaml.safe_dump(KUBECONFIG))
    config["users"][0]["user"] = user
    if cluster is not None:
        config["clusters"][0]["cluster"] = cluster
    return config


# ---------------------------------------------------------------- our own reading


def test_kubeconfig_dict_gives_server_token_and_context_namespace() -> None:
    resolved = resolve_connection(ConnectionSettings(kubeconfig=KUBECONFIG))
    assert resolved.server == "https://10.1.2.3:6443"
    assert resolved.default_namespace == "team-a"
    assert resolved.auth_headers() == {"Authorization": f"Bearer {TOKEN}"}
    assert resolved.verify is False and resolved.configuration is None
    assert "dict" in resolved.description


def test_context_option_and_paths_relative_to_the_kubeconfig_file(tmp_path: Path) -> None:
    config = with_user({"client-certificate": "certs/admin.crt", "client-key": "/abs/admin.key"},
                       {"server": "https://k8s:6443", "certificate-authority": "ca.crt", "tls-server-name": "api.internal"})
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    resolved = resolve_connection(ConnectionSettings(kubeconfig=str(path), context="other"))
    assert resolved.default_namespace == "default"
    assert "context 'other'" in resolved.description
    assert resolved.ca_file == str(tmp_path / "ca.crt")
    assert resolved.cert_file == str(tmp_path / "certs" / "admin.crt") and resolved.key_file == "/abs/admin.key"
    assert resolved.tls_server_name == "api.internal" and resolved.verify is True
    assert resolved.auth_headers() == {}


def test_token_file_and_basic_auth(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    resolved = resolve_connection(ConnectionSettings(kubeconfig=with_user({"tokenFile": str(tmp_path / "token")})))
    assert resolved.auth_headers() == {"Authorization": "Bearer from-a-file"}
    resolved = resolve_connection(ConnectionSettings(kubeconfig=with_user({"username": "admin", "password": "pw"})))
    assert resolved.auth_headers() == {"Authorization": "Basic " + b64("admin:pw")}


def test_explicit_options_override_kubeconfig() -> None:
    resolved = resolve_connection(ConnectionSettings(
        kubeconfig=KUBECONFIG, host="https://api.example.org:443", api_key="other-token", validate_certs=True,
        ca_cert="/etc/ca.pem",
    ))
    assert resolved.server == "https://api.example.org:443"
    assert resolved.auth_headers() == {"Authorization": "Bearer other-token"}
    assert resolved.verify is True and resolved.ca_file == "/etc/ca.pem"


def test_host_and_api_key_alone() -> None:
    resolved = resolve_connection(ConnectionSettings(host="https://api.example.org/", api_key=TOKEN))
    assert resolved.server == "https://api.example.org"
    assert resolved.description == "the host/api_key options"
    assert resolved.auth_headers() == {"Authorization": f"Bearer {TOKEN}"}


def test_missing_kubeconfig_file_is_a_connection_error(tmp_path: Path) -> None:
    with pytest.raises(ClusterConnectionError, match="does not exist"):
        resolve_connection(ConnectionSettings(kubeconfig=str(tmp_path / "nope")))


@pytest.mark.parametrize("config, message", [
    ({**KUBECONFIG, "current-context": "missing"}, "no context named 'missing'"),
    ({**KUBECONFIG, "current-context": None}, "no current-context"),
    ({**KUBECONFIG, "clusters": []}, "no cluster named 'c'"),
    (with_user({"client-certificate-data": "not base64!"}), "client-certificate-data is not base64"),
    (with_user({}, {"certificate-authority": "x"}), "cluster 'c' has no server"),
])
def test_broken_kubeconfig_names_what_is_wrong(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ClusterConnectionError, match="invalid cluster configuration: .*" + re.escape(message)):
        resolve_connection(ConnectionSettings(kubeconfig=config))


def test_kubeconfig_file_that_is_not_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nclusters: [\n  - {name: c\n")
    with pytest.raises(ClusterConnectionError, match=r"is not YAML \(line \d+"):
        resolve_connection(ConnectionSettings(kubeconfig=str(path)))


def test_nothing_configured_outside_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_kubeconfig, "_in_cluster", lambda: False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(ClusterConnectionError, match="no cluster to talk to"):
        resolve_connection(ConnectionSettings())


def test_default_kubeconfig_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_kubeconfig, "_in_cluster", lambda: False)
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.setenv("KUBECONFIG", str(path))
    resolved = resolve_connection(ConnectionSettings())
    assert resolved.server == "https://10.1.2.3:6443" and resolved.description == "the default kubeconfig"


def test_in_cluster_service_account_when_nothing_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "namespace").write_text("awx\n")
    monkeypatch.setattr(_kubeconfig, "SERVICE_ACCOUNT_DIR", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    resolved = resolve_connection(ConnectionSettings())
    assert resolved.server == "https://[fd00::1]:443"
    assert resolved.default_namespace == "awx" and resolved.ca_file == str(tmp_path / "ca.crt")
    assert resolved.auth_headers() == {"Authorization": "Bearer sa-token"}
    assert resolved.description == "the in-cluster service account"


def test_description_never_holds_a_credential() -> None:
    resolved = resolve_connection(ConnectionSettings(kubeconfig=KUBECONFIG, api_key=TOKEN))
    assert TOKEN not in resolved.description + resolved.server


# ---------------------------------------------------------------- TLS


def test_client_certificate_data_is_loaded_without_leaving_files(pki: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = with_user({"client-certificate-data": b64(pki["cert"]), "client-key-data": b64(pki["key"])},
                       {"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(pki["ca"])})
    resolved = resolve_connection(ConnectionSettings(kubeconfig=config))
    pool = resolved.pool_manager(6)
    context = pool.connection_pool_kw["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    assert pool.connection_pool_kw["maxsize"] == 6
    assert list(tmp_path.iterdir()) == []  # the key went through a private file, removed at once


def test_private_key_file_is_created_for_the_owner_only(pki: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    modes: list[int] = []
    real = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: str, keyfile: str | None = None, password: Any = None) -> None:
        modes.append(stat.S_IMODE(os.stat(keyfile or certfile).st_mode))
        modes.append(stat.S_IMODE(os.stat(os.path.dirname(keyfile or certfile)).st_mode))
        real(self, certfile, keyfile)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    config = with_user({"client-certificate-data": b64(pki["cert"]), "client-key-data": b64(pki["key"])})
    resolve_connection(ConnectionSettings(kubeconfig=config)).pool_manager(2)
    assert modes == [0o600, 0o700]


def test_a_key_that_does_not_match_the_certificate_is_a_clear_error(pki: dict[str, str]) -> None:
    config = with_user({"client-certificate-data": b64(pki["cert"]), "client-key-data": b64(pki["other_key"])})
    with pytest.raises(ClusterConnectionError, match="cannot use the TLS settings of the kubeconfig given as a dict") as raised:
        resolve_connection(ConnectionSettings(kubeconfig=config)).pool_manager(2)
    assert "PRIVATE KEY" not in str(raised.value)


def test_insecure_skip_tls_verify_turns_verification_off() -> None:
    pool = resolve_connection(ConnectionSettings(kubeconfig=KUBECONFIG)).pool_manager(2)
    assert pool.connection_pool_kw["cert_reqs"] == "CERT_NONE"
    assert pool.connection_pool_kw["ssl_context"].check_hostname is False


# ---------------------------------------------------------------- the kubernetes library's share


def test_exec_credential_plugin_goes_through_the_kubernetes_library(tmp_path: Path) -> None:
    plugin = tmp_path / "get-token"
    plugin.write_text(f"#!{sys.executable}\nimport json\nprint(json.dumps({{'apiVersion': "
                      "'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
                      "'status': {'token': 'from-exec'}}))\n")
    plugin.chmod(0o700)
    config = with_user({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
                                 "interactiveMode": "Never"}})
    resolved = resolve_connection(ConnectionSettings(kubeconfig=config))
    assert resolved.configuration is not None
    assert resolved.auth_headers() == {"Authorization": "Bearer from-exec"}
    assert resolved.default_namespace == "team-a" and resolved.server == "https://10.1.2.3:6443"


def test_a_proxy_in_the_environment_goes_through_the_kubernetes_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    resolved = resolve_connection(ConnectionSettings(kubeconfig=KUBECONFIG))
    assert resolved.configuration is not None
    assert resolved.configuration.proxy == "http://127.0.0.1:3128"
    assert resolved.auth_headers() == {"Authorization": f"Bearer {TOKEN}"}
