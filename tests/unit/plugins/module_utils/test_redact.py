"""Secret values in every printed form, scrubbed from messages and errors."""

from __future__ import annotations

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import CompareError
from ansible_collections.gitops.kubernetes.plugins.module_utils._redact import (
    SECRET_MASK,
    mask_helm_values,
    mask_secret,
    scrub_error,
    scrub_text,
    secret_values,
)


def secret(**sections: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, **sections}


def test_unquoted_numbers_and_booleans_of_a_secret_are_scrubbed_as_the_api_server_prints_them() -> None:
    values = secret_values([secret(stringData={"pin": 982734561, "ratio": 5e9, "on": True, "deep": {"x": [1234.5]}})])
    message = ("Secret.stringData.pin: expected string, got &value.valueUnstructured{Value:982734561}; "
               "ratio 5000000000 or 5000000000.0, deep 1234.5, on: true")
    scrubbed = scrub_text(message, values)
    for shown in ("982734561", "5000000000", "1234.5", "true"):
        assert shown not in scrubbed
    assert scrubbed.count(SECRET_MASK) == 5


def test_data_values_are_scrubbed_raw_and_decoded_and_other_kinds_are_not_secrets() -> None:
    values = secret_values([secret(data={"token": "c3VwZXJzZWNyZXQ="}),
                            {"apiVersion": "v1", "kind": "ConfigMap", "data": {"plain": "visible"}}])
    assert sorted(values) == ["c3VwZXJzZWNyZXQ=", "supersecret"]


def test_a_secret_section_that_is_not_a_mapping_is_masked_whole() -> None:
    assert mask_secret(secret(stringData="hunter22"))["stringData"] == SECRET_MASK
    assert "hunter22" in secret_values([secret(stringData="hunter22")])


def test_scrub_error_keeps_the_location_and_masks_the_value() -> None:
    error = CompareError("rejected: got 982734561", application="web", object_ref="Secret/s")
    scrubbed = scrub_error(error, secret_values([secret(stringData={"pin": 982734561})]))
    assert str(scrubbed) == f"application 'web', Secret/s: rejected: got {SECRET_MASK}"


def test_helm_values_and_parameters_are_masked_keys_kept() -> None:
    app = {"name": "web", "source": {"helm": {"values": {"db": {"password": "p4ss", "port": 5432}},
                                              "parameters": [{"name": "apiKey", "value": "k3y"}]}}}
    masked = mask_helm_values(app)["source"]["helm"]
    assert masked == {"values": {"db": {"password": SECRET_MASK, "port": SECRET_MASK}},
                      "parameters": [{"name": "apiKey", "value": SECRET_MASK}]}
