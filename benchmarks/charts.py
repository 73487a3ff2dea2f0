"""Render times of charts from a chart repository and an OCI registry, cold and warm, per application (issue 12).

    python benchmarks/charts.py [--apps N]

Starts the test harness's HTTPS chart repository and OCI registry on 127.0.0.1
(hack/chart_servers.py), publishes one chart (a Deployment, a Service, a
ConfigMap) and renders N applications of it (gitops_render's engine, a fresh
process per measurement, as each Ansible task is) in four situations:

  cold        empty cache: index or tag list, archive download, digest check, helm template
  warm-pin    the version pinned and cached: no network request at all, render from the cache
  warm-range  a constraint (1.*): one index or tag request per repository, render from the cache
  new-values  a constraint and each application with its own values: helm template per application

Prints seconds per application for each, and the requests the repository saw.
No control plane is needed. Writes benchmarks/results/charts-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(REPO / "hack"))

import chart_servers  # noqa: E402

TEMPLATES = {
    "deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas | default 2 }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: web
          image: "registry.example/web:{{ .Chart.AppVersion }}"
          env:
            - {name: GREETING, value: {{ .Values.greeting | default "hello" | quote }}}
""",
    "service.yaml": """apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: 8080}]
""",
    "configmap.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
""",
}

# run in a fresh interpreter: one process per measurement, as one Ansible task is
RENDER_SCRIPT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.gitops.kubernetes.plugins.module_utils._render import render_application
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import parse_repositories
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import parse_application
job = json.loads(sys.stdin.read())
credentials = parse_repositories(job["repositories"])
started = time.monotonic()
hits = 0
for raw in job["applications"]:
    result = render_application(parse_application(raw), job["cache_dir"], repositories=credentials)
    hits += result.cache_hit
print(json.dumps({"seconds": time.monotonic() - started, "cache_hits": hits}))
"""


def render_all(applications: list[dict], repositories: list[dict], cache_dir: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", RENDER_SCRIPT, str(REPO / ".tools" / "collections")],
                          input=json.dumps({"applications": applications, "repositories": repositories,
                                            "cache_dir": str(cache_dir)}),
                          capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--apps", type=int, default=20, help="applications per measurement (default 20)")
    args = parser.parse_args()
    os.environ["PATH"] = f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"
    base = Path(tempfile.mkdtemp(prefix="gitops-bench-charts-"))
    pki = chart_servers.write_pki(base / "pki")
    repository = chart_servers.ChartRepository(base / "repository", pki, "bench", "bench-password").start()
    registry = chart_servers.OciRegistry(base / "registry", pki, "bench", "bench-password").start()
    results: dict[str, dict] = {}
    try:
        for version in ("1.0.0", "1.1.0"):
            registry.push(repository.publish(chart_servers.write_chart(base / "src", "web", version, TEMPLATES)))
        repositories = [
            {"url": repository.url, "username": "bench", "password": "bench-password", "ca_file": str(pki.ca_file)},
            {"url": f"oci://{registry.host}", "username": "bench", "password": "bench-password", "ca_file": str(pki.ca_file)},
        ]
        for kind, url in (("repository", repository.url), ("oci", registry.url)):
            cache_dir = base / f"cache-{kind}"

            def apps(revision: str, own_values: bool = False, url: str = url) -> list[dict]:
                return [{"name": f"web-{index:03d}", "source": {
                    "repo_url": url, "chart": "web", "revision": revision,
                    "helm": {"values": {"greeting": f"hello {index}" if own_values else "hello", "run": revision}}},
                    "destination": {"namespace": f"web-{index:03d}"}} for index in range(args.apps)]

            for situation, applications in (("cold", apps("1.*")), ("warm-pin", apps("1.1.0")),
                                            ("warm-range", apps("1.*")), ("new-values", apps("1.*", own_values=True))):
                if situation == "warm-pin":
                    # the cold run rendered with the constraint's values; render the pinned ones once, uncounted
                    render_all(applications, repositories, cache_dir)
                before = len(repository.requests)
                started = time.monotonic()
                outcome = render_all(applications, repositories, cache_dir)
                wall = time.monotonic() - started
                results[f"{kind}/{situation}"] = {
                    "applications": args.apps, "seconds_per_app": outcome["seconds"] / args.apps,
                    "process_seconds": wall, "cache_hits": outcome["cache_hits"],
                    "repository_requests": repository.requests[before:] if kind == "repository" else None}
            shutil.rmtree(cache_dir, ignore_errors=True)
    finally:
        registry.stop()
        repository.stop()
        shutil.rmtree(base, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "charts-latest.json").write_text(json.dumps(results, indent=1) + "\n")
    for name, row in results.items():
        requests = row["repository_requests"]
        shown = f", requests {requests}" if requests is not None and len(requests) < 6 else (
            f", {len(requests)} requests" if requests is not None else "")
        print(f"{name:24s} {row['seconds_per_app'] * 1000:8.1f} ms/app  (cache hits {row['cache_hits']}/{row['applications']}"
              f", process {row['process_seconds']:.2f}s{shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
