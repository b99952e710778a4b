# Patient Management System — build, run and test.
# Everything comes from the Go module proxy; no Docker or Dapr CLI needed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

DAPR_VERSION := 1.18.2
APPS := api-gateway auth-service patient-service billing-service analytics-service

# The Go toolchain everything is built and tested with: a patched release,
# fetched once from the module proxy as golang.org/toolchain (a machine whose
# Go sets GOTOOLCHAIN=local would otherwise use whatever Go it has). The
# Dockerfile's builder image matches it (tests/deploy checks).
GO_TOOLCHAIN := go1.26.10
export GOTOOLCHAIN := $(GO_TOOLCHAIN)

# Expensive builds are cached under .cache, keyed by version and go.sum, so
# they are redone only when what they are built from changes.
# Both are static (CGO_ENABLED=0): the same binaries run here and in the
# local container images (`make images`), which have no C library.
DAPRD_KEY := $(DAPR_VERSION)-$(GO_TOOLCHAIN)-static-$(shell cat tools/daprd/go.sum tools/daprd/*.go tools/daprd/sentry/*.go | sha256sum | cut -c1-12)
DAPRD_CACHE := .cache/daprd/$(DAPRD_KEY)/daprd
SENTRY_CACHE := .cache/daprd/$(DAPRD_KEY)/sentry
PROTOGEN_KEY := $(GO_TOOLCHAIN)-$(shell sha256sum tools/protogen/go.sum | cut -c1-12)
PROTOGEN_CACHE := .cache/protogen/$(PROTOGEN_KEY)
# kube-apiserver and etcd for the deployment tests, per toolchain and inputs.
KUBE_KEY := $(GO_TOOLCHAIN)-$(shell cat tools/kube-apiserver/go.sum tools/kube-apiserver/*.go tools/etcd/go.sum tools/etcd/*.go | sha256sum | cut -c1-12)
KUBE_CACHE := .cache/kube/$(KUBE_KEY)
# The one-node cluster (tools/cluster): node components and kubectl
# (tools/kube-node), CoreDNS, Helm and Dapr's control plane, per toolchain
# and inputs; kube-apiserver, etcd, daprd and Sentry come from the caches
# above.
CLUSTER_KEY := $(GO_TOOLCHAIN)-$(shell cat tools/kube-node/go.mod tools/kube-node/go.sum tools/kube-node/pause/*.go \
	tools/coredns/go.sum tools/coredns/*.go tools/helm/go.mod tools/helm/go.sum \
	tools/dapr-control-plane/go.mod tools/dapr-control-plane/go.sum | sha256sum | cut -c1-12)
CLUSTER_CACHE := .cache/cluster/$(CLUSTER_KEY)
CLUSTER_BIN := bin/cluster
# Dapr's Helm chart, as shipped in the pinned dapr module.
DAPR_CHART = $$(cd tools/daprd && GOWORK=off go list -m -f '{{.Dir}}' github.com/dapr/dapr)/charts/dapr
CLUSTER_ENV = DAPR_VERSION=$(DAPR_VERSION) DAPR_CHART="$(DAPR_CHART)" IMAGES_ENV=$(CURDIR)/$(IMAGES_ENV) CLUSTER_BIN=$(CURDIR)/$(CLUSTER_BIN)
# The vulnerability database is built from the pinned golang.org/x/vulndb
# (tools/vulncheck/go.mod) and kept per version; the checker per toolchain
# and go.sum.
VULNDB_VERSION := $(shell sed -n 's|^\tgolang.org/x/vulndb \(v[^ ]*\)$$|\1|p' tools/vulncheck/go.mod)
VULNDB := .cache/vulndb/$(VULNDB_VERSION)
VULNCHECK_KEY := $(GO_TOOLCHAIN)-$(shell cat tools/vulncheck/go.sum tools/vulncheck/*.go | sha256sum | cut -c1-12)
VULNCHECK_BIN := .cache/vulncheck/$(VULNCHECK_KEY)

# Every module of the workspace, as package patterns.
MODULE_PATTERNS = $(shell go list -m -f '{{.Path}}/...')

# Modules built on their own (the Dockerfile builds each app with GOWORK=off).
STANDALONE_MODULES := $(shell go list -m -f '{{.Dir}}') $(CURDIR)/tests/deploy $(CURDIR)/tests/compose

# Container tests run on Docker, or on podman's Docker API where there is no
# Docker socket. PMS_IMAGES=local (the default) builds the base images
# offline (`make images`) and points the image variables at them;
# PMS_IMAGES=official uses the registry images docker-compose.yml names.
PMS_IMAGES ?= local
IMAGES_ENV := .cache/images/images.env
# A docker client with no daemon behind it does not count: podman's socket
# is used whenever /var/run/docker.sock does not answer.
CONTAINER_ENV = if [ -z "$$DOCKER_HOST" ] && [ -S /run/podman/podman.sock ] && \
		! curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1; then \
		export DOCKER_HOST=unix:///run/podman/podman.sock; fi; \
	$(if $(filter local,$(PMS_IMAGES)),set -a; . ./$(IMAGES_ENV); set +a;) \
	export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1;

.PHONY: alerts-check prerequisites cluster-prerequisites test-drill cluster-bin cluster-up cluster-down test-cluster help docs docs-check bench bench-short bench-scale build apps runner daprd run proto proto-check mod-check test test-unit test-go test-deploy vet fmt-check vulncheck test-with-postgres images test-containers web web-check clean

## help: list the targets (this page; `make` alone prints it)
help:
	@echo "Patient Management System — make targets:"
	@sed -n 's/^## \([^:]*\): */  \1\t/p' $(MAKEFILE_LIST) | sed 's/$$(DAPR_VERSION)/$(DAPR_VERSION)/' | expand -t 22

## build: the five apps, the runner, daprd and Sentry, into bin/
build: apps runner daprd

apps:
	@mkdir -p bin
	@for a in $(APPS); do go build -o bin/$$a ./apps/$$a || exit 1; done

runner:
	@mkdir -p bin
	go build -o bin/pmsrun ./tools/pmsrun
	go build -o bin/bench ./tools/bench

## daprd: the Dapr $(DAPR_VERSION) sidecar and Sentry (its certificate authority), built from Go modules (3-6 minutes the first time)
daprd: $(DAPRD_CACHE) $(SENTRY_CACHE)
	@mkdir -p bin
	@ln -sfn ../$(DAPRD_CACHE) bin/daprd
	@ln -sfn ../$(SENTRY_CACHE) bin/sentry
	@echo "bin/daprd -> $$(bin/daprd --version)"

$(DAPRD_CACHE):
	@echo "Building daprd $(DAPR_VERSION) (stable components); this takes a few minutes once..."
	@mkdir -p $(dir $@)
	cd tools/daprd && CGO_ENABLED=0 GOWORK=off go build -tags stablecomponents -trimpath \
		-ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)" \
		-o ../../$@.tmp .
	@mv $@.tmp $@

$(SENTRY_CACHE):
	@mkdir -p $(dir $@)
	cd tools/daprd && CGO_ENABLED=0 GOWORK=off go build -trimpath \
		-ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)" \
		-o ../../$@.tmp ./sentry
	@mv $@.tmp $@

## run: start the whole system (PostgreSQL, Kafka broker, apps, sidecars); Ctrl-C stops it
run: build
	bin/pmsrun -f .

$(PROTOGEN_CACHE)/buf:
	@mkdir -p $(PROTOGEN_CACHE)
	cd tools/protogen && GOWORK=off go build -o ../../$(PROTOGEN_CACHE)/ \
		github.com/bufbuild/buf/cmd/buf \
		google.golang.org/protobuf/cmd/protoc-gen-go \
		google.golang.org/grpc/cmd/protoc-gen-go-grpc

## docs: regenerate docs/configuration.md from the apps' configuration structs
docs: apps
	tools/docs/configuration.sh > docs/configuration.md

## docs-check: fail when docs/configuration.md is stale or a relative link in README.md or docs/ points at nothing
docs-check: apps
	@tools/docs/configuration.sh | diff -u docs/configuration.md - || { echo "docs/configuration.md is stale; run 'make docs' and commit"; exit 1; }
	cd tests && go test -count=1 ./docs/

## proto: regenerate the Go code of the contracts in proto/
proto: $(PROTOGEN_CACHE)/buf
	cd proto && PATH="$(CURDIR)/$(PROTOGEN_CACHE):$$PATH" buf generate

## proto-check: fail when the committed generated code differs from a fresh generation
proto-check: proto
	@git diff --exit-code -- proto || { echo "proto/: generated code is stale; run 'make proto' and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- proto); \
		if [ -n "$$untracked" ]; then echo "proto/: untracked generated files: $$untracked"; exit 1; fi

## mod-check: fail when a module's go.mod/go.sum is not tidy on its own (what an image build needs) or does not name the toolchain
mod-check:
	@for f in go.work $$(git ls-files '*go.mod'); do \
		grep -qx 'toolchain $(GO_TOOLCHAIN)' $$f || { echo "$$f: needs the line 'toolchain $(GO_TOOLCHAIN)' (a plain go build then uses the patched toolchain)"; exit 1; }; \
	done
	@for d in $(STANDALONE_MODULES); do \
		(cd $$d && GOWORK=off go mod tidy) || exit 1; \
	done
	@git diff --exit-code -- '*go.mod' '*go.sum' || { echo "go.mod/go.sum not tidy; run 'make mod-check' and commit"; exit 1; }

fmt-check:
	@out=$$(gofmt -l apps platform proto tools tests); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	go vet $(MODULE_PATTERNS)

$(VULNCHECK_BIN)/vulncheck:
	@mkdir -p $(VULNCHECK_BIN)
	cd tools/vulncheck && GOWORK=off go build -o ../../$(VULNCHECK_BIN)/ . golang.org/x/vulndb/cmd/indexdb

$(VULNDB)/index/db.json: | $(VULNCHECK_BIN)/vulncheck
	@rm -rf $(VULNDB).tmp && mkdir -p $(dir $(VULNDB))
	$(VULNCHECK_BIN)/indexdb -out $(VULNDB).tmp \
		-vulns "$$(cd tools/vulncheck && GOWORK=off go list -m -f '{{.Dir}}' golang.org/x/vulndb)/data/osv"
	@rm -rf $(VULNDB) && mv $(VULNDB).tmp $(VULNDB)

## vulncheck: fail when our code reaches a known vulnerability (govulncheck, pinned database) not accepted in tools/vulncheck/accepted.txt
vulncheck: $(VULNDB)/index/db.json
	$(VULNCHECK_BIN)/vulncheck -db $(VULNDB) -accept tools/vulncheck/accepted.txt \
		$(patsubst $(CURDIR)/%,%,$(STANDALONE_MODULES)) tools/daprd:stablecomponents

# step runs one make target and prints how long it took.
step = @start=$$(date +%s); $(MAKE) --no-print-directory $(1) || exit 1; \
	echo "==> $(1): $$(( $$(date +%s) - start ))s"

## prerequisites: install (Debian/Ubuntu, as root) what the tests and the cluster need beyond Go and PostgreSQL: a container engine, debootstrap, Chromium, containerd and its companions, pgBackRest; quiet when all is there
prerequisites:
	@tools/prerequisites.sh

## test: everything CI runs: generated code, tidiness, formatting, vet, vulnerabilities, docs, alert rules, deployment files, unit, store, end-to-end, restore drill, container and cluster tests, a short benchmark
test:
	$(call step,prerequisites)
	$(call step,proto-check)
	$(call step,mod-check)
	$(call step,fmt-check)
	$(call step,vet)
	$(call step,vulncheck)
	$(call step,build)
	$(call step,docs-check)
	$(call step,alerts-check)
	$(call step,web-check)
	$(call step,test-deploy)
	$(call step,test-with-postgres)
	$(call step,test-drill)
	$(call step,test-containers)
	$(call step,test-cluster)
	$(call step,bench-short)

## bench: measure the system as it ships (docs/performance.md); ARGS=-short runs every phase briefly
bench: build
	bin/bench $(ARGS)

## bench-scale: grow the registry by bulk import to 1,000, 100,000 and 1,000,000 patients and measure it at each (docs/performance.md); SIZES=1000,100000 for fewer
SIZES ?= 1000,100000,1000000
bench-scale: build
	@command -v pgbackrest >/dev/null || { echo "bench-scale needs pgBackRest (Debian package pgbackrest; make prerequisites installs it)"; exit 1; }
	bin/bench -scale $(SIZES) -out .data/bench-scale

# bench-short: check that the benchmark runs (make test); it measures nothing.
bench-short: build
	bin/bench -short -out .data/bench-short

## alerts-check: the alert rules (infrastructure/observability) pass promtool's check and their unit tests
alerts-check:
	promtool check rules infrastructure/observability/alerts.yml
	promtool test rules infrastructure/observability/alerts_test.yml

## web: install the pinned npm packages (tools/web): Swagger UI's source, and httpyac, playwright-core and the FHIR clients (fhir-kit-client, @medplum/core) for the end-to-end tests
web:
	cd tools/web && npm ci --no-audit --no-fund --silent

## web-check: fail when the Swagger UI embedded in the gateway differs from the pinned swagger-ui-dist
web-check:
	tools/web/vendor.sh -check

## images: build, without a registry, local equivalents of the base, PostgreSQL, Kafka (dev broker), daprd and Sentry images (tools/containers; root, podman or docker)
images: daprd
	DAPR_VERSION=$(DAPR_VERSION) tools/containers/local-images.sh

## test-containers: build the app images, run docker-compose.yml and walk it (tests/compose), and run patient-service's store tests on a PostgreSQL container
test-containers: build $(if $(filter local,$(PMS_IMAGES)),images)
	@$(CONTAINER_ENV) cd tests/compose && GOWORK=off go vet ./... && GOWORK=off go test -count=1 -timeout 30m ./...
	@$(CONTAINER_ENV) unset PMS_TEST_DATABASE_URL; cd apps/patient-service && go test -count=1 ./...

## test-unit: every module's unit tests in seconds; no PostgreSQL, container engine or daprd (store, container and end-to-end tests skip under -short)
test-unit:
	go test -short -count=1 $(MODULE_PATTERNS)

test-with-postgres: runner
	bin/pmsrun with-postgres -- $(MAKE) --no-print-directory test-go

## test-drill: the point-in-time restore drill (docs/runbooks/restore.md): the system on a cluster archiving WAL with pgBackRest, a backup, a dropped table, a restore to a time before it, the system started on it
test-drill: build
	@command -v pgbackrest >/dev/null || { echo "test-drill needs pgBackRest (Debian package pgbackrest)"; exit 1; }
	cd tests && PMS_DRILL=1 go test -count=1 -v -timeout 10m -run . ./drill/

$(KUBE_CACHE)/kube-apiserver:
	@echo "Building kube-apiserver (once; a few minutes)..."
	@mkdir -p $(KUBE_CACHE)
	cd tools/kube-apiserver && GOWORK=off go build -trimpath -ldflags "-s -w" -o ../../$@.tmp .
	@mv $@.tmp $@

$(KUBE_CACHE)/etcd:
	@mkdir -p $(KUBE_CACHE)
	cd tools/etcd && GOWORK=off go build -trimpath -ldflags "-s -w" -o ../../$@.tmp .
	@mv $@.tmp $@

## test-deploy: check Dockerfile, docker-compose.yml, Kubernetes and CloudFormation files, applying the manifests to a real kube-apiserver on loopback
test-deploy: $(KUBE_CACHE)/kube-apiserver $(KUBE_CACHE)/etcd
	cd tests/deploy && GOWORK=off go vet ./... && \
		KUBE_APISERVER=$(CURDIR)/$(KUBE_CACHE)/kube-apiserver ETCD=$(CURDIR)/$(KUBE_CACHE)/etcd \
		GOWORK=off go test -count=1 ./...

# Needs PMS_TEST_DATABASE_URL (set by `pmsrun with-postgres`), and for the
# browser and request-file tests tools/web's packages and Chromium.
# Artifacts (the browser test's screenshots) go to .data/test-artifacts.
test-go:
	@mkdir -p $(CURDIR)/.data/test-artifacts
	go test -count=1 -shuffle=on -timeout 20m -artifacts -outputdir $(CURDIR)/.data/test-artifacts $(MODULE_PATTERNS)

$(CLUSTER_CACHE)/kubelet:
	@echo "Building the node components and kubectl (once; a few minutes)..."
	@mkdir -p $(CLUSTER_CACHE)/tmp
	cd tools/kube-node && CGO_ENABLED=0 GOWORK=off go build -trimpath \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v1.32.3" -o ../../$(CLUSTER_CACHE)/tmp/ \
		k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-proxy \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet ./pause
	@mv $(CLUSTER_CACHE)/tmp/* $(CLUSTER_CACHE)/ && rmdir $(CLUSTER_CACHE)/tmp

$(CLUSTER_CACHE)/coredns:
	@mkdir -p $(CLUSTER_CACHE)
	cd tools/coredns && CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags "-s -w" -o ../../$@.tmp .
	@mv $@.tmp $@

$(CLUSTER_CACHE)/helm:
	@mkdir -p $(CLUSTER_CACHE)
	cd tools/helm && CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags "-s -w" -o ../../$@.tmp helm.sh/helm/v3/cmd/helm
	@mv $@.tmp $@

$(CLUSTER_CACHE)/operator:
	@mkdir -p $(CLUSTER_CACHE)/dapr-tmp
	cd tools/dapr-control-plane && CGO_ENABLED=0 GOWORK=off go build -trimpath \
		-ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)" -o ../../$(CLUSTER_CACHE)/dapr-tmp/ \
		github.com/dapr/dapr/cmd/injector github.com/dapr/dapr/cmd/placement \
		github.com/dapr/dapr/cmd/scheduler github.com/dapr/dapr/cmd/operator
	@mv $(CLUSTER_CACHE)/dapr-tmp/* $(CLUSTER_CACHE)/ && rmdir $(CLUSTER_CACHE)/dapr-tmp

# cluster-prerequisites: what the cluster needs (make prerequisites, less
# Chromium and npm).
cluster-prerequisites:
	@ONLY=cluster tools/prerequisites.sh

# cluster-bin: every binary of the one-node cluster, linked into bin/cluster.
cluster-bin: daprd $(KUBE_CACHE)/kube-apiserver $(KUBE_CACHE)/etcd $(CLUSTER_CACHE)/kubelet $(CLUSTER_CACHE)/coredns $(CLUSTER_CACHE)/helm $(CLUSTER_CACHE)/operator
	@mkdir -p $(CLUSTER_BIN)
	@for b in kube-apiserver etcd; do ln -sfn ../../$(KUBE_CACHE)/$$b $(CLUSTER_BIN)/$$b; done
	@for b in kubelet kube-proxy kube-controller-manager kube-scheduler kubectl pause coredns helm operator injector placement scheduler; do \
		ln -sfn ../../$(CLUSTER_CACHE)/$$b $(CLUSTER_BIN)/$$b; done
	@ln -sfn ../../$(DAPRD_CACHE) $(CLUSTER_BIN)/daprd
	@ln -sfn ../../$(SENTRY_CACHE) $(CLUSTER_BIN)/sentry

## cluster-up: start a one-node Kubernetes cluster here (root; containerd, runc, conntrack from Debian), install Dapr with Helm and deploy the system (docs/operations/kubernetes.md)
cluster-up: cluster-prerequisites cluster-bin images
	$(CLUSTER_ENV) tools/cluster/node.sh up
	$(CLUSTER_ENV) tools/cluster/images.sh
	$(CLUSTER_ENV) tools/cluster/deploy.sh
	@echo "Gateway and staff console: http://127.0.0.1:30404/"
	@echo "kubectl: export KUBECONFIG=$(CURDIR)/.data/cluster/kubeconfig PATH=$(CURDIR)/$(CLUSTER_BIN):\$$PATH"

## cluster-down: stop the one-node cluster and remove everything it made (processes, mounts, interfaces, iptables chains, state)
cluster-down:
	$(CLUSTER_ENV) tools/cluster/node.sh down
	$(CLUSTER_ENV) tools/cluster/leftovers.sh

## test-cluster: cluster-up, the cluster checks (tests/cluster: sidecars, access control, the walk, scale-out, lost pods, rolling restarts), cluster-down
test-cluster: cluster-prerequisites cluster-bin images
	@rc=0; $(MAKE) --no-print-directory cluster-up && \
		(cd tests && PMS_CLUSTER_KUBECONFIG=$(CURDIR)/.data/cluster/kubeconfig PATH=$(CURDIR)/$(CLUSTER_BIN):$$PATH \
			go test -count=1 -timeout 30m -v ./cluster/) || rc=1; \
		$(MAKE) --no-print-directory cluster-down || rc=1; exit $$rc

## clean: remove bin/, .data/ and app logs (keeps the .cache/ build cache)
clean:
	@if ls .data/cluster/run/*.pid >/dev/null 2>&1; then echo "the one-node cluster is running: make cluster-down first"; exit 1; fi
	rm -rf bin .data apps/*/.dapr
