"""Hostile values against the real control plane, real helm and ansible-playbook at -vvv.

A YAML alias bomb in Git is refused before it can exhaust memory; a Secret
value the API server quotes in its error, the Helm values of generated
applications and Helm parameters never show: not in the output at -vvv, not
in registered results, not in the inventory parents, not in any process's
command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import yaml

# 10 levels of 10 aliases: under 1 KB that a naive loader expands to ten billion strings
BILLION_LAUGHS = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: laughs\ndata:\n" + "".join(
    f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}' if level else 'lol'] * 10)}]\n" for level in range(10))


def run_verbose(tmp: Path, play: list[dict[str, Any]], inventory: str, env: dict[str, str] | None = None,
                args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """ansible-playbook at -vvv; returns the completed process (stdout and stderr kept)."""
    playbook = tmp / f"play-{uuid.uuid4().hex[:8]}.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    run_env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "false",
               "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_RETRY_FILES_ENABLED": "false",
               "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "GITOPS_CACHE_DIR": str(tmp / "cache"), **(env or {})}
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", inventory, "-vvv",
                           *args], capture_output=True, text=True, env=run_env, timeout=600, check=False, cwd=tmp)


def bounded_python(tmp: Path) -> str:
    """An interpreter for modules with bounded address space (3 GiB) and file size (32 MiB): an alias expansion
    that is not refused cannot take the shared machine's memory or disk (it fails, at worst by the playbook's
    timeout, since Python streams it slowly into the render cache and the result)."""
    wrapper = tmp / "bounded-python"
    wrapper.write_text(f"#!/bin/sh\nulimit -v {3 * 1024 * 1024}\nulimit -f 65536\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper)


def test_yaml_alias_bomb_is_refused_naming_the_file_and_nothing_is_applied(cluster, kubectl, namespace, git_repo,
                                                                           ansible_playbook, tmp_path):
    assert len(BILLION_LAUGHS.encode()) < 1300
    repo = git_repo()
    repo.commit({
        "apps/good.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  k: v\n",
        "apps/laughs.yaml": BILLION_LAUGHS,
    })
    app = {"name": "laughs", "source": {"repo_url": repo.url, "revision": "main", "path": "apps"},
           "destination": {"namespace": namespace}, "sync_policy": {"prune": True}}
    run = ansible_playbook(yaml.safe_dump([
        {"name": "render", "gitops.kubernetes.gitops_render": {"application": app}, "register": "render",
         "ignore_errors": True},
        {"name": "sync", "gitops.kubernetes.gitops_sync": {"application": app, "kubeconfig": "{{ gitops_test_kubeconfig }}"},
         "register": "sync", "ignore_errors": True},
    ]), env={"ANSIBLE_PYTHON_INTERPRETER": bounded_python(tmp_path), "GITOPS_CACHE_DIR": str(tmp_path / "cache")})
    for name in ("render", "sync"):
        result = run[name]
        assert result["failed"], name
        assert result["msg"].startswith("application 'laughs', apps/laughs.yaml:1: excessive aliasing"), result["msg"]
        assert result["file"] == "apps/laughs.yaml"
    assert kubectl.run("get", "configmap", "good", "-n", namespace, check=False).returncode != 0
    assert kubectl.get("configmaps", "-n", namespace, "-l", "applyset.kubernetes.io/id")["items"] == []


def test_a_secret_value_the_api_server_quotes_never_reaches_output_results_or_the_cluster(
        cluster, kubectl, namespace, git_repo, tmp_path):
    pin = "982734561"
    repo = git_repo()
    repo.commit({
        "apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  k: v\n",
        "apps/pin.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: pin\nstringData:\n  pin: {pin}\n",
    })
    app = {"name": "pin", "source": {"repo_url": repo.url, "revision": "main", "path": "apps"},
           "destination": {"namespace": namespace}}
    results = tmp_path / "results.json"
    tasks = [
        {"name": f"{module} {mode}", f"gitops.kubernetes.{module}": {"application": app, "kubeconfig": cluster.kubeconfig},
         "register": f"{module}_{mode}", "ignore_errors": True, "check_mode": mode == "check", "diff": True}
        for module, mode in (("gitops_diff", "check"), ("gitops_sync", "check"), ("gitops_sync", "real"))
    ] + [{"name": "several applications", "gitops.kubernetes.gitops_sync": {
        "applications": [app, {**app, "name": "pin-again"}], "kubeconfig": cluster.kubeconfig},
        "register": "gitops_sync_several", "ignore_errors": True}]
    names = [task["register"] for task in tasks]
    dump = {"name": "dump", "ansible.builtin.copy": {
        "dest": str(results), "mode": "0600", "content": "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} | to_json }}"}}
    run = run_verbose(tmp_path, [{"name": "pin", "hosts": "localhost", "connection": "local", "gather_facts": False,
                                  "tasks": [{"block": tasks, "always": [dump]}]}], "localhost,")
    registered = json.loads(results.read_text())
    # the API server refused the Secret, so the error paths were taken
    assert registered["gitops_sync_real"]["failed"], registered["gitops_sync_real"]
    assert "pin" in registered["gitops_sync_real"]["msg"]
    assert kubectl.run("get", "secret", "pin", "-n", namespace, check=False).returncode != 0
    cluster_texts = json.dumps(kubectl.get("configmaps", "-n", namespace)) + json.dumps(kubectl.get("events", "-n", namespace))
    for where, text in (("stdout", run.stdout), ("stderr", run.stderr), ("results", results.read_text()),
                        ("cluster", cluster_texts)):
        assert pin not in text, f"the Secret value is in {where}"
    assert "++++++++" in run.stdout


CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: greeter\nversion: 0.1.0\n",
    "chart/values.yaml": "greeting: ''\napiKey: ''\n",
    "chart/templates/config.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: greeter
        data:
          greeting: {{ .Values.greeting | quote }}
          apiKey: {{ .Values.apiKey | quote }}
        """,
}


def test_generated_helm_values_never_show_yet_reach_the_cluster(cluster, kubectl, namespace, git_repo, tmp_path):
    greeting, api_key = f"greeting-{uuid.uuid4().hex}", f"key-{uuid.uuid4().hex}"
    repo = git_repo()
    repo.commit(CHART)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"clusters": {"hosts": {"local": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "gitops_kubeconfig": cluster.kubeconfig, "gitops_report_dir": str(tmp_path / "reports"),
        "gitops_report_diffs": False,  # a ConfigMap's diff shows its data, as it should; here nothing may show them
        "gitops_generators": [{"list": {
            "template": {"source": {"repo_url": repo.url, "revision": "main", "path": "chart",
                                    "helm": {"values": {"greeting": greeting},
                                             "parameters": [{"name": "apiKey", "value": api_key}]}},
                         "destination": {"namespace": namespace}},
            "elements": [{"name": "greeter"}]}}],
    }}}}))
    play = [{"name": "the role", "hosts": "clusters", "gather_facts": False,
             "roles": [{"role": "gitops.kubernetes.applications"}]}]
    run = run_verbose(tmp_path, play, str(inventory))
    assert run.returncode == 0, run.stdout[-3000:]
    # the real values were rendered and applied
    data = kubectl.get("configmap", "greeter", "-n", namespace)["data"]
    assert data == {"greeting": greeting, "apiKey": api_key}
    reports = "".join(path.read_text() for path in sorted((tmp_path / "reports").iterdir()))
    for where, text in (("stdout", run.stdout), ("stderr", run.stderr), ("reports", reports)):
        for value in (greeting, api_key):
            assert value not in text, f"a Helm value is in {where}"
    assert "TASK [gitops.kubernetes.applications : List the applications" in run.stdout


def helm_recorder(tmp: Path) -> tuple[Path, Path]:
    """A `helm` first on PATH that records its argv, and the mode of its values files and their directory,
    then runs the real helm."""
    real = subprocess.run(["sh", "-c", "command -v helm"], capture_output=True, text=True, check=True).stdout.strip()
    bin_dir, record = tmp / "recording-bin", tmp / "helm-argv.jsonl"
    bin_dir.mkdir()
    script = bin_dir / "helm"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, os, stat, sys
        files = [sys.argv[i + 1] for i, arg in enumerate(sys.argv[:-1]) if arg == "--values"]
        modes = {{path: oct(stat.S_IMODE(os.stat(path).st_mode)) for path in files}}
        modes.update({{os.path.dirname(path): oct(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)) for path in files}})
        with open({str(record)!r}, "a") as out:
            out.write(json.dumps({{"argv": sys.argv, "cmdline": open("/proc/self/cmdline").read(), "modes": modes}}) + "\\n")
        os.execv({real!r}, [{real!r}] + sys.argv[1:])
        """))
    script.chmod(0o755)
    return bin_dir, record


def test_helm_parameters_and_values_never_reach_a_command_line(git_repo, ansible_playbook, tmp_path):
    api_key, greeting = f"key-{uuid.uuid4().hex}", f"greeting-{uuid.uuid4().hex}"
    repo = git_repo()
    repo.commit(CHART)
    bin_dir, record = helm_recorder(tmp_path)
    app = {"name": "greeter", "destination": {"namespace": "default"},
           "source": {"repo_url": repo.url, "revision": "main", "path": "chart",
                      "helm": {"values": {"greeting": greeting}, "parameters": [{"name": "apiKey", "value": api_key}]}}}
    run = ansible_playbook(yaml.safe_dump([{"name": "render", "gitops.kubernetes.gitops_render": {"application": app},
                                            "register": "render"}]),
                           env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "GITOPS_CACHE_DIR": str(tmp_path / "cache")})
    assert run.rc == 0, run.stdout[-3000:]
    assert run["render"]["manifests"][0]["data"] == {"greeting": greeting, "apiKey": api_key}
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert calls, "helm was not run through the recorder"
    for call in calls:
        for value in (api_key, greeting):
            assert value not in " ".join(call["argv"]) and value not in call["cmdline"]
        assert set(call["modes"].values()) <= {"0o600", "0o700"} and call["modes"], call["modes"]
        assert not any(os.path.exists(path) for path in call["modes"])  # removed after the render


# parameters whose meaning depends on every rule of helm's --set: dots, escapes, lists, types, forceString, order
TRICKY_PARAMETERS = [
    {"name": "a.b.c", "value": "1"},
    {"name": "dotted\\.key", "value": "x"},
    {"name": "list[2]", "value": "third"},
    {"name": "servers[1].port", "value": "8081"},
    {"name": "numbers.big", "value": "982734561"},
    {"name": "numbers.negative", "value": "-5"},
    {"name": "numbers.leading_zero", "value": "007"},
    {"name": "numbers.decimal", "value": "1.50"},
    {"name": "flags.on", "value": "TRUE"},
    {"name": "flags.off", "value": "false"},
    {"name": "flags.null", "value": "null"},
    {"name": "forced", "value": "true", "force_string": True},
    {"name": "forced", "value": "12"},
    {"name": "csv", "value": "one,two"},
    {"name": "items", "value": "{a,2,true}"},
    {"name": "path", "value": "C:\\dir"},
    {"name": "fromFile.replaced", "value": "yes"},
]


def test_helm_parameters_in_a_values_file_render_as_set_does(git_repo, ansible_playbook, tmp_path):
    repo = git_repo()
    repo.commit({
        "chart/Chart.yaml": "apiVersion: v2\nname: echo\nversion: 0.1.0\n",
        "chart/values.yaml": "servers: [{port: 80}, {port: 81}, {port: 82}]\nfromFile: {kept: 1, replaced: 2}\n",
        "chart/values-extra.yaml": "servers: [{port: 90, name: a}, {port: 91, name: b}]\n",
        "chart/templates/values.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: echo\n"
                                       "data:\n  values: {{ toJson .Values | quote }}\n",
    })
    app = {"name": "echo", "destination": {"namespace": "default"},
           "source": {"repo_url": repo.url, "revision": "main", "path": "chart",
                      "helm": {"value_files": ["values-extra.yaml"], "parameters": TRICKY_PARAMETERS}}}
    run = ansible_playbook(yaml.safe_dump([{"name": "render", "gitops.kubernetes.gitops_render": {"application": app},
                                            "register": "render"}]),
                           env={"GITOPS_CACHE_DIR": str(tmp_path / "cache")})
    assert run.rc == 0, run.stdout[-3000:]
    ours = json.loads(run["render"]["manifests"][0]["data"]["values"])
    # what Argo CD runs: --set / --set-string on the command line, commas escaped outside {a,b} lists
    argv = ["helm", "template", "echo", str(repo.path / "chart"), "--values", str(repo.path / "chart" / "values-extra.yaml")]
    for parameter in TRICKY_PARAMETERS:
        value = parameter["value"]
        value = value if value.startswith("{") and value.endswith("}") else value.replace(",", "\\,")
        argv += ["--set-string" if parameter.get("force_string") else "--set", f"{parameter['name']}={value}"]
    output = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120,
                            env={**os.environ, "HELM_CACHE_HOME": str(tmp_path / "h"), "HELM_CONFIG_HOME": str(tmp_path / "h"),
                                 "HELM_DATA_HOME": str(tmp_path / "h")}).stdout
    with_set = json.loads(yaml.safe_load(output)["data"]["values"])
    assert ours == with_set
    assert ours["servers"] == [{"port": 90, "name": "a"}, {"port": 8081, "name": "b"}]
    assert ours["numbers"]["big"] == 982734561 and ours["forced"] == "true"
