# trailsift: `make demo` builds and runs the main job on the bundled
# samples; `make test` runs the tests.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN := ./trailsift

.PHONY: build demo test fuzz bench lint clean

build:
	CGO_ENABLED=1 go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/trailsift

demo: build
	$(BIN) analyze --out demo-case samples/s3-export.zip samples/event-history.json samples/lookup-events-page*.json samples/lake-export.ndjson samples/corrupt/ ; test $$? -le 5

test:
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above" && exit 1)
	go vet ./...
	go test ./...
	go test -race ./ingest/ ./lake/

fuzz:
	go test ./ingest/ -run XXX -fuzz FuzzSplitStream -fuzztime 60s
	go test ./ingest/ -run XXX -fuzz FuzzNormalize -fuzztime 60s
	go test ./ingest/ -run XXX -fuzz FuzzZipWalker -fuzztime 60s
	go test ./ingest/ -run XXX -fuzz FuzzTarWalker -fuzztime 60s

bench: build
	bash samples/bench.sh

clean:
	rm -rf $(BIN) demo-case bench-out
