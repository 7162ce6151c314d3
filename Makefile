# gpmgmt — Greenplum cluster management utilities in Go.
#
# make test   everything (unit and integration), as gpadmin; run as root on a
#             fresh Debian 12 machine it first installs what is missing
# make demo   builds everything, creates a local demo cluster and shows it
# make demo-failover  on the demo cluster: a primary killed, FTS's failover,
#             gprecoverseg, gprecoverseg -r (the seed article's story)
# make demo-clean  destroys the demo cluster
# make bench  benchmarks against measured floors (ratios, never assertions)

GO      ?= go
BIN     := bin
GOFILES  = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './demo-cluster/*')

.PHONY: build test test-local vet bench bench-local demo demo-failover demo-clean compat clean

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
	$(GO) test -tags integration -run '^$$' -bench '^BenchmarkAddMirrors$$' -benchtime 1x -timeout 30m ./e2e/
	$(GO) test -tags integration -run '^$$' -bench '^BenchmarkGpstart$$' -benchtime 3x -timeout 30m ./e2e/
	$(GO) test -tags integration -run '^$$' -bench '^BenchmarkGpstate$$' -benchtime 1x -timeout 30m ./e2e/

# The demo cluster lives in ./demo-cluster and runs as gpadmin; the compat
# GPHOME and the binaries it uses are built into ./build, which gpadmin owns.
demo: build
	GPADMIN_WRITABLE="demo-cluster build" scripts/as-gpadmin.sh scripts/demo.sh create

demo-failover: build
	GPADMIN_WRITABLE="demo-cluster build" scripts/as-gpadmin.sh scripts/demo.sh failover

demo-clean:
	GPADMIN_WRITABLE="demo-cluster build" scripts/as-gpadmin.sh scripts/demo.sh clean

# The compat GPHOME (PostgreSQL 15 with Greenplum 7's interface) for tests.
compat:
	$(MAKE) -C compat gphome GPHOME_DIR=$(CURDIR)/build/compat-gphome

clean:
	rm -rf $(BIN) build
