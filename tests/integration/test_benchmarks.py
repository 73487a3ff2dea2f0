"""The benchmark never rots: `bench.py --quick` runs end to end once.

It starts its own control plane (benchmarks/results/cluster), builds the
peers' virtualenv and the floor client when missing, and must leave a
well-formed JSON, a PNG plot and a RATIOS line. Timings are never asserted:
they belong to `make bench`, not to a test on a shared machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"
TOOLS = {"ours", "uncached", "k8s", "kubectl", "floor"}
SCENARIOS = {"first-sync", "noop-sync", "drift-in-sync", "drift-10pct"}
# ours with dry_run_cache: false works on what ours synced: it has no first sync of its own
NOT_RUN = {("uncached", "first-sync")}


@pytest.fixture(scope="module")
def quick_run() -> tuple[subprocess.CompletedProcess, dict]:
    if shutil.which("go") is None:
        pytest.skip("the floor client needs the Go toolchain")
    (RESULTS / "latest-quick.json").unlink(missing_ok=True)
    (RESULTS / "latest-quick.png").unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench.py"), "--quick"], cwd=REPO,
                          capture_output=True, text=True, timeout=900, check=False)
    assert (RESULTS / "latest-quick.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads((RESULTS / "latest-quick.json").read_text())


def test_quick_benchmark_runs_every_tool_on_every_scenario(quick_run):
    proc, document = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert document["mode"] == "quick" and document["unexpected_runs"] == 0
    ran = {(run["tool"], run["scenario"]) for run in document["runs"]}
    assert {(tool, scenario) for tool in TOOLS for scenario in SCENARIOS} - NOT_RUN <= ran
    assert not NOT_RUN & ran
    assert {tool for tool, scenario in ran if scenario == "scale"} == TOOLS
    for run in document["runs"]:
        assert run["seconds"] > 0 and run["rc"] == 0 and run["check"]["ok"], run
        assert run["peak_rss_mib"] > 0
    # after ours' first sync, its checks reuse dry-run verdicts: every object's but the 2 Deployments per
    # application whose status the controllers may still be writing (a new resourceVersion means a new dry-run);
    # with dry_run_cache false nothing is reused
    reused = {(run["tool"], run["scenario"]): run["check"].get("dry_runs_reused") for run in document["runs"]}
    assert reused[("ours", "noop-sync")] >= 3 * 8 and reused[("ours", "drift-in-sync")] >= 3 * 8
    assert reused[("uncached", "drift-in-sync")] == 0 and reused[("uncached", "drift-10pct")] == 0


def test_quick_benchmark_summarises_ratios_memory_and_targets(quick_run):
    proc, document = quick_run
    summary = document["summary"]
    for scenario in SCENARIOS:
        medians = summary["scenarios"][scenario]["median_seconds"]
        assert set(medians) == TOOLS
        assert all(value > 0 for tool, value in medians.items() if (tool, scenario) not in NOT_RUN)
        expected = {"ours/k8s", "ours/kubectl", "ours/floor"} | ({"uncached/floor"} if scenario != "first-sync" else set())
        assert set(summary["scenarios"][scenario]["ratios"]) == expected
    assert summary["scaling_seconds"]["ours"] and summary["scaling_seconds"]["floor"]
    assert 0 < summary["ours_peak_rss_mib"] < 4096
    assert all("met" in check for check in document["targets"].values())
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("RATIOS first-sync ours/k8s=") and "ours peak RSS" in lines[-1]


def test_quick_benchmark_plots_a_png(quick_run):
    png = RESULTS / "latest-quick.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
