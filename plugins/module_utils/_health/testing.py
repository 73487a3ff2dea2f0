# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run health scripts against their health_test.yaml, as Argo CD's own tests do.

A health_test.yaml beside a health.lua lists cases:

    tests:
    - healthStatus: {status: Progressing, message: Waiting for certificate}
      inputPath: testdata/progressing.yaml

From pytest:  ``assert run_health_tests("resource_customizations/example.com/Widget") == []``
From a shell: ``python -m ansible_collections.gitops.kubernetes.plugins.module_utils._health.testing DIR...``
(each DIR a script's directory, or a resource_customizations tree searched for health_test.yaml files); it prints
one line per case and exits 1 if any case fails.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

try:
    import yaml
except ImportError:  # the modules report the missing library with missing_required_lib()
    yaml = None  # type: ignore[assignment]

from ansible_collections.gitops.kubernetes.plugins.module_utils._health.lua import run_health_script


def _json_like_loader() -> type:
    """A SafeLoader reading YAML as the API server would give it in JSON: timestamps stay strings (scripts
    compare them as text). Built on first use: yaml may be missing where this module is only imported."""
    loader = type("JsonLikeLoader", (yaml.SafeLoader,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return loader


def load_object(path: str) -> dict:
    """The first object of a YAML file (test inputs may hold several documents, as Argo CD's do)."""
    with open(path, encoding="utf-8") as handle:
        for document in yaml.load_all(handle, Loader=_json_like_loader()):  # nosec B506 - a SafeLoader subclass
            if document:
                return document
    raise ValueError(f"{path} holds no object")


@dataclass(frozen=True)
class HealthTestFailure:
    """One case whose verdict differs from what its health_test.yaml expects."""

    test_file: str
    input_path: str
    expected: tuple[str, str]
    got: tuple[str, str]

    def __str__(self) -> str:
        return (f"{self.test_file}: {self.input_path}: expected {self.expected[0]} {self.expected[1]!r}, "
                f"got {self.got[0]} {self.got[1]!r}")


def health_test_cases(script_dir: str) -> list[tuple[str, dict]]:
    """The cases of <script_dir>/health_test.yaml: (inputPath, healthStatus) each. Raises ValueError when malformed."""
    test_file = os.path.join(script_dir, "health_test.yaml")
    with open(test_file, encoding="utf-8") as handle:
        tests = (yaml.safe_load(handle) or {}).get("tests")
    if not isinstance(tests, list) or not tests:
        raise ValueError(f"{test_file} has no tests list")
    cases = []
    for case in tests:
        # Argo CD's loader matches keys case-insensitively: some of its own tests spell it inputpath
        input_path = (case.get("inputPath") or case.get("inputpath")) if isinstance(case, dict) else None
        if not input_path or not isinstance(case.get("healthStatus"), dict):
            raise ValueError(f"{test_file}: every test needs healthStatus and inputPath")
        cases.append((input_path, case["healthStatus"]))
    return cases


def run_health_tests(script_dir: str) -> list[HealthTestFailure]:
    """Run <script_dir>/health.lua on every case of <script_dir>/health_test.yaml; the failures (empty: all pass).

    A case without a message in healthStatus checks the status only. Raises ValueError for a malformed test file."""
    test_file = os.path.join(script_dir, "health_test.yaml")
    with open(os.path.join(script_dir, "health.lua"), encoding="utf-8") as handle:
        source = handle.read()
    failures = []
    for input_path, expected in health_test_cases(script_dir):
        obj = load_object(os.path.join(script_dir, input_path))
        health = run_health_script(source, os.path.join(script_dir, "health.lua"), obj)
        wanted = (str(expected.get("status") or ""), str(expected.get("message") or ""))
        if health.status != wanted[0] or ("message" in expected and health.message != wanted[1]):
            failures.append(HealthTestFailure(test_file, input_path, wanted, (health.status, health.message)))
    return failures


def script_dirs(root: str) -> list[str]:
    """Every directory under root (root included) holding both health.lua and health_test.yaml."""
    found = []
    for current, dirs, files in os.walk(root):
        dirs.sort()
        if "health.lua" in files and "health_test.yaml" in files:
            found.append(current)
    return found


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: python -m ansible_collections.gitops.kubernetes.plugins.module_utils._health.testing DIR...\n")
        return 2
    failed = 0
    for root in argv:
        directories = script_dirs(root)
        if not directories:
            sys.stderr.write(f"{root}: no health.lua with a health_test.yaml\n")
            failed += 1
        for directory in directories:
            try:
                failures = run_health_tests(directory)
            except (OSError, ValueError, yaml.YAMLError) as exc:
                sys.stdout.write(f"ERROR {directory}: {exc}\n")
                failed += 1
                continue
            for failure in failures:
                sys.stdout.write(f"FAIL {failure}\n")
            sys.stdout.write(f"{'ok' if not failures else 'FAILED'} {directory}\n")
            failed += bool(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
