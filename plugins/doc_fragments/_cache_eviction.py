# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cache_max_size and cache_max_age options of the modules that fill the cache directory.

Private to the collection. Mirrored by CACHE_EVICTION_ARGUMENT_SPEC in
plugins/module_utils/_cache_evict.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  cache_max_size:
    description:
      - The most the Git mirrors, the rendered objects, the chart archives and the chart dependency builds under
        O(cache_dir) may take together. Above it, the least recently used entries are removed (a whole mirror, one
        render, one chart version, one dependency build) until the total is under it again.
      - A size with a binary unit, as Ansible writes them (V(5GiB), V(500M), V(1g)); a bare number is bytes;
        V(0) sets no limit.
      - Checked at the end of a run, at most once an hour per cache directory (one C(stat) of a marker file when it is
        not due), by one process at a time. Whatever a running process uses (a mirror it resolved or checked out, the
        charts of a repository it fetched from) is never removed, by any process; a mirror removed while nothing used
        it is fetched again by the next run that needs it. Eviction never fails the run.
    type: str
    default: 5GiB
  cache_max_age:
    description:
      - Entries under O(cache_dir) not used for this long are removed (see O(cache_max_size) for when and how).
      - A number and a unit, V(s), V(m), V(h), V(d) or V(w) (V(14d), V(12h), V(2w)); a bare number is days;
        V(0) sets no limit.
    type: str
    default: 14d
"""
