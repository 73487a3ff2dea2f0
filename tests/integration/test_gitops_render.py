"""gitops_render through the real ansible-playbook, against real git repositories, helm and kustomize.

No cluster is needed: these tests request neither `cluster` nor `kubectl`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  value: "{value}"
"""


def render_task(register: str, application: dict, **options) -> dict:
    """One gitops_render task that may fail (the test reads the registered result)."""
    module_args = {"application": application, "cache_dir": "{{ cache_dir }}", **options}
    return {"name": register, "gitops.kubernetes.gitops_render": module_args, "register": register,
            "ignore_errors": True}


def run(ansible_playbook, tmp_path: Path, tasks: list[dict], **kwargs):
    return ansible_playbook(yaml.safe_dump(tasks, sort_keys=False),
                            extra_vars={"cache_dir": str(tmp_path / "cache")}, **kwargs)


def names(result: dict) -> list[str]:
    return [obj["name"] for obj in result["objects"]]


@pytest.fixture
def apps_repo(git_repo):
    """main: c1 (tag v1), c2 (annotated tag v2); feature: c3. Plain manifests under guestbook/."""
    repo = git_repo("apps")
    repo.commit({
        "guestbook/cm.yaml": CM.format(name="one", value="1") + "---\n---\n" + CM.format(name="two", value="1"),
        "guestbook/svc.json": json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                          "spec": {"ports": [{"port": 80}]}}),
        "guestbook/notes.txt": "not a manifest",
        "guestbook/extra/deep.yaml": CM.format(name="deep", value="1"),
    }, "first: guestbook")
    repo.git("tag", "v1")
    repo.commit({"guestbook/cm.yaml": CM.format(name="one", value="2")}, "second: drop two, bump one")
    repo.git("tag", "-a", "v2", "-m", "release 2")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"guestbook/feature.yaml": CM.format(name="feature", value="1")}, "third: feature work")
    repo.git("checkout", "-q", "main")
    return repo


def test_directory_at_branches_tags_and_shas(ansible_playbook, apps_repo, tmp_path):
    first, second, third = apps_repo.commits
    base = {"name": "guestbook", "source": {"repo_url": apps_repo.url, "path": "guestbook"}}

    def at(revision: str | None, **source) -> dict:
        spec = json.loads(json.dumps(base))
        if revision is not None:
            spec["source"]["revision"] = revision
        spec["source"].update(source)
        return spec

    argo = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "guestbook"},
            "spec": {"project": "default", "source": {"repoURL": apps_repo.url, "targetRevision": "v1",
                                                      "path": "guestbook", "directory": {"recurse": True}},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "gb"}}}
    result = run(ansible_playbook, tmp_path, [
        render_task("at_main", at("main")),
        render_task("at_head", at(None)),  # HEAD is main's tip: same commit, same options -> cache
        render_task("at_feature", at("feature")),
        render_task("at_v1", at("v1")),
        render_task("at_v2", at("v2")),
        render_task("at_full_sha", at(first)),
        render_task("at_short_sha", at(third[:8])),
        render_task("recursive", at("main", directory={"recurse": True, "exclude": "*.json"})),
        render_task("argo", argo),
    ])
    assert result.rc == 0, result.stdout + result.stderr

    main = result["at_main"]
    assert main["failed"] is False and main["changed"] is False
    assert (main["revision"], main["renderer"], main["cache_hit"]) == (second, "directory", False)
    assert main["commit"]["subject"] == "second: drop two, bump one"
    assert main["commit"]["author"] == "Test Author <author@example.org>"
    # files sorted by path, documents in file order; the empty document and notes.txt are skipped
    assert names(main) == ["one", "web"]
    assert main["sources"] == [{"file": "guestbook/cm.yaml", "line": 1}, {"file": "guestbook/svc.json", "line": 1}]
    assert main["manifests"][0]["data"] == {"value": "2"}
    assert "source" not in json.dumps(main["manifests"])  # the origin is never injected into objects

    assert (result["at_head"]["revision"], result["at_head"]["cache_hit"]) == (second, True)
    assert result["at_feature"]["revision"] == third and names(result["at_feature"]) == ["one", "feature", "web"]
    assert result["at_v1"]["revision"] == first and names(result["at_v1"]) == ["one", "two", "web"]
    assert result["at_v1"]["sources"][1] == {"file": "guestbook/cm.yaml", "line": 9}
    assert result["at_v2"]["revision"] == second
    # v1 is that commit: the same (commit, path, options) is served from the render cache
    assert result["at_full_sha"]["revision"] == first and result["at_full_sha"]["cache_hit"] is True
    assert result["at_short_sha"]["revision"] == third
    assert names(result["recursive"]) == ["one", "deep"]
    assert result["recursive"]["sources"][1]["file"] == "guestbook/extra/deep.yaml"
    assert result["argo"]["revision"] == first and names(result["argo"]) == ["one", "two", "deep", "web"]


def test_a_new_commit_on_the_branch_is_seen_and_cached_separately(ansible_playbook, apps_repo, tmp_path):
    app = {"name": "guestbook", "source": {"repo_url": apps_repo.url, "path": "guestbook", "revision": "main"}}
    before = run(ansible_playbook, tmp_path, [render_task("render", app)])["render"]
    new = apps_repo.commit({"guestbook/new.yaml": CM.format(name="new", value="1")}, "fourth: add new")
    after = run(ansible_playbook, tmp_path, [render_task("render", app), render_task("again", app)])
    assert before["revision"] == apps_repo.commits[1] and "new" not in names(before)
    assert (after["render"]["revision"], after["render"]["cache_hit"]) == (new, False)
    assert "new" in names(after["render"])
    assert after["again"]["cache_hit"] is True and after["again"]["manifests"] == after["render"]["manifests"]


KUSTOMIZE_FILES = {
    "base/kustomization.yaml": "resources:\n- deployment.yaml\n- config.yaml\n",
    "base/deployment.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: nginx:1.25
        """,
    "base/config.yaml": CM.format(name="config", value="base"),
    "overlays/prod/kustomization.yaml": "resources:\n- ../../base\n- secret.yaml\nnamePrefix: prod-\n",
    "overlays/prod/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2\n",
    "remote/kustomization.yaml": "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n",
}


def test_kustomize(ansible_playbook, git_repo, tmp_path):
    repo = git_repo("kustomize")
    repo.commit(KUSTOMIZE_FILES, "kustomize app")
    app = {"name": "shop", "source": {"repo_url": repo.url, "path": "overlays/prod"}}
    overridden = json.loads(json.dumps(app))
    overridden["source"]["kustomize"] = {
        "images": ["nginx=registry.example.org/nginx:1.27"], "name_suffix": "-v2", "namespace": "shop",
        "common_labels": {"team": "payments"}, "common_annotations": {"owner": "y"}}
    result = run(ansible_playbook, tmp_path, [
        render_task("overridden", overridden),
        render_task("plain", app),  # a different cache key: must not see the overrides of the first render
        render_task("remote", {"name": "remote", "source": {"repo_url": repo.url, "path": "remote"}}),
    ])
    plain, over = result["plain"], result["overridden"]
    assert plain["renderer"] == "kustomize" and plain["cache_hit"] is False
    assert sorted(names(plain)) == ["prod-config", "prod-creds", "prod-web"]
    files = {obj["name"]: src["file"] for obj, src in zip(plain["objects"], plain["sources"])}
    assert files == {"prod-config": "base/config.yaml", "prod-web": "base/deployment.yaml",
                     "prod-creds": "overlays/prod/secret.yaml"}
    # our origin annotation is gone again; the Secret value is masked in the result
    assert all("annotations" not in m["metadata"] for m in plain["manifests"])
    secret = next(m for m in plain["manifests"] if m["kind"] == "Secret")
    assert secret["stringData"]["password"] != "hunter2"
    assert "hunter2" not in result.stdout

    assert sorted(names(over)) == ["prod-config-v2", "prod-creds-v2", "prod-web-v2"]
    deployment = next(m for m in over["manifests"] if m["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == "shop"
    assert deployment["metadata"]["labels"] == {"team": "payments"}
    assert deployment["metadata"]["annotations"] == {"owner": "y"}  # 'y' stays a string
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.org/nginx:1.27"

    remote = result["remote"]
    assert remote["failed"] is True and remote["error_type"] == "RenderError"
    assert "is a remote base" in remote["msg"] and "allow_remote_bases" in remote["msg"]
    assert (remote["file"], remote["line"]) == ("remote/kustomization.yaml", 2)


HELM_FILES = {
    "charts/web/Chart.yaml": """\
        apiVersion: v2
        name: web
        version: 1.0.0
        dependencies:
        - name: common
          version: 0.1.0
          repository: file://../common
        """,
    "charts/web/values.yaml": "replicas: 1\ngreeting: hello\n",
    "charts/web/crds/widget.yaml": """\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.org
        spec:
          group: example.org
          names: {kind: Widget, plural: widgets}
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema: {openAPIV3Schema: {type: object}}
        """,
    "charts/web/templates/config.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-config
          namespace: {{ .Release.Namespace }}
        data:
          replicas: {{ .Values.replicas | quote }}
          greeting: {{ .Values.greeting | quote }}
          kube: {{ .Capabilities.KubeVersion.Version | quote }}
          monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
          tag: {{ .Values.tag | default "none" | quote }}
        """,
    "charts/web/charts/common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 0.1.0\n",
    "charts/web/charts/common/templates/shared.yaml": CM.format(name="{{ .Release.Name }}-shared", value="common"),
    "env/prod-values.yaml": "replicas: 3\n",
    "charts/remote-dep/Chart.yaml": """\
        apiVersion: v2
        name: remote-dep
        version: 1.0.0
        dependencies:
        - name: redis
          version: 19.0.0
          repository: https://127.0.0.1:1/charts
        """,
}


def test_helm(ansible_playbook, git_repo, tmp_path):
    repo = git_repo("helm")
    repo.commit(HELM_FILES, "charts")
    web = {"name": "web", "source": {"repo_url": repo.url, "path": "charts/web"}, "destination": {"namespace": "team-a"}}
    tuned = json.loads(json.dumps(web))
    tuned["source"]["helm"] = {
        "release_name": "frontend", "value_files": ["../../env/prod-values.yaml"], "values": "greeting: hi, there\n",
        "parameters": [{"name": "tag", "value": "1.10", "force_string": True}], "skip_crds": True,
        "kube_version": "1.29.0", "api_versions": ["monitoring.coreos.com/v1"]}
    missing_values = json.loads(json.dumps(web))
    missing_values["source"]["helm"] = {"value_files": ["nope.yaml"]}
    escaping_values = json.loads(json.dumps(web))
    escaping_values["source"]["helm"] = {"value_files": ["../../../outside.yaml"]}
    result = run(ansible_playbook, tmp_path, [
        render_task("default", web),
        render_task("tuned", tuned),
        render_task("missing_values", missing_values),
        render_task("escaping_values", escaping_values),
        render_task("remote_dep", {"name": "remote", "source": {"repo_url": repo.url, "path": "charts/remote-dep"}}),
    ])
    default = result["default"]
    assert default["renderer"] == "helm", default
    # helm's own deterministic order: CRDs first, then by kind, subcharts before the parent chart
    assert names(default) == ["widgets.example.org", "web-shared", "web-config"]
    files = {obj["name"]: src["file"] for obj, src in zip(default["objects"], default["sources"])}
    assert files == {"widgets.example.org": "charts/web/crds/widget.yaml",
                     "web-config": "charts/web/templates/config.yaml",
                     "web-shared": "charts/web/charts/common/templates/shared.yaml"}
    config = next(m for m in default["manifests"] if m["metadata"]["name"] == "web-config")
    assert config["metadata"]["namespace"] == "team-a"
    assert config["data"]["replicas"] == "1" and config["data"]["monitoring"] == "false"

    tuned_result = result["tuned"]
    assert sorted(names(tuned_result)) == ["frontend-config", "frontend-shared"]  # CRDs skipped
    config = next(m for m in tuned_result["manifests"] if m["metadata"]["name"] == "frontend-config")
    assert config["data"] == {"replicas": "3", "greeting": "hi, there", "kube": "v1.29.0", "monitoring": "true",
                              "tag": "1.10"}

    assert result["missing_values"]["failed"] and "value file 'nope.yaml' does not exist" in result["missing_values"]["msg"]
    assert result["missing_values"]["file"] == "charts/web/nope.yaml"
    assert result["escaping_values"]["error_type"] == "PathEscapeError"
    assert "must stay inside the repository" in result["escaping_values"]["msg"]
    remote = result["remote_dep"]
    assert remote["failed"] and remote["error_type"] == "RenderError"
    # nothing listens on port 1: the dependency cannot be fetched, and the error says so
    assert "chart dependencies could not be fetched" in remote["msg"] and "127.0.0.1:1" in remote["msg"]
    assert remote["file"] == "charts/remote-dep/Chart.yaml"


def test_failures_are_distinct_and_point_at_the_cause(ansible_playbook, git_repo, tmp_path):
    repo = git_repo("broken")
    repo.commit({
        "bad/ok.yaml": CM.format(name="ok", value="1"),
        "bad/broken.yaml": CM.format(name="broken", value="1") + "  other: [unclosed\n  more: x\n",
        "good/cm.yaml": CM.format(name="good", value="1"),
    }, "broken yaml")
    (repo.path / "links").mkdir()
    os.symlink("/etc/passwd", repo.path / "links" / "passwd.yaml")
    repo.commit({}, "a symlink out of the repository")
    app = {"name": "broken", "source": {"repo_url": repo.url, "revision": repo.commits[0]}}

    def variant(**source) -> dict:
        return {"name": "broken", "source": {**app["source"], **source}}

    result = run(ansible_playbook, tmp_path, [
        render_task("bad_yaml", variant(path="bad")),
        render_task("unknown_revision", variant(revision="no-such-branch")),
        render_task("missing_path", variant(path="no/such/dir")),
        render_task("path_escape", variant(path="../outside")),
        render_task("symlink_escape", variant(revision="main", path="good")),
        render_task("spec_typo", {"name": "broken", "source": {**app["source"], "pth": "good"}}),
        render_task("unreachable", variant(repo_url=f"file://{tmp_path}/no-such-repo")),
        render_task("good", variant(path="good")),
    ])
    bad = result["bad_yaml"]
    assert bad["failed"] and bad["error_type"] == "RenderError"
    # the parser notices the unclosed flow sequence where the next key begins
    assert (bad["file"], bad["line"], bad["column"]) == ("bad/broken.yaml", 8, 7)
    assert bad["msg"].startswith("application 'broken', bad/broken.yaml:8:7: invalid YAML: while parsing a flow")

    assert result["unknown_revision"]["error_type"] == "UnknownRevisionError"
    assert "revision 'no-such-branch' not found" in result["unknown_revision"]["msg"]
    assert result["missing_path"]["error_type"] == "PathNotFoundError"
    assert "path 'no/such/dir' does not exist" in result["missing_path"]["msg"]
    assert result["path_escape"]["error_type"] == "SpecError"
    assert "source.path: '../outside': the path must stay inside the repository" in result["path_escape"]["msg"]
    assert result["symlink_escape"]["error_type"] == "PathEscapeError"
    assert "symlink 'links/passwd.yaml' points outside the repository" in result["symlink_escape"]["msg"]
    assert result["spec_typo"]["error_type"] == "SpecError" and "source.pth: unknown key" in result["spec_typo"]["msg"]
    assert result["unreachable"]["error_type"] == "RemoteUnreachableError"
    assert result["good"]["failed"] is False and names(result["good"]) == ["good"]
    # every failure is a failed task with a message, never a traceback
    assert "Traceback" not in result.stdout + result.stderr


def test_credentials_never_reach_output(ansible_playbook, apps_repo, tmp_path):
    token, password = "tok-SECRET-4711", "pw-SECRET-0815"
    result = run(ansible_playbook, tmp_path, [
        # a real network failure (connection refused) with credentials in the URL
        render_task("unreachable", {"name": "private", "source": {
            "repo_url": f"https://robot:{token}@127.0.0.1:1/org/apps.git", "path": "guestbook"}}),
        # credentials given as options on a repository that does not need them
        render_task("ok", {"name": "guestbook", "source": {
            "repo_url": apps_repo.url, "path": "guestbook", "username": "robot", "password": password}}),
    ], verbosity=3)
    assert result["unreachable"]["error_type"] == "RemoteUnreachableError"
    assert "https://127.0.0.1:1/org/apps.git" in result["unreachable"]["msg"]
    assert result["ok"]["failed"] is False
    everything = result.stdout + result.stderr + json.dumps(result.results)
    assert "SECRET" not in everything
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert b"SECRET" not in path.read_bytes(), path


def test_dest_writes_files_and_check_mode_changes_nothing(ansible_playbook, apps_repo, tmp_path):
    dest = tmp_path / "rendered"
    app = {"name": "guestbook", "source": {"repo_url": apps_repo.url, "path": "guestbook", "revision": "v1"}}
    check = run(ansible_playbook, tmp_path, [render_task("render", app, dest=str(dest))], check=True)["render"]
    assert check["changed"] is True and not dest.exists()
    first = run(ansible_playbook, tmp_path, [render_task("render", app, dest=str(dest))])["render"]
    assert first["changed"] is True and "manifests" not in first
    assert [Path(path).name for path in first["files"]] == [
        "0001-configmap-one.yaml", "0002-configmap-two.yaml", "0003-service-web.yaml"]
    assert yaml.safe_load((dest / "0001-configmap-one.yaml").read_text())["metadata"]["name"] == "one"
    assert oct((dest / "0001-configmap-one.yaml").stat().st_mode & 0o777) == "0o600"
    again = run(ansible_playbook, tmp_path, [render_task("render", app, dest=str(dest))])["render"]
    assert again["changed"] is False
    (dest / "keep-me.txt").write_text("not ours")
    app["source"]["revision"] = "main"  # 'two' is gone at main: its file goes too
    moved = run(ansible_playbook, tmp_path, [render_task("render", app, dest=str(dest))])["render"]
    assert moved["changed"] is True
    assert sorted(p.name for p in dest.iterdir()) == ["0001-configmap-one.yaml", "0002-service-web.yaml", "keep-me.txt"]


def test_missing_binary_says_which_and_how(ansible_playbook, git_repo, tmp_path):
    repo = git_repo("kustomize")
    repo.commit(KUSTOMIZE_FILES, "kustomize app")
    tools = str(Path(__file__).resolve().parents[2] / ".tools" / "bin")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != tools)
    result = run(ansible_playbook, tmp_path, [
        render_task("render", {"name": "shop", "source": {"repo_url": repo.url, "path": "overlays/prod"}})],
        env={"PATH": path})
    if result["render"].get("failed") is False:
        pytest.skip("a kustomize binary outside .tools/bin is on PATH")
    assert "the kustomize binary is needed" in result["render"]["msg"]
    assert "make tools" in result["render"]["msg"]


@pytest.mark.slow
def test_render_timings(ansible_playbook, git_repo, tmp_path):
    """Prints cold and cached render times for a 200-object directory and a Helm chart (no assertions on time)."""
    from ansible_collections.gitops.kubernetes.plugins.module_utils._render import render_application
    from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import parse_application

    repo = git_repo("bench")
    files = {f"many/cm-{index:03d}.yaml": CM.format(name=f"cm-{index:03d}", value=index) for index in range(200)}
    files["chart/Chart.yaml"] = "apiVersion: v2\nname: bench\nversion: 1.0.0\n"
    for index in range(40):
        files[f"chart/templates/t{index:02d}.yaml"] = CM.format(name=f"{{{{ .Release.Name }}}}-{index}", value="{{ .Values.v }}")
    files["chart/values.yaml"] = "v: x\n"
    repo.commit(files, "bench")
    figures = []
    for label, path in (("directory, 200 objects", "many"), ("helm chart, 40 templates", "chart")):
        app = parse_application({"name": "bench", "source": {"repo_url": repo.url, "path": path}})
        for phase, cache in (("cold (new cache: clone + checkout + render)", tmp_path / f"c-{path}"),
                             ("warm mirror, new render", None), ("cached", tmp_path / f"c-{path}")):
            cache_dir = str(cache) if cache else str(tmp_path / f"c-{path}-warm")
            if cache is None:  # mirror present, render cache empty
                render_application(app, cache_dir)
                shutil.rmtree(Path(cache_dir) / "render")
            started = time.perf_counter()
            rendered = render_application(app, cache_dir)
            figures.append(f"{label:28s} {phase:45s} {1000 * (time.perf_counter() - started):8.1f} ms "
                           f"({len(rendered.objects)} objects, cache_hit={rendered.cache_hit})")
        for phase, cache_name in (("ansible-playbook task, cold", "pb-cold"), ("ansible-playbook task, cached", "pb-cold")):
            started = time.perf_counter()
            result = ansible_playbook(yaml.safe_dump([{"gitops.kubernetes.gitops_render": {
                "application": {"name": "bench", "source": {"repo_url": repo.url, "path": path}},
                "cache_dir": str(tmp_path / f"{cache_name}-{path}")}, "register": "r"}]))
            figures.append(f"{label:28s} {phase:45s} {1000 * (time.perf_counter() - started):8.1f} ms "
                           f"(whole ansible-playbook run, cache_hit={result['r']['cache_hit']})")
    report = "\n".join(figures)
    print("\n" + report)
    output = Path(__file__).resolve().parents[1] / "output"
    output.mkdir(exist_ok=True)
    (output / "render-timings.txt").write_text(report + "\n")
