# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes plugins/module_utils/_health/reporting_kinds.py: the custom resource kinds whose controller reports a status.

    python hack/health_kinds.py --argocd /path/to/argo-cd [--revision COMMIT] [--output FILE]

A kind is in the catalogue when Argo CD's own health check for it (resource_customizations/<group>/<kind>/health.lua
of the checkout given, read in place) says Progressing on an object of that kind without any status: Argo CD then
waits for the controller, and so does the generic judgment (generic.py's _no_status). Each script runs through this
collection's Lua runtime on a bare object (apiVersion, kind, metadata with name, namespace, generation 1 and a
creationTimestamp, an empty spec). Left out (and named in the header): a kind whose script fails on it; a kind
whose script judges one of Argo CD's test objects of the kind, its status removed, Healthy (or Suspended where
the generic judgment would not say so): with such a spec its objects may never get a status (an Astra ExecHook,
a Flux HelmRepository of type oci), and a wave must not wait for one forever. Kubernetes' own groups and the
kinds a built-in check judges never reach the generic judgment and are not listed. Argo CD's test objects are
read to judge the scripts, never written out.

Only the names of API groups and kinds are written: no script text, no test object. Argo CD's '_' directories
(`_.crossplane.io/_`) become fnmatch patterns (`*.crossplane.io/*`), matched after the exact kinds as Argo CD
does, when the script waits for a kind of the group no test object shows; the kinds of its test objects are
judged one by one (Airlock's script waits for its *Policy kinds only), and those a pattern would match whose
check does not wait are written too, so the pattern does not catch them.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import subprocess
import sys
import textwrap
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".tools" / "collections"))

from ansible_collections.gitops.kubernetes.plugins.module_utils._argocd_cm import parse_resource_customizations  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health import HealthScript  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.builtin import CHECKS  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.generic import BUILT_IN_GROUPS, generic  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.lua import HAS_LUPA, run_health_script  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.model import HEALTHY, PROGRESSING, SUSPENDED, UNKNOWN  # noqa: E402
from ansible_collections.gitops.kubernetes.plugins.module_utils._health.testing import health_test_cases, load_object  # noqa: E402

OUTPUT = REPO / "plugins" / "module_utils" / "_health" / "reporting_kinds.py"
# fixed, so that the file written depends on the checkout only
CREATED = "2024-01-01T00:00:00Z"
WAITS, SPEC, FAILS, SILENT = "waits", "depends on the spec", "fails", "silent"


def test_objects(directory: Path) -> list[dict]:
    """Argo CD's test objects beside a script (read to judge the script, never written out)."""
    if not (directory / "health_test.yaml").is_file():
        return []
    found = []
    for input_path, dummy in health_test_cases(str(directory)):
        path = directory / input_path
        if path.is_file():
            sample = load_object(str(path))
            if isinstance(sample, dict) and sample.get("apiVersion") and sample.get("kind"):
                found.append(sample)
    return found


def bare_object(api_version: str, kind: str) -> dict:
    """An object of a kind as the API server returns it just created."""
    # an empty spec, as a user's object of these kinds always has one: without it a script that reads
    # spec.suspend first (Flux's, Cluster API's) fails before it looks at the status
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": "example", "namespace": "default", "generation": 1, "creationTimestamp": CREATED},
            "spec": {}}


def verdict(script: HealthScript, api_version: str, kind: str, samples: list[dict]) -> str:
    """WAITS when the script says Progressing on the bare object and lets no test object of the kind stripped of
    its status be Healthy (ExecHook enabled, a Flux HelmRepository of type oci: specs whose objects never get a
    status) or Suspended where the generic judgment would not say so too; SPEC when it does; FAILS when the script
    fails on the bare object; SILENT otherwise."""
    health = run_health_script(script.source, script.origin, bare_object(api_version, kind))
    if health.status == UNKNOWN and health.message.startswith(f"{script.origin}:"):
        return FAILS
    if health.status != PROGRESSING:
        return SILENT
    for sample in samples:
        if sample.get("kind") != kind:
            continue
        stripped = {key: value for key, value in copy.deepcopy(sample).items() if key != "status"}
        without = run_health_script(script.source, script.origin, stripped).status
        if without == HEALTHY or (without == SUSPENDED and generic(stripped).status != SUSPENDED):
            return SPEC
    return WAITS


def classify(checkout: Path) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    """(waiting kinds, waiting patterns, non-waiting kinds a waiting pattern would match, kinds whose script fails
    without a status, kinds whose script lets an object without a status be Healthy for some spec)."""
    root = checkout / "resource_customizations"
    scripts = parse_resource_customizations(None, str(root)).health.directory_scripts
    found: dict[str, str] = {}
    patterns: list[str] = []
    for key, script in sorted(scripts.items()):
        if "/" not in key:
            continue  # the core group: Kubernetes' own kinds
        group, kind = key.split("/", 1)
        if group in BUILT_IN_GROUPS or (group, kind) in CHECKS:
            continue
        samples = test_objects(Path(script.origin).parent)
        if "*" not in key:
            api_version = next((o["apiVersion"] for o in samples if o["apiVersion"].rpartition("/")[0] == group), f"{group}/v1")
            found[key] = verdict(script, api_version, kind, samples)
            continue
        # a pattern: a kind of it no test shows decides the pattern; the kinds of its test objects may differ
        # (Airlock's script waits for its *Policy kinds only)
        waits = verdict(script, group.replace("*", "example") + "/v1", kind.replace("*", "Example"), []) == WAITS
        if waits:
            patterns.append(key)
        for sample in samples:
            sample_key = f"{sample['apiVersion'].rpartition('/')[0]}/{sample['kind']}"
            if sample_key not in scripts and fnmatch.fnmatchcase(sample_key, key):
                found.setdefault(sample_key, verdict(script, sample["apiVersion"], sample["kind"], samples))
    for first in patterns:
        for second in patterns:
            if first < second and (fnmatch.fnmatchcase(second, first) or fnmatch.fnmatchcase(first, second)):
                raise SystemExit(f"patterns {first} and {second} overlap: the catalogue cannot say which wins")

    def matched(key: str) -> bool:
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)

    waiting = sorted(key for key, said in found.items() if said == WAITS and not matched(key))
    shadowed = sorted(key for key, said in found.items() if said != WAITS and matched(key))
    return (waiting, patterns, shadowed, sorted(k for k, said in found.items() if said == FAILS),
            sorted(k for k, said in found.items() if said == SPEC))


def revision_of(checkout: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit(f"{checkout} is not a git checkout: give its commit with --revision") from None


def render(revision: str, waiting: list[str], patterns: list[str], shadowed: list[str], skipped: list[str],
           spec_dependent: list[str]) -> str:
    def lines(items: list[str]) -> str:
        return "".join(f'    "{item}",\n' for item in items)

    def kinds(items: list[str]) -> str:
        return f"frozenset({{\n{lines(items)}}})" if items else "frozenset()"

    def named(items: list[str]) -> str:
        return (": " + ", ".join(items)) if items else ""

    left_out = textwrap.fill(
        f"{len(waiting)} kinds and {len(patterns)} patterns. Left out: {len(skipped)} kinds whose script fails on an object "
        f"without a status (with an empty spec){named(skipped)}; {len(spec_dependent)} kinds whose script judges some of "
        f"Argo CD's test objects Healthy or Suspended once their status is removed (their objects may never get one)"
        f"{named(spec_dependent)}.", width=116, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)

    return f'''# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Generated by hack/health_kinds.py from Argo CD at commit {revision}
# (resource_customizations/*/*/health.lua); do not edit. To regenerate, with a checkout of argoproj/argo-cd:
#     .venv/bin/python hack/health_kinds.py --argocd /path/to/argo-cd
{left_out}
"""The custom resource kinds whose controller reports a status: Argo CD's health check for each says Progressing
on an object of the kind without any status (and Healthy on none of Argo CD's test objects of the kind with their
status removed), so the generic judgment waits for one too (see generic.py's _no_status). Only names of API
groups and kinds, as group/Kind keys.
"""

from __future__ import annotations

ARGO_CD_REVISION = "{revision}"

# group/Kind
REPORTING_KINDS = {kinds(waiting)}

# fnmatch patterns of group/Kind (Argo CD's '_' directories), matched after the exact kinds
REPORTING_KIND_PATTERNS = (
{lines(patterns)})

# kinds a pattern above matches whose own Argo CD check does not wait for a status
NOT_REPORTING_KINDS = {kinds(shadowed)}
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--argocd", type=Path, required=True, help="a checkout of argoproj/argo-cd")
    parser.add_argument("--revision", help="the checkout's commit, when it is not a git working tree")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if not HAS_LUPA:
        raise SystemExit("the Lua runtime needs the 'lupa' Python package (make venv)")
    if not (args.argocd / "resource_customizations").is_dir():
        raise SystemExit(f"{args.argocd} holds no resource_customizations directory (give a checkout of argoproj/argo-cd)")
    revision = args.revision or revision_of(args.argocd)
    waiting, patterns, shadowed, skipped, spec_dependent = classify(args.argocd)
    args.output.write_text(render(revision, waiting, patterns, shadowed, skipped, spec_dependent))
    print(f"{args.output}: {len(waiting)} kinds, {len(patterns)} patterns, {len(shadowed)} kinds excepted from them; "
          f"left out: {len(skipped)} whose script fails without a status ({', '.join(skipped)}), {len(spec_dependent)} "
          f"whose objects may have none ({', '.join(spec_dependent)})")


if __name__ == "__main__":
    main()
