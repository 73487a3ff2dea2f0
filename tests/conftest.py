"""Makes the checkout importable as ansible_collections.gitops.kubernetes.

The collection must live at .../ansible_collections/gitops/kubernetes for both
Python imports and ansible-playbook; a symlink under .tools/ gives it that
path without moving the checkout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS_ROOT = REPO / ".tools" / "collections"


def _link_collection() -> None:
    link = COLLECTIONS_ROOT / "ansible_collections" / "gitops" / "kubernetes"
    if not link.is_symlink() or link.resolve() != REPO:
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".kubernetes.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(REPO, target_is_directory=True)
        tmp.replace(link)  # atomic, so parallel workers never see a half-made link
    if str(COLLECTIONS_ROOT) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_ROOT))
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS_ROOT)
    tools_bin = REPO / ".tools" / "bin"
    if tools_bin.is_dir() and str(tools_bin) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{tools_bin}{os.pathsep}{os.environ.get('PATH', '')}"


_link_collection()
