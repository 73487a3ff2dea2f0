"""PNG of a benchmark run: time against number of objects for every tool.

    <bench venv>/bin/python benchmarks/plot.py RESULTS.json OUT.png

Left: the drift-check scaling curve (applications of 4 objects), log-log,
medians per point. Right: the four scenarios at the fleet size, medians.
Runs in the benchmark's virtualenv (matplotlib lives there, not in the project's).
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"ours": "gitops.kubernetes (ours)", "uncached": "ours, dry_run_cache: false", "k8s": "kubernetes.core k8s", "kubectl": "kubectl per application",
          "floor": "floor (bare SSA requests)"}
COLOURS = {"ours": "tab:green", "uncached": "tab:olive", "k8s": "tab:red", "kubectl": "tab:blue", "floor": "tab:gray"}


def main(source: str, target: str) -> None:
    document = json.loads(open(source).read())
    summary = document["summary"]
    figure, (curve_axes, bar_axes) = plt.subplots(1, 2, figsize=(13, 5.2))

    for tool, points in summary["scaling_seconds"].items():
        objects = sorted(points, key=int)
        curve_axes.plot([int(n) for n in objects], [points[n] for n in objects], marker="o",
                        label=LABELS.get(tool, tool), color=COLOURS.get(tool))
    curve_axes.set_xscale("log")
    curve_axes.set_yscale("log")
    curve_axes.set_xlabel("objects (applications x 4)")
    curve_axes.set_ylabel("seconds (median)")
    curve_axes.set_title("Drift check, everything in sync: scaling")
    curve_axes.grid(True, which="both", alpha=0.3)
    curve_axes.legend()

    scenarios = list(summary["scenarios"])
    tools = [t for t in ("ours", "uncached", "k8s", "kubectl", "floor") if any(summary["scenarios"][s]["median_seconds"].get(t) for s in scenarios)]
    width = 0.8 / max(1, len(tools))
    for index, tool in enumerate(tools):
        values = [summary["scenarios"][s]["median_seconds"].get(tool) or 0 for s in scenarios]
        positions = [i + index * width for i in range(len(scenarios))]
        bar_axes.bar(positions, values, width, label=LABELS.get(tool, tool), color=COLOURS.get(tool))
    settings = document["settings"]
    bar_axes.set_xticks([i + width * (len(tools) - 1) / 2 for i in range(len(scenarios))], scenarios)
    bar_axes.set_yscale("log")
    bar_axes.set_ylabel("seconds (median)")
    bar_axes.set_title(f"{settings['fleet_apps']} applications x {settings['fleet_objects']} objects "
                       f"= {settings['fleet_apps'] * settings['fleet_objects']} objects")
    bar_axes.grid(True, axis="y", which="both", alpha=0.3)
    bar_axes.legend(fontsize=8)
    figure.suptitle(f"gitops.kubernetes benchmark ({document['mode']}, {document['started']}, "
                    f"{document['host']['cpus']} CPUs); ours peak RSS {summary['ours_peak_rss_mib']:.0f} MiB")
    figure.tight_layout()
    figure.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
