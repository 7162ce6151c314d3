# gpmgmt — Greenplum cluster management utilities in Go.
#
# make test   everything (unit and integration), as gpadmin; run as root on a
#             fresh Debian 12 machine it first installs what is missing
# make demo   builds everything, creates a local demo cluster and shows it
# make demo-failover  on the demo cluster: a primary killed, FTS's failover,
#             gprecoverseg, gprecoverseg -r (the seed article's story)
# make demo-clean  destroys the demo cluster
# make bench  benchmarks against measured floors (ratios, never assertions)
# make build  static binaries in ./bin (BIN=dir to put them elsewhere)
# make install  the tools into $(DESTDIR)$(PREFIX)/bin (PREFIX=/usr/local), their
#             man pages and bash, zsh and fish completions into share/
# make dist   release tarballs for $(PLATFORMS) and their SHA-256 file in ./dist
# make reliability  the long suites: every fuzz target for FUZZTIME (30s)
#             each (make fuzz alone; make test runs their seed corpora, then
#             each target for TEST_FUZZTIME, 10s), then the fault campaign
#             and the gpstate load run; prints the fault table
#             (docs/reliability.md)

GO      ?= go
BIN     := bin
GOFILES  = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './demo-cluster/*')

# The version --version prints: git describe where git works here, else
# "unknown" (gpadmin may not be allowed to run git in a tree root owns:
# make test computes it as root and passes it down).
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

# Every binary is static: CGO_ENABLED=0 links no libc, so one build runs on
# any Linux of its architecture, glibc 2.17 (RHEL/CentOS 7) included, and
# uses Go's own resolver (/etc/hosts, DNS) and user lookup (/etc/passwd);
# docs/ci.md says what that changes. -trimpath keeps build paths out of the
# binaries; -buildvcs=false keeps their bytes independent of whether git
# works here (the stamped version names the commit).
GOBUILD  = CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false \
	-ldflags "-X github.com/gpmgmt/gpmgmt/pkg/app.stampedVersion=$(VERSION)"

# What a DBA installs and what make dist ships. gpdemo is left out: it
# needs the compat GPHOME built from this tree (make demo).
TOOLS     := gpstate gpstart gpstop gpaddmirrors gprecoverseg
PREFIX    ?= /usr/local
PLATFORMS := linux/amd64 linux/arm64
DIST      := dist

# make test fuzzes each target this long after the tests; make fuzz, 30 s.
TEST_FUZZTIME ?= 10s

.PHONY: build install dist test test-local vet fuzz reliability reliability-local bench bench-local demo demo-failover demo-clean compat clean

build:
	$(GOBUILD) -o $(BIN)/ ./cmd/...

# GOOS and GOARCH from the environment choose the platform (make dist);
# the man pages and bash, zsh and fish completions are generated from the
# commands on the build machine, for any platform (internal/gendocs).
install:
	$(GOBUILD) -o $(BIN)/ $(addprefix ./cmd/,$(TOOLS))
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(addprefix $(BIN)/,$(TOOLS)) $(DESTDIR)$(PREFIX)/bin/
	env -u GOOS -u GOARCH $(GO) run ./internal/gendocs "$(VERSION)" "$(DESTDIR)$(PREFIX)"

# One tarball per platform, each what make install puts in a PREFIX plus
# README.md (and LICENSE, when the tree has one), and a SHA-256 file.
# Reproducible: the same commit and Go release give the same bytes.
dist:
	MAKE="$(MAKE)" scripts/dist.sh "$(VERSION)" "$(DIST)" $(PLATFORMS)

test:
	scripts/as-gpadmin.sh $(MAKE) --no-print-directory test-local VERSION=$(VERSION)

# The whole suite in one go test run: the integration tag adds the tests that
# need real sshd and PostgreSQL; in CI a missing server fails them.
test-local: vet
	$(GO) test -count=1 -race -tags integration -timeout 40m ./...
	FUZZTIME=$(TEST_FUZZTIME) GO=$(GO) scripts/fuzz.sh

# Fuzzing needs no server: it runs as whoever calls it. go test in make test
# already runs every target's seed corpus as a plain test; this explores.
fuzz:
	GO=$(GO) scripts/fuzz.sh

# The fuzzing, then the fault campaign and the gpstate load run (as
# gpadmin, on the machine make test prepares); prints the fault table.
reliability: fuzz
	scripts/as-gpadmin.sh $(MAKE) --no-print-directory reliability-local

reliability-local:
	GO=$(GO) scripts/reliability.sh

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
	$(GO) test -tags integration -run '^$$' -bench '^BenchmarkRecoverseg(Incremental|Full|Differential)$$' -benchtime 1x -timeout 60m ./e2e/recoverseg/
	$(GO) test -tags integration -run '^$$' -bench '^BenchmarkRebalance$$' -benchtime 1x -timeout 30m ./e2e/
	$(GO) test -tags integration -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -timeout 3h ./e2e/

# The demo cluster lives in ./demo-cluster and runs as gpadmin with the
# tools of make build (./bin), which its env file puts first in PATH; the
# compat GPHOME is built into ./build, which gpadmin owns.
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
	rm -rf $(BIN) build $(DIST)
