# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep credentials and Secret values out of every result, diff and message."""

from __future__ import annotations

import base64
import bisect
import copy
import json
import re
from typing import Any, Iterable

SECRET_MASK = "++++++++"
# distinct markers so a diff still tells which Secret keys changed
SECRET_MASK_CHANGED = "++++++++ (changed)"
SECRET_MASK_UNCHANGED = "++++++++ (unchanged)"

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def strip_url_credentials(url: str) -> str:
    """'https://user:token@host/repo' -> 'https://host/repo' (scp-style ssh kept)."""
    return _URL_USERINFO.sub(lambda m: m.group("scheme"), url)


def _scrub_order(secrets: Iterable[str]) -> list[str]:
    """The secrets worth masking, longest first (so a secret containing another is masked whole)."""
    return sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)


class SecretValues(list):
    """What secret_values() returns: a list that also remembers its scrub order and the texts it scrubbed.

    Scrubbing every string of a fleet's result with a fresh sort of thousands
    of values per string was quadratic; with this it is one pass per distinct
    string, skipping values longer than the string. Treat it as read-only.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__(values)
        self._size = -1
        self._order: list[str] = []
        self._lengths: list[int] = []  # negated lengths of _order, ascending, for bisect
        self._done: dict[str, str] = {}

    def scrub(self, text: str) -> str:
        if self._size != len(self):
            self._order = _scrub_order(self)
            self._lengths = [-len(s) for s in self._order]
            self._size = len(self)
            self._done = {}
        done = self._done.get(text)
        if done is not None:
            return done
        result = text
        # values longer than the text cannot be in it: skipping them is what the sorted loop would find
        for secret in self._order[bisect.bisect_left(self._lengths, -len(text)):]:
            if secret in result:
                result = result.replace(secret, SECRET_MASK)
        self._done[text] = result
        return result


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove URL credentials and any of the given secret strings from text."""
    text = strip_url_credentials(text)
    if isinstance(secrets, SecretValues):
        return secrets.scrub(text)
    for secret in _scrub_order(secrets):
        text = text.replace(secret, SECRET_MASK)
    return text


def scrub_error(error: Any, secrets: Iterable[str]) -> Any:
    """A GitopsError with its message scrubbed of the secrets (its location names files and objects, not values)."""
    error.message = scrub_text(error.message, secrets)
    error.args = (str(error),)
    return error


def is_secret(manifest: dict[str, Any] | None) -> bool:
    return bool(manifest) and manifest.get("kind") == "Secret" and (manifest.get("apiVersion") or "") == "v1"


def mask_secret(manifest: dict[str, Any], other: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a Secret with every data/stringData value masked.

    With `other` (the object it is compared with), a value equal on both sides
    is shown as SECRET_MASK_UNCHANGED and a differing one as
    SECRET_MASK_CHANGED, so a diff names the keys that changed without values.
    """
    if not is_secret(manifest):
        return manifest
    masked = copy.deepcopy(manifest)
    for section in ("data", "stringData"):
        values = masked.get(section)
        if values is not None and not isinstance(values, dict):
            masked[section] = SECRET_MASK  # invalid, and may still hold a value
        if not isinstance(values, dict):
            continue
        other_values = (other or {}).get(section) or {}
        for key, value in values.items():
            if other is None:
                values[key] = SECRET_MASK
            elif key in other_values and other_values[key] == value:
                values[key] = SECRET_MASK_UNCHANGED
            else:
                values[key] = SECRET_MASK_CHANGED
    annotations = (masked.get("metadata") or {}).get("annotations") or {}
    # kubectl's client-side apply copy would hold the values in clear text
    if "kubectl.kubernetes.io/last-applied-configuration" in annotations:
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = SECRET_MASK
    return masked


def scalar_forms(value: Any) -> list[str]:
    """The texts a scalar may be printed as: Python's str, JSON (as the API server quotes a request body), and
    for a whole float the integer (YAML 1.1 and Go print 5e9 as 5000000000)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    forms = [str(value)]
    try:
        forms.append(json.dumps(value))
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and value.is_integer():
        forms.append(str(int(value)))
    return forms


def scalars(value: Any) -> Iterable[Any]:
    """Every scalar in a structure of mappings and lists."""
    if isinstance(value, dict):
        for item in value.values():
            yield from scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from scalars(item)
    else:
        yield value


def secret_values(manifests: Iterable[dict[str, Any] | None]) -> SecretValues:
    """Every scalar of every Secret's data and stringData, in every form it may be printed in (and a data
    value's decoded form), for scrub_text.

    A Secret value that is not a string (`pin: 982734561` unquoted) is invalid, and the API server quotes it
    in its error: numbers and booleans are found as well as strings, at any depth.
    """
    found = SecretValues()
    for manifest in manifests:
        if not is_secret(manifest):
            continue
        for section in ("data", "stringData"):
            for value in scalars((manifest or {}).get(section)):
                found.extend(scalar_forms(value))
                if section == "data" and isinstance(value, str):
                    try:
                        found.append(base64.b64decode(value, validate=True).decode("utf-8"))
                    except (ValueError, UnicodeDecodeError):
                        pass
    return found


_HELM_VALUE_KEYS = ("values", "valuesObject", "parameters")


def _mask_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask_leaves(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(item) for item in value]
    return SECRET_MASK if value not in (None, "") else value


def mask_helm_values(application: Any) -> Any:
    """An application spec (ours or Argo CD's) as module arguments may echo it: Helm values masked.

    Helm values and parameters are where passwords are passed to charts, and -vvv
    prints a module's arguments; the keys stay visible, the values do not.
    """
    if not isinstance(application, dict):
        return application
    masked = copy.deepcopy(application)
    spec = masked.get("spec") if isinstance(masked.get("spec"), dict) else {}
    candidates = [masked.get("source"), spec.get("source")]
    for many in (masked.get("sources"), spec.get("sources")):
        candidates += many if isinstance(many, list) else []
    for source in candidates:
        helm = source.get("helm") if isinstance(source, dict) else None
        if not isinstance(helm, dict):
            continue
        for key in _HELM_VALUE_KEYS:
            if key not in helm:
                continue
            if key == "parameters" and isinstance(helm[key], list):
                helm[key] = [{**item, "value": SECRET_MASK} if isinstance(item, dict) and "value" in item else item
                             for item in helm[key]]
            else:
                helm[key] = _mask_leaves(helm[key])
    return masked
