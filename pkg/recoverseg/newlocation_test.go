package recoverseg

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// withHosts gives rig's recovery SSH to the hosts: each answers
// Greenplum's reachability check with its name, except those in down.
func withHosts(rig *selectRig, down ...string) *remotetest.Hosts {
	h := remotetest.NewHosts()
	h.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		for _, d := range down {
			if c.Host == d {
				return remotetest.Response{ExitCode: -1, Err: errors.New("dial tcp: connect: connection refused")}, true
			}
		}
		if len(c.Argv) == 2 && c.Argv[0] == "echo" {
			return remotetest.Response{Stdout: c.Argv[1] + "\n"}, true
		}
		return remotetest.Response{}, true
	})
	rig.r.ssh, rig.r.exec = h, h
	rig.r.opts.Parallel = 4
	return h
}

// writeFile writes text to a file in a test directory and returns its name.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "recover.conf")
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// describe renders targets for comparison: failed, source, method, where.
func describe(ts []target) []string {
	var out []string
	for _, t := range ts {
		s := fmt.Sprintf("dbid %d <- %d %s", t.Failed.DBID, t.Source.DBID, strings.ToLower(t.Method()))
		switch {
		case t.Move != nil:
			s += fmt.Sprintf(" to %s|%s|%d|%s", t.Move.Hostname, t.Move.Address, t.Move.Port, t.Move.DataDir)
		case t.Twice:
			s += " in place (named twice)"
		case t.MovedFrom != "":
			s += " where an earlier run moved it from " + t.MovedFrom
		default:
			s += " in place"
		}
		out = append(out, s)
	}
	return out
}

// TestFromFile: the lines of a -i file matched to catalog rows by address,
// port and directory, whatever their status, in file order: in place
// (incremental), to a new location (full; host name := address), the same
// location twice (full, in place); an up mirror is accepted (it is stopped
// and waited for).
func TestFromFile(t *testing.T) {
	rig := newSelectRig(t, degraded())
	withHosts(rig)
	rig.r.opts.ConfigFile = writeFile(t, "# degraded()\n"+
		"sdw2-1|6000|/data/primary/gpseg1 sdw3-1|6100|/data/relocated/gpseg1\n"+
		"sdw2-1|7000|/data/mirror/gpseg0\n"+
		"sdw1-1|7001|/data/mirror/gpseg2/ sdw1-1|7001|/data/mirror/gpseg2\n")
	ts, err := rig.r.selectTargets(t.Context())
	if err != nil {
		t.Fatalf("%v\n%s", err, rig.out)
	}
	want := []string{
		"dbid 3 <- 5 full to sdw3-1|sdw3-1|6100|/data/relocated/gpseg1",
		"dbid 4 <- 2 incremental in place",
		"dbid 7 <- 6 full in place (named twice)",
	}
	if d := cmp.Diff(want, describe(ts)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if ts[0].ProgressFile == "" || !strings.Contains(ts[0].ProgressFile, "pg_basebackup.") {
		t.Errorf("progress file of the move: %q", ts[0].ProgressFile)
	}
}

// TestFromFileRefusals: a line matching no row, a new host that does not
// answer, and a source that cannot serve, in Greenplum's words (exit 2).
func TestFromFileRefusals(t *testing.T) {
	for _, tt := range []struct {
		name, text, down, want string
	}{
		{"no such segment", "sdw2-1|6000|/data/primary/gpseg9\n", "",
			"A segment to recover was not found in configuration.  This segment is described by address|port|directory 'sdw2-1|6000|/data/primary/gpseg9'"},
		{"matched by address, not host name", "sdw2|6000|/data/primary/gpseg1\n", "",
			"A segment to recover was not found in configuration.  This segment is described by address|port|directory 'sdw2|6000|/data/primary/gpseg1'"},
		{"new host unreachable", "sdw2-1|6000|/data/primary/gpseg1 sdw3|6000|/x/gpseg1\n", "sdw3",
			"The recovery target segment sdw3 (content 1) is unreachable."},
		{"the acting primary named", "sdw1-1|7000|/data/mirror/gpseg1 sdw3|6000|/x/gpseg1\n", "",
			"Segment to recover from for content 1 is not a primary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rig := newSelectRig(t, degraded())
			withHosts(rig, tt.down)
			rig.r.opts.ConfigFile = writeFile(t, tt.text)
			_, err := rig.r.selectTargets(t.Context())
			var ee *app.ExpectedError
			if !errors.As(err, &ee) || err.Error() != tt.want {
				t.Errorf("%v\nwant %q", err, tt.want)
			}
		})
	}
}

// TestFromFileUnreachable: an in-place line on a host that does not answer
// is skipped with Greenplum 6's warning; a move off it goes ahead (the
// catalog says the instance is down; it cannot be stopped).
func TestFromFileUnreachable(t *testing.T) {
	rig := newSelectRig(t, degraded())
	withHosts(rig)
	rig.r.unreachable["sdw2"] = errors.New("connection refused")
	rig.r.opts.ConfigFile = writeFile(t, "sdw2-1|7000|/data/mirror/gpseg0\nsdw2-1|6000|/data/primary/gpseg1 sdw3|6000|/d/gpseg1\n")
	ts, err := rig.r.selectTargets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"dbid 3 <- 5 full to sdw3|sdw3|6000|/d/gpseg1"}, describe(ts)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if !strings.Contains(rig.out.String(), "[WARNING]:-Not recovering segment 4 because sdw2 is unreachable") {
		t.Errorf("no warning for the skipped line:\n%s", rig.out)
	}
	out := make([]outcome, len(ts))
	rig.r.stopFailed(t.Context(), ts, out)
	if !strings.Contains(rig.out.String(), "[INFO]:-Skipping shared memory cleanup and gpsegstop on unreachable host: sdw2 segment: 1") || out[0].Kind != "" {
		t.Errorf("the failed instance on the unreachable host: outcome %+v\n%s", out[0], rig.out)
	}
}

// TestOntoSpares: -p over degraded(): both failed segments are on sdw2, so
// both go to the first spare host, at the smallest segment port and the
// next; the second spare host was not needed (a warning); the display
// names every pool host.
func TestOntoSpares(t *testing.T) {
	rig := newSelectRig(t, degraded())
	withHosts(rig)
	rig.r.opts.SpareHosts = " sdw5, sdw6 ,sdw5"
	ts, err := rig.r.selectTargets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"dbid 4 <- 2 full to sdw5|sdw5|6000|/data/mirror/gpseg0",
		"dbid 3 <- 5 full to sdw5|sdw5|6001|/data/primary/gpseg1",
	}
	if d := cmp.Diff(want, describe(ts)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"The following recovery hosts were not needed:", "\tsdw6"}, rig.r.recoveryWarnings(ts)); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"Recovery type              = Pool Host", "Pool host for recovery     = sdw5", "Pool host for recovery     = sdw6"}, rig.r.displayHeader()); d != "" {
		t.Errorf("display header (-want +got):\n%s", d)
	}
}

func TestOntoSparesRefusals(t *testing.T) {
	for _, tt := range []struct {
		name, spares, down, want string
		argument                 bool
	}{
		{"spare host unreachable", "sdw5", "sdw5", "Cannot recover. The following recovery target hosts are unreachable: ['sdw5']", false},
		{"empty host name", "sdw5,,sdw6", "", `Invalid value for recover hosts: "sdw5,,sdw6" has an empty host name`, true},
		{"not a host name", "sdw5;x", "", "Invalid value for recover hosts: address sdw5;x contains ';': host names reach ssh, connection strings and command lines; use letters, digits, '.', '-', '_', ':' and '%' (IPv6), optionally inside [ ], not starting with '-'", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rig := newSelectRig(t, degraded())
			withHosts(rig, tt.down)
			rig.r.opts.SpareHosts = tt.spares
			_, err := rig.r.selectTargets(t.Context())
			var ae *app.ArgumentError
			var ee *app.ExpectedError
			if (tt.argument && !errors.As(err, &ae)) || (!tt.argument && !errors.As(err, &ee)) || err.Error() != tt.want {
				t.Errorf("%v (%T)\nwant %q", err, err, tt.want)
			}
		})
	}
	// Too few: failed segments on sdw2 and, with content 2's mirror down,
	// on sdw1; one spare host.
	segs := degraded()
	segs[6].Status, segs[6].Mode, segs[5].Mode = cluster.StatusDown, cluster.ModeNotSynced, cluster.ModeNotSynced
	rig := newSelectRig(t, segs)
	withHosts(rig)
	rig.r.opts.SpareHosts = "sdw5"
	if _, err := rig.r.selectTargets(t.Context()); err == nil || err.Error() != "Not enough new recovery hosts given for recovery." {
		t.Errorf("failed segments on sdw1 and sdw2, one spare host: %v", err)
	}
}

// TestResumeAfterMove: an earlier run moved dbid 3 to sdw3 (its journal
// says from where) and stopped before it ran there. The same -i file, and
// the same -p, recover it where it now is, in full (the copy there is
// reused); the journal of this run keeps where it came from.
func TestResumeAfterMove(t *testing.T) {
	moved := degraded()
	moved[3].Hostname, moved[3].Address, moved[3].DataDir = "sdw3", "sdw3", "/d/gpseg1"
	prev := &oplock.Record{Tool: Tool, Items: []oplock.Item{{DBID: 3, Method: "full", Host: "sdw3", DataDir: "/d/gpseg1", Port: 6000,
		From: "sdw2-1|6000|/data/primary/gpseg1", Step: stepStarted}}}
	for _, mode := range []string{"-i", "-p"} {
		t.Run(mode, func(t *testing.T) {
			rig := newSelectRig(t, moved)
			withHosts(rig)
			rig.r.prev = prev
			if mode == "-i" {
				rig.r.opts.ConfigFile = writeFile(t, "sdw2-1|7000|/data/mirror/gpseg0\nsdw2-1|6000|/data/primary/gpseg1 sdw3|6000|/d/gpseg1\n")
			} else {
				rig.r.opts.SpareHosts = "sdw5"
			}
			ts, err := rig.r.selectTargets(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range describe(ts) {
				if strings.HasPrefix(d, "dbid 3 ") {
					got = append(got, d)
				}
			}
			if d := cmp.Diff([]string{"dbid 3 <- 5 full where an earlier run moved it from sdw2-1|6000|/data/primary/gpseg1"}, got); d != "" {
				t.Errorf("(-want +got):\n%s\n%s", d, rig.out)
			}
			for _, t3 := range ts {
				if t3.Failed.DBID == 3 {
					if ms := rig.r.mirrors([]target{t3}); ms[0].From != nil || !ms[0].Overwrite || ms[0].Target.Hostname != "sdw3" {
						t.Errorf("resumed as %+v, want an in-place overwrite on sdw3", ms[0])
					}
					if t3.movedFrom() != "sdw2-1|6000|/data/primary/gpseg1" {
						t.Errorf("journal would lose where it came from: %q", t3.movedFrom())
					}
				}
			}
		})
	}
	// Without the journal's word, the old location is simply not there.
	rig := newSelectRig(t, moved)
	withHosts(rig)
	rig.r.opts.ConfigFile = writeFile(t, "sdw2-1|6000|/data/primary/gpseg1 sdw3|6000|/d/gpseg1\n")
	if _, err := rig.r.selectTargets(t.Context()); err == nil || !strings.Contains(err.Error(), "A segment to recover was not found in configuration.") {
		t.Errorf("no journal: %v", err)
	}
}

// TestMoveMirrors: a recovery to a new location is built by buildmirrors
// as a mirror replacing the failed row (From), not overwriting anything;
// an earlier run's half-written copy there is vouched for only when the
// journal says it was copying to that very place.
func TestMoveMirrors(t *testing.T) {
	segs := degraded()
	moved := segs[3]
	moved.Hostname, moved.Address, moved.Port, moved.DataDir = "sdw3", "sdw3", 6000, "/d/gpseg1"
	tg := target{Failed: segs[3], Source: segs[4], Full: true, Move: &moved}
	r := &recovery{}
	m := r.mirrors([]target{tg})[0]
	if m.Overwrite || m.From == nil || m.From.Hostname != "sdw2" || m.Target != moved || m.Source.DBID != 5 || m.PartialCopy {
		t.Errorf("mirror %+v", m)
	}
	for _, tt := range []struct {
		item    oplock.Item
		partial bool
	}{
		{oplock.Item{DBID: 3, Method: "full", Host: "sdw3", DataDir: "/d/gpseg1", Port: 6000, Step: stepCopying}, true},
		{oplock.Item{DBID: 3, Method: "full", Host: "sdw3", DataDir: "/d/gpseg1", Port: 6000, Step: stepStarted}, false},
		{oplock.Item{DBID: 3, Method: "full", Host: "sdw4", DataDir: "/d/gpseg1", Port: 6000, Step: stepCopying}, false},
		{oplock.Item{DBID: 3, Method: "full", Host: "sdw2", DataDir: "/data/primary/gpseg1", Port: 6000, Step: stepCopying}, false},
	} {
		r.prev = &oplock.Record{Items: []oplock.Item{tt.item}}
		if got := r.mirrors([]target{tg})[0].PartialCopy; got != tt.partial {
			t.Errorf("journal %+v: partial copy %v, want %v", tt.item, got, tt.partial)
		}
	}
}

// TestConfigLinesOfTargets: -o writes what was selected, as a -i file
// that reads back to the same recoveries.
func TestConfigLinesOfTargets(t *testing.T) {
	segs := degraded()
	moved := segs[3]
	moved.Hostname, moved.Address, moved.Port, moved.DataDir = "sdw3", "sdw3", 6000, "/d/gpseg1"
	ts := []target{
		{Failed: segs[2], Source: segs[1]},
		{Failed: segs[3], Source: segs[4], Full: true, Move: &moved},
		{Failed: segs[6], Source: segs[5], Full: true, Twice: true},
	}
	var b bytes.Buffer
	if err := WriteConfigFile(&b, configLines(ts)); err != nil {
		t.Fatal(err)
	}
	want := "sdw2-1|7000|/data/mirror/gpseg0\n" +
		"sdw2-1|6000|/data/primary/gpseg1 sdw3|6000|/d/gpseg1\n" +
		"sdw1-1|7001|/data/mirror/gpseg2 sdw1-1|7001|/data/mirror/gpseg2\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestConflicts: the configuration after the moves must not put two
// instances on one host's port or directory (spec §3.1 step 3).
func TestConflicts(t *testing.T) {
	rig := newSelectRig(t, degraded())
	moved := degraded()[3]
	moved.Hostname, moved.Address, moved.Port = "sdw1", "sdw1-1", 7000
	err := rig.r.checkConflicts([]target{{Failed: degraded()[3], Move: &moved}})
	if err == nil || err.Error() != "Segment dbid's 5 and 3 on host sdw1 cannot have the same port 7000." {
		t.Errorf("%v", err)
	}
	moved.Port = 6100
	if err := rig.r.checkConflicts([]target{{Failed: degraded()[3], Move: &moved}}); err != nil {
		t.Errorf("a free port and directory: %v", err)
	}
}

// TestDisplayNewLocations: Greenplum's display of recoveries to new
// locations (spec §4.6 step 3): the -i and -p headers, "Recovery Target
// instance" rows aligned to their longest key, and the warning for a new
// location on its source's host (golden, checked by hand against the
// spec's example).
func TestDisplayNewLocations(t *testing.T) {
	segs := degraded()
	onPrimaryHost := segs[3]
	onPrimaryHost.Hostname, onPrimaryHost.Address, onPrimaryHost.Port, onPrimaryHost.DataDir = "sdw1", "sdw1-1", 20001, "/data/primary/gpseg1"
	toSpare := segs[2]
	toSpare.Hostname, toSpare.Address, toSpare.Port = "sdw5", "sdw5", 20000
	ts := []target{
		{Failed: segs[2], Source: segs[1], Full: true, Move: &toSpare},
		{Failed: segs[3], Source: segs[4], Full: true, Move: &onPrimaryHost},
		{Failed: segs[6], Source: segs[5]},
	}
	var buf bytes.Buffer
	for _, mode := range []string{"-i", "-p"} {
		r := &recovery{opts: &Options{}, f: cluster.GP6}
		if mode == "-i" {
			r.opts.ConfigFile = "/home/gpadmin/recover.conf"
		} else {
			r.opts.SpareHosts, r.spareHosts = "sdw5,sdw6", []string{"sdw5", "sdw6"}
			r.notes = []string{"The following recovery hosts were not needed:", "\tsdw6"}
		}
		r.env = &app.Env{Log: slog.New(gplog.NewHandler(gplog.Config{Prog: "gprecoverseg", Host: "mdw", User: "gpadmin", PID: 1}, gplog.Sink{W: &buf, Level: slog.LevelInfo}))}
		buf.WriteString("### " + mode + "\n")
		gplog.Emit(t.Context(), r.env.Log, displayRecords(r.f, r.displayHeader(), ts))
		for _, w := range r.recoveryWarnings(ts) {
			r.env.Log.Warn(w)
		}
	}
	var lines []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if _, msg, ok := strings.Cut(l, "gprecoverseg:mdw:gpadmin-"); ok {
			l = msg
		}
		lines = append(lines, l)
	}
	golden.Check(t, "recoverseg", "display_new_locations.golden", []byte(strings.Join(lines, "\n")))
}

// TestWaitMarkedDown: a segment a -i file named while it was up, once
// stopped, is waited for: an FTS probe is asked for, the catalog read
// again, Greenplum's lines logged, and the run goes on from the catalog
// as read then (the target down, its source's mode as FTS left it).
func TestWaitMarkedDown(t *testing.T) {
	segs := degraded()
	rig := newSelectRig(t, segs)
	up := rig.r.co.Cluster.All()
	var mirror2, primary2 cluster.Segment
	for _, s := range up {
		switch s.DBID {
		case 7:
			mirror2 = s
		case 6:
			primary2 = s
		}
	}
	after := degraded()
	after[6].Status, after[6].Mode, after[5].Mode = cluster.StatusDown, cluster.ModeNotSynced, cluster.ModeNotSynced
	rig.coord.On(cluster.LoadSQL, clustertest.SegmentRows(after))
	rig.coord.On(cluster.FTSProbeSQL, clustertest.Bool(true))
	ts := []target{{Failed: mirror2, Source: primary2}}
	if err := rig.r.waitMarkedDown(t.Context(), ts, make([]outcome, 1)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[INFO]:-Waiting for segments to be marked down.", "[INFO]:-This may take up to 1800 seconds on large clusters.",
		"[INFO]:-1 of 1 segments have been marked down."} {
		if !strings.Contains(rig.out.String(), want) {
			t.Errorf("no %q in:\n%s", want, rig.out)
		}
	}
	if ts[0].Failed.IsUp() || ts[0].Source.Mode != cluster.ModeNotSynced || !slices.Contains(rig.coord.SQL(), cluster.FTSProbeSQL) {
		t.Errorf("after the wait: %+v; SQL %v", ts[0], rig.coord.SQL())
	}
	if s, _ := rig.r.co.Cluster.ByDBID(7); s.IsUp() {
		t.Error("the run still works from the catalog read before the wait")
	}
}
