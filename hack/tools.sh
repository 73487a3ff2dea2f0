#!/usr/bin/env bash
# Builds the Go commands this project runs (control plane, kwok, helm,
# kustomize, kubectl, an OCI registry) from the pinned modules under hack/tools/, once: each
# tool set is cached outside the clone under a key made of its go.mod, go.sum
# and the Go version, so a second run costs only the symlinks. Prints the
# directory to put on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${GITOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-kubernetes}
bin_dir="$repo/.tools/bin"
mkdir -p "$bin_dir" "$cache/tools"

command -v go >/dev/null || { echo "tools.sh: the Go toolchain (go) is required to build the tools" >&2; exit 1; }
go_version=$(go env GOVERSION)

# tool set -> packages built from it
declare -A packages=(
  [kube]="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
  [etcd]="go.etcd.io/etcd/server/v3"
  [kwok]="sigs.k8s.io/kwok/cmd/kwok"
  [helm]="helm.sh/helm/v3/cmd/helm"
  [kustomize]="sigs.k8s.io/kustomize/kustomize/v5"
  [gotemplate]="gitops.kubernetes/hack/tools/gotemplate"
  # an OCI registry (CNCF Distribution) the tests and the demo push charts to
  [registry]="github.com/distribution/distribution/v3/cmd/registry"
)
# version stamps the module build leaves out (discovery and `version` report them)
kube_version=v1.34.4
declare -A ldflags=(
  [kube]="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$kube_version"
  [etcd]=""
  [kwok]=""
  [helm]="-X helm.sh/helm/v3/internal/version.version=v3.19.5"
  [kustomize]=""
  [gotemplate]=""
  [registry]=""
)
# binary name for packages whose last path element is not the command name
declare -A rename=([go.etcd.io/etcd/server/v3]=etcd [sigs.k8s.io/kustomize/kustomize/v5]=kustomize
                   [gitops.kubernetes/hack/tools/gotemplate]=gitops-gotemplate)

for set in kube etcd kwok helm kustomize gotemplate registry; do
  # gotemplate is this project's own source (ApplicationSet goTemplate evaluator): its code is part of the key
  sources=()
  if [ "$set" = gotemplate ]; then sources=("$here/tools/$set/main.go"); fi
  key=$(cat "$here/tools/$set/go.mod" "$here/tools/$set/go.sum" "${sources[@]}" <(echo "$go_version ${ldflags[$set]}") | sha256sum | cut -c1-16)
  out="$cache/tools/$set-$key"
  if [ ! -f "$out/.complete" ]; then
    echo "tools.sh: building $set (first run only; cached in $out)" >&2
    start=$(date +%s)
    rm -rf "$out.partial" && mkdir -p "$out.partial"
    for pkg in ${packages[$set]}; do
      name=${rename[$pkg]:-$(basename "$pkg")}
      (cd "$here/tools/$set" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags="-s -w ${ldflags[$set]}" -o "$out.partial/$name" "$pkg")
    done
    rm -rf "$out" && mv "$out.partial" "$out" && touch "$out/.complete"
    echo "tools.sh: built $set in $(( $(date +%s) - start ))s" >&2
  fi
  for binary in "$out"/*; do ln -sfn "$binary" "$bin_dir/$(basename "$binary")"; done
done
echo "$bin_dir"
