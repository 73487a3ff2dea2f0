# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chart versions and version constraints with the semantics of Masterminds semver v3 (what Helm and Argo CD use).

`max_version(revision, versions)` resolves a chart's targetRevision the way
Argo CD does: a revision that parses as a version is a pin and is returned as
given; otherwise it is a constraint (`1.2.*`, `^1.2`, `~1.2`, `>=1.0.0 <2.0.0`,
`*`, `a || b`, `1.0 - 2.0`) and the highest version that satisfies it wins.
A prerelease only satisfies an AND group whose own versions carry one, as in
Masterminds' Constraints.Check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

# Masterminds' regular expressions, kept character for character (the `|` in the classes is theirs)
_LOOSE_VERSION = re.compile(r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
                            r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?\Z")
_CV = (r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_CONSTRAINT = re.compile(rf"^\s*({_OPS})\s*({_CV})\s*\Z")
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_FIND = re.compile(rf"({_OPS})\s*({_CV})")
_VALID = re.compile(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*\Z")
_ALLOWED = re.compile(r"^[0-9A-Za-z-]+\Z")
_MAX_UINT64 = 2 ** 64 - 1


class SemverError(ValueError):
    """A version or constraint that does not parse."""


def _identifiers_valid(text: str, numeric_leading_zero_ok: bool) -> bool:
    for part in text.split("."):
        if not part or not _ALLOWED.match(part):
            return False
        if not numeric_leading_zero_ok and part.isdigit() and len(part) > 1 and part[0] == "0":
            return False
    return True


def _compare_prerelease_part(mine: str, other: str) -> int:
    if mine == other:
        return 0
    if mine == "":
        return -1
    if other == "":
        return 1
    mine_number, other_number = mine.isdigit(), other.isdigit()
    if not mine_number and not other_number:
        return 1 if mine > other else -1
    if not other_number:
        return -1  # numbers sort before words
    if not mine_number:
        return 1
    return 1 if int(mine) > int(other) else -1


def _compare_prerelease(mine: str, other: str) -> int:
    mine_parts, other_parts = mine.split("."), other.split(".")
    for index in range(max(len(mine_parts), len(other_parts))):
        result = _compare_prerelease_part(mine_parts[index] if index < len(mine_parts) else "",
                                          other_parts[index] if index < len(other_parts) else "")
        if result:
            return result
    return 0


@total_ordering
@dataclass(frozen=True)
class Version:
    """A version as Masterminds' NewVersion reads it: `v` prefix, missing minor and patch allowed."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""
    original: str = ""

    @classmethod
    def parse(cls, text: str) -> "Version":
        match = _LOOSE_VERSION.match(text)
        if not match:
            raise SemverError(f"{text!r} is not a semantic version")
        numbers = [int(match.group(1)), int((match.group(2) or ".0")[1:]), int((match.group(3) or ".0")[1:])]
        if any(number > _MAX_UINT64 for number in numbers):
            raise SemverError(f"{text!r} has a version segment out of range")
        prerelease, metadata = match.group(5) or "", match.group(8) or ""
        if prerelease and not _identifiers_valid(prerelease, numeric_leading_zero_ok=False):
            raise SemverError(f"{text!r} has an invalid prerelease")
        if metadata and not _identifiers_valid(metadata, numeric_leading_zero_ok=True):
            raise SemverError(f"{text!r} has invalid metadata")
        return cls(numbers[0], numbers[1], numbers[2], prerelease, metadata, text)

    def compare(self, other: "Version") -> int:
        for mine, theirs in ((self.major, other.major), (self.minor, other.minor), (self.patch, other.patch)):
            if mine != theirs:
                return 1 if mine > theirs else -1
        if not self.prerelease and not other.prerelease:
            return 0
        if not self.prerelease:
            return 1
        if not other.prerelease:
            return -1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.compare(other) == 0

    def __lt__(self, other: "Version") -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash((self.major, self.minor, self.patch, self.prerelease))


def _is_x(text: str) -> bool:
    return text in ("x", "X", "*")


@dataclass(frozen=True)
class _Constraint:
    operator: str
    version: Version
    dirty: bool = False
    minor_dirty: bool = False
    patch_dirty: bool = False

    @classmethod
    def parse(cls, text: str) -> "_Constraint":
        match = _CONSTRAINT.match(text)
        if not match:
            raise SemverError(f"improper constraint: {text}")
        major, minor, patch, pre = match.group(3), match.group(4) or "", match.group(5) or "", match.group(7) or ""
        suffix = f"-{pre}" if pre else ""
        dirty = minor_dirty = patch_dirty = False
        if _is_x(major) or major == "":
            version, dirty = f"0.0.0{suffix}", True
        elif _is_x(minor[1:]) or minor == "":
            version, dirty, minor_dirty = f"{major}.0.0{suffix}", True, True
        elif _is_x(patch[1:]) or patch == "":
            version, dirty, patch_dirty = f"{major}{minor}.0{suffix}", True, True
        else:
            version = match.group(2)
        try:
            parsed = Version.parse(version)
        except SemverError:
            raise SemverError(f"improper constraint: {text}") from None
        return cls(match.group(1), parsed, dirty, minor_dirty, patch_dirty)

    def check(self, version: Version, include_prerelease: bool) -> bool:
        if version.prerelease and not include_prerelease:
            return False
        return getattr(self, _OPERATORS[self.operator])(version)

    def _not_equal(self, v: Version) -> bool:
        c = self.version
        if self.dirty:
            if c.major != v.major:
                return True
            if c.minor != v.minor and not self.minor_dirty:
                return True
            if self.minor_dirty:
                return False
            if c.patch != v.patch and not self.patch_dirty:
                return True
            if self.patch_dirty:
                if v.prerelease or c.prerelease:
                    return _compare_prerelease(v.prerelease, c.prerelease) != 0
                return False
        return v != c

    def _greater(self, v: Version) -> bool:
        c = self.version
        if not self.dirty:
            return v.compare(c) == 1
        if v.major > c.major:
            return True
        if v.major < c.major or self.minor_dirty:
            return False
        if self.patch_dirty:
            return v.minor > c.minor
        return v.compare(c) == 1

    def _less(self, v: Version) -> bool:
        return v.compare(self.version) < 0

    def _greater_equal(self, v: Version) -> bool:
        return v.compare(self.version) >= 0

    def _less_equal(self, v: Version) -> bool:
        c = self.version
        if not self.dirty:
            return v.compare(c) <= 0
        if v.major > c.major:
            return False
        if v.major == c.major and v.minor > c.minor and not self.minor_dirty:
            return False
        return True

    def _tilde(self, v: Version) -> bool:
        c = self.version
        if v < c:
            return False
        if c.major == 0 and c.minor == 0 and c.patch == 0 and not self.minor_dirty and not self.patch_dirty:
            return True  # ~0.0.0 and ~* accept everything
        if v.major != c.major:
            return False
        return not (v.minor != c.minor and not self.minor_dirty)

    def _tilde_or_equal(self, v: Version) -> bool:
        return self._tilde(v) if self.dirty else v == self.version

    def _caret(self, v: Version) -> bool:
        c = self.version
        if v < c:
            return False
        if c.major > 0 or self.minor_dirty:
            return v.major == c.major
        if v.major > 0:
            return False
        if c.minor > 0 or self.patch_dirty:
            return v.minor == c.minor
        if v.minor > 0:
            return False
        return c.patch == v.patch


_OPERATORS = {
    "": "_tilde_or_equal", "=": "_tilde_or_equal", "!=": "_not_equal", ">": "_greater", "<": "_less",
    ">=": "_greater_equal", "=>": "_greater_equal", "<=": "_less_equal", "=<": "_less_equal",
    "~": "_tilde", "~>": "_tilde", "^": "_caret",
}


class Constraints:
    """`||`-separated groups of constraints that must all hold (Masterminds' Constraints)."""

    def __init__(self, text: str) -> None:
        self.text = text
        rewritten = _RANGE.sub(lambda match: f">= {match.group(1)}, <= {match.group(11)} ", text)
        self.groups: list[list[_Constraint]] = []
        self.group_has_prerelease: list[bool] = []
        for group in rewritten.split("||"):
            if not _VALID.match(group):
                raise SemverError(f"improper constraint: {group.strip() or text}")
            found = [match.group(0) for match in _FIND.finditer(group)] or [group]
            constraints = [_Constraint.parse(item) for item in found]
            self.groups.append(constraints)
            self.group_has_prerelease.append(any(item.version.prerelease for item in constraints))

    def check(self, version: Version) -> bool:
        return any(all(item.check(version, include) for item in group)
                   for group, include in zip(self.groups, self.group_has_prerelease))


def is_version(text: str) -> bool:
    """Whether text is a version, not a constraint (Argo CD then uses it as given)."""
    try:
        Version.parse(text)
    except SemverError:
        return False
    return True


def max_version(revision: str, available: list[str]) -> str | None:
    """The entry of `available` the revision selects, None when none does; SemverError for a bad constraint.

    A pin is matched exactly, or, failing that, as the version it spells (`v1.2.3` finds `1.2.3`).
    A constraint selects the highest satisfying version; entries that are no version are ignored.
    """
    if is_version(revision):
        if revision in available:
            return revision
        wanted = Version.parse(revision)
        equal = [entry for entry in available if is_version(entry) and Version.parse(entry) == wanted]
        return equal[0] if equal else None
    try:
        constraints = Constraints(revision)
    except SemverError:
        # Argo CD: a revision that is neither version nor constraint may still name a tag exactly
        if revision in available:
            return revision
        raise
    best_version: Version | None = None
    best_entry: str | None = None
    for entry in available:
        try:
            version = Version.parse(entry)
        except SemverError:
            continue
        if constraints.check(version) and (best_version is None or version > best_version):
            best_version, best_entry = version, entry
    return best_entry
