# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source stage: a Git repository at one resolved commit, as files on disk.

One bare mirror per repository URL lives under the cache directory and is
shared by every application (and every process: a file lock serialises work
on one mirror). A revision is resolved to a 40-character commit SHA; a commit
SHA already in the mirror costs no network at all, a branch, tag or HEAD
costs one `ls-remote` per repository and module run (a tag can be moved with
`git tag -f`, as Argo CD knows) and, only if the ref moved to a commit the
mirror lacks, a fetch of that one ref. Each render gets a throwaway checkout
of the commit, removed afterwards, with its submodules checked out at the
commits it pins, recursively (Argo CD's `git submodule update --init
--recursive`), each from its own cached mirror.

Repository URLs are normalised (_urls.py) before use: what a policy checked
is what git fetches. Submodule URLs come from the repository's content, so
they pass the same policy check, get the parent's HTTPS credentials only on
the parent's own host, and may use the file transport only when the parent
is itself a local repository.

Credentials never reach a command line, a result, an error or a log: URLs are
stripped of user info, HTTPS secrets reach git through GIT_ASKPASS and the
environment only, and every git message is scrubbed before it is shown.

Files by concern: git.py (GitSource: mirrors, revision resolution, checkout),
submodules.py (a commit's submodules, checked out recursively), paths.py
(the cache directory, checkout paths that must stay inside the checkout),
common.py (what any kind of source shares: time limits, the policy's URL
check, credentials in URLs, errors). Charts from chart repositories and OCI
registries: chart.py (fetch_chart: version resolution, the verified archive
cache), helm_repo.py (index.yaml), oci.py (the distribution API), semver.py
(Masterminds semver constraints), credentials.py (the repositories option,
matched by URL prefix) and transport.py (HTTPS with bounded time and size).
"""

from __future__ import annotations

from ansible_collections.gitops.kubernetes.plugins.module_utils._source.common import (
    LOCAL_TIMEOUT,
    LOCK_TIMEOUT,
    NETWORK_TIMEOUT,
    RemoteUnreachableError,
    RepoCheck,
    UnknownRevisionError,
    split_credentials,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.git import (
    GIT_IMPORT_ERROR,
    HAS_GIT,
    CommitInfo,
    GitSource,
    ResolvedRevision,
    shared_resolutions,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.paths import (
    STALE_CHECKOUT_AGE,
    PathEscapeError,
    PathNotFoundError,
    default_cache_dir,
    find_escaping_symlink,
    is_within,
    resolve_in_checkout,
)
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.submodules import MAX_SUBMODULE_DEPTH, Submodule

__all__ = [
    "GIT_IMPORT_ERROR",
    "HAS_GIT",
    "LOCAL_TIMEOUT",
    "LOCK_TIMEOUT",
    "MAX_SUBMODULE_DEPTH",
    "NETWORK_TIMEOUT",
    "STALE_CHECKOUT_AGE",
    "CommitInfo",
    "GitSource",
    "PathEscapeError",
    "PathNotFoundError",
    "RemoteUnreachableError",
    "RepoCheck",
    "ResolvedRevision",
    "Submodule",
    "UnknownRevisionError",
    "default_cache_dir",
    "find_escaping_symlink",
    "is_within",
    "resolve_in_checkout",
    "shared_resolutions",
    "split_credentials",
]
