package cluster

import (
	"path"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Fields of pg_controldata's report the tools read.
const (
	ControlCatalogVersion  = "Catalog version number"
	ControlChecksumVersion = "Data page checksum version"
	ControlTimeLineID      = "Latest checkpoint's TimeLineID"
	ControlClusterState    = "Database cluster state"
)

// controlDataTimeout bounds a pg_controldata run (it reads one file): a
// host or file system that hangs is reported, never waited for.
const controlDataTimeout = 2 * time.Minute

// ControlDataCommand runs $GPHOME/bin/pg_controldata on dataDir on host.
func ControlDataCommand(host, gphome, dataDir string) remote.Command {
	return remote.Command{Host: host, Argv: []string{path.Join(gphome, "bin", "pg_controldata"), dataDir}, Label: "pg_controldata " + dataDir,
		Timeout: controlDataTimeout}
}

// ControlDataField returns the value of one "<name>: <value>" line of
// pg_controldata's output, trimmed; ok is false when the line is absent.
func ControlDataField(out, name string) (value string, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		if v, found := strings.CutPrefix(line, name+":"); found {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
