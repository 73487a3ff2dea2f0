"""Helm lookup: the opt-in in both spec forms, the kubeconfig helm gets, the cache bypass and the forbidden-read message."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError, SpecError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ResolvedConnection
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.cache import render_cache_key
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.helm import render_helm
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.lookup import lookup_error, lookup_kubeconfig
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import parse_application

TOKEN = "lookup-token-5ecret-0a1b"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"
FORBIDDEN_GET = (
    'helm failed: Error: template: db/templates/db.yaml:1:15: executing "db/templates/db.yaml" at <lookup "v1" "Secret" '
    '.Release.Namespace "db-password">: error calling lookup: secrets "db-password" is forbidden: User '
    '"system:serviceaccount:shop:deployer" cannot get resource "secrets" in API group "" in the namespace "shop"; '
    'Use --debug flag to render out invalid YAML')
FORBIDDEN_LIST = (
    'helm failed: Error: template: db/templates/db.yaml:2:9: executing "db/templates/db.yaml" at <lookup "example.com/v1" '
    '"Widget" "" "">: error calling lookup: widgets.example.com is forbidden: User "ci" cannot list resource "widgets" '
    'in API group "example.com" at the cluster scope')
FORBIDDEN_NAMESPACE = (
    'helm failed: Error: template: db/templates/db.yaml:1:10: executing "db/templates/db.yaml" at <lookup "v1" "Namespace" '
    '"" "default">: error calling lookup: namespaces "default" is forbidden: User "ci" cannot get resource "namespaces" '
    'in API group "" in the namespace "default"')


def app_spec(**helm: object) -> dict:
    return {"name": "db", "source": {"repo_url": "file:///r", "path": "chart", "helm": helm}, "destination": {"namespace": "shop"}}


def argocd(annotations: dict, **source: object) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "db", "annotations": annotations},
            "spec": {"source": {"repoURL": "file:///r", "path": "chart", **source}, "destination": {"namespace": "shop"}}}


# -- the opt-in ----------------------------------------------------------------------------------------------


def test_helm_lookup_is_off_unless_the_spec_or_the_annotation_asks_for_it():
    assert not parse_application(app_spec()).lookup_wanted(parse_application(app_spec()).source)
    ours = parse_application(app_spec(lookup=True))
    assert ours.source.helm.lookup and ours.lookup_wanted(ours.source)
    annotated = parse_application(argocd({"gitops.kubernetes/helm-lookup": "true"}))
    assert annotated.helm_lookup and annotated.lookup_wanted(annotated.source)  # also for a chart detected from the path
    assert not parse_application(argocd({"gitops.kubernetes/helm-lookup": "false"})).helm_lookup
    assert not parse_application(argocd({"other": "annotation"})).helm_lookup


def test_helm_lookup_annotation_with_a_wrong_value_or_on_an_application_without_helm_is_refused_by_name():
    with pytest.raises(SpecError) as caught:
        parse_application(argocd({"gitops.kubernetes/helm-lookup": "yes please"}))
    assert "gitops.kubernetes/helm-lookup" in str(caught.value) and "'db'" in str(caught.value)
    with pytest.raises(SpecError) as caught:
        parse_application(argocd({"gitops.kubernetes/helm-lookup": "true"}, kustomize={"namePrefix": "a-"}))
    assert "no source of the application can be a Helm chart" in str(caught.value)


def test_helm_lookup_must_be_a_boolean():
    with pytest.raises(SpecError) as caught:
        parse_application(app_spec(lookup="sometimes"))
    assert "source.helm.lookup" in str(caught.value)


def test_render_cache_key_leaves_lookup_out_so_keys_of_pure_renders_stay_as_they_were():
    pure, lookup = parse_application(app_spec()), parse_application(app_spec(lookup=True))
    assert render_cache_key(pure, "a" * 40) == render_cache_key(lookup, "a" * 40)


# -- the kubeconfig helm gets ---------------------------------------------------------------------------------


def test_kubeconfig_for_helm_holds_the_run_connection_and_names_its_secrets():
    connection = ResolvedConnection(server="https://10.0.0.1:6443", default_namespace="default", description="the host option",
                                    ca_data=CA_PEM, token=TOKEN, tls_server_name="api.internal")
    document, secrets = lookup_kubeconfig(connection, "shop")
    cluster = document["clusters"][0]["cluster"]
    assert cluster == {"server": "https://10.0.0.1:6443", "certificate-authority-data": base64.b64encode(CA_PEM.encode()).decode(),
                       "tls-server-name": "api.internal"}
    assert document["users"][0]["user"] == {"token": TOKEN}
    assert document["contexts"][0]["context"]["namespace"] == "shop" and document["current-context"] == "run"
    assert TOKEN in secrets


def test_kubeconfig_for_helm_keeps_insecure_basic_auth_and_client_certificate_files():
    connection = ResolvedConnection(server="https://h", default_namespace="default", description="d", verify=False,
                                    cert_file="/etc/k/client.crt", key_data="KEY-PEM", username="admin", password="pw-1")
    document, secrets = lookup_kubeconfig(connection, "default")
    assert document["clusters"][0]["cluster"] == {"server": "https://h", "insecure-skip-tls-verify": True}
    user = document["users"][0]["user"]
    assert user["client-certificate"] == "/etc/k/client.crt"
    assert user["client-key-data"] == base64.b64encode(b"KEY-PEM").decode()
    assert (user["username"], user["password"]) == ("admin", "pw-1")
    assert {"KEY-PEM", "pw-1"} <= set(secrets)


FAKE_HELM = """#!/bin/sh
# records what the render gave helm, then prints one object
{ printf '%s\\n' "$@"; echo "KUBECONFIG=$KUBECONFIG"; echo "HELM_KUBETOKEN=[$HELM_KUBETOKEN]";
  if [ -f "$KUBECONFIG" ] && [ "$KUBECONFIG" != /dev/null ]; then stat -c 'mode=%a' "$KUBECONFIG"; cat "$KUBECONFIG"; echo; fi
} > "$RECORD"
printf -- '---\\n# Source: chart/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: cm\\n'
"""


@pytest.fixture
def fake_helm(tmp_path, monkeypatch):
    binary = tmp_path / "bin" / "helm"
    binary.parent.mkdir()
    binary.write_text(FAKE_HELM)
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("RECORD", str(tmp_path / "record"))
    monkeypatch.setenv("HELM_KUBETOKEN", "someone-elses-token")  # the controller's environment may not widen the identity
    chart = tmp_path / "repo" / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 0.1.0\n")
    return tmp_path


def context(root: Path, spec: dict, connection: ResolvedConnection | None) -> RenderContext:
    return RenderContext(root=(root / "repo").resolve(), app_dir=(root / "repo" / "chart").resolve(), rel_path="chart",
                         app=parse_application(spec), secrets=[], lookup_connection=connection)


def test_lookup_render_runs_a_server_dry_run_with_a_private_kubeconfig_never_on_the_command_line(fake_helm):
    connection = ResolvedConnection(server="https://10.0.0.1:6443", default_namespace="default", description="d", token=TOKEN)
    objects = render_helm(context(fake_helm, app_spec(lookup=True), connection))
    assert [obj.ref.name for obj in objects] == ["cm"]
    record = (fake_helm / "record").read_text().splitlines()
    arguments = record[:record.index(next(line for line in record if line.startswith("KUBECONFIG=")))]
    assert "--dry-run=server" in arguments
    assert not any(TOKEN in argument for argument in arguments)
    kubeconfig = next(line for line in record if line.startswith("KUBECONFIG="))[len("KUBECONFIG="):]
    assert "mode=600" in record and "HELM_KUBETOKEN=[]" in record
    assert yaml.safe_load(record[-1])["users"][0]["user"] == {"token": TOKEN}
    assert not Path(kubeconfig).exists()  # removed with the render's private directory


def test_render_without_opt_in_never_reaches_a_cluster(fake_helm):
    connection = ResolvedConnection(server="https://10.0.0.1:6443", default_namespace="default", description="d", token=TOKEN)
    render_helm(context(fake_helm, app_spec(), connection))
    record = (fake_helm / "record").read_text()
    assert "--dry-run=server" not in record and f"KUBECONFIG={os.devnull}" in record and TOKEN not in record


def test_lookup_without_a_cluster_connection_is_a_render_error(fake_helm):
    with pytest.raises(RenderError) as caught:
        render_helm(context(fake_helm, app_spec(lookup=True), None))
    assert "helm lookup" in str(caught.value) and "no cluster connection" in str(caught.value)
    assert not (fake_helm / "record").exists()


# -- a read the identity may not perform ----------------------------------------------------------------------


def test_forbidden_get_names_the_object_the_verb_and_the_identity():
    err = lookup_error(RenderError(FORBIDDEN_GET, file="chart/templates/db.yaml", line=1, column=15), "kubeconfig /k")
    assert err.message.startswith("helm lookup may not read Secret 'db-password' in namespace 'shop': the identity of "
                                  "this run (kubeconfig /k, user 'system:serviceaccount:shop:deployer') is not allowed "
                                  "to get secrets")
    assert err.object_ref == "Secret shop/db-password"
    assert (err.file, err.line, err.column) == ("chart/templates/db.yaml", 1, 15)


def test_forbidden_list_of_a_cluster_scoped_custom_kind_names_its_group():
    err = lookup_error(RenderError(FORBIDDEN_LIST, file="chart/templates/db.yaml"), "the host/api_key options")
    assert "may not read the list of widgets (cluster-scoped)" in err.message
    assert "not allowed to list widgets.example.com" in err.message
    assert err.object_ref == "Widget.example.com *"


def test_forbidden_namespace_is_named_as_cluster_scoped():
    err = lookup_error(RenderError(FORBIDDEN_NAMESPACE), "d")
    assert "may not read Namespace 'default' (cluster-scoped)" in err.message and err.object_ref == "Namespace default"


def test_other_helm_errors_pass_through_unchanged():
    original = RenderError("helm failed: Error: parse error at (db/templates/db.yaml:3): unexpected EOF", file="x", line=3)
    assert lookup_error(original, "d") is original


def test_unauthenticated_lookup_says_the_credentials_were_refused():
    err = lookup_error(RenderError('helm failed: Error: ... at <lookup "v1" "Secret" "a" "b">: error calling lookup: '
                                   'unable to get apiresource from unstructured: /v1, Kind=Secret: Unauthorized'), "kubeconfig /k")
    assert "refused the credentials of this run (kubeconfig /k)" in err.message


def test_spec_identity_counts_lookup_switched_on_and_keeps_earlier_digests_while_it_is_off():
    from ansible_collections.gitops.kubernetes.plugins.module_utils._inputs import _spec_identity

    off = _spec_identity(parse_application(app_spec()))
    assert "lookup" not in off["source"]["helm"] and "helm_lookup" not in off
    assert _spec_identity(parse_application(app_spec(lookup=True))) != off
    assert _spec_identity(parse_application(argocd({"gitops.kubernetes/helm-lookup": "true"}))) != \
        _spec_identity(parse_application(argocd({})))
