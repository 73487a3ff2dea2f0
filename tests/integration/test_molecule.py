"""The molecule scenario of the applications role (extensions/molecule/default), run by `molecule test`.

The scenario uses the default driver and a local connection; this test hands
it the local control plane through GITOPS_MOLECULE_KUBECONFIG and a namespace
prefix of its own, and removes those namespaces afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from role_helpers import REPO

MOLECULE_TIMEOUT = 900


def test_molecule_default_scenario_converges_idempotently_and_verifies(cluster, kubectl, tmp_path):
    prefix = f"molecule-{uuid.uuid4().hex[:6]}"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "GITOPS_MOLECULE_KUBECONFIG": cluster.kubeconfig,
        "GITOPS_MOLECULE_NAMESPACE": prefix,
        "GITOPS_CACHE_DIR": str(tmp_path / "cache"),
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "molecule"),
        "PATH": os.pathsep.join([bin_dir, str(REPO / ".tools" / "bin"), os.environ.get("PATH", "")]),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
    }
    try:
        proc = subprocess.run([os.path.join(bin_dir, "molecule"), "test", "--scenario-name", "default"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=MOLECULE_TIMEOUT, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-5000:]
        for action in ("syntax", "prepare", "converge", "idempotence", "verify", "cleanup"):
            assert f"[default > {action}] Executed: Successful" in output, f"{action} did not succeed:\n{output[-3000:]}"
        assert "Molecule executed 1 scenario (1 successful)" in output
        # cleanup ran: the namespaces are going away
        for app in ("guestbook", "podinfo", "hello"):
            gone = kubectl.run("get", "namespace", f"{prefix}-{app}", "-o", "jsonpath={.status.phase}", check=False)
            assert gone.returncode != 0 or gone.stdout == "Terminating"
    finally:
        kubectl.run("delete", "namespace", "--ignore-not-found", "--wait=false",
                    *(f"{prefix}-{app}" for app in ("guestbook", "podinfo", "hello")), check=False)
