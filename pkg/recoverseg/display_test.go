package recoverseg

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// vmSeg is a row of the second GP6 cluster (host vm, data under
// /data1/gpadmin/gp), as its transcripts recorded it.
func vmSeg(dbid, content int, role, preferred cluster.Role, port int, dir string) cluster.Segment {
	return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: preferred, Mode: cluster.ModeNotSynced,
		Status: cluster.StatusUp, Hostname: "vm", Address: "vm", Port: port, DataDir: "/data1/gpadmin/gp/" + dir}
}

// gp6Prefix is a GP6 log line's prefix, up to the level.
var gp6Prefix = regexp.MustCompile(`^\d{8}:\d\d:\d\d:\d\d:\d{6} gprecoverseg:[^:]+:[^-]+-`)

// transcriptBlock returns the messages of file (in testdata/recoverseg)
// from the line "Greenplum instance recovery parameters" to the last
// 57-dash line that follows it: the display.
func transcriptBlock(t *testing.T, file string) []string {
	return transcriptMessages(t, file, "[INFO]:-Starting to create new pg_hba.conf")
}

// transcriptMessages returns the messages of file, prefix removed, from
// the one ending "instance recovery parameters" up to the first that
// starts with until (excluded).
func transcriptMessages(t *testing.T, file, until string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "recoverseg", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	on := false
	for _, l := range strings.Split(string(b), "\n") {
		if !gp6Prefix.MatchString(l) {
			continue
		}
		m := gp6Prefix.ReplaceAllString(l, "")
		if strings.HasSuffix(m, "instance recovery parameters") {
			on = true
		}
		if on && strings.HasPrefix(m, until) {
			break
		}
		if on {
			out = append(out, m)
		}
	}
	return out
}

// displayed renders DisplayRecords as the tool logs them, without prefix.
func displayed(t *testing.T, f cluster.Flavour, ts []target) []string {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(gplog.NewHandler(gplog.Config{Prog: "gprecoverseg", Host: "vm", User: "gpadmin", PID: 1}, gplog.Sink{W: &buf, Level: slog.LevelInfo}))
	gplog.Emit(t.Context(), log, DisplayRecords(f, ts))
	return stripped(buf.String())
}

// stripped is out's lines without their GP log prefix.
func stripped(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		lines = append(lines, gp6Prefix.ReplaceAllString(l, ""))
	}
	return lines
}

// TestDisplayMatchesGP6 compares the display with Greenplum 6's own, line
// for line after the log prefix, for the second cluster's recoveries: a
// failed-over primary rewound from its promoted mirror, and a mirror that
// went down.
func TestDisplayMatchesGP6(t *testing.T) {
	for _, tt := range []struct {
		file string
		t    target
	}{
		{"gp6-failover.txt", target{
			Failed: vmSeg(3, 1, cluster.RoleMirror, cluster.RolePrimary, 7003, "primary/gpseg1"),
			Source: vmSeg(5, 1, cluster.RolePrimary, cluster.RoleMirror, 7005, "mirror/gpseg1")}},
		{"gp6-mirror-down.txt", target{
			Failed: vmSeg(4, 0, cluster.RoleMirror, cluster.RoleMirror, 7004, "mirror/gpseg0"),
			Source: vmSeg(2, 0, cluster.RolePrimary, cluster.RolePrimary, 7002, "primary/gpseg0")}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			want := transcriptBlock(t, tt.file)
			if len(want) < 10 {
				t.Fatalf("no display in %s", tt.file)
			}
			if d := cmp.Diff(want, displayed(t, cluster.GP6, []target{tt.t})); d != "" {
				t.Errorf("display differs from Greenplum 6's (-gp6 +ours):\n%s", d)
			}
		})
	}
}

// TestDisplayFullMatchesGP6 is the same for gprecoverseg -F -a -v on the
// first GP6 cluster (host mdw).
func TestDisplayFullMatchesGP6(t *testing.T) {
	seg := func(dbid, content int, role cluster.Role, port int, dir string) cluster.Segment {
		return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: cluster.ModeNotSynced,
			Status: cluster.StatusUp, Hostname: "mdw", Address: "mdw", Port: port, DataDir: dir}
	}
	ts := []target{{Full: true,
		Failed: seg(4, 0, cluster.RoleMirror, 7004, "/data/dbfast_mirror1/demoDataDir0"),
		Source: seg(2, 0, cluster.RolePrimary, 7002, "/data/dbfast1/demoDataDir0")}}
	var want []string
	for _, m := range transcriptBlock(t, "gp6-F-v.txt") {
		if !strings.HasPrefix(m, "[DEBUG]") {
			want = append(want, m)
		}
	}
	if d := cmp.Diff(want, displayed(t, cluster.GP6, ts)); d != "" {
		t.Errorf("display differs from Greenplum 6's (-gp6 +ours):\n%s", d)
	}
}

// TestDisplayGP7 pins the wording of the later flavours: the product name
// in the heading (Cloudberry's own), the rest as Greenplum 6's.
func TestDisplayGP7(t *testing.T) {
	ts := []target{{Failed: vmSeg(4, 0, cluster.RoleMirror, cluster.RoleMirror, 7004, "mirror/gpseg0"),
		Source: vmSeg(2, 0, cluster.RolePrimary, cluster.RolePrimary, 7002, "primary/gpseg0")}}
	if got := displayed(t, cluster.Cloudberry, ts)[0]; got != "[INFO]:-Cloudberry instance recovery parameters" {
		t.Errorf("Cloudberry heading %q", got)
	}
	gp6, gp7 := displayed(t, cluster.GP6, ts), displayed(t, cluster.GP7, ts)
	if d := cmp.Diff(gp6, gp7); d != "" {
		t.Errorf("GP7's display differs from GP6's:\n%s", d)
	}
}
