# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repositories option (credentials per repository URL prefix), shared by gitops_render, gitops_diff and gitops_sync.

Private to the collection. Mirrored by REPOSITORIES_ARGUMENT_SPEC in
plugins/module_utils/_source/credentials.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  repositories:
    description:
      - Credentials for chart repositories, OCI registries and Git repositories, each entry serving every
        repository whose URL starts with its C(url) (Argo CD's repository credential templates); the longest
        matching prefix wins. OCI URLs match with or without C(oci://).
      - Used for the application's own chart and for chart dependencies fetched at render time. A Git repository
        gets an entry's C(username) and C(password) only when its spec gives no credentials of its own.
      - Passwords never appear in results, messages or logs (not even at C(-vvv)); they reach helm through private
        files of mode C(0600), never its command line. A chart archive on another host than its repository gets
        the credentials only when the application sets C(helm.pass_credentials) (Argo CD's C(helm.passCredentials)).
    type: list
    elements: dict
    default: []
    suboptions:
      url:
        description: The URL prefix (C(https://charts.example.com), C(oci://registry.example.com/charts)).
        type: str
      username:
        description: User name (basic auth, or the registry login).
        type: str
        default: ""
      password:
        description: Password or token.
        type: str
        default: ""
      ca_file:
        description: A PEM file of CA certificates trusted for these repositories, on top of the system's.
        type: path
      insecure_skip_tls_verify:
        description: Do not verify the server's certificate (test servers only).
        type: bool
        default: false
      type:
        description:
          - Which kind of repository the entry serves; empty serves every kind. V(helm) serves chart repositories
            and OCI registries (as in Argo CD), V(oci) OCI registries only, V(git) Git repositories only.
        type: str
        choices: ["", helm, oci, git]
        default: ""
      secret:
        description:
          - An Argo CD repository Secret (label C(argocd.argoproj.io/secret-type) V(repository) for one
            repository, matched exactly, or V(repo-creds) for a URL prefix) instead of the keys above. Its
            C(url), C(username), C(password), C(type), C(insecure) and C(enableOCI) are used, from C(data)
            (base64) or C(stringData); any other setting in it (TLS client certificates, SSH keys, GitHub App) is
            refused by name.
        type: dict
"""
