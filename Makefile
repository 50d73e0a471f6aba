# trailsift: `make demo` builds and runs the main job on the bundled
# samples; `make test` runs the tests.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN := ./trailsift
# duckdb-go's Arrow interface, through which a first load streams its
# events into the store (lake/stream.go). Without the tag trailsift builds
# too, and stages every load as Parquet first: slower.
export GOFLAGS := -tags=duckdb_arrow $(GOFLAGS)
# Linters, pinned, built once into .tools/ from the Go module proxy.
TOOLS := $(CURDIR)/.tools
GOLANGCI_LINT := $(TOOLS)/golangci-lint
GOLANGCI_LINT_VERSION := v2.15.0
DEADCODE := $(TOOLS)/deadcode
DEADCODE_VERSION := v0.52.0
GOTESTSUM := $(TOOLS)/gotestsum
GOTESTSUM_VERSION := v1.13.0
FUZZTIME ?= 60s

.PHONY: build demo test fuzz bench lint clean

build:
	CGO_ENABLED=1 go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/trailsift

demo: build
	@# The samples hold a corrupt file (exit 3) and a tampered digest (exit 5);
	@# an error (1) or a usage error (2) fails the target.
	$(BIN) analyze --out demo-case samples/s3-export.zip samples/event-history.json samples/lookup-events-page*.json samples/lake-export.ndjson samples/corrupt/ ; \
	  s=$$?; case $$s in 0|3|4|5) ;; *) exit $$s ;; esac

# Tests print each test as it ends, and the summary lists what was skipped
# (the headless-browser check, when Chromium is missing).
test: lint $(GOTESTSUM)
	$(GOTESTSUM) --format testname --format-hide-empty-pkg -- ./...
	$(GOTESTSUM) --format pkgname --format-hide-empty-pkg -- -race ./ingest/ ./lake/

# gofmt, go vet, golangci-lint (.golangci.yml: errcheck, staticcheck,
# depguard for the layers...) and deadcode.
lint: $(GOLANGCI_LINT) $(DEADCODE)
	@echo "lint: gofmt, go vet, golangci-lint $(GOLANGCI_LINT_VERSION), deadcode"
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above" && exit 1)
	go vet ./...
	GOFLAGS= go vet ./...
	$(GOLANGCI_LINT) run ./...
	@out=$$($(DEADCODE) -tags duckdb_arrow -test ./...); if [ -n "$$out" ]; then echo "$$out"; echo "deadcode: the functions above are never called"; exit 1; fi

$(GOLANGCI_LINT):
	GOBIN=$(TOOLS) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(GOTESTSUM):
	GOBIN=$(TOOLS) go install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

$(DEADCODE):
	GOBIN=$(TOOLS) go install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)

# Every fuzz target, FUZZTIME each (make fuzz FUZZTIME=10m).
fuzz:
	go test ./ingest/ -run XXX -fuzz FuzzSplitStream -fuzztime $(FUZZTIME)
	go test ./ingest/ -run XXX -fuzz FuzzNormalize -fuzztime $(FUZZTIME)
	go test ./ingest/ -run XXX -fuzz FuzzZipWalker -fuzztime $(FUZZTIME)
	go test ./ingest/ -run XXX -fuzz FuzzTarWalker -fuzztime $(FUZZTIME)
	go test ./integrity/ -run XXX -fuzz FuzzParseDigest -fuzztime $(FUZZTIME)
	go test ./query/ -run XXX -fuzz FuzzParseRule -fuzztime $(FUZZTIME)
	go test ./sigma/ -run XXX -fuzz FuzzParse -fuzztime $(FUZZTIME)

bench: build
	bash samples/bench.sh

clean:
	rm -rf $(BIN) demo-case bench-out $(TOOLS)
