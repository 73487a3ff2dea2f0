# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health: the cost of a Lua health script per object, and agreement with Argo CD on its own test objects.

    python benchmarks/health_lua.py [--objects 1000] [--argocd ARGO_CD_CHECKOUT [--misses] [--without-reporting-kinds]]

Prints the Lua runtime's cost per object judged (the issue's target: under 1 ms) over N objects of
a custom kind, against the same objects judged by the built-in generic check. With --argocd (a checkout
of github.com/argoproj/argo-cd, read in place, nothing copied), also prints how often this collection's
verdict equals Argo CD's on the objects of its health tests: gitops-engine's built-in kinds, every
resource_customizations/*/*/health_test.yaml judged by Argo CD's own scripts through our Lua runtime
(the resource_customizations_dir path), and by our checks without any script: as the objects are (their
creation long past), and as a wave judges them right after applying them (a custom resource without a status
is then in its first seconds, see generic.py's _no_status), with the misses counted by verdict pair, and the
agreement per custom resource kind (the mean over the kinds Argo CD ships a check for, each kind counting once);
and, for the test objects without a status, our verdicts as found by Argo CD's.
--without-reporting-kinds judges without the catalogue of kinds whose controller reports a status
(reporting_kinds.py: derived from the same Argo CD scripts, so it agrees with them by construction).
--misses lists each miss by verdict pair, with our message and Argo CD's, to find the rules worth adding.
A path given to --argocd that holds no resource_customizations directory is said and skipped.
"""

from __future__ import annotations

import argparse
import collections
import copy
import importlib
import re
import sys
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / ".tools" / "collections"))

from ansible_collections.gitops.kubernetes.plugins.module_utils._health import BUILT_IN, HealthChecks, HealthScript  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.lua import run_health_script  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import parse_resource_customizations  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.testing import health_test_cases, load_object, script_dirs  # noqa: E402

# the module (the package's `generic` is the function of the same name)
generic_module = importlib.import_module("ansible_collections.gitops.kubernetes.plugins.module_utils._health.generic")

SCRIPT = """
hs = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for i, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" and condition.status == "True" then
      hs.status = "Healthy"
      hs.message = condition.message
      return hs
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for Ready"
return hs
"""


def custom_objects(count: int) -> list[dict]:
    return [{
        "apiVersion": "bench.gitops.test/v1", "kind": "Widget",
        "metadata": {"name": f"w{i}", "namespace": "bench", "generation": 3, "labels": {"app": "w", "tier": "x"},
                     "annotations": {"note": "x" * 200}},
        "spec": {"replicas": 3, "ports": [{"port": 80 + j} for j in range(5)], "template": {"image": "example:1"}},
        "status": {"observedGeneration": 3, "conditions": [
            {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            {"type": "Ready", "status": "True", "reason": "Available", "message": "ready"}]},
    } for i in range(count)]


def per_object(judge, objects: list[dict]) -> float:
    started = time.perf_counter()
    for obj in objects:
        judge(obj)
    return (time.perf_counter() - started) / len(objects) * 1000


def cost(count: int) -> None:
    objects = custom_objects(count)
    run_health_script(SCRIPT, "bench", objects[0])  # compile once, as a run does
    checks = HealthChecks({"bench.gitops.test/Widget": HealthScript(SCRIPT, "bench")})
    lua_ms = min(per_object(checks.assess, objects) for dummy in range(3))
    generic_ms = min(per_object(BUILT_IN.assess, objects) for dummy in range(3))
    print(f"HEALTH lua {lua_ms:.3f} ms/object, generic {generic_ms:.3f} ms/object, over {count} objects "
          f"(target: Lua under 1 ms)")


def gitops_engine_cases(checkout: Path) -> list[tuple[Path, str]]:
    test = checkout / "gitops-engine" / "pkg" / "health" / "health_test.go"
    if not test.exists():
        return []
    cases = re.findall(r'assertAppHealth\(t, "\./(testdata/[^"]+)", HealthStatus(\w+)\)', test.read_text())
    return [(test.parent / path, status) for path, status in cases]


def parity(checkout: Path, list_misses: bool = False) -> None:
    if not (checkout / "resource_customizations").is_dir():
        print(f"PARITY skipped: {checkout} holds no resource_customizations directory (give a checkout of argoproj/argo-cd)")
        return
    engine = gitops_engine_cases(checkout)
    same = [p.name for p, status in engine if BUILT_IN.assess(load_object(str(p))).status == status]
    missed = sorted({p.name for p, dummy in engine} - set(same))
    print(f"PARITY built-in kinds: {len(same)}/{len(engine)} of gitops-engine's test objects"
          + (f"; differ: {', '.join(missed)}" if missed else ""))
    # Argo CD's harness calls a kind's check directly (no "Pending deletion" rule first): so does this
    configured = parse_resource_customizations(None, str(checkout / "resource_customizations")).health
    total = with_scripts = without_scripts = just_created = 0
    differ: list[str] = []
    misses: collections.Counter[tuple[str, str]] = collections.Counter()
    listed: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    per_kind: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])  # kind -> [agree as a wave judges, cases]
    no_status: dict[str, list[str]] = collections.defaultdict(list)  # Argo CD's verdict -> ours as found, objects without a status
    for directory in (Path(d) for d in script_dirs(str(checkout / "resource_customizations"))):
        for input_path, expected in health_test_cases(str(directory)):
            path = directory / input_path
            obj = load_object(str(path))
            group, kind = (obj.get("apiVersion") or "").rpartition("/")[0], obj.get("kind") or ""
            total += 1
            verdict = configured.check_for(group, kind)(obj)
            if verdict.status == expected["status"] and verdict.message == expected.get("message", verdict.message):
                with_scripts += 1
            else:
                differ.append(f"{path.relative_to(checkout)}: {verdict.status} {verdict.message!r}, "
                              f"Argo CD says {expected['status']} {expected.get('message', '')!r}")
            found = BUILT_IN.check_for(group, kind)(obj)
            without_scripts += found.status == expected["status"]
            if not obj.get("status"):
                no_status[expected["status"]].append(found.status)
                # then judged again as the API server returns it just created (it sets both fields)
                obj = copy.deepcopy(obj)
                obj.setdefault("metadata", {})["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                obj["metadata"].setdefault("generation", 1)
                found = BUILT_IN.check_for(group, kind)(obj)
            ours = found.status
            just_created += ours == expected["status"]
            per_kind[f"{group}/{kind}"][0] += ours == expected["status"]
            per_kind[f"{group}/{kind}"][1] += 1
            if ours != expected["status"]:
                misses[(ours, expected["status"])] += 1
                listed[(ours, expected["status"])].append(
                    f"{path.relative_to(checkout / 'resource_customizations')}: ours {found.message[:100]!r}, "
                    f"Argo CD's {str(expected.get('message', ''))[:100]!r}")
    print(f"PARITY with resource_customizations_dir set to Argo CD's scripts: {with_scripts}/{total} cases "
          "(status and message)")
    for line in differ[:20]:
        print(f"  differs: {line}")
    print(f"PARITY no script configured (built-in and generic checks): {without_scripts}/{total} cases "
          f"({100 * without_scripts / max(1, total):.0f}%; the issue's target is 80%); judged as a wave judges "
          f"them right after applying them: {just_created}/{total} ({100 * just_created / max(1, total):.0f}%)")
    print(f"PARITY objects without a status ({sum(len(v) for v in no_status.values())} cases), as found, by Argo CD's verdict: "
          + "; ".join(f"{theirs} {len(ours)}: ours " + ", ".join(f"{verdict} {n}" for verdict, n in collections.Counter(ours).most_common())
                      for theirs, ours in sorted(no_status.items(), key=lambda item: -len(item[1]))))
    mean = sum(agree / cases for agree, cases in per_kind.values()) / max(1, len(per_kind))
    whole = sum(1 for agree, cases in per_kind.values() if agree == cases)
    print(f"PARITY per custom resource kind, as a wave judges them: mean {100 * mean:.0f}% over {len(per_kind)} kinds; "
          f"every case agrees for {whole} of them")
    print("  misses (ours -> Argo CD's), right after applying: "
          + ", ".join(f"{ours}->{theirs} {n}" for (ours, theirs), n in misses.most_common()))
    if list_misses:
        for (ours, theirs), n in misses.most_common():
            print(f"MISSES {ours} -> {theirs} ({n}):")
            for line in listed[(ours, theirs)]:
                print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--argocd", type=Path, help="a checkout of argoproj/argo-cd")
    parser.add_argument("--misses", action="store_true", help="list each case where our verdict without a script differs")
    parser.add_argument("--without-reporting-kinds", action="store_true",
                        help="judge as before the catalogue of kinds that report a status (reporting_kinds.py, derived from Argo CD's scripts)")
    args = parser.parse_args()
    if args.without_reporting_kinds:
        generic_module.REPORTING_KINDS, generic_module.REPORTING_KIND_PATTERNS = frozenset(), ()
    cost(args.objects)
    if args.argocd:
        parity(args.argocd, args.misses)


if __name__ == "__main__":
    main()
