# gpmgmt — Greenplum cluster management utilities in Go.
#
# make test   everything (unit and integration), as gpadmin; run as root on a
#             fresh Debian 12 machine it first installs what is missing
# make demo   builds the tools and prepares the local demo hosts
# make bench  benchmarks against measured floors (ratios, never assertions)

GO      ?= go
BIN     := bin
GOFILES  = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './demo-cluster/*')

.PHONY: build test test-local vet bench bench-local demo clean

build:
	$(GO) build -o $(BIN)/ ./cmd/...

test:
	scripts/as-gpadmin.sh $(MAKE) --no-print-directory test-local

# The whole suite in one go test run: the integration tag adds the tests that
# need real sshd and PostgreSQL; in CI a missing server fails them.
test-local: vet
	$(GO) test -count=1 -race -tags integration -timeout 40m ./...

vet:
	@unformatted=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

bench:
	scripts/as-gpadmin.sh $(MAKE) --no-print-directory bench-local

bench-local:
	$(GO) test -tags integration -run '^$$' -bench . -benchtime 5x ./pkg/remote/...

demo: build
	scripts/as-gpadmin.sh true
	@echo
	@echo "Built: $$(ls $(BIN) | tr '\n' ' ')"
	@echo "The demo hosts sdw1..sdw30 (127.0.60.1..30) answer SSH as gpadmin."
	@echo "Creating the demo cluster needs gpdemo, which is not in this build yet (issue 3)."
	@exit 1

clean:
	rm -rf $(BIN)
