# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster connection options, shared by every module that talks to the cluster.

Private to the collection. Mirrored by KUBE_CONNECTION_ARGS in
plugins/module_utils/_kube.py; keep the two in step.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig itself as a dictionary.
      - When neither O(kubeconfig), O(context) nor O(host) is given, the module uses the
        in-cluster service account if it runs in a pod (for example an AWX container group),
        and otherwise the default kubeconfig (E(KUBECONFIG) or C(~/.kube/config)).
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The kubeconfig context to use; the current context by default.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the API server, for example C(https://10.0.0.1:6443). Overrides the kubeconfig's server.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - A bearer token for the API server. Never shown in output or messages.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  ca_cert:
    description:
      - Path to the CA certificate that signed the API server's certificate.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for TLS client authentication.
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Only switch it off for throwaway test clusters.
      - Defaults to what the kubeconfig says (verification on).
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
notes:
  - Connection failures (server unreachable, credentials rejected with 401, access denied with 403)
    fail the task with a message that names the server and where the credentials came from, never the credentials.
  - Kubeconfigs with client certificates, tokens, token files or basic auth, and the in-cluster service account,
    are read by the collection itself. Exec credential plugins, C(auth-provider), C(proxy-url), proxy environment
    variables (E(HTTPS_PROXY) and the like) and E(KUBECONFIG) lists of several files are handed to the C(kubernetes)
    library.
requirements:
  - kubernetes >= 29.0.0 (Python library; brings urllib3, which every request uses, and reads the kubeconfigs listed
    in the notes)
"""
