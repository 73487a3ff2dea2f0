"""Continuous reconciliation, measured: heal and deploy latency, idle cost and a soak of the gitops.kubernetes.reconcile rulebook.

    python benchmarks/eda.py [--apps 100] [--objects 10] [--trials 20] [--idle 300] [--deploys 5]
                             [--poll-interval 30] [--soak-minutes 0] [--soak-commit-every 0]
                             [--kubeconfig PATH] [--prefix edab]
                             [--keep | --reuse WORKDIR]

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
  again is taken; median and p95, and per trial where the time went (the
  rulebook's report, ansible-playbook's tasks, from their logs' timestamps);
- deploy: one more application in a repository of its own gets DEPLOYS commits
  announced by a signed push webhook, then DEPLOYS commits found by polling
  every POLL_INTERVAL seconds; the time from the commit to the new value in the
  cluster (for polling also from the poll that found it);
- soak (--soak-minutes): one edit a minute, round robin, and with
  --soak-commit-every N a commit of the deploy target every N edits (announced
  by the webhook); RSS of the rulebook process and the size of the cache
  directory sampled every 30 s, with their slopes per hour.

--keep leaves the fleet and the work directory for --reuse WORKDIR (no new
fleet, no first sync). Writes benchmarks/results/eda-<time>.json and prints
one summary line.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import shutil
import socket
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime
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


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def log_lines(path: Path, since: float) -> list[tuple[float, str]]:
    """(wall time, line) of a log written with Python's default asctime (local time), from since on."""
    found = []
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        match = LOG_TIME.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if stamp >= since:
                found.append((stamp, line[match.end():].strip()))
    return found


def heal_timeline(work: Path, name: str, edited: float, restored: float) -> dict[str, Any]:
    """Where one heal's time went, from the rulebook's log and ansible-playbook's log (ANSIBLE_LOG_PATH): seconds after the edit."""
    timeline: dict[str, Any] = {"restored": round(restored - edited, 2)}
    for stamp, line in log_lines(work / "rulebook.log", edited - 0.01):
        if f"application {name} on" in line and "drifted" in line:
            timeline["reported"] = round(stamp - edited, 2)
            break
    tasks = []
    for stamp, line in log_lines(work / "ansible.log", edited - 0.01):
        body = line.split("| ", 1)[-1]
        if body.startswith(("PLAY [", "TASK [", "PLAY RECAP")):
            tasks.append((round(stamp - edited, 2), body.split("*")[0].strip()))
        if body.startswith("PLAY RECAP"):
            break
    timeline["playbook"] = tasks
    return timeline


def heal_steps(timelines: list[dict[str, Any]]) -> dict[str, float]:
    """Median seconds of each step of a heal, from the timelines: detection, dispatch, the playbook's tasks."""
    steps: dict[str, list[float]] = {}
    for timeline in timelines:
        tasks, reported = timeline["playbook"], timeline.get("reported")
        sync = next((i for i, (dummy, name) in enumerate(tasks) if ": Sync " in name), None)
        if reported is None or sync is None or sync + 1 >= len(tasks):
            continue
        found = {"edit -> report (watch event, coalescing)": reported,
                 "report -> playbook started (rulebook, ansible-runner, ansible-playbook start)": tasks[0][0] - reported,
                 "tasks before the sync task": tasks[sync][0] - tasks[0][0],
                 "sync task until the object is restored": timeline["restored"] - tasks[sync][0],
                 "sync task after the restore (history, Events, result)": tasks[sync + 1][0] - timeline["restored"],
                 "tasks after the sync task": tasks[-1][0] - tasks[sync + 1][0]}
        for step, seconds in found.items():
            steps.setdefault(step, []).append(seconds)
    return {step: round(statistics.median(values), 2) for step, values in steps.items()}


def wait_for_recap(work: Path, since: float, timeout: float = 300) -> None:
    """Until the playbook run started after `since` has finished (so the next trial's timeline is its own)."""
    deadline = time.monotonic() + timeout
    while not any(line.split("| ", 1)[-1].startswith("PLAY RECAP") for dummy, line in log_lines(work / "ansible.log", since)):
        if time.monotonic() > deadline:
            return
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def application(name: str, repo: Path) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
            "spec": {"source": {"repoURL": f"file://{repo}", "targetRevision": "main", "path": name},
                     "destination": {"namespace": name},
                     "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["CreateNamespace=true"]}}}


def make_fleet(work: Path, prefix: str, count: int, objects: int, kubeconfig: str) -> dict[str, Any]:
    """COUNT applications in one repository and one (the deploy target) in a repository of its own, synced once."""
    repo, deploy_repo = work / "repo", work / "deploy-repo"
    names = [f"{prefix}-{index:03d}" for index in range(count)]
    deploy = f"{prefix}-deploy"
    for path, members in ((repo, names), (deploy_repo, [deploy])):
        path.mkdir()
        git(path, "init", "-q", "-b", "main")
        for name in members:
            (path / name).mkdir()
            (path / name / "all.yaml").write_text(yaml.safe_dump_all(manifests(objects)))
        git(path, "add", "-A")
        git(path, "commit", "-qm", "fleet")
    inventory = work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"clusters": {"hosts": {"bench": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "gitops_kubeconfig": kubeconfig,
        "gitops_cache_dir": str(work / "cache"), "gitops_wait": False, "gitops_report_dir": "",
        "gitops_applications": [application(name, repo) for name in names] + [application(deploy, deploy_repo)]}}}}))
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "gitops.kubernetes.sync"],
                   env=env(), cwd=work, check=True, capture_output=True, timeout=3600)
    fleet = {"prefix": prefix, "names": names, "deploy": deploy, "objects": objects, "kubeconfig": kubeconfig,
             "first_sync_seconds": round(time.monotonic() - started, 1)}
    (work / "fleet.json").write_text(json.dumps(fleet))
    return fleet


def percentiles(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 2), "p95": round(ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)], 2),
            "min": round(ordered[0], 2), "max": round(ordered[-1], 2), "all": [round(x, 2) for x in values]}


def value_of(client: Any, namespace: str, name: str = "settings-0") -> str:
    return str(((client.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}") or {}).get("data") or {}).get("value"))


def wait_value(client: Any, namespace: str, wanted: str, since: float, what: str, timeout: float = 300) -> float:
    """Seconds from `since` (monotonic) until the ConfigMap holds `wanted`."""
    while value_of(client, namespace) != wanted:
        if time.monotonic() - since > timeout:
            raise SystemExit(f"{what}: {namespace} did not show {wanted!r} within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - since


def commit_value(repo: Path, name: str, objects: int, value: str) -> str:
    found = manifests(objects)
    found[0]["data"]["value"] = value
    (repo / name / "all.yaml").write_text(yaml.safe_dump_all(found))
    git(repo, "commit", "-qam", value)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def push_webhook(port: int, secret: str, repo: Path, sha: str) -> int:
    body = json.dumps({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": f"file://{repo}"}}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
    with urllib.request.urlopen(request, timeout=120) as response:
        return int(response.status)


def deploy_by_webhook(client: Any, port: int, secret: str, repo: Path, name: str, objects: int, value: str, what: str) -> float:
    """Seconds from a commit of `value`, announced by a signed push webhook, until the cluster shows it."""
    sha = commit_value(repo, name, objects, value)
    committed = time.monotonic()
    if push_webhook(port, secret, repo, sha) != 202:
        raise SystemExit("the webhook was not taken")
    return wait_value(client, name, value, committed, what)


def cpu_with_reaped_children(pid: int) -> float:
    """CPU seconds of a process and of the children it reaped (ansible-runner reaps each ansible-playbook and its modules)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_for_no_playbook(pid: int, timeout: float = 60) -> None:
    """Until no ansible-playbook runs under the rulebook (its CPU is then counted in the rulebook's reaped children)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = False
        for member in process_tree(pid)[1:]:
            try:
                running = running or b"ansible-playbook" in Path(f"/proc/{member}/cmdline").read_bytes()
            except OSError:
                continue
        if not running:
            return
        time.sleep(0.2)


def process_rss(pid: int) -> int:
    """RSS (bytes) of one process (the rulebook: Python and its embedded Java rule engine), without its children."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) if path.exists() else 0


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, per hour."""
    if len(samples) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, dummy in samples)
    mean_v = statistics.fmean(v for dummy, v in samples)
    spread = sum((t - mean_t) ** 2 for t, dummy in samples)
    return 0.0 if not spread else sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread * 3600


def main() -> int:  # pylint: disable=too-many-locals,too-many-statements
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--idle", type=float, default=300.0, help="seconds (each watch reconnects about every 5 minutes)")
    parser.add_argument("--deploys", type=int, default=5, help="commits announced by webhook, and as many found by polling")
    parser.add_argument("--poll-interval", type=float, default=30.0)
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument("--soak-commit-every", type=int, default=0, help="during the soak, also a commit (webhook) every N edits")
    parser.add_argument("--kubeconfig", help="an existing cluster (default: start one of its own)")
    parser.add_argument("--prefix", default="edab", help="of the applications and their namespaces")
    parser.add_argument("--keep", action="store_true", help="leave the fleet and the work directory (for --reuse)")
    parser.add_argument("--reuse", help="the work directory of a --keep run: its fleet, no first sync")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    state_dir = RESULTS / "eda-cluster"
    if args.reuse:
        work = Path(args.reuse)
        fleet = json.loads((work / "fleet.json").read_text())
        kubeconfig = fleet["kubeconfig"]
        for leftover in ("rulebook.log", "ansible.log"):
            (work / leftover).unlink(missing_ok=True)
    else:
        kubeconfig = args.kubeconfig or local_cluster.start(state_dir, nodes=1).kubeconfig
        work = Path(tempfile.mkdtemp(prefix="eda-bench-"))
        fleet = {}
    kubectl = [local_cluster.find_binary("kubectl"), f"--kubeconfig={kubeconfig}"]
    rulebook = None
    try:
        if not fleet:
            fleet = make_fleet(work, f"{args.prefix}-{uuid.uuid4().hex[:4]}", args.apps, args.objects, kubeconfig)
        names, inventory = fleet["names"], work / "inventory.yml"

        from ansible_collections.gitops.kubernetes.plugins.module_utils._kube import KubeClient
        from ansible_collections.gitops.kubernetes.plugins.module_utils._live_watch import LiveMonitor
        from ansible_collections.gitops.kubernetes.plugins.plugin_utils._eda_targets import load_targets

        secret, port = uuid.uuid4().hex, free_port()
        (work / "vars.yml").write_text(yaml.safe_dump({"gitops_poll_interval": args.poll_interval, "gitops_webhook_secret": secret,
                                                       "gitops_webhook_port": port}))
        log = open(work / "rulebook.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
        rulebook = subprocess.Popen([str(Path(sys.executable).parent / "ansible-rulebook"), "-r", "gitops.kubernetes.reconcile",
                                     "-i", str(inventory), "--vars", str(work / "vars.yml"), "-v"],
                                    stdout=log, stderr=subprocess.STDOUT, cwd=work,
                                    env={**env(), "ANSIBLE_LOG_PATH": str(work / "ansible.log")}, start_new_session=True)
        deadline = time.monotonic() + 600
        while not all(f"{source} - INFO - watching" in (work / "rulebook.log").read_text() for source in ("live_changes", "new_revisions")):
            if time.monotonic() > deadline or rulebook.poll() is not None:
                raise SystemExit(f"the rulebook did not start: {(work / 'rulebook.log').read_text()[-2000:]}")
            time.sleep(0.5)
        target = load_targets([str(inventory)])[0]
        client = KubeClient.from_params(target.connection)
        engine = LiveMonitor(client, target.host, target.applications)  # type: ignore[arg-type]
        engine.start()
        deadline = time.monotonic() + 600
        while not engine.ready:
            if time.monotonic() > deadline or engine.failures:
                raise SystemExit(f"the benchmark's own watches were not ready within 600 s: {engine.failures[:1]}")
            time.sleep(0.2)
        time.sleep(10)  # the last streams' first WATCH requests go out just after their LIST: not idle cost
        before_requests, (before_cpu, dummy) = client.stats.total, cpu_and_rss(rulebook.pid)
        time.sleep(args.idle)
        idle_requests = client.stats.total - before_requests
        after_cpu, idle_rss = cpu_and_rss(rulebook.pid)
        streams = engine.stats()["streams"]
        engine.close()

        latencies, timelines, heal_cpu = [], [], []
        for trial in range(args.trials):
            name = names[trial % len(names)]
            cpu_before = cpu_with_reaped_children(rulebook.pid)
            subprocess.run([*kubectl, "patch", "configmap", "settings-0", "-n", name, "-p", json.dumps({"data": {"value": f"hand-{trial}"}})],
                           check=True, capture_output=True)
            edited, edited_wall = time.monotonic(), time.time()
            latencies.append(wait_value(client, name, "git", edited, f"heal trial {trial}"))
            wait_for_recap(work, edited_wall)
            wait_for_no_playbook(rulebook.pid)
            heal_cpu.append(cpu_with_reaped_children(rulebook.pid) - cpu_before)
            timelines.append(heal_timeline(work, name, edited_wall, edited_wall + latencies[-1]))

        deploy_repo, deploy = work / "deploy-repo", fleet["deploy"]
        webhook, polled, after_poll = [], [], []
        for number in range(args.deploys):
            webhook.append(deploy_by_webhook(client, port, secret, deploy_repo, deploy, fleet["objects"],
                                             f"hook-{uuid.uuid4().hex[:6]}", f"webhook deploy {number}"))
            wait_for_recap(work, time.time() - webhook[-1])
        for number in range(args.deploys):
            value = f"poll-{uuid.uuid4().hex[:6]}"
            committed, committed_wall = time.monotonic(), time.time()
            commit_value(deploy_repo, deploy, fleet["objects"], value)
            polled.append(wait_value(client, deploy, value, committed, f"polled deploy {number}", timeout=args.poll_interval + 300))
            found = [stamp for stamp, line in log_lines(work / "rulebook.log", committed_wall)
                     if f"new_revisions - INFO - application {deploy} on" in line]
            if found:
                after_poll.append(committed_wall + polled[-1] - found[0])
            wait_for_recap(work, committed_wall)

        soak: dict[str, Any] = {}
        if args.soak_minutes > 0:
            cache = work / "cache"
            rss, disk, heals, deploys = [], [], [], []
            started, next_edit, edits = time.monotonic(), time.monotonic(), 0
            while time.monotonic() - started < args.soak_minutes * 60:
                now = time.monotonic()
                # before the edit: the previous heal's ansible-playbook is long gone, only the rulebook process is measured
                rss.append((now - started, process_rss(rulebook.pid) / 2 ** 20))
                disk.append((now - started, directory_bytes(cache) / 2 ** 20))
                if now >= next_edit:
                    name = names[edits % len(names)]
                    subprocess.run([*kubectl, "patch", "configmap", "settings-0", "-n", name, "-p",
                                    json.dumps({"data": {"value": f"soak-{edits}"}})], check=True, capture_output=True)
                    heals.append(wait_value(client, name, "git", time.monotonic(), f"soak edit {edits}"))
                    if args.soak_commit_every and edits % args.soak_commit_every == 0:
                        # a new commit too: the render cache and the Git mirror grow with each, bounded by eviction
                        deploys.append(deploy_by_webhook(client, port, secret, deploy_repo, deploy, fleet["objects"],
                                                         f"soak-commit-{edits}", f"soak commit {edits}"))
                    edits, next_edit = edits + 1, next_edit + 60
                time.sleep(max(0.0, min(30.0, next_edit - time.monotonic())))
            soak = {"minutes": round((time.monotonic() - started) / 60, 1), "edits": edits, "heal_seconds": percentiles(heals),
                    "commits": len(deploys), "deploy_seconds": percentiles(deploys) if deploys else {},
                    "rss_mib": {"first": round(rss[0][1], 1), "last": round(rss[-1][1], 1), "max": round(max(v for dummy, v in rss), 1),
                                "slope_per_hour": round(slope_per_hour(rss), 1)},
                    "cache_mib": {"first": round(disk[0][1], 2), "last": round(disk[-1][1], 2),
                                  "slope_per_hour": round(slope_per_hour(disk), 2)},
                    "samples": {"rss_mib": [(round(t), round(v, 1)) for t, v in rss], "cache_mib": [(round(t), round(v, 2)) for t, v in disk]}}

        load = os.getloadavg()
        result = {
            "applications": len(names), "objects_per_application": fleet["objects"], "trials": args.trials,
            "cores": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in load],
            "first_sync_seconds": fleet["first_sync_seconds"], "watch_streams": streams,
            "heal_seconds": {**percentiles(latencies), "steps_median": heal_steps(timelines), "timelines": timelines},
            # CPU of the rulebook and the ansible-playbook it ran per heal: what the latency is made of on an idle machine
            "heal_cpu_seconds": percentiles(heal_cpu),
            "deploy_seconds": {"webhook": percentiles(webhook) if webhook else {},
                               "polling": {"interval": args.poll_interval, **(percentiles(polled) if polled else {}),
                                           "after_the_poll": percentiles(after_poll) if after_poll else {}}},
            "idle": {"seconds": args.idle, "api_requests_per_minute": round(idle_requests * 60 / args.idle, 2),
                     "rulebook_cpu_seconds_per_minute": round((after_cpu - before_cpu) * 60 / args.idle, 2),
                     "rulebook_rss_mib": round(idle_rss / 2 ** 20, 1),
                     "git_ls_remote_per_minute": round(2 * 60 / args.poll_interval, 2)},  # two repositories
            "soak": soak,
        }
        out = RESULTS / f"eda-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(result, indent=2))
        heal, hook, poll = result["heal_seconds"], result["deploy_seconds"]["webhook"], result["deploy_seconds"]["polling"]
        print(f"EDA {len(names)}x{fleet['objects']}: heal median {heal['median']}s p95 {heal['p95']}s "
              f"(CPU per heal median {result['heal_cpu_seconds']['median']}s); "
              f"deploy webhook median {hook.get('median')}s, polling every {args.poll_interval:.0f}s median {poll.get('median')}s "
              f"(after the poll {poll.get('after_the_poll', {}).get('median')}s); "
              f"idle {result['idle']['api_requests_per_minute']} API requests/min over {streams} watches, "
              f"rulebook {result['idle']['rulebook_cpu_seconds_per_minute']} CPU s/min, {result['idle']['rulebook_rss_mib']} MiB; "
              f"load {result['load_average_1_5_15']}; {out}")
        return 0
    finally:
        if rulebook is not None and rulebook.poll() is None:
            os.killpg(rulebook.pid, signal.SIGTERM)
            rulebook.wait(timeout=60)
        if not args.keep and fleet:
            subprocess.run([*kubectl, "delete", "namespace", *fleet["names"], fleet["deploy"], "--wait=false", "--ignore-not-found"],
                           capture_output=True, check=False)
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            print(f"kept: --reuse {work}")
        if not args.kubeconfig and not args.reuse:
            local_cluster.stop(state_dir, quiet=True)


if __name__ == "__main__":
    sys.exit(main())
