package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DataDirVariable is the environment variable that names the coordinator
// data directory in f's tools' messages (CoordinatorDataDir reads both).
func DataDirVariable(f Flavour) string {
	if f == GP7 || f == Cloudberry {
		return "COORDINATOR_DATA_DIRECTORY"
	}
	return "MASTER_DATA_DIRECTORY"
}

// NotCoordinatorError says that the directory given as the coordinator's
// (-d or the environment) belongs to another instance.
type NotCoordinatorError struct {
	Dir     string
	Flavour Flavour
	Reason  string // "it holds standby.signal", ...
	What    string // "a mirror or a standby", "a segment"
}

// Error is one line naming the directory, what it is and what to do.
func (e *NotCoordinatorError) Error() string {
	word := e.Flavour.CoordinatorWord()
	return fmt.Sprintf("%s is the data directory of %s, not of the %s (%s); set %s or pass -d with the %s data directory",
		e.Dir, e.What, word, e.Reason, DataDirVariable(e.Flavour), word)
}

// CheckCoordinatorDataDir refuses, from its files alone, a data directory
// given as the coordinator's that is another instance's: one holding
// standby.signal (Greenplum 7) or recovery.conf (Greenplum 6) is a mirror's
// or a standby coordinator's; one whose postmaster.opts shows gp_role=execute
// was last started as a segment (Greenplum 7, Cloudberry). Greenplum 6
// primaries show neither: the tools find them by the catalog they serve
// (see the coordinator package). Files that cannot be read prove nothing
// and are left to the checks that follow.
func CheckCoordinatorDataDir(dir string, f Flavour) error {
	for _, name := range []string{"standby.signal", "recovery.conf"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return &NotCoordinatorError{Dir: dir, Flavour: f, What: "a mirror or a standby", Reason: "it holds " + name}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "postmaster.opts")); err == nil && strings.Contains(string(b), "gp_role=execute") {
		return &NotCoordinatorError{Dir: dir, Flavour: f, What: "a segment", Reason: "its postmaster.opts shows gp_role=execute"}
	}
	return nil
}
