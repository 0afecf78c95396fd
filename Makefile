# vault-plugin-secrets-palo. The two commands a new machine needs:
#   make demo   the main job end to end, on a real Vault and the built-in fake vendor
#   make test   every test: lint, unit (-race), fuzz smoke, end-to-end against a real Vault, and the
#               release checks (static and reproducible builds, SBOM, signature, image, vulnerability scan)
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

PLUGIN    := vault-plugin-secrets-palo
VERSION   ?= $(shell cat $(CURDIR)/VERSION)
BIN_DIR   := $(CURDIR)/bin
TOOLS_BIN := $(CURDIR)/.tools/bin
FUZZTIME  ?= 10000x

export PATH := $(TOOLS_BIN):$(PATH)

.PHONY: all build fakevendor vault hydra deps demo dev test lint fmt unit rules fuzz e2e bench configure tools clean \
	release release-check vulncheck compat

all: build

## build: the plugin, bin/vault-plugin-secrets-palo, and the program that installs and configures it,
##        bin/palo-configure: static, -trimpath, the version stamped (VERSION, default: the VERSION file)
build:
	VERSION=$(VERSION) scripts/build.sh $(BIN_DIR)/$(PLUGIN)
	VERSION=$(VERSION) scripts/build.sh $(BIN_DIR)/palo-configure "" ./bootstrap/configure/cmd/palo-configure

## fakevendor: the fake of all four vendors, bin/fakevendor, and bin/palo-demo, which writes the
##             demo's accounts for it and the declarative file of their configs and roles
fakevendor:
	go build -trimpath -o $(BIN_DIR)/fakevendor ./internal/fakevendor/cmd/fakevendor
	go build -trimpath -o $(BIN_DIR)/palo-demo ./internal/demo/cmd/palo-demo

## vault: a vault binary (the one on PATH if recent enough, else built once from the module proxy)
vault:
	@scripts/get-vault.sh >/dev/null

## hydra: Ory Hydra, the real OAuth2 server of the e2e suite, built once per machine (tools/hydra)
hydra: deps
	@scripts/get-tool.sh hydra >/dev/null

## demo: dev Vault + plugin + fake vendor, read palo/creds/wildfire, stop everything
demo: build fakevendor vault
	PLUGIN_VERSION=$(VERSION) scripts/demo.sh

## dev: like demo, but leave Vault and the fake vendor running
dev: build fakevendor vault
	PLUGIN_VERSION=$(VERSION) scripts/dev.sh

## test: everything CI runs
test: deps lint rules unit fuzz e2e release-check vulncheck

tools:
	scripts/tools.sh

## deps: Debian packages the tests use (curl, shellcheck, gpg, gcc), installed with apt-get when missing
deps:
	scripts/deps.sh

## lint: gofumpt, go vet, golangci-lint (tests included), shellcheck, Terraform formatting
lint: tools deps
	@out="$$(gofumpt -l $$(git ls-files '*.go'))"; if [[ -n "$$out" ]]; then echo "not gofumpt-formatted:"; echo "$$out"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./e2e/...
	golangci-lint run ./...
	cd tools/release && go vet ./... && golangci-lint run ./...
	shellcheck scripts/*.sh bootstrap/*.sh docs/recipes/*.sh docs/recipes/agent/*.sh
	scripts/tf-fmt-check.sh

fmt: tools
	gofumpt -w $$(git ls-files '*.go')

## unit: unit tests with the race detector
unit:
	go test -race -count=1 ./...

## rules: promtool checks the alert rules and runs their unit tests (docs/monitoring/alerts*.yml);
##        promtool is built once per machine from the Go module proxy (scripts/get-tool.sh)
rules:
	promtool="$$(scripts/get-tool.sh promtool | tail -n1)"; \
	"$$promtool" check rules docs/monitoring/alerts.yml; \
	"$$promtool" test rules docs/monitoring/alerts_test.yml

## fuzz: a short run of every fuzz target, 10,000 inputs each (the seed corpora run in unit too)
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

## e2e: end-to-end tests against a real Vault server, CLI and Agent, and a real OAuth2 server (Hydra)
e2e: build fakevendor vault hydra
	VAULT_BIN="$$(scripts/get-vault.sh)" PLUGIN_BIN=$(BIN_DIR)/$(PLUGIN) PLUGIN_VERSION=$(VERSION) \
	FAKEVENDOR_BIN=$(BIN_DIR)/fakevendor CONFIGURE_BIN=$(BIN_DIR)/palo-configure HYDRA_BIN="$$(scripts/get-tool.sh hydra)" \
	go test -race -count=1 -tags e2e -parallel 4 -timeout 40m ./e2e/...

## bench: benchmarks against a real Vault; rewrites BENCHMARKS.md
bench: build fakevendor vault
	VERSION=$(VERSION) scripts/bench.sh

## configure: bootstrap/configure.sh again against the dev Vault, with the declarative file make dev wrote
##            (make dev first; ARGS="--dry-run" and the like are passed on)
configure: build
	bootstrap/configure-dev.sh $(ARGS)

## release: VERSION=vX.Y.Z: binaries, SHA256SUMS (signed if RELEASE_GPG_KEY is set), SBOMs,
##          RELEASE_NOTES.md and the OpenBao OCI image in dist/ (docs/releasing.md)
release:
	scripts/release.sh $(VERSION)

## release-check: the release tool's tests, static and reproducible builds, a signed release
##                checked end to end, its image through a loopback registry (part of make test)
release-check: build deps
	cd tools/release && go test -race -count=1 ./...
	VERSION=$(VERSION) scripts/release-check.sh

## vulncheck: govulncheck against the pinned local Go vulnerability database (part of make test)
vulncheck:
	scripts/vulncheck.sh

## compat: the e2e suite against every other Vault version the README's compatibility table lists
##         (each built once into the cache; about 18 minutes per version the first time)
compat:
	scripts/compat.sh

clean:
	rm -rf $(BIN_DIR) $(CURDIR)/dist
