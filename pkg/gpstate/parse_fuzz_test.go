package gpstate

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// fuzzSegments are the instances of host sdw1 in FuzzParseStatus: a
// primary and a mirror of another content, addressed as sdw1-1.
func fuzzSegments() []cluster.Segment {
	s := func(dbid, content int, role cluster.Role, host string, port int) cluster.Segment {
		return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: cluster.ModeSynced,
			Status: cluster.StatusUp, Hostname: host, Address: host + "-1", Port: port, DataDir: fmt.Sprintf("/data/%d", dbid)}
	}
	return []cluster.Segment{
		s(1, -1, cluster.RolePrimary, "mdw", 5432),
		s(2, 0, cluster.RolePrimary, "sdw1", 6000),
		s(3, 1, cluster.RolePrimary, "sdw2", 6000),
		s(4, 0, cluster.RoleMirror, "sdw2", 7000),
		s(5, 1, cluster.RoleMirror, "sdw1", 7000),
	}
}

// FuzzParseStatus: whatever a host's status script printed (a broken
// host, a hostile one), Parse gives every instance of that host either a
// status or Greenplum's warning, and lines written in the script's shape
// after it are read as written: junk never hides or bends a real answer.
func FuzzParseStatus(f *testing.F) {
	f.Add("gpstate-status 2 1 6071 1 1 0\ngpstate-status 5 1 6161 1 1 64\n")
	f.Add("gpstate-repl 2 gp_walreceiver\x1fstreaming\x1f0/1\ngpstate-wal 2\ngpstate-sqlerr 2 ERROR: x\ngpstate-binary postgres (Greenplum Database) 7.1.0\n")
	f.Add("gpstate-status 2 1 x 1 1 0\ngpstate-status 99 1 1 1 1 1\ngpstate-status -5 1 1 1 1 1 1\n")
	c, err := cluster.New(fuzzSegments())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stdout string) {
		o := Parse(c, []remote.Result{{Command: remote.Command{Host: "sdw1"}, Stdout: stdout}})
		for _, dbid := range []int{2, 5} {
			obs, ok := o.Instances[dbid]
			if !ok || obs.HostErr != "" && obs.HostErr != "No status output provided from host sdw1-1" {
				t.Fatalf("dbid %d: %+v, %v", dbid, obs, ok)
			}
		}
		written := "\ngpstate-status 2 1 6071 1 0 2\ngpstate-status 5 0 0 0 1 64\ngpstate-wal 2 0/18090000\ngpstate-version 2 PostgreSQL 15 (Greenplum Database 7.1.0)\n"
		o = Parse(c, []remote.Result{{Command: remote.Command{Host: "sdw1"}, Stdout: stdout + written}})
		want := map[int]Observed{
			2: {PIDFile: true, PID: 6071, Lock: true, Active: false, Ready: 2, Version: "PostgreSQL 15 (Greenplum Database 7.1.0)"},
			5: {PIDFile: false, PID: 0, Lock: false, Active: true, Ready: 64, Version: o.Instances[5].Version},
		}
		for dbid, w := range want {
			if got := o.Instances[dbid]; got != w {
				t.Fatalf("dbid %d after %q: %+v, want %+v", dbid, stdout, got, w)
			}
		}
		if o.HostWarnings["sdw1"] != "" || o.Repl[2] == nil || o.Repl[2].CurrentWAL != "0/18090000" {
			t.Fatalf("after %q: warnings %q, replication %+v", stdout, o.HostWarnings, o.Repl[2])
		}
	})
}

var progressNumbers = regexp.MustCompile(`^\d+$`)

// FuzzParseRecoveryProgress: of recovery_progress.file (written by
// gprecoverseg, read by gpstate -e) only lines showing pg_basebackup's or
// pg_rewind's progress count, their numbers are numbers and their
// percentage a percentage; a line written in that shape after any junk is
// read as written.
func FuzzParseRecoveryProgress(f *testing.F) {
	f.Add("full:5: 1164848/1371715 kB (84%), 0/1 tablespace (...)\nincremental:4:  12/345 mB (3%) copied\n")
	f.Add("differential:6:  1,036,923,510  99%   39.90MB/s    0:00:24\nfull:7:pg_basebackup: base backup completed\nfull:x: 1/2 kB (50%)\n")
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		for dbid, p := range errorsParseProgress(lines) {
			if !progressNumbers.MatchString(p.Completed) || !progressNumbers.MatchString(p.Total) ||
				!regexp.MustCompile(`^\d+%$`).MatchString(p.Percentage) || strings.Contains(p.Type, ":") {
				t.Fatalf("dbid %d: %+v from %q", dbid, p, text)
			}
		}
		got := errorsParseProgress(append(lines, "full:77: 1164848/1371715 kB (84%), 0/1 tablespace (...)"))[77]
		if want := (errorsProgress{Type: "full", Completed: "1164848", Total: "1371715", Percentage: "84%"}); got != want {
			t.Fatalf("after %q: %+v, want %+v", text, got, want)
		}
	})
}
