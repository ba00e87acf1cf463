# skiff: `make run` builds and starts a single-node cluster; `make test` runs the tests.

KUBE_VERSION ?= v1.37.2
SKIFF_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
LDFLAGS := -s -w \
	-X main.version=$(SKIFF_VERSION) \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR)
export CGO_ENABLED := 0
GOFLAGS_TEST ?= -count=1
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/skiff,$(HOME)/.skiff)

SUITE_VERSION := v1.37.0
SUITE_LDFLAGS := -s -w \
	-X k8s.io/client-go/pkg/version.gitVersion=$(SUITE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=37 \
	-X k8s.io/client-go/pkg/version.gitTreeState=clean \
	-X k8s.io/component-base/version.gitVersion=$(SUITE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/component-base/version.gitTreeState=clean
SUITE_BIN := conformance/suite/bin

.PHONY: build run test test-unit test-e2e generate conformance conformance-build conformance-ci conformance-images bench-api bench-hollow bench-deployment bench-scheduler deps clean

build: bin/skiff

bin/skiff: FORCE
	go build -ldflags '$(LDFLAGS)' -o bin/skiff ./cmd/skiff

FORCE:

## deps installs what the build and tests need on a fresh Debian machine.
deps:
	@hack/install-deps.sh

run: deps build
	./bin/skiff server --data-dir $(DATA_DIR)

test: deps build
	go vet ./...
	SKIFF_BIN=$(CURDIR)/bin/skiff go test $(GOFLAGS_TEST) -timeout 25m ./...

generate:
	hack/update-codegen.sh

bench-api: build
	SKIFF_BIN=$(CURDIR)/bin/skiff go run ./bench/apiload

## bench-hollow: 1,000 hollow nodes and 10,000 pods; prints times, CPU and RSS.
bench-hollow: build
	SKIFF_BIN=$(CURDIR)/bin/skiff go run ./bench/hollow --nodes 1000 --pods 10000

## bench-deployment: a 3,000-replica Deployment on 100 and on 1,000 hollow
## nodes: time to fully available, scheduler pods/s, server RSS, database size.
bench-deployment: build
	SKIFF_BIN=$(CURDIR)/bin/skiff go run ./bench/hollow --nodes 100 --pods 0 --idle 0s --deployment 3000
	SKIFF_BIN=$(CURDIR)/bin/skiff go run ./bench/hollow --nodes 1000 --pods 0 --idle 0s --deployment 3000

## bench-scheduler: scheduling throughput on 1,000 nodes.
bench-scheduler: build
	SKIFF_BIN=$(CURDIR)/bin/skiff go run ./bench/scheduler

## conformance-build: e2e.test, kubectl and ginkgo of the suite's Kubernetes
## release, from conformance/suite (its own module; the first build takes
## about 15 minutes on 2 cores).
conformance-build:
	cd conformance/suite && go test -c -ldflags '$(SUITE_LDFLAGS)' -o bin/e2e.test k8s.io/kubernetes/test/e2e
	cd conformance/suite && go build -ldflags '$(SUITE_LDFLAGS)' -o bin/kubectl k8s.io/kubernetes/cmd/kubectl
	cd conformance/suite && go build -o bin/ginkgo github.com/onsi/ginkgo/v2/ginkgo

## conformance: the [Conformance] specs against a fresh server (TIER=0-1,
## FOCUS=regex, PROCS=n narrow it); results under conformance/results/.
conformance: deps build conformance-build
	SKIFF_BIN=$(CURDIR)/bin/skiff go run ./conformance/run $(if $(TIER),--tier '$(TIER)') $(if $(FOCUS),--focus '$(FOCUS)') $(if $(PROCS),--procs $(PROCS))

## conformance-ci: exactly the specs of conformance/passing.txt; fails if any fails.
conformance-ci: deps build conformance-build
	SKIFF_BIN=$(CURDIR)/bin/skiff go run ./conformance/run --specs conformance/passing.txt

## conformance-images: the images the conformance specs pull, under their
## exact names, as OCI tarballs in conformance/images/out (ONLY=agnhost,pause
## narrows it); as root each is then unpacked and checked under chroot.
## Import one with `ctr -n k8s.io images import FILE`.
IMAGES_VERIFY := $(if $(filter 0,$(shell id -u)),--verify)
conformance-images: deps
	go run ./conformance/images $(if $(ONLY),--only '$(ONLY)') $(IMAGES_VERIFY)
	$(if $(IMAGES_VERIFY),,@echo "not root: images built but not run under chroot (go run ./conformance/images --verify as root)")

clean:
	rm -rf bin
