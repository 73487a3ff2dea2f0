# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every kind of source shares: time limits, the policy's URL check, credentials taken out of URLs, errors."""

from __future__ import annotations

from typing import Callable
from urllib.parse import unquote, urlsplit

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import strip_url_credentials

NETWORK_TIMEOUT = 120.0  # seconds for one ls-remote or fetch
LOCAL_TIMEOUT = 120.0  # seconds for a local git command (checkout of a large tree)
LOCK_TIMEOUT = 600.0  # seconds to wait for another process working on the same mirror
# (url without credentials, where it came from) -> raises when the URL may not be fetched (the policy's check_repo)
RepoCheck = Callable[[str, str], None]
SSH_SCHEMES = ("ssh", "git+ssh", "ssh+git")


class RemoteUnreachableError(SourceError):
    """The remote could not be reached, or refused our credentials."""


class UnknownRevisionError(SourceError):
    """The revision is no branch, tag or commit of the repository."""


def split_credentials(url: str) -> tuple[str, str, str]:
    """'https://user:tok@host/r' -> ('https://host/r', 'user', 'tok'); other URLs unchanged.

    An ssh URL keeps its user ('ssh://git@host/r'): over ssh the user is part of
    the address (GitHub and GitLab only answer to `git`), not a credential.
    """
    if "://" not in url:
        return url, "", ""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, "", ""
    userinfo, dummy, host = parts.netloc.rpartition("@")
    user, dummy, password = userinfo.partition(":")
    if parts.scheme.lower() in SSH_SCHEMES:
        return parts._replace(netloc=f"{user}@{host}" if user else host).geturl(), "", unquote(password)
    return strip_url_credentials(url), unquote(user), unquote(password)
