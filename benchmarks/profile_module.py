"""Profile one module run the way the benchmark makes it, without Ansible around it.

    .venv/bin/python benchmarks/profile_module.py [--module diff|sync] [--check] [--vars FILE] [--cprofile]

Runs the module's main() in-process, with the arguments a benchmark run used
(benchmarks/results/work/vars-ours-*.json, written by `bench.py --keep-cluster`),
imports included, under pyinstrument (from the benchmark's venv) or cProfile.
Prints the profile; the module's own JSON output goes to /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / ".tools" / "collections"))


class SerialExecutor:
    """ThreadPoolExecutor's map, in the calling thread."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def map(self, fn, items):  # noqa: ANN001, ANN201
        return [fn(item) for item in items]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", choices=("diff", "sync"), default="diff")
    parser.add_argument("--vars", help="a vars-ours-*.json file (default: the largest fleet one)")
    parser.add_argument("--check", action="store_true", help="check mode")
    parser.add_argument("--diff", action="store_true", help="diff mode (--diff)")
    parser.add_argument("--cprofile", action="store_true", help="cProfile instead of pyinstrument")
    parser.add_argument("--no-profiler", action="store_true",
                        help="no profiler in-process (to run under an outside sampler such as py-spy --threads)")
    parser.add_argument("--serial", action="store_true",
                        help="run applications and requests in the main thread (profilers see only that thread)")
    args = parser.parse_args()
    path = args.vars or max(glob.glob(str(HERE / "results" / "work" / "vars-ours-fleet-r0-*.json")), key=os.path.getsize)
    variables = json.loads(Path(path).read_text())
    module_args = {"applications": variables["bench_applications"], "kubeconfig": variables["bench_kubeconfig"],
                   "cache_dir": variables["bench_cache_dir"], "_ansible_check_mode": args.check,
                   "_ansible_diff": args.diff}
    if args.module == "sync":
        module_args["wait"] = False
    if args.serial:
        module_args["parallelism"] = 1

    from ansible.module_utils import basic

    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}).encode()
    basic._ANSIBLE_PROFILE = "legacy"

    def run() -> None:
        from ansible_collections.gitops.kubernetes.plugins.module_utils import _inputs
        from ansible_collections.gitops.kubernetes.plugins.modules import gitops_diff, gitops_sync

        module = gitops_diff if args.module == "diff" else gitops_sync
        if args.serial:
            _inputs.ThreadPoolExecutor = SerialExecutor
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
            module.main()
        result = json.loads(out.getvalue() or "{}")
        print(f"module result: {len(out.getvalue())} bytes, failed={result.get('failed')} stats={result.get('stats')} "
              f"{result.get('msg', '')}"[:400], file=sys.stderr)

    started = time.perf_counter()
    if args.no_profiler:
        run()
    elif args.cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    else:
        bench_venv = subprocess.run([str(HERE / "venv.sh")], check=True, capture_output=True, text=True).stdout.strip()
        sys.path += glob.glob(f"{bench_venv}/lib/python*/site-packages")
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        run()
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False, timeline=False))
    print(f"{path}: {time.perf_counter() - started:.2f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
