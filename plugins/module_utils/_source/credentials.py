# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repository credentials, matched to a repository URL by longest prefix (Argo CD's credential templates).

One entry serves every repository under its URL prefix: `https://charts.example.com`
covers `https://charts.example.com/stable` and `.../incubator`. The longest
matching prefix wins, so a specific entry overrides a general one. `type`
limits an entry to one kind of source: `helm` (chart repositories and OCI
registries, as in Argo CD), `oci` (OCI registries only) or `git`; without a
type it serves any kind. OCI URLs match with or without their `oci://` scheme.

The entries come from the `repositories` module option (the role's
`gitops_repositories`) or from Argo CD repository Secrets
(`argocd.argoproj.io/secret-type: repository` matches its URL exactly,
`repo-creds` by prefix). Passwords never leave this module except towards
the repository itself: `secrets()` lists them for scrubbing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import SpecError

KINDS = ("helm", "oci", "git")
ARGOCD_SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
# the module option's suboptions; documented by doc_fragments/_repositories.py
REPOSITORIES_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "repositories": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "url": {"type": "str"},
            "username": {"type": "str", "default": ""},
            "password": {"type": "str", "default": "", "no_log": True},
            "ca_file": {"type": "path"},
            "insecure_skip_tls_verify": {"type": "bool", "default": False},
            "type": {"type": "str", "choices": ["", *KINDS], "default": ""},
            # an Argo CD repository Secret instead of the keys above; its password is registered by
            # repository_secret_values() (no_log here would hide its URL in every message too)
            "secret": {"type": "dict", "no_log": True},
        },
    },
}


@dataclass(frozen=True)
class RepositoryCredential:
    """Access to the repositories under one URL prefix."""

    url: str
    username: str = ""
    password: str = ""
    ca_file: str = ""
    insecure_skip_tls_verify: bool = False
    kind: str = ""  # "" (any), helm, oci or git
    exact: bool = False  # an Argo CD `repository` Secret names one repository, not a prefix

    def serves(self, url: str, kind: str) -> bool:
        if self.kind and self.kind != kind and not (self.kind == "helm" and kind == "oci"):
            return False
        mine, theirs = match_key(self.url), match_key(url)
        return theirs == mine if self.exact else theirs.startswith(mine)


def match_key(url: str) -> str:
    """A URL as credentials match it: no oci:// scheme, no trailing slash, host case folded."""
    text = url.strip()
    if text.lower().startswith("oci://"):
        text = text[len("oci://"):]
    scheme, sep, rest = text.partition("://")
    if sep:
        host, slash, path = rest.partition("/")
        text = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    else:
        host, slash, path = text.partition("/")
        text = f"{host.lower()}{slash}{path}"
    return text.rstrip("/")


def find_credential(url: str, kind: str, credentials: list[RepositoryCredential]) -> RepositoryCredential | None:
    """The entry with the longest URL prefix serving this repository, or None."""
    serving = [credential for credential in credentials if credential.serves(url, kind)]
    return max(serving, key=lambda credential: (credential.exact, len(match_key(credential.url))), default=None)


def secrets(credentials: list[RepositoryCredential]) -> list[str]:
    """Every password, for scrubbing messages."""
    return [credential.password for credential in credentials if credential.password]


def repository_secret_values(raw: Any) -> list[str]:
    """The passwords an unparsed `repositories` option carries (also inside Secrets, encoded and decoded)."""
    found: list[str] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("password"), str):
            found.append(item["password"])
        secret = item.get("secret") if isinstance(item.get("secret"), dict) else {}
        for section in ("data", "stringData"):
            values = secret.get(section) if isinstance(secret.get(section), dict) else {}
            for key in ("password", "tlsClientCertKey", "sshPrivateKey"):
                value = values.get(key)
                if not isinstance(value, str) or not value:
                    continue
                found.append(value)
                if section == "data":
                    try:
                        found.append(base64.b64decode(value, validate=True).decode("utf-8"))
                    except (binascii.Error, UnicodeDecodeError):
                        pass
    return [value for value in found if value]


def parse_repositories(raw: Any) -> list[RepositoryCredential]:
    """The `repositories` option: our entries and Argo CD repository Secrets; SpecError naming the entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SpecError("repositories must be a list")
    parsed = []
    for index, item in enumerate(raw):
        where = f"repositories[{index}]"
        if not isinstance(item, dict):
            raise SpecError(f"{where} must be a mapping")
        secret = item.get("secret")
        if secret is not None:
            parsed.append(_from_argocd_secret(secret, where))
            continue
        url = str(item.get("url") or "").strip()
        if not url:
            raise SpecError(f"{where}.url is required")
        kind = str(item.get("type") or "")
        if kind not in ("", *KINDS):
            raise SpecError(f"{where}.type must be one of {', '.join(KINDS)}, got {kind!r}")
        parsed.append(RepositoryCredential(
            url=url, username=str(item.get("username") or ""), password=str(item.get("password") or ""),
            ca_file=str(item.get("ca_file") or ""), insecure_skip_tls_verify=bool(item.get("insecure_skip_tls_verify")),
            kind=kind))
    return parsed


# Argo CD repository Secret keys this collection maps; anything else set in the Secret is refused by name
_SECRET_KEYS = ("url", "username", "password", "type", "insecure", "enableOCI", "name", "project", "tlsClientCertData")


def _from_argocd_secret(secret: Any, where: str) -> RepositoryCredential:
    if not isinstance(secret, dict):
        raise SpecError(f"{where}.secret must be an Argo CD repository Secret (a mapping)")
    labels = (secret.get("metadata") or {}).get("labels") or {}
    secret_type = labels.get(ARGOCD_SECRET_TYPE_LABEL)
    if secret_type not in ("repository", "repo-creds"):
        raise SpecError(f"{where}: a Secret needs the label {ARGOCD_SECRET_TYPE_LABEL}: repository or repo-creds")
    fields: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            fields[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SpecError(f"{where}: data.{key} is not base64-encoded text") from None
    fields.update({str(key): str(value) for key, value in (secret.get("stringData") or {}).items()})
    for key, value in fields.items():
        if value and key not in _SECRET_KEYS:
            raise SpecError(f"{where}: the Secret's {key} is not supported (supported: url, username, password, type, "
                            f"insecure, enableOCI)")
    if fields.get("tlsClientCertData"):
        raise SpecError(f"{where}: the Secret's tlsClientCertData (TLS client certificates) is not supported")
    if not fields.get("url"):
        raise SpecError(f"{where}: the Secret has no url")
    kind = fields.get("type") or ""
    if kind not in ("", *KINDS):
        raise SpecError(f"{where}: the Secret's type must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "helm" and fields.get("enableOCI", "").lower() == "true":
        kind = "oci"
    return RepositoryCredential(url=fields["url"], username=fields.get("username", ""), password=fields.get("password", ""),
                                insecure_skip_tls_verify=fields.get("insecure", "").lower() == "true", kind=kind,
                                exact=secret_type == "repository")
