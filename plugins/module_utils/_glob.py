# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD's globs (gobwas/glob), one translation for every place Argo CD uses them.

Projects match repositories and destinations with '/' or '.' as separator;
directory sources match file paths with none. gobwas negates a class with
'!' only, so '^' inside brackets is a literal character.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str, separator: str = "") -> re.Pattern[str]:
    """The regular expression for an Argo CD glob; ValueError when gobwas would refuse to compile it.

    With a separator, '*' and '?' stop at it and '**' does not; without one
    every wildcard crosses anything. '[abc]', '[!abc]', '[a-z]', nestable
    '{a,b}' and backslash escapes as gobwas reads them.
    """
    not_separator = f"[^{re.escape(separator)}]" if separator else "."
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            if pattern.startswith("**", index):
                out.append(".*")
                index += 1
            else:
                out.append(not_separator + "*")
        elif char == "?":
            out.append(not_separator)
        elif char == "[":
            close = pattern.find("]", index + 2)
            if close < 0:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1:close]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("^", "\\^") + "]")
                index = close
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        index += 1
    if depth:
        raise ValueError(f"unbalanced braces in glob {pattern!r}")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:  # a class such as [z-a]
        raise ValueError(f"invalid glob {pattern!r}: {exc}") from None


def glob_match(pattern: str, value: str, separator: str = "") -> bool:
    """Whether the whole value matches; a glob gobwas cannot compile matches nothing, as in Argo CD."""
    try:
        return glob_regex(pattern, separator).fullmatch(value) is not None
    except ValueError:
        return False
