# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argo CD's globs: one translation for project rules (with separators) and directory sources (without)."""

from __future__ import annotations

import pytest

from ansible_collections.gitops.kubernetes.plugins.module_utils._glob import glob_match, glob_regex


@pytest.mark.parametrize("pattern, value, separator, matches", [
    # project rules: '*' stops at the separator, '**' does not
    ("https://github.com/org/*", "https://github.com/org/app", "/", True),
    ("https://github.com/org/*", "https://github.com/org/group/app", "/", False),
    ("https://github.com/org/**", "https://github.com/org/group/app", "/", True),
    ("team-?", "team-a", "", True),
    ("team-?", "team/", "/", False),
    # without a separator every wildcard crosses '/', as directory include/exclude do
    ("team-*", "team-a/b", "", True),
    ("*.{yaml,yml,json}", "sub/a.json", "", True),
    ("*.{yaml,yml,json}", "a.txt", "", False),
    ("sub/*", "other/a.yaml", "", False),
    ("{config,secrets}/**", "secrets/x/y.yaml", "", True),
    ("{a,{b,c}}.yaml", "c.yaml", "", True),
    ("?.yaml", "ab.yaml", "", False),
    # classes: '!' negates, '^' is an ordinary character in gobwas
    ("team-[ab]", "team-c", "", False),
    ("[!a]*.yaml", "b.yaml", "", True),
    ("[!a]*.yaml", "a.yaml", "", False),
    ("[^a].yaml", "^.yaml", "", True),
    ("[^a].yaml", "b.yaml", "", False),
    ("[a-c].yaml", "b.yaml", "", True),
    # escapes
    ("\\*.yaml", "*.yaml", "", True),
    ("\\*.yaml", "a.yaml", "", False),
])
def test_globs_match_as_argo_cd_matches_them(pattern, value, separator, matches):
    assert glob_match(pattern, value, separator) is matches


@pytest.mark.parametrize("pattern", ["{a,b", "team-[z-a]"])
def test_a_glob_gobwas_cannot_compile_is_an_error_and_matches_nothing(pattern):
    with pytest.raises(ValueError):
        glob_regex(pattern)
    assert glob_match(pattern, "a") is False
    assert glob_match(pattern, "team-b") is False
