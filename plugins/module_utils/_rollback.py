# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollback: sync an application again at what one entry of its sync history recorded.

As ``argocd app rollback APP ID``: the entry is named by its id (an
incrementing integer) or by the revision it recorded (a full commit, or an
abbreviation of at least 7 characters; the latest entry with it wins). The
application is rendered at exactly that commit, and the new history entry
says which entry it rolled back to (``rollback_of``). Only entries of
successful syncs can be rolled back to (Argo CD records no others).

Argo CD refuses a rollback while automated sync is enabled (its UI turns
automated sync off first), because the controller would sync the target
revision again at once. Here nothing runs between two Ansible runs: the
rollback holds until the next sync without it, which syncs the target
revision of the spec again. To stay at the rolled-back commit, keep the
rollback in the scheduled run or pin the spec's revision.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError

_HEX = re.compile(r"^[0-9a-f]{7,40}$")
# ids are small integers; a longer string of digits is taken for an abbreviated commit
_ID_DIGITS = 6


def _describe(history: list[dict[str, Any]]) -> str:
    return ", ".join(f"{h.get('id')} ({str(h.get('revision') or '?')[:12]}, {h.get('result')})" for h in history[-10:])


def find_entry(history: list[dict[str, Any]], target: Any, app_name: str) -> dict[str, Any]:
    """The history entry a rollback target (an id, or a revision) names; SpecError naming the app otherwise."""
    if not history:
        raise SpecError("cannot roll back: the application has no sync history in its inventory (no sync recorded yet)",
                        application=app_name)
    if isinstance(target, bool) or target is None or not isinstance(target, (int, str)) or str(target).strip() == "":
        raise SpecError(f"rollback must be a history id (an integer) or a revision, got {target!r}", application=app_name)
    text = str(target).strip().lower()
    found: dict[str, Any] | None = None
    if isinstance(target, int) or (text.isdigit() and len(text) <= _ID_DIGITS):
        found = next((h for h in history if str(h.get("id")) == text), None)
        if found is None:
            raise SpecError(f"cannot roll back to history id {text}: the recorded syncs are {_describe(history)}",
                            application=app_name)
    else:
        if not _HEX.match(text):
            raise SpecError(f"rollback {target!r} is neither a history id nor a commit (7 to 40 hexadecimal characters)",
                            application=app_name)
        matches = [h for h in history if str(h.get("revision") or "").lower().startswith(text)]
        if not matches:
            raise SpecError(f"cannot roll back to revision {text}: no recorded sync has it; the recorded syncs are "
                            f"{_describe(history)}", application=app_name)
        succeeded = [h for h in matches if h.get("result") == "Succeeded"]
        found = (succeeded or matches)[-1]
    if found.get("result") != "Succeeded":
        raise SpecError(f"cannot roll back to history id {found.get('id')}: that sync {str(found.get('result')).lower()} "
                        "(only successful syncs can be rolled back to)", application=app_name)
    if not found.get("revision"):
        raise SpecError(f"cannot roll back to history id {found.get('id')}: it recorded no revision (rendered manifests)",
                        application=app_name)
    return found


def rollback_targets(option: Any, names: list[str]) -> dict[str, Any]:
    """The module's rollback option as {application name: id or revision}.

    A scalar is for the only application of the call; a mapping names the applications; a name it gives that the
    call does not sync is an error (a typo must not roll back nothing silently).
    """
    if option is None or option == {} or option == "":
        return {}
    if isinstance(option, dict):
        unknown = sorted(set(option) - set(names))
        if unknown:
            raise SpecError(f"rollback names application(s) {', '.join(map(str, unknown))}, which this call does not sync "
                            f"(it syncs {', '.join(names) or 'none'})")
        return {str(key): value for key, value in option.items() if value not in (None, "")}
    if len(names) != 1:
        raise SpecError("rollback as a single id or revision needs exactly one application; with several, give a "
                        "mapping of application name to history id or revision")
    return {names[0]: option}
