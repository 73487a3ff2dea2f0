"""Continuous reconciliation, measured: heal latency and idle cost of the gitops.kubernetes.reconcile rulebook.

    python benchmarks/eda.py [--apps 100] [--objects 10] [--trials 20] [--idle 60] [--kubeconfig PATH]

Without --kubeconfig it starts a control plane of its own (hack/local_cluster.py,
state in benchmarks/results/eda-cluster, stopped at the end). It generates one
Git repository with APPS applications of OBJECTS objects each (ConfigMaps and
one Deployment), all Argo CD manifests with automated sync and selfHeal, syncs
them once with the gitops.kubernetes.sync playbook, then starts the real
ansible-rulebook with the shipped rulebook and measures:

- idle: for --idle seconds nothing changes; the API requests the live_changes
  engine makes (counted by its client, run beside the rulebook on the same
  inventory), and CPU seconds and peak RSS of the ansible-rulebook process tree;
- heal: TRIALS times, a ConfigMap of one application (round robin) is edited
  with kubectl patch and the time until the API server shows the Git value
  again is taken; median and p95.

Writes benchmarks/results/eda-<time>.json and prints one summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / ".tools" / "collections"))
import local_cluster  # noqa: E402


def env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{REPO / '.tools' / 'bin'}:{os.environ.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".tools" / "collections"), "ANSIBLE_NOCOLOR": "1"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", *args], cwd=cwd, check=True,
                   capture_output=True)


def manifests(objects: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"settings-{i}"},
                                    "data": {"value": "git", "index": str(i)}} for i in range(objects - 1)]
    found.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    return found


def process_tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        todo += [int(c) for c in children]
    return found


def cpu_and_rss(pid: int) -> tuple[float, int]:
    """CPU seconds and RSS (bytes) of a process tree."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, rss = 0.0, 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks
            rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return cpu, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--kubeconfig", help="an existing cluster (default: start one of its own)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    state_dir = RESULTS / "eda-cluster"
    kubeconfig = args.kubeconfig or local_cluster.start(state_dir, nodes=1).kubeconfig
    work = Path(tempfile.mkdtemp(prefix="eda-bench-"))
    prefix = f"edab-{uuid.uuid4().hex[:4]}"
    kubectl = [local_cluster.find_binary("kubectl"), f"--kubeconfig={kubeconfig}"]
    rulebook = None
    try:
        repo = work / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        apps = []
        for index in range(args.apps):
            name = f"{prefix}-{index:03d}"
            (repo / name).mkdir()
            (repo / name / "all.yaml").write_text(yaml.safe_dump_all(manifests(args.objects)))
            apps.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
                         "spec": {"source": {"repoURL": f"file://{repo}", "targetRevision": "main", "path": name},
                                  "destination": {"namespace": name},
                                  "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                                 "syncOptions": ["CreateNamespace=true"]}}})
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "fleet")
        inventory = work / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"clusters": {"hosts": {"bench": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "gitops_kubeconfig": kubeconfig,
            "gitops_cache_dir": str(work / "cache"), "gitops_applications": apps, "gitops_wait": False,
            "gitops_report_dir": ""}}}}))
        started = time.monotonic()
        subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "gitops.kubernetes.sync"],
                       env=env(), cwd=work, check=True, capture_output=True, timeout=3600)
        first_sync = time.monotonic() - started

        from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
        from ansible_collections.gitops.kubernetes.plugins.module_utils._live_watch import LiveMonitor
        from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_targets import load_targets

        log = open(work / "rulebook.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
        rulebook = subprocess.Popen([str(Path(sys.executable).parent / "ansible-rulebook"), "-r", "gitops.kubernetes.reconcile",
                                     "-i", str(inventory), "-v"], stdout=log, stderr=subprocess.STDOUT, env=env(), cwd=work,
                                    start_new_session=True)
        deadline = time.monotonic() + 600
        while "live_changes - INFO - watching" not in (work / "rulebook.log").read_text():
            if time.monotonic() > deadline or rulebook.poll() is not None:
                raise SystemExit(f"the rulebook did not start: {(work / 'rulebook.log').read_text()[-2000:]}")
            time.sleep(0.5)
        target = load_targets([str(inventory)])[0]
        client = KubeClient.from_params(target.connection)
        engine = LiveMonitor(client, target.host, target.applications)  # type: ignore[arg-type]
        engine.start()
        while not engine.ready:
            time.sleep(0.2)
        time.sleep(10)  # the last streams' first WATCH requests go out just after their LIST: not idle cost
        before_requests, (before_cpu, dummy) = client.stats.total, cpu_and_rss(rulebook.pid)
        time.sleep(args.idle)
        idle_requests = client.stats.total - before_requests
        after_cpu, idle_rss = cpu_and_rss(rulebook.pid)
        streams = engine.stats()["streams"]
        engine.close()

        latencies = []
        for trial in range(args.trials):
            name = apps[trial % len(apps)]["metadata"]["name"]
            subprocess.run([*kubectl, "patch", "configmap", "settings-0", "-n", name, "-p", json.dumps({"data": {"value": f"hand-{trial}"}})],
                           check=True, capture_output=True)
            edited = time.monotonic()
            path = f"/api/v1/namespaces/{name}/configmaps/settings-0"
            while (client.request("GET", path) or {}).get("data", {}).get("value") != "git":
                if time.monotonic() - edited > 300:
                    raise SystemExit(f"trial {trial}: {name} not healed within 300 s")
                time.sleep(0.1)
            latencies.append(time.monotonic() - edited)
        result = {
            "applications": args.apps, "objects_per_application": args.objects, "trials": args.trials,
            "first_sync_seconds": round(first_sync, 1), "watch_streams": streams,
            "heal_seconds": {"median": round(statistics.median(latencies), 2),
                             "p95": round(sorted(latencies)[max(0, int(len(latencies) * 0.95 + 0.5) - 1)], 2),
                             "all": [round(x, 2) for x in latencies]},
            "idle": {"seconds": args.idle, "api_requests_per_minute": round(idle_requests * 60 / args.idle, 2),
                     "rulebook_cpu_seconds_per_minute": round((after_cpu - before_cpu) * 60 / args.idle, 2),
                     "rulebook_rss_mib": round(idle_rss / 2 ** 20, 1),
                     "git_ls_remote_per_minute": 1},  # one repository, the rulebook's default 60 s interval
        }
        out = RESULTS / f"eda-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(result, indent=2))
        print(f"EDA {args.apps}x{args.objects}: heal median {result['heal_seconds']['median']}s p95 {result['heal_seconds']['p95']}s; "
              f"idle {result['idle']['api_requests_per_minute']} API requests/min over {streams} watches, "
              f"rulebook {result['idle']['rulebook_cpu_seconds_per_minute']} CPU s/min, {result['idle']['rulebook_rss_mib']} MiB; {out}")
        return 0
    finally:
        if rulebook is not None and rulebook.poll() is None:
            os.killpg(rulebook.pid, signal.SIGTERM)
            rulebook.wait(timeout=60)
        names = [f"{prefix}-{index:03d}" for index in range(args.apps)]
        subprocess.run([*kubectl, "delete", "namespace", *names, "--wait=false", "--ignore-not-found"], capture_output=True, check=False)
        if not args.kubeconfig:
            local_cluster.stop(state_dir, quiet=True)


if __name__ == "__main__":
    sys.exit(main())
