"""How long an ApplicationSet takes to generate its applications (issue 14: 2,000 in under 5 s).

    .venv/bin/python benchmarks/applicationset_generation.py [--apps 2000] [--reps 3]

Builds a Git repository of N application directories (one ConfigMap each) in a
temporary directory, then times generate_applications() on an ApplicationSet
whose git directories generator matches them all, in both template forms:
goTemplate (the gitops-gotemplate helper, one run for all applications) and
fasttemplate. The cold run includes the mirror clone; the warm runs reuse the
mirror (one fetch check, one checkout), as a scheduled run does. The time
covers generation and the parse of every generated Application, not rendering
or syncing. Prints one line per form and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def collection_on_path() -> None:
    root = Path(tempfile.mkdtemp()) / "ansible_collections" / "gitops"
    root.mkdir(parents=True)
    (root / "kubernetes").symlink_to(REPO)
    sys.path.insert(0, str(root.parent.parent))
    os.environ["PATH"] = f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"


def make_repository(path: Path, count: int) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@localhost", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@localhost"}
    for index in range(count):
        directory = path / "apps" / f"app-{index:04d}"
        directory.mkdir(parents=True)
        (directory / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{index:04d}\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "apps"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True, timeout=300)


def applicationset(url: str, go: bool) -> dict:
    name, path = ("{{ .path.basename }}", "{{ .path.path }}") if go else ("{{path.basename}}", "{{path}}")
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "bench"},
            "spec": {"goTemplate": go, "generators": [{"git": {"repoURL": url, "revision": "main",
                                                               "directories": [{"path": "apps/*"}]}}],
                     "template": {"metadata": {"name": name},
                                  "spec": {"project": "default",
                                           "source": {"repoURL": url, "targetRevision": "main", "path": path},
                                           "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
                                           "syncPolicy": {"automated": {"prune": True}}}}}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    collection_on_path()
    from ansible_collections.gitops.kubernetes.plugins.module_utils._generate import generate_applications

    with tempfile.TemporaryDirectory() as work:
        remote = Path(work) / "remote"
        make_repository(remote, args.apps)
        cache = str(Path(work) / "cache")
        figures = {}
        for form, go in (("goTemplate", True), ("fasttemplate", False)):
            manifest = applicationset(f"file://{remote}", go)
            times = []
            for dummy in range(args.reps + 1):  # the first run clones the mirror
                started = time.perf_counter()
                result = generate_applications([], [], [], [], cache_dir=cache, applicationsets=[manifest])
                times.append(time.perf_counter() - started)
                assert len(result.names) == args.apps, len(result.names)
            warm = sorted(times[1:])[len(times[1:]) // 2]
            figures[form] = {"cold_s": round(times[0], 3), "warm_median_s": round(warm, 3)}
            print(f"{form}: {args.apps} applications, cold {times[0]:.2f}s, warm median {warm:.2f}s")
        print(json.dumps({"apps": args.apps, **figures}))


if __name__ == "__main__":
    main()
