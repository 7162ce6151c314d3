package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// GPHome returns $GPHOME, which every tool requires (spec §1.5). The
// server programs run from it, and pg_ctl hands the postgres binary's path
// to /bin/sh in double quotes, so it must pass CheckPath.
func GPHome(getenv func(string) string) (string, error) {
	h := getenv("GPHOME")
	if h == "" {
		return "", errors.New("Environment Variable GPHOME not set")
	}
	if err := CheckPath("GPHOME", h); err != nil {
		return "", err
	}
	return h, nil
}

// CoordinatorDataDir returns the coordinator data directory (MDD) as an
// absolute, clean path (spec §1.5): flagValue (-d) if set, else
// $COORDINATOR_DATA_DIRECTORY, else $MASTER_DATA_DIRECTORY. The lookup is
// the same for every flavour; only the error names the variable f's tools
// use: "Environment Variable MASTER_DATA_DIRECTORY not set!" for GP6 (and
// an unknown flavour), COORDINATOR_DATA_DIRECTORY for GP7 and Cloudberry.
func CoordinatorDataDir(flagValue string, getenv func(string) string, f Flavour) (string, error) {
	dir := flagValue
	for _, name := range []string{"COORDINATOR_DATA_DIRECTORY", "MASTER_DATA_DIRECTORY"} {
		if dir == "" {
			dir = getenv(name)
		}
	}
	if dir == "" {
		name := "MASTER_DATA_DIRECTORY"
		if f == GP7 || f == Cloudberry {
			name = "COORDINATOR_DATA_DIRECTORY"
		}
		return "", fmt.Errorf("Environment Variable %s not set!", name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("coordinator data directory %q: %w", dir, err)
	}
	return abs, nil
}

// ErrStopped is returned by ReadCoordinatorState when the coordinator data
// directory has no postmaster.pid; its text is Greenplum's.
var ErrStopped = errors.New("Greenplum database appears to be stopped")

// CoordinatorState is what the coordinator's data directory says about the
// running coordinator (spec §1.7).
type CoordinatorState struct {
	// Utility is true when the postmaster was started with gp_role=utility
	// (an admin start): the tools then skip pair validation.
	Utility bool
	// Restricted is true when it was started with
	// superuser_reserved_connections (gpstart -R).
	Restricted bool
	// Opts is the content of postmaster.opts, trimmed.
	Opts string
}

// ReadCoordinatorState reads MDD/postmaster.pid (missing: ErrStopped) and
// MDD/postmaster.opts.
func ReadCoordinatorState(mdd string) (CoordinatorState, error) {
	if _, err := os.Stat(filepath.Join(mdd, "postmaster.pid")); errors.Is(err, fs.ErrNotExist) {
		return CoordinatorState{}, ErrStopped
	} else if err != nil {
		return CoordinatorState{}, fmt.Errorf("check coordinator postmaster.pid: %w", err)
	}
	opts, err := os.ReadFile(filepath.Join(mdd, "postmaster.opts"))
	if err != nil {
		return CoordinatorState{}, fmt.Errorf("read coordinator postmaster.opts: %w", err)
	}
	return ParsePostmasterOpts(string(opts)), nil
}

// ParsePostmasterOpts interprets the content of postmaster.opts, e.g.
// `/usr/local/gpdb/bin/postgres "-D" "/data/qddir" "-c" "gp_role=utility"`.
func ParsePostmasterOpts(opts string) CoordinatorState {
	return CoordinatorState{
		Utility:    strings.Contains(opts, "gp_role=utility"),
		Restricted: strings.Contains(opts, "superuser_reserved_connections"),
		Opts:       strings.TrimSpace(opts),
	}
}
