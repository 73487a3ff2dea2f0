"""A Helm chart repository and an OCI registry on 127.0.0.1, for the tests and `make demo`.

- ChartRepository: HTTPS with basic auth, served by a small Python server in a
  thread of the calling process; charts are packaged with the real
  `helm package` and indexed with the real `helm repo index`.
- OciRegistry: CNCF Distribution's `registry` (built by hack/tools.sh) with
  htpasswd auth and TLS, in a child process; charts pushed with `helm push`.

Both use one certificate authority generated at start (TLS for 127.0.0.1), so a
client trusts them through `ca_file`. Every wait is bounded.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import local_cluster

READY_TIMEOUT = 30.0  # seconds for a server to accept connections


@dataclass
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def write_pki(directory: Path) -> Pki:
    """A CA and a serving certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=7)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitops-chart-servers-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pki = Pki(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    pki.key_file.chmod(0o600)
    return pki


def _wait_for_port(port: int, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not accept connections on 127.0.0.1:{port} within {READY_TIMEOUT:.0f}s")


def helm(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run([local_cluster.find_binary("helm"), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"helm {args[0]} {args[1] if len(args) > 1 else ''} failed: {proc.stderr.strip()}")
    return proc.stdout


def package_chart(chart_dir: Path, destination: Path) -> Path:
    """`helm package` of a chart directory into destination; the archive's path."""
    destination.mkdir(parents=True, exist_ok=True)
    output = helm("package", str(chart_dir), "--destination", str(destination))
    return Path(output.strip().rsplit(": ", 1)[-1])


def write_chart(directory: Path, name: str, version: str, templates: dict[str, str],
                values: str = "", dependencies: str = "") -> Path:
    """A chart directory with the given templates (file name -> text)."""
    chart = directory / f"{name}-{version}" / name
    shutil.rmtree(chart, ignore_errors=True)
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\n"
                                      + (f"dependencies:\n{dependencies}" if dependencies else ""))
    (chart / "values.yaml").write_text(values)
    for file_name, text in templates.items():
        (chart / "templates" / file_name).write_text(text)
    return chart


class _AuthHandler(http.server.SimpleHTTPRequestHandler):
    expected_auth = ""
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        if self.headers.get("Authorization", "") != self.expected_auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="charts"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        return


@dataclass
class ChartRepository:
    """An HTTPS Helm chart repository with basic auth, serving `directory`."""

    directory: Path
    pki: Pki
    username: str
    password: str
    port: int = 0
    server: http.server.ThreadingHTTPServer | None = None
    handler: type = field(default=_AuthHandler)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> "ChartRepository":
        self.directory.mkdir(parents=True, exist_ok=True)
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        directory = str(self.directory)
        self.handler = type("ChartRepositoryHandler", (_AuthHandler,), {
            "expected_auth": f"Basic {token}", "requests": [],
            "__init__": lambda handler, *args, **kwargs: _AuthHandler.__init__(handler, *args, directory=directory, **kwargs)})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="chart-repository", daemon=True).start()
        _wait_for_port(self.port, "the chart repository")
        return self

    def publish(self, chart_dir: Path) -> Path:
        """Package the chart into the repository and re-index it with `helm repo index`."""
        archive = package_chart(chart_dir, self.directory)
        helm("repo", "index", str(self.directory), "--url", self.url)
        return archive

    @property
    def requests(self) -> list[str]:
        """Paths requested so far (index and archives), for tests that count network use."""
        return self.handler.requests

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class OciRegistry:
    """CNCF Distribution's registry with htpasswd auth and TLS, storing under `directory`."""

    directory: Path
    pki: Pki
    username: str
    password: str
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"oci://{self.host}/charts"

    def start(self) -> "OciRegistry":
        import bcrypt

        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = local_cluster.free_port()
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=5)).decode()
        (self.directory / "htpasswd").write_text(f"{self.username}:{hashed}\n")
        config = self.directory / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.directory / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n  tls:\n    certificate: {self.pki.cert_file}\n"
            f"    key: {self.pki.key_file}\n"
            f"auth:\n  htpasswd:\n    realm: gitops-test\n    path: {self.directory / 'htpasswd'}\n")
        log = open(self.directory / "registry.log", "ab")  # noqa: SIM115 (the child keeps it open)
        env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
        self.process = subprocess.Popen([local_cluster.find_binary("registry"), "serve", str(config)], stdout=log,
                                        stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log.close()
        _wait_for_port(self.port, "the OCI registry", self.process)
        return self

    def push(self, archive: Path) -> None:
        """`helm push` of a packaged chart, logged in through a private registry config."""
        with tempfile.TemporaryDirectory(prefix="gitops-registry-login-") as temp:
            env = {"HELM_REGISTRY_CONFIG": str(Path(temp) / "config.json"), "HELM_CACHE_HOME": str(Path(temp) / "cache"),
                   "HELM_CONFIG_HOME": str(Path(temp) / "config"), "HELM_DATA_HOME": str(Path(temp) / "data")}
            proc = subprocess.run([local_cluster.find_binary("helm"), "registry", "login", self.host, "--username",
                                   self.username, "--password-stdin", "--ca-file", str(self.pki.ca_file)],
                                  input=self.password, capture_output=True, text=True, timeout=60,
                                  env={**os.environ, **env}, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"helm registry login failed: {proc.stderr.strip()}")
            helm("push", str(archive), self.url, "--ca-file", str(self.pki.ca_file), env=env)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
