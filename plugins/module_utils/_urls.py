# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repository URLs in the one spelling that is both checked and fetched.

`http://host/platform/../priv.git` matches the glob `http://host/platform/*`,
yet git (and the server) fetch `/priv.git`. So every repository URL is
normalised once, here, before a policy looks at it, and the normalised form
is what git is given: what was checked is what is fetched. The policy's
allowed_repos uses this, the Git source fetches with it, and submodule URLs
(relative ones resolved against their parent) go through it as well.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

# RFC 3986 unreserved characters: their percent-encoded and plain forms are the same URL
_UNRESERVED = re.compile(r"%(2[dD]|2[eE]|5[fF]|7[eE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA])")
# an encoded '/' or '\' is one path segment to us but may be a separator to a server: ambiguous
_ENCODED_SEPARATOR = re.compile(r"%(2[fF]|5[cC])")
# git's scp-like syntax: [user@]host:path, with no '/' before the first ':'
_SCP_LIKE = re.compile(r"^(?P<user>[^@/:]+@)?(?P<host>\[[^\]/]+\]|[^@/:\[\]]+):(?P<path>.*)$")


class RepoUrlError(ValueError):
    """A repository URL that cannot be normalised safely."""


def _decode_unreserved(path: str) -> str:
    return _UNRESERVED.sub(lambda m: chr(int(m.group(1), 16)), path)


def _remove_dot_segments(path: str, url: str, rooted: bool) -> str:
    """RFC 3986 remove_dot_segments, also folding '//' (servers and file systems read it as '/').

    A '..' that would climb above the root is refused rather than dropped: it
    was written to reach something else, and what it reaches is not certain.
    For a relative local path (no root) leading '..' segments are kept.
    """
    leading = path.startswith("/")
    trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..") or path in (".", "..")
    kept: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept and kept[-1] != "..":
                kept.pop()
            elif rooted or leading:
                raise RepoUrlError(f"repository URL {url} climbs above the root of its path with '..'")
            else:
                kept.append(segment)
            continue
        kept.append(segment)
    result = "/".join(kept)
    if leading:
        result = "/" + result
    if trailing and kept:
        result += "/"
    return result or ("/" if leading else ".")


def is_scp_like(url: str) -> bool:
    """git's `[user@]host:path` form (not a URL with a scheme, not a local path)."""
    return "://" not in url and _SCP_LIKE.match(url) is not None and not url.startswith("/")


def normalize_repo_url(url: str) -> str:
    """The canonical spelling of a repository URL (credentials must already be stripped).

    - `scheme://host/path`: scheme and host lower-cased, percent-encoded
      unreserved characters (`%2e` is `.`) decoded, `.` and `..` segments
      resolved, `//` folded; an encoded `/` or `\\` in the path is refused.
    - `user@host:path` (scp-like): host lower-cased, the path resolved the
      same way (relative to the login directory: it may not climb out of it).
    - a local path: `~` expanded, `.` and `..` resolved textually, `//`
      folded, made absolute (git runs elsewhere, in the cache).

    Raises RepoUrlError when the path climbs above its root or is ambiguous.
    """
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        path = parts.path
        if _ENCODED_SEPARATOR.search(path) or "\\" in path:
            raise RepoUrlError(f"repository URL {url} has an encoded or backslash path separator, which servers read "
                               "in different ways")
        path = _remove_dot_segments(_decode_unreserved(path), url, rooted=True) if path else path
        netloc = f"{userinfo}{at}{hostport.lower()}"
        return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, parts.fragment))
    scp = _SCP_LIKE.match(text)
    if scp and not text.startswith("/"):
        path = scp.group("path")
        if "\\" in path:
            raise RepoUrlError(f"repository URL {url} has a backslash in its path")
        return f"{scp.group('user') or ''}{scp.group('host').lower()}:{_remove_dot_segments(path, url, rooted=True)}"
    path = _remove_dot_segments(os.path.expanduser(text), url, rooted=False)
    return path if path.startswith("/") else os.path.normpath(os.path.join(os.getcwd(), path))


def resolve_relative_url(base: str, relative: str) -> str:
    """A submodule URL as git resolves it: `./x` and `../x` against the parent repository's URL, then normalised.

    The parent URL counts as a directory, as in git: `../lib.git` next to
    `https://host/org/app.git` is `https://host/org/lib.git`.
    """
    if not (relative.startswith("./") or relative.startswith("../")):
        return normalize_repo_url(relative)
    base = base.rstrip("/")
    if "://" in base:
        parts = urlsplit(base)
        joined = urlunsplit((parts.scheme, parts.netloc, f"{parts.path}/{relative}", "", ""))
        return normalize_repo_url(joined)
    return normalize_repo_url(f"{base}/{relative}")


def same_origin(first: str, second: str) -> bool:
    """Whether two normalised http(s) URLs share scheme, host and port (the scope of one set of credentials)."""
    one, two = urlsplit(first), urlsplit(second)
    if one.scheme not in ("http", "https") or "://" not in first or "://" not in second:
        return False
    return (one.scheme, one.hostname, one.port) == (two.scheme, two.hostname, two.port)


def is_local(url: str) -> bool:
    """A file:// URL or a local path (git's file transport)."""
    return url.lower().startswith("file://") or ("://" not in url and not is_scp_like(url))
