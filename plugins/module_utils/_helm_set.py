# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
r"""Helm parameters as a values structure, read the way `helm --set` reads them.

A parameter on helm's command line is visible to every local user in the
process list, so parameters are handed to helm in a private values file
instead. The file must mean what the `--set name=value` Argo CD would pass
means, so this is helm's own --set grammar (helm.sh/helm/v3/pkg/strvals):

- keys split on '.', a backslash escapes the next character (`a\.b` is the
  key "a.b"), `name[2]` indexes a list (padded with nulls), at most 30 levels;
- a value is typed unless the parameter is a force_string one: true/false/null
  (any case), 0, and base-10 integers not starting with 0; anything else is a
  string; `{a,b}` is a list; a backslash escapes the next character;
- all typed parameters are applied before all force_string ones, each over
  the values files (so `list[1]=x` changes one element of a values file's list).

One difference cannot be avoided: helm reads every number in a values file as
a float, where --set gives an integer (`{{ .Values.n }}` prints 1e+06 for a
million; toYaml, toJson and `int` are unaffected).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterable

__all__ = ["HelmSetError", "apply_parameters", "merge_values", "parameters_file_values", "set_value"]

MAX_NESTED_NAME_LEVEL = 30  # helm's strvals limits
MAX_INDEX = 65536
_INDEX = re.compile(r"^[+-]?[0-9]+$")


class HelmSetError(ValueError):
    """A parameter helm would refuse; the message is helm's reason."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def read(self) -> str | None:
        if self.position >= len(self.text):
            return None
        char = self.text[self.position]
        self.position += 1
        return char

    def unread(self) -> None:
        self.position -= 1

    def until(self, stop: str) -> tuple[str, str | None]:
        """Characters up to one of stop (a backslash escapes any character); the stop character, None at the end."""
        found: list[str] = []
        while True:
            char = self.read()
            if char is None:
                return "".join(found), None
            if char in stop:
                return "".join(found), char
            if char == "\\":
                escaped = self.read()
                if escaped is None:
                    return "".join(found), None
                found.append(escaped)
            else:
                found.append(char)


def typed_value(text: str, as_string: bool) -> Any:
    """helm's typedVal: booleans, null, 0 and integers not starting with 0; anything else a string."""
    if as_string:
        return text
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0":
        digits = text[1:] if text[0] in "+-" else text
        if digits and digits.isascii() and digits.isdigit():
            number = int(text)
            if -(2 ** 63) <= number < 2 ** 63:
                return number
    return text


class _Parser:
    """helm's strvals parser; methods return True where helm's return io.EOF (the text ended)."""

    def __init__(self, text: str, as_string: bool) -> None:
        self.scanner = _Scanner(text)
        self.as_string = as_string

    def parse(self, data: dict[str, Any]) -> None:
        while not self.key(data, 0):
            pass

    def value(self) -> tuple[Any, bool]:
        """The value after '=' (a {a,b} list or one typed value); True only when nothing followed the '='."""
        char = self.scanner.read()
        if char is None:
            return "", True
        if char == "{":
            items: list[Any] = []
            while True:
                raw, last = self.scanner.until(",}")
                if last is None:
                    raise HelmSetError("list must terminate with '}'")
                items.append(typed_value(raw, self.as_string))
                if last == "}":
                    following = self.scanner.read()
                    if following is not None and following != ",":
                        self.scanner.unread()
                    return items, False
        self.scanner.unread()
        raw, dummy = self.scanner.until(",")
        return typed_value(raw, self.as_string), False

    def key(self, data: dict[str, Any], level: int) -> bool:
        name, last = self.scanner.until("=[,.")
        if last is None:
            if not name:
                return True
            raise HelmSetError(f"key {name!r} has no value")
        if last == "[":
            index = self.index()
            existing = data.get(name, [])
            if not isinstance(existing, list):
                raise HelmSetError(f"unable to parse key: {name!r} is not a list")
            items, ended = self.list_item(list(existing), index, level)
            _set(data, name, items)
            return ended
        if last == "=":
            value, ended = self.value()
            _set(data, name, value)
            return ended
        if last == ",":
            raise HelmSetError(f"key {name!r} has no value (cannot end with ,)")
        level += 1
        if level > MAX_NESTED_NAME_LEVEL:
            raise HelmSetError(f"value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}")
        inner = data.get(name, {})
        if not isinstance(inner, dict):
            raise HelmSetError(f"unable to parse key: {name!r} is not a map")
        ended = self.key(inner, level)
        if not ended and not inner:
            raise HelmSetError(f"key map {name!r} has no value")
        if inner:
            _set(data, name, inner)
        return ended

    def index(self) -> int:
        raw, last = self.scanner.until("]")
        if last is None:
            raise HelmSetError("error parsing index: EOF")
        if not _INDEX.match(raw):
            raise HelmSetError(f"error parsing index: {raw!r} is not a number")
        return int(raw)

    def list_item(self, items: list[Any], index: int, level: int) -> tuple[list[Any], bool]:
        """items with the element at index set from what follows the ']'; True when the text ended (helm then
        keeps the list as it was, apart from maps changed in place)."""
        if index < 0:
            raise HelmSetError(f"negative {index} index not allowed")
        rest, last = self.scanner.until("[.=")
        if rest:
            raise HelmSetError(f"unexpected data at end of array index: {rest!r}")
        if last is None:
            return items, True
        if last == "=":
            value, dummy = self.value()
            return _set_index(items, index, value), False
        if last == "[":
            next_index = self.index()
            current = items[index] if len(items) > index and items[index] is not None else []
            if not isinstance(current, list):
                raise HelmSetError(f"unable to parse key: element {index} is not a list")
            nested, ended = self.list_item(list(current), next_index, level)
            return (items, True) if ended else (_set_index(items, index, nested), False)
        inner: dict[str, Any] = {}
        if len(items) > index:
            if not isinstance(items[index], dict):
                items[index] = {}  # helm: indices out of order
            inner = items[index]
        if self.key(inner, level):
            return items, True
        return _set_index(items, index, inner), False


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    if key:  # helm ignores an empty key
        data[key] = value


def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
    if index > MAX_INDEX:
        raise HelmSetError(f"index of {index} is greater than maximum supported index of {MAX_INDEX}")
    if len(items) <= index:
        items = items + [None] * (index + 1 - len(items))
    items[index] = value
    return items


def set_value(data: dict[str, Any], expression: str, as_string: bool = False) -> None:
    """Apply one `--set` (or, as_string, `--set-string`) expression to data in place, as helm does;
    HelmSetError with helm's reason if helm would refuse it."""
    _Parser(expression, as_string).parse(data)


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """helm's mergeMaps: maps merge key by key, anything else (lists too) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def apply_parameters(base: dict[str, Any], parameters: Iterable[tuple[str, str, bool]]) -> dict[str, Any]:
    """base (the values files, merged) with (name, value, force_string) parameters applied as helm applies
    `--set name=value` / `--set-string name=value`: every --set first, then every --set-string."""
    values = copy.deepcopy(base)
    parameters = list(parameters)
    for as_string in (False, True):
        for name, value, force_string in parameters:
            if force_string == as_string:
                try:
                    set_value(values, f"{name}={escape_value(value)}", as_string)
                except HelmSetError as err:
                    # helm's reason may quote part of the value: never show it
                    reason = str(err)
                    for part in sorted({value, *value.split(",")}, key=len, reverse=True):
                        if len(part) >= 3:
                            reason = reason.replace(part, "++++++++")
                    raise HelmSetError(f"parameter {name!r} is refused by helm's --set syntax: {reason}") from None
    return values


def parameters_file_values(base: dict[str, Any], parameters: Iterable[tuple[str, str, bool]]) -> dict[str, Any]:
    """What a values file given after the values files must hold for helm to end with what --set gives.

    Maps merge, so the parameters alone suffice, except for lists: `list[1]=x` changes one element of the
    values files' list where a values file would replace it whole, so a list the parameters touch is written
    as it ends up over base.
    """
    parameters = list(parameters)
    over_base = apply_parameters(base, parameters)
    alone = apply_parameters({}, parameters)

    def with_lists(values: dict[str, Any], reference: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            found = reference.get(key) if isinstance(reference, dict) else None
            if isinstance(value, list) and isinstance(found, list):
                out[key] = found
            elif isinstance(value, dict):
                out[key] = with_lists(value, found)
            else:
                out[key] = value
        return out

    return with_lists(alone, over_base)


def escape_value(value: str) -> str:
    """A parameter's value as Argo CD puts it after `name=`: commas escaped, except in a {a,b} list."""
    if value.startswith("{") and value.endswith("}"):
        return value
    return value.replace(",", "\\,")
