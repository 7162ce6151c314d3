package recoverseg

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// label is the start of a backup_label as PostgreSQL writes it.
func label(startLSN, file string) string {
	return "START WAL LOCATION: " + startLSN + " (file " + file + ")\nCHECKPOINT LOCATION: " + startLSN +
		"\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-04 14:49:17 UTC\nLABEL: differential_backup\nSTART TIMELINE: 1\n"
}

// TestBackupWAL: the segments a backup needs, from its label's start file
// to the one holding its stop LSN, with PostgreSQL's 16 MB segments (the
// bed), Greenplum 7's 64 MB ones, across an "xlog id" boundary and on a
// later timeline.
func TestBackupWAL(t *testing.T) {
	for _, tt := range []struct {
		name          string
		label, stop   string
		segSize       int64
		want          []string
		wantTLI       uint32
		wantPerID     uint64
		wantFirstLast [2]uint64
	}{
		{"16 MB", label("0/5000028", "000000010000000000000005"), "0/6000100", 16 << 20,
			[]string{"000000010000000000000005", "000000010000000000000006"}, 1, 256, [2]uint64{5, 6}},
		{"64 MB, one segment", label("0/C000028", "000000010000000000000003"), "0/C0A0000", 64 << 20,
			[]string{"000000010000000000000003"}, 1, 64, [2]uint64{3, 3}},
		{"across an id", label("1/FF000028", "0000000300000001000000FF"), "2/1000000", 16 << 20,
			[]string{"0000000300000001000000FF", "000000030000000200000000", "000000030000000200000001"}, 3, 256, [2]uint64{511, 513}},
	} {
		w, err := backupWAL(tt.label, tt.stop, tt.segSize)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if w.TLI != tt.wantTLI || w.PerID != tt.wantPerID || w.First != tt.wantFirstLast[0] || w.Last != tt.wantFirstLast[1] {
			t.Errorf("%s: %+v", tt.name, w)
		}
		if d := cmp.Diff(tt.want, w.Names()); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
}

// TestBackupWALRefuses what it cannot read.
func TestBackupWALRefuses(t *testing.T) {
	good := label("0/5000028", "000000010000000000000005")
	for _, tt := range []struct {
		name, label, stop string
		segSize           int64
		want              string
	}{
		{"segment size", good, "0/6000000", 3 << 20, "not a power of two"},
		{"no start", "LABEL: x\n", "0/6000000", 16 << 20, "names no START WAL LOCATION"},
		{"bad stop", good, "6000000", 16 << 20, "is not an LSN"},
		{"stop before start", good, "0/4000000", 16 << 20, "is before its start segment"},
		{"name for another segment size", label("0/5000028", "0000000100000000000000FF"), "0/FF000000", 64 << 20, "is not a WAL file name for 64 segments per id"},
	} {
		if _, err := backupWAL(tt.label, tt.stop, tt.segSize); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
