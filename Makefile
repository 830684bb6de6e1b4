# auditlake — the two commands a new user types: `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/auditlake
DEMO_DIR ?= demo-data
DEMO_EVENTS ?= 200000
LISTEN ?= 127.0.0.1:8080
export AUDITLAKE_DATA ?= $(abspath $(DEMO_DIR))/lake

.PHONY: all build web demo demo-data test test-go bench stress clean fuzz

all: build

# The web assets are built with npm (lock file committed) and embedded in the binary; the build
# (web/dist) is committed too, so that `go install` serves the dashboard, and `make test` checks
# that it equals a fresh build (scripts/check-web-dist.sh).
web:
	@if [ -f web/package.json ]; then \
		if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then npm ci --prefix web --no-audit --no-fund; fi; \
		npm run build --prefix web; \
	fi

build: web
	$(GO) build -o $(BIN) ./cmd/auditlake

# Generates a sample organization, ingests it and serves the dashboard.
demo: build
	./scripts/demo.sh "$(DEMO_DIR)" "$(DEMO_EVENTS)" "$(LISTEN)"

test: web
	./scripts/check-web-dist.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...
	./scripts/fuzz.sh 5

# Every fuzz target for FUZZTIME seconds each; a crasher fails the run and stays in testdata/fuzz/.
fuzz:
	./scripts/fuzz.sh $(or $(FUZZTIME),60)

bench: build
	mkdir -p bench-data && set -o pipefail && ./scripts/bench.sh | tee bench-data/report.md

stress: build
	AUDITLAKE_STRESS=1 $(GO) test -count=1 -timeout 60m -run 'SIGKILL|Stress' ./...

clean:
	rm -rf bin $(DEMO_DIR) bench-data
