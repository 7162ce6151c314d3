package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCoordinatorDataDir(t *testing.T) {
	for _, tt := range []struct {
		name, file, text string
		flavour          Flavour
		want             string // %s is the directory
	}{
		{"coordinator", "postmaster.opts", `/usr/local/gpdb/bin/postgres "-D" "/data/qddir" "-c" "gp_role=dispatch"`, GP7, ""},
		{"gp6 coordinator", "postmaster.opts", `/usr/local/gpdb/bin/postgres "-D" "/data/qddir" "-p" "7000" "-E"`, GP6, ""},
		{"gp7 mirror or standby", "standby.signal", "", GP7,
			"%s is the data directory of a mirror or a standby, not of the coordinator (it holds standby.signal); set COORDINATOR_DATA_DIRECTORY or pass -d with the coordinator data directory"},
		{"gp6 mirror or standby", "recovery.conf", "standby_mode = 'on'\n", GP6,
			"%s is the data directory of a mirror or a standby, not of the master (it holds recovery.conf); set MASTER_DATA_DIRECTORY or pass -d with the master data directory"},
		{"gp7 segment", "postmaster.opts", `/usr/local/gpdb/bin/postgres "-D" "/data/primary/gpseg0" "-c" "gp_role=execute"`, GP7,
			"%s is the data directory of a segment, not of the coordinator (its postmaster.opts shows gp_role=execute); set COORDINATOR_DATA_DIRECTORY or pass -d with the coordinator data directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got := ""
			if err := CheckCoordinatorDataDir(dir, tt.flavour); err != nil {
				got = err.Error()
			}
			if want := strings.ReplaceAll(tt.want, "%s", dir); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	if err := CheckCoordinatorDataDir(filepath.Join(t.TempDir(), "missing"), GP7); err != nil {
		t.Errorf("a missing directory proves nothing: %v", err)
	}
}
