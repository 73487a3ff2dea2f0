"""`make demo`: a local control plane, an example Git repository, and the
GitOps loop run on it through ansible-playbook: sync, a live edit, the drift
report that shows it, the sync that heals it, and a prune after a commit.

Each step prints what it did. The cluster stays up afterwards so you can look
around (kubeconfig in .cluster/kubeconfig); `make cluster-down` removes it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chart_servers  # noqa: E402
import local_cluster  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / ".cluster" / "demo"
REPORT_DIR = DEMO_DIR / "reports"


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "gitops demo", "GIT_AUTHOR_EMAIL": "demo@localhost",
        "GIT_COMMITTER_NAME": "gitops demo", "GIT_COMMITTER_EMAIL": "demo@localhost",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_example_repository() -> Path:
    """A fresh Git repository holding examples/repo, one commit on main."""
    repo = DEMO_DIR / "apps"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(REPO / "examples" / "repo", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Example applications: guestbook, podinfo, hello")
    return repo


def start_chart_servers() -> tuple[chart_servers.ChartRepository, chart_servers.OciRegistry, Path]:
    """A chart repository and an OCI registry on 127.0.0.1 holding examples/repo/charts/hello, and an extra-vars
    file (mode 0600) with their URLs and credentials: passwords never go on a command line."""
    base = DEMO_DIR / "chart-servers"
    shutil.rmtree(base, ignore_errors=True)
    pki = chart_servers.write_pki(base / "pki")
    password = secrets.token_hex(12)
    repository = chart_servers.ChartRepository(base / "repository", pki, "demo", password).start()
    registry = chart_servers.OciRegistry(base / "registry", pki, "demo", password).start()
    registry.push(repository.publish(REPO / "examples" / "repo" / "charts" / "hello"))
    extra_vars = base / "chart-vars.json"
    handle = os.open(extra_vars, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump({
            "gitops_demo_chart_repo": repository.url,
            "gitops_demo_registry": f"{registry.host}/charts",
            "gitops_repositories": [
                {"url": repository.url, "username": "demo", "password": password, "ca_file": str(pki.ca_file)},
                {"url": registry.host, "username": "demo", "password": password, "ca_file": str(pki.ca_file), "type": "oci"},
            ],
        }, stream)
    return repository, registry, extra_vars


def ansible_playbook(playbook: str, kubeconfig: str, repo: Path, extra_vars: Path | None = None,
                     report: str = "", more: tuple[str, ...] = ()) -> None:
    """Run the collection's playbook gitops.kubernetes.sync or .drift on the example inventory."""
    env = {
        **os.environ,
        "GITOPS_DEMO_KUBECONFIG": kubeconfig,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".tools" / "collections"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(REPO / "examples" / "inventory.yml"),
        f"gitops.kubernetes.{playbook}", "-e", f"gitops_demo_repo=file://{repo}",
        "-e", f"gitops_report_dir={REPORT_DIR / (report or playbook)}", *more,
    ]
    if extra_vars is not None:
        argv += ["-e", f"@{extra_vars}"]
    if playbook == "drift":
        argv.append("--diff")
    subprocess.run(argv, env=env, check=True)


def kubectl(kubeconfig: str, *args: str) -> str:
    argv = [local_cluster.find_binary("kubectl"), f"--kubeconfig={kubeconfig}", *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120).stdout.strip()


def main() -> int:
    began = time.monotonic()
    step("Starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)")
    state = local_cluster.start(local_cluster.DEFAULT_STATE_DIR)
    kubeconfig = state.kubeconfig
    print(f"API server {state.server}; kubeconfig {kubeconfig}")

    step("Creating the example Git repository from examples/repo (guestbook: YAML, podinfo: kustomize, hello: Helm, "
         "hello-multi: Helm with values from another path)")
    repo = make_example_repository()
    print(f"{repo} at commit {git(repo, 'rev-parse', '--short', 'HEAD')}")

    step("Starting a Helm chart repository (HTTPS, basic auth) and an OCI registry (CNCF Distribution) on 127.0.0.1, "
         "both holding the hello chart")
    repository, registry, extra_vars = start_chart_servers()
    print(f"chart repository {repository.url}, OCI registry oci://{registry.host}/charts")
    try:
        run_loop(kubeconfig, repo, extra_vars)
    finally:
        registry.stop()
        repository.stop()
    print(
        f"\nDemo finished in {time.monotonic() - began:.0f}s. Reports (json, md, junit, html): {REPORT_DIR}/{{sync,drift,preview}}\n"
        "The cluster is still running:\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        "  make cluster-down   # stop it and remove its data"
    )
    return 0


def run_loop(kubeconfig: str, repo: Path, extra_vars: Path) -> None:
    """Sync, edit by hand, drift report, heal, preview a branch, prune after it merges."""
    step("Sync: ansible-playbook gitops.kubernetes.sync creates everything (two charts from the servers) and waits "
         "until it is healthy")
    ansible_playbook("sync", kubeconfig, repo, extra_vars)
    for name, namespace in (("hello-from-repository", "hello-repository"), ("hello-from-registry", "hello-registry")):
        inventory = json.loads(kubectl(kubeconfig, "get", f"configmap/applyset-{name}", "-n", namespace,
                                       "-o", "jsonpath={.data.inventory}"))
        print(f"{name}: chart revision {inventory['revision']}")

    step("Multi-source: hello-multi renders charts/hello with values from envs/demo, lent by a `ref: values` source")
    print("hello-multi message:", kubectl(kubeconfig, "get", "deployment", "-n", "hello-multi", "-o",
                                          "jsonpath={.items[0].spec.template.spec.containers[0].env[0].value}"))

    step("Someone edits the cluster by hand: kubectl scale deployment guestbook-ui --replicas=5")
    print(kubectl(kubeconfig, "scale", "deployment/guestbook-ui", "-n", "guestbook", "--replicas=5"))

    step("Drift report: gitops.kubernetes.drift (the sync in check mode) changes nothing and shows the drift")
    ansible_playbook("drift", kubeconfig, repo, extra_vars)
    print(f"drift report (open in a browser): {REPORT_DIR / 'drift' / 'report.html'}")

    step("Sync again: Git wins, the replica count goes back to 2")
    ansible_playbook("sync", kubeconfig, repo, extra_vars)
    print("guestbook-ui replicas:", kubectl(kubeconfig, "get", "deployment/guestbook-ui", "-n", "guestbook", "-o", "jsonpath={.spec.replicas}"))

    step("A branch removes guestbook/legacy-flags.yaml; preview it before it merges (drift playbook with "
         "gitops_preview_revision: nothing is written to the cluster)")
    git(repo, "checkout", "-q", "-b", "remove-legacy-flags")
    (repo / "guestbook" / "legacy-flags.yaml").unlink()
    git(repo, "commit", "-q", "-am", "Remove the legacy flags")
    git(repo, "checkout", "-q", "main")
    ansible_playbook("drift", kubeconfig, repo, extra_vars, report="preview",
                     more=("-e", "gitops_preview_revision=remove-legacy-flags"))
    preview = REPORT_DIR / "preview" / "preview.md"
    print(f"{preview}:\n" + "\n".join(preview.read_text(encoding="utf-8").splitlines()[:3]))

    step("Merge the branch; the next sync prunes the ConfigMap")
    git(repo, "merge", "-q", "--ff-only", "remove-legacy-flags")
    ansible_playbook("sync", kubeconfig, repo, extra_vars)
    print(kubectl(kubeconfig, "get", "configmaps", "-n", "guestbook"))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (local_cluster.ClusterError, subprocess.CalledProcessError) as err:
        print(f"demo failed: {err}", file=sys.stderr)
        sys.exit(1)
