"""gitops_render's own parts: documentation in step with the argument spec, and dest files."""

from __future__ import annotations

import os

import yaml

from ansible_collections.gitops.kubernetes.plugins.doc_fragments._application import ModuleDocFragment
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import APPLICATION_ARGUMENT_SPEC
from ansible_collections.gitops.kubernetes.plugins.modules import gitops_render


def test_documented_options_match_the_argument_spec():
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(fragment) == set(APPLICATION_ARGUMENT_SPEC)
    for name, spec in APPLICATION_ARGUMENT_SPEC.items():
        assert fragment[name]["type"] == spec["type"]
        assert bool(fragment[name].get("required")) == bool(spec.get("required"))
    documentation = yaml.safe_load(gitops_render.DOCUMENTATION)
    assert documentation["attributes"]["check_mode"]["support"] == "full"
    assert documentation["attributes"]["diff_mode"]["support"] == "none"
    assert set(documentation["options"]) == {"dest"}
    yaml.safe_load(gitops_render.EXAMPLES)
    yaml.safe_load(gitops_render.RETURN)


def objects(*names: str) -> list[DesiredObject]:
    return [DesiredObject({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}})
            for name in names]


def test_dest_file_names_are_ordered_and_safe():
    (obj,) = objects("Weird_Name:1")
    assert gitops_render.dest_file_name(7, obj) == "0007-configmap-ns-weird-name-1.yaml"


def test_write_dest(tmp_path):
    dest = str(tmp_path / "out")
    files, changed = gitops_render.write_dest(dest, objects("a", "b"), check_mode=True)
    assert changed and not os.path.exists(dest)
    files, changed = gitops_render.write_dest(dest, objects("a", "b"), check_mode=False)
    assert changed and [os.path.basename(f) for f in files] == ["0001-configmap-ns-a.yaml", "0002-configmap-ns-b.yaml"]
    assert yaml.safe_load(open(files[0]).read())["metadata"]["name"] == "a"
    assert gitops_render.write_dest(dest, objects("a", "b"), check_mode=False)[1] is False
    (tmp_path / "out" / "notes.txt").write_text("mine")
    files, changed = gitops_render.write_dest(dest, objects("a"), check_mode=False)
    assert changed and sorted(os.listdir(dest)) == ["0001-configmap-ns-a.yaml", "notes.txt"]
