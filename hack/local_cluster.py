"""A real Kubernetes control plane on 127.0.0.1 for the demo and the tests.

Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
(with simulated nodes) from the binaries hack/tools.sh builds, on free ports,
with all data in one temporary directory. The state file records every PID so
that ``down`` stops exactly what ``up`` started.

    local_cluster.py up   [--state-dir DIR] [--nodes N]
    local_cluster.py down [--state-dir DIR]
    local_cluster.py status [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO / ".cluster"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
ADMIN = "gitops-admin"


class ClusterError(Exception):
    """The control plane could not be started, reached or stopped."""


@dataclass
class ClusterState:
    """What ``up`` started, written to state.json beside the kubeconfig."""

    state_dir: str
    data_dir: str
    kubeconfig: str
    server: str
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    started_at: float = 0.0

    @classmethod
    def load(cls, state_dir: Path) -> ClusterState | None:
        path = state_dir / "state.json"
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            return None

    def save(self) -> None:
        path = Path(self.state_dir) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)


def find_binary(name: str) -> str:
    """Locate a tool built by hack/tools.sh (or on PATH)."""
    candidate = REPO / ".tools" / "bin" / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise ClusterError(f"{name} not found: run hack/tools.sh (or `make tools`) to build it")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); treat it as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


# --------------------------------------------------------------------------
# certificates


def _write_pki(pki: Path) -> None:
    """CA, API server serving cert, admin client cert and service-account key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    pki.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=30)

    def key_pem(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitops-local-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common_name: str, orgs: list[str], server: bool) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.DNSName("kubernetes"),
                        x509.DNSName("kubernetes.default.svc"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem(key)

    (pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (pki / "ca.key").write_bytes(key_pem(ca_key))
    for name, cn, orgs, server in (
        ("apiserver", "kube-apiserver", [], True),
        ("admin", ADMIN, ["system:masters"], False),
    ):
        cert, key = leaf(cn, orgs, server)
        (pki / f"{name}.crt").write_bytes(cert)
        (pki / f"{name}.key").write_bytes(key)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (pki / "sa.key").write_bytes(key_pem(sa_key))
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    for path in pki.glob("*.key"):
        path.chmod(0o600)


def _kubeconfig(pki: Path, server: str) -> str:
    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "gitops-local", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}
        ],
        "users": [
            {"name": ADMIN, "user": {"client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key")}}
        ],
        "contexts": [{"name": "gitops-local", "context": {"cluster": "gitops-local", "user": ADMIN}}],
        "current-context": "gitops-local",
    }
    # JSON is valid YAML, so kubectl and the Python client read it as is.
    return json.dumps(config, indent=2)


# --------------------------------------------------------------------------
# talking to the API server without third-party packages


class AdminClient:
    """Just enough HTTPS to wait for readiness and create kwok nodes."""

    def __init__(self, server: str, pki: Path):
        self.server = server
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 5.0) -> tuple[int, dict | str]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=timeout) as resp:
                raw = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw = err.read().decode()
            status = err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def wait_until(self, description: str, probe, timeout: float, procs: dict[str, subprocess.Popen] | None = None) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            for name, proc in (procs or {}).items():
                if proc.poll() is not None:
                    raise ClusterError(f"{name} exited with code {proc.returncode} while waiting for {description}")
            try:
                if probe():
                    return
            except (OSError, urllib.error.URLError) as err:
                last_error = str(err)
            time.sleep(0.25)
        raise ClusterError(f"timed out after {timeout:.0f}s waiting for {description} {last_error}".strip())


def _kwok_node(name: str) -> dict:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {"allocatable": resources, "capacity": resources},
    }


# --------------------------------------------------------------------------
# lifecycle


def _spawn(name: str, argv: list[str], logs: Path) -> subprocess.Popen:
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    # a new session: the processes outlive `make cluster-up` and ignore its ^C
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def stop(state_dir: Path = DEFAULT_STATE_DIR, quiet: bool = False) -> bool:
    """Stop every process recorded in the state file and remove the data."""
    state = ClusterState.load(state_dir)
    if state is None:
        if not quiet:
            print(f"no local cluster recorded in {state_dir}")
        return False
    # reverse start order: kwok and controllers first, etcd last
    for name, pid in reversed(list(state.pids.items())):
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in state.pids.values()):
        time.sleep(0.1)
    for pid in state.pids.values():
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    shutil.rmtree(state.data_dir, ignore_errors=True)
    for name in ("state.json", "kubeconfig"):
        (Path(state.state_dir) / name).unlink(missing_ok=True)
    if not quiet:
        print(f"stopped local cluster ({len(state.pids)} processes) and removed {state.data_dir}")
    return True


def running(state_dir: Path = DEFAULT_STATE_DIR) -> ClusterState | None:
    """The recorded cluster if all of its processes are alive and it answers."""
    state = ClusterState.load(state_dir)
    if state is None or not all(pid_alive(pid) for pid in state.pids.values()):
        return None
    client = AdminClient(state.server, Path(state.data_dir) / "pki")
    try:
        status = client.request("GET", "/readyz")[0]
    except (OSError, urllib.error.URLError):
        return None
    return state if status == 200 else None


def start(state_dir: Path = DEFAULT_STATE_DIR, nodes: int = 2) -> ClusterState:
    """Start a control plane, or return the one already running for state_dir."""
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    existing = running(state_dir)
    if existing is not None:
        print(f"local cluster already running (reused): {existing.server}", file=sys.stderr)
        return existing
    if ClusterState.load(state_dir) is not None:
        print("cleaning up a previous local cluster that is no longer healthy", file=sys.stderr)
        stop(state_dir, quiet=True)

    binaries = {name: find_binary(name) for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")}
    data_dir = Path(tempfile.mkdtemp(prefix="gitops-cluster-"))
    pki, logs = data_dir / "pki", state_dir / "logs"
    logs.mkdir(exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    _write_pki(pki)
    ports = {name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler")}
    server = f"https://127.0.0.1:{ports['apiserver']}"
    kubeconfig = state_dir / "kubeconfig"
    kubeconfig.write_text(_kubeconfig(pki, server))
    kubeconfig.chmod(0o600)
    state = ClusterState(
        state_dir=str(state_dir), data_dir=str(data_dir), kubeconfig=str(kubeconfig),
        server=server, ports=ports, started_at=time.time(),
    )
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    commands = {
        "etcd": [
            binaries["etcd"], "--name=local", f"--data-dir={data_dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=local={peer_url}", "--listen-metrics-urls=",
            # a throwaway test cluster: durability is not worth the fsync latency
            "--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--log-level=warn",
        ],
        "kube-apiserver": [
            binaries["kube-apiserver"], f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={ports['apiserver']}",
            f"--cert-dir={data_dir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=Node,RBAC",
            # loopback endpoints are invalid for the kubernetes Service; nothing here needs them
            "--endpoint-reconciler-type=none", "--allow-privileged=true", "--profiling=false",
            "--max-requests-inflight=800", "--max-mutating-requests-inflight=400",
        ],
    }
    kubeconfig_args = [f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}"]
    later_commands = {
        "kube-controller-manager": [
            binaries["kube-controller-manager"], *kubeconfig_args, "--bind-address=127.0.0.1",
            f"--secure-port={ports['controller-manager']}", "--leader-elect=false",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--kube-api-qps=200", "--kube-api-burst=400", "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10", "--concurrent-gc-syncs=40", "--concurrent-namespace-syncs=10",
        ],
        "kube-scheduler": [
            binaries["kube-scheduler"], *kubeconfig_args, "--bind-address=127.0.0.1",
            f"--secure-port={ports['scheduler']}", "--leader-elect=false",
        ],
        "kwok": [
            binaries["kwok"], f"--kubeconfig={kubeconfig}", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--manage-nodes-with-label-selector=", "--cidr=10.244.0.1/16", "--node-ip=10.0.0.1",
            "--node-lease-duration-seconds=40",
        ],
    }
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, argv in commands.items():
            procs[name] = _spawn(name, argv, logs)
            state.pids[name] = procs[name].pid
            state.save()
        client = AdminClient(server, pki)
        client.wait_until("kube-apiserver /readyz", lambda: client.request("GET", "/readyz")[0] == 200, START_TIMEOUT, procs)
        for name, argv in later_commands.items():
            procs[name] = _spawn(name, argv, logs)
            state.pids[name] = procs[name].pid
            state.save()
        for index in range(nodes):
            status, body = client.request("POST", "/api/v1/nodes", _kwok_node(f"kwok-node-{index}"))
            if status not in (200, 201, 409):
                raise ClusterError(f"creating node kwok-node-{index} failed ({status}): {body}")

        def nodes_ready() -> bool:
            status, body = client.request("GET", "/api/v1/nodes?labelSelector=type%3Dkwok")
            items = body.get("items", []) if isinstance(body, dict) else []
            ready = [
                n for n in items
                if any(c.get("type") == "Ready" and c.get("status") == "True" for c in n.get("status", {}).get("conditions", []))
            ]
            return status == 200 and len(ready) >= nodes

        def default_service_account() -> bool:
            return client.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200

        client.wait_until(f"{nodes} kwok nodes to be Ready", nodes_ready, START_TIMEOUT, procs)
        client.wait_until("the default ServiceAccount (controller-manager)", default_service_account, START_TIMEOUT, procs)
    except BaseException:
        print(f"local cluster failed to start; logs in {logs}", file=sys.stderr)
        for name in procs:
            tail = (logs / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
            print(f"--- {name} (last lines)\n" + "\n".join(tail), file=sys.stderr)
        stop(state_dir, quiet=True)
        raise
    return state


def process_argv(state: ClusterState, name: str) -> list[str]:
    """The command line of a running recorded process (to start it again the same way)."""
    with open(f"/proc/{state.pids[name]}/cmdline", "rb") as cmdline:
        return [arg.decode() for arg in cmdline.read().split(b"\0") if arg]


def kill_apiserver(state_dir: Path) -> list[str]:
    """SIGKILL kube-apiserver (a fault for tests); returns its command line for restart_apiserver."""
    state = ClusterState.load(Path(state_dir))
    if state is None:
        raise ClusterError(f"no local cluster recorded in {state_dir}")
    argv = process_argv(state, "kube-apiserver")
    pid = state.pids["kube-apiserver"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_TIMEOUT
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return argv


def restart_apiserver(state_dir: Path, argv: list[str] | None = None) -> ClusterState:
    """Start kube-apiserver again with the same arguments (killing the running one first) and wait until ready."""
    state = ClusterState.load(Path(state_dir))
    if state is None:
        raise ClusterError(f"no local cluster recorded in {state_dir}")
    if argv is None:
        argv = kill_apiserver(Path(state_dir))
    proc = _spawn("kube-apiserver", argv, Path(state.state_dir) / "logs")
    state.pids["kube-apiserver"] = proc.pid
    state.save()
    client = AdminClient(state.server, Path(state.data_dir) / "pki")
    client.wait_until("kube-apiserver /readyz after a restart", lambda: client.request("GET", "/readyz")[0] == 200,
                      START_TIMEOUT, {"kube-apiserver": proc})
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--nodes", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            began = time.monotonic()
            state = start(args.state_dir, args.nodes)
            print(f"local cluster ready in {time.monotonic() - began:.1f}s at {state.server}", file=sys.stderr)
            print(state.kubeconfig)
        elif args.action == "down":
            stop(args.state_dir)
        else:
            state = running(args.state_dir)
            if state is None:
                print("not running")
                return 1
            print(f"running at {state.server}; kubeconfig {state.kubeconfig}")
    except ClusterError as err:
        print(f"local_cluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
