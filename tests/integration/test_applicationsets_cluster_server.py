"""The clusters generator through the applications role: an inventory host without gitops_cluster_server is known
by its kubeconfig's server, as every module knows it (a real Git repository, the local control plane)."""

from __future__ import annotations

import uuid

import yaml


def test_clusters_generator_gives_a_host_without_gitops_cluster_server_its_kubeconfig_server(
        run_role, git_repo, kubectl, cluster, namespace, tmp_path):
    repo = git_repo()
    repo.commit({
        "addon/kustomization.yaml": "resources:\n  - cm.yaml\n",
        "addon/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aoa-addon\ndata:\n  app: addon\n",
    })
    appset = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": f"aoa-servers-{uuid.uuid4().hex[:6]}"},
        "spec": {"generators": [{"clusters": {}}], "template": {
            "metadata": {"name": "aoa-addon-{{name}}"},
            "spec": {"project": "default",
                     "source": {"repoURL": repo.url, "targetRevision": "main", "path": "addon",
                                # the parameter made visible on the object the application syncs
                                "kustomize": {"commonAnnotations": {"aoa.example/server": "{{server}}"}}},
                     "destination": {"server": "{{server}}", "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": True}}}}}}
    files = tmp_path / "appsets.yaml"
    files.write_text(yaml.safe_dump(appset))
    # role_helpers gives every host gitops_kubeconfig; this one sets no gitops_cluster_server
    run = run_role("gitops.kubernetes.sync", {"edge": {"gitops_applicationset_files": [str(files)]}})
    assert run.rc == 0, run.stdout[-3000:]
    assert run.application("edge", "aoa-addon-edge")["sync_status"] == "Synced"
    live = kubectl.get("configmap", "aoa-addon", "-n", namespace)
    assert live["metadata"]["annotations"]["aoa.example/server"] == cluster.server.rstrip("/")
