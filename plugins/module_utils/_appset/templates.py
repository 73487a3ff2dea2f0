# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ApplicationSet template evaluation, both of Argo CD's forms.

- fasttemplate (no goTemplate): `{{path.basename}}`, `{{path[1]}}` replaced by
  the flat string parameter of that (trimmed) name; a tag naming no string
  parameter is left exactly as written, as Argo CD leaves it. Evaluated here.
- goTemplate: Go text/template with Sprig, evaluated by the gitops-gotemplate
  helper (hack/tools/gotemplate), which holds the very function set Argo CD
  registers, so `missingkey`, `<no value>`, `toYaml` and `default` behave as
  they do there. One helper run evaluates a whole batch of (tree, params).

Every string of a template tree, and every mapping key, is its own template
(Argo CD walks the Application that way); numbers and booleans stay as they are.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError

GO_TEMPLATE_BINARY = "gitops-gotemplate"
# Argo CD only runs fasttemplate on strings holding {{ and }} on one line
_TEMPLATED = re.compile(r".*{{.*}}.*")
# options Go's text/template accepts (Template.Option)
GO_TEMPLATE_OPTIONS = ("missingkey=default", "missingkey=invalid", "missingkey=zero", "missingkey=error")
_HELPER_TIMEOUT = 120


def fast_replace(text: str, params: dict[str, Any]) -> str:
    """Argo CD's fasttemplate substitution of one string; SpecError on a {{ without its }}."""
    if not _TEMPLATED.match(text):
        return text
    out: list[str] = []
    rest = text
    while True:
        start = rest.find("{{")
        if start < 0:
            out.append(rest)
            break
        out.append(rest[:start])
        rest = rest[start + 2:]
        end = rest.find("}}")
        if end < 0:
            raise SpecError(f"invalid template {text!r}: no '}}}}' closes the '{{{{' before {rest!r}")
        tag = rest[:end]
        rest = rest[end + 2:]
        value = params.get(tag.strip())
        out.append(value if tag.strip() and isinstance(value, str) else "{{" + tag + "}}")
    return "".join(out)


def fast_render(tree: Any, params: dict[str, Any]) -> Any:
    """A template tree with fasttemplate applied to every string and mapping key (null values dropped)."""
    if not params:
        return tree
    if isinstance(tree, str):
        return fast_replace(tree, params)
    if isinstance(tree, list):
        return [fast_render(item, params) for item in tree]
    if isinstance(tree, dict):
        return {fast_replace(str(key), params): fast_render(value, params) for key, value in tree.items() if value is not None}
    return tree


@dataclass
class GoJob:
    """One tree to render with one parameter set; keep_missing keeps strings that miss a key unrendered."""

    tree: Any
    params: dict[str, Any]
    keep_missing: bool = False


class GoTemplateError(SpecError):
    """A Go template failed: which job (index into the batch) and Go's own message."""

    def __init__(self, job: int, message: str) -> None:
        super().__init__(message)
        self.job = job


def check_go_options(options: list[str], where: str) -> list[str]:
    """goTemplateOptions as Go accepts them (an unknown option would panic in Argo CD's controller)."""
    for option in options:
        if option not in GO_TEMPLATE_OPTIONS:
            raise SpecError(f"{where}: goTemplateOptions {option!r} is not a Go template option "
                            f"(accepted: {', '.join(GO_TEMPLATE_OPTIONS)})")
    return list(options)


def go_render(jobs: list[GoJob], options: list[str]) -> list[Any]:
    """Render every job in one run of the helper; GoTemplateError names the first failing job."""
    if not jobs:
        return []
    binary = shutil.which(GO_TEMPLATE_BINARY)
    if not binary:
        raise SpecError(f"goTemplate: true needs the {GO_TEMPLATE_BINARY} binary (Go text/template with Argo CD's "
                        f"Sprig functions) on PATH; in a checkout of this collection run `make tools`, elsewhere "
                        f"`go build` hack/tools/gotemplate of the collection's source, or use the execution environment")
    request = {"options": options, "jobs": [{"tree": job.tree, "params": job.params, "keepMissing": job.keep_missing} for job in jobs]}
    try:
        completed = subprocess.run([binary], input=json.dumps(request).encode(), capture_output=True,
                                   timeout=_HELPER_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise SpecError(f"{GO_TEMPLATE_BINARY} did not answer within {_HELPER_TIMEOUT}s") from None
    if completed.returncode != 0:
        raise SpecError(f"{GO_TEMPLATE_BINARY} failed: {completed.stderr.decode(errors='replace').strip()[:500]}")
    answer = json.loads(completed.stdout)
    if answer.get("error"):
        raise GoTemplateError(int(answer["error"]["job"]), str(answer["error"]["message"]))
    return list(answer["results"])
