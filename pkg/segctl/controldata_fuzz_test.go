package segctl

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// TestControlDataScriptEndsStderr: a pg_controldata whose standard error
// does not end its last line still leaves the next instance's header on a
// line of its own (FuzzParseControlData led to it).
func TestControlDataScriptEndsStderr(t *testing.T) {
	gphome := t.TempDir()
	if err := os.MkdirAll(gphome+"/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf 'Data page checksum version:           1\\n'\nprintf 'warning: no newline' >&2\n"
	if err := os.WriteFile(gphome+"/bin/pg_controldata", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	segs := []cluster.Segment{{DBID: 2, Hostname: "localhost", DataDir: "/d/a"}, {DBID: 3, Hostname: "localhost", DataDir: "/d/b"}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := remote.LocalExecutor{}.Exec(ctx, ControlDataCommands(gphome, segs)[0])
	got := ParseControlData(r.Stdout)
	if !r.OK() || len(got) != 2 || got[1].DBID != 3 || got[0].Stderr != "warning: no newline\n" || got[1].Field(cluster.ControlChecksumVersion) != "1" {
		t.Fatalf("%+v from\n%s", got, r.Stdout)
	}
}

// FuzzParseControlData: the per-host pg_controldata script's output is cut
// into one record per header line "@@ <dbid> <rc>" and nothing else: no
// record's text holds a header or the "@@stderr" marker, no text is
// invented, and a record written as the script writes it after any junk
// reads back as written. Seeds: the script's real output (testdata/fuzz).
func FuzzParseControlData(f *testing.F) {
	f.Add("@@ 2 0\nData page checksum version:           1\n@@stderr\n@@ 3 1\n\n@@stderr\npg_controldata: error\n")
	f.Add("junk\n@@ x 0\n@@ 2 0 0\n@@ 4 0\n@@stderr")
	f.Fuzz(func(t *testing.T, out string) {
		all := ParseControlData(out)
		total := 0
		for _, d := range all {
			total += len(d.Stdout) + len(d.Stderr)
			for _, text := range []string{d.Stdout, d.Stderr} {
				for _, line := range strings.SplitAfter(text, "\n") {
					if line = strings.TrimRight(line, "\n"); isControlDataHeader(line) || line == "@@stderr" {
						t.Fatalf("record %+v holds the marker line %q", d, line)
					}
				}
			}
			if v := d.Field(cluster.ControlChecksumVersion); v != strings.TrimSpace(v) {
				t.Fatalf("version %q", v)
			}
		}
		if total > len(out) {
			t.Fatalf("%d bytes of records from %d bytes", total, len(out))
		}
		written := fmt.Sprintf("@@ 9 0\n%s\n@@stderr\n", "Data page checksum version:           1")
		got := ParseControlData(out + "\n" + written)
		last := got[len(got)-1]
		if last.DBID != 9 || last.ExitCode != 0 || last.Field(cluster.ControlChecksumVersion) != "1" || last.Stderr != "" {
			t.Fatalf("written after %q: read %+v", out, last)
		}
	})
}

// isControlDataHeader reports whether line is a record header of the
// pg_controldata script.
func isControlDataHeader(line string) bool {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "@@" {
		return false
	}
	_, err1 := strconv.Atoi(f[1])
	_, err2 := strconv.Atoi(f[2])
	return err1 == nil && err2 == nil
}
