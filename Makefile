# The two commands a new user needs are `make demo` and `make test`; every
# other target is a step of those. Slow builds (Go tools, the virtualenv) are
# cached outside the clone, see hack/tools.sh and hack/venv.sh.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PYTHON := $(VENV)/bin/python
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.tools/collections
PYTEST_WORKERS ?= 2

.PHONY: help venv tools system-deps ee-context collection-link cluster-up cluster-down cluster-status demo test lint sanity unit integration build clean

help:
	@echo "make demo          start a local control plane and sync the example applications from Git"
	@echo "make test          lint, sanity, unit and integration tests (installs what it needs)"
	@echo "make cluster-up    start the local control plane (kubeconfig in .cluster/kubeconfig)"
	@echo "make cluster-down  stop it and remove its data"
	@echo "make bench-quick   benchmark against kubernetes.core, kubectl and the floor (small N); make bench: full"

venv:
	@hack/venv.sh >/dev/null

tools:
	@hack/tools.sh >/dev/null

# chromium (HTML report test) and shellcheck (sanity), from Debian's packages
system-deps:
	@hack/system-deps.sh

# ansible needs the checkout at .../ansible_collections/gitops/kubernetes
collection-link:
	@mkdir -p .tools/collections/ansible_collections/gitops
	@ln -sfn $(CURDIR) .tools/collections/ansible_collections/gitops/kubernetes

cluster-up: venv tools
	@$(PYTHON) hack/local_cluster.py up

cluster-down: venv
	@$(PYTHON) hack/local_cluster.py down

cluster-status: venv
	@$(PYTHON) hack/local_cluster.py status

demo: venv tools collection-link
	@$(PYTHON) hack/demo.py

test: lint sanity unit integration

lint: venv collection-link
	@hack/lint.sh

sanity: venv system-deps
	@hack/sanity.sh

# the tools first: the ApplicationSet Go template vectors run against the gitops-gotemplate helper
unit: venv tools collection-link
	$(PYTHON) -m pytest tests/unit -q -n $(PYTEST_WORKERS)

# --dist loadscope: each test module on one worker, so a module-scoped fixture (the bad input corpus' one
# playbook of every case, the quick benchmark, the chart servers) runs once, not once per worker
integration: venv tools system-deps collection-link
	$(PYTHON) -m pytest tests/integration -q -n $(PYTEST_WORKERS) --dist loadscope --durations=15

# build context of execution-environment.yml: helm and kustomize as real files
ee-context: tools
	@mkdir -p .tools/ee && cp -L .tools/bin/helm .tools/bin/kustomize .tools/bin/gitops-gotemplate .tools/ee/
	@echo "then: ansible-builder build -f execution-environment.yml -t gitops-kubernetes-ee"

build: venv
	@mkdir -p tests/output && $(VENV)/bin/ansible-galaxy collection build --force --output-path tests/output .

clean: cluster-down
	rm -rf tests/output .tools/collections

include benchmarks/bench.mk
