package gpstate

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/gp6clients"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// The second GP6 cluster (gp6-observed.md §10): Greenplum 6.24.3 on one
// host vm, coordinator 7000, primaries 7002/7003, mirrors 7004/7005, and
// the Python gpstate's output in its states, copied verbatim from
// reference/gp6-transcripts/second-cluster/ into
// testdata/gpstate/gp6-second-cluster/. Unlike the first cluster's
// transcripts, only the directory prefix was renamed there, to one of the
// same length, so the tables are compared as rendered, without
// modesOriginalNames. The fixtures below carry the pids and WAL positions
// those runs printed.

// secondDir is the transcripts' folder under testdata/gpstate.
const secondDir = "gp6-second-cluster/"

// secondServerText is version() on every instance of the second cluster
// ("master Greenplum Version" of the prelude, and what -i read from each
// instance, the mirrors' from their refusal); secondBinary is its
// `postgres --gp-version` ("local Greenplum Version").
const (
	secondServerText = "PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213) on x86_64-unknown-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit compiled on Dec  4 2026 14:39:43"
	secondBinary     = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
)

// secondStreaming is a walreceiver row that has sent, flushed and replayed
// everything up to lsn.
func secondStreaming(lsn string) *Replication {
	return &Replication{Queried: true, CurrentWAL: lsn, Rows: []ReplRow{{AppName: "gp_walreceiver", State: "streaming",
		Sent: lsn, Flush: lsn, FlushLeft: "0", Replay: lsn, ReplayLeft: "0", SentLeft: "0"}}}
}

// secondHealthy is the cluster of gpstate-{default,s,m,c,e,i}.txt: every
// pair in sync and streaming (the pids of gpstate-s.txt).
func secondHealthy() *fixture {
	p, m, s := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeSynced
	const dir = "/data1/gpadmin/gp/"
	f := &fixture{flavour: cluster.GP6, segs: []cluster.Segment{
		seg(1, -1, p, cluster.ModeNotSynced, "vm", 7000, dir+"master/gpseg-1"),
		seg(2, 0, p, s, "vm", 7002, dir+"primary/gpseg0"),
		seg(4, 0, m, s, "vm", 7004, dir+"mirror/gpseg0"),
		seg(3, 1, p, s, "vm", 7003, dir+"primary/gpseg1"),
		seg(5, 1, m, s, "vm", 7005, dir+"mirror/gpseg1"),
	}}
	f.obs = &Observation{
		Instances: map[int]Observed{1: running(29624, p), 2: running(29602, p), 4: running(30090, m), 3: running(29601, p), 5: running(30095, m)},
		Repl:      map[int]*Replication{2: secondStreaming("0/C000000"), 3: secondStreaming("0/C000000")},
		Binary:    map[string]string{}, HostWarnings: map[string]string{},
	}
	return f
}

// secondVersions is f as -i's gather saw it on GP6: version() of every
// instance up, the mirrors' read from their refusal, and the binaries of
// the host.
func secondVersions(f *fixture) *fixture {
	for dbid, o := range f.obs.Instances {
		o.Version = secondServerText
		f.obs.Instances[dbid] = o
	}
	f.obs.Binary["vm"] = secondBinary
	return f
}

// secondMirrorDown is the cluster of degraded-mirror-down-gpstate-*.txt:
// content 0's mirror (dbid 4) was stopped and FTS marked it down; its
// primary runs alone, not in sync, with no walreceiver.
func secondMirrorDown() *fixture {
	f := secondHealthy()
	f.byDBID(2).Mode = cluster.ModeNotSynced
	m4 := f.byDBID(4)
	m4.Status, m4.Mode = cluster.StatusDown, cluster.ModeNotSynced
	f.obs.Instances[4] = stopped()
	f.obs.Repl[2] = &Replication{Queried: true, CurrentWAL: "0/C000000"}
	return f
}

// secondFailover is the cluster of degraded-failover-gpstate-*.txt:
// content 1's primary (dbid 3) was killed and FTS promoted its mirror
// (dbid 5), which runs alone, not in sync (the pids and WAL positions of
// degraded-failover-gpstate-s.txt).
func secondFailover() *fixture {
	f := secondHealthy()
	p3, m5 := f.byDBID(3), f.byDBID(5)
	p3.Role, p3.Status, p3.Mode = cluster.RoleMirror, cluster.StatusDown, cluster.ModeNotSynced
	m5.Role, m5.Mode = cluster.RolePrimary, cluster.ModeNotSynced
	f.obs.Instances = map[int]Observed{1: running(11979, cluster.RolePrimary), 2: running(11957, cluster.RolePrimary),
		4: running(16881, cluster.RoleMirror), 5: running(12715, cluster.RolePrimary), 3: stopped()}
	f.obs.Repl = map[int]*Replication{2: secondStreaming("0/14006060"), 5: {Queried: true, CurrentWAL: "0/140000D8"}}
	return f
}

// secondUnbalanced is the cluster of unbalanced-gpstate-e.txt: after
// `gprecoverseg -a`, content 1's old primary streams from the promoted
// mirror, in sync, roles switched.
func secondUnbalanced() *fixture {
	f := secondFailover()
	p3, m5 := f.byDBID(3), f.byDBID(5)
	p3.Status, p3.Mode, m5.Mode = cluster.StatusUp, cluster.ModeSynced, cluster.ModeSynced
	f.obs.Instances[3] = running(18100, cluster.RoleMirror) // restarted by gprecoverseg; -e prints no pid
	f.obs.Repl[5] = secondStreaming("0/14006060")
	return f
}

// secondCatalogOnly is f as the catalog-only modes (-m, -c) see it.
func secondCatalogOnly(f *fixture) *fixture {
	f.obs = nil
	return f
}

// secondDetail is -s's setup: the coordinator answers version(),
// gp_version_at_initdb and server_version as the second cluster's did.
func secondDetail(_ *testing.T, tr *testReport) {
	tr.co.ServerVersion = secondServerText
	tr.conn.On(detailInitVersionSQL, clustertest.Text("6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"))
	tr.conn.On(detailServerVersionSQL, clustertest.Text("9.4.26"))
}

// TestSecondClusterTranscripts: every gpstate mode recorded on the second
// GP6 cluster prints, rendered from a fixture of that state in GP6's
// dialect, what Greenplum printed, line for line after the log prefix, and
// exits as Greenplum does for that mode (spec §2.3). The prelude's lines
// (coordinator.Open's) are left out, and so is the line the gather logs
// before it asks the hosts ("Gathering data from segments...", "Loading
// version information"), which is checked against what gathers announces
// for the mode instead; so are the progress dots Greenplum prints while
// it waits for the hosts (a "." line in unbalanced-gpstate-e.txt), which
// ours print to env.Progress on the same once-a-second clock.
func TestSecondClusterTranscripts(t *testing.T) {
	brief, detail, mirrors, config, errs, versions := (*report).brief, (*report).detail, (*report).mirrors, (*report).config, (*report).errors, (*report).versions
	for _, tt := range []struct {
		file  string
		mode  Mode
		f     *fixture
		run   func(*report, context.Context) error
		setup func(*testing.T, *testReport)
		code  int
	}{
		{"gpstate-default.txt", ModeBrief, secondHealthy(), brief, nil, 0},
		{"gpstate-s.txt", ModeDetail, secondHealthy(), detail, secondDetail, 0},
		{"gpstate-m.txt", ModeMirrors, secondCatalogOnly(secondHealthy()), mirrors, nil, 0},
		{"gpstate-c.txt", ModeConfig, secondCatalogOnly(secondHealthy()), config, nil, 0},
		{"gpstate-e.txt", ModeErrors, secondHealthy(), errs, secondErrorsSetup, 0},
		{"gpstate-i.txt", ModeVersions, secondVersions(secondHealthy()), versions, nil, 0},

		{"degraded-mirror-down-gpstate-default.txt", ModeBrief, secondMirrorDown(), brief, nil, 0},
		{"degraded-mirror-down-gpstate-e.txt", ModeErrors, secondMirrorDown(), errs, secondErrorsSetup, 1},
		{"degraded-mirror-down-gpstate-m.txt", ModeMirrors, secondCatalogOnly(secondMirrorDown()), mirrors, nil, 1},

		{"degraded-failover-gpstate-default.txt", ModeBrief, secondFailover(), brief, nil, 0},
		{"degraded-failover-gpstate-s.txt", ModeDetail, secondFailover(), detail, secondDetail, 1},
		{"degraded-failover-gpstate-m.txt", ModeMirrors, secondCatalogOnly(secondFailover()), mirrors, nil, 0},
		{"degraded-failover-gpstate-c.txt", ModeConfig, secondCatalogOnly(secondFailover()), config, nil, 0},
		{"degraded-failover-gpstate-e.txt", ModeErrors, secondFailover(), errs, secondErrorsSetup, 1},

		{"unbalanced-gpstate-e.txt", ModeErrors, secondUnbalanced(), errs, secondErrorsSetup, 1},
	} {
		t.Run(tt.file, func(t *testing.T) { secondCheck(t, tt.file, tt.mode, tt.f, tt.run, tt.setup, tt.code) })
	}
}

// secondCheck runs one mode's report (run) on f, after setup, and compares
// its messages and exit code with the transcript file (see
// TestSecondClusterTranscripts for what is left out of it).
func secondCheck(t *testing.T, file string, mode Mode, f *fixture, run func(*report, context.Context) error, setup func(*testing.T, *testReport), code int) {
	t.Helper()
	want := transcriptSection(t, secondDir+file, "")
	want = slices.DeleteFunc(want, func(m string) bool { return m == "verbatim: ." })
	if _, announce, ok := gathers(mode, mustCluster(t, f.segs)); ok && announce != "" {
		if len(want) == 0 || want[0] != announce {
			t.Fatalf("%s starts with %q, want the gather's %q", file, want, announce)
		}
		want = want[1:]
	}
	tr := newTestReport(t, f, &Options{}, slog.LevelInfo)
	tr.st.DataDir = t.TempDir() // no gpexpand, no gprecoverseg lock
	tr.co.DataDir = tr.st.DataDir
	if setup != nil {
		setup(t, tr)
	}
	if got := exitCode(t, run(tr.report, t.Context())); got != code {
		t.Errorf("exit code %d, want %d", got, code)
	}
	if d := cmp.Diff(want, messages(tr.out.String())); d != "" {
		t.Errorf("differs from %s (-transcript +got):\n%s", file, d)
	}
}

// secondErrorsSetup gives -e an empty log directory: no recovery progress.
func secondErrorsSetup(t *testing.T, tr *testReport) {
	tr.opts.LogDir = t.TempDir()
}

// TestSecondClusterGathered is issue 11 end to end: on the healthy second
// cluster, -s, -e and -i print what Greenplum printed when what they read
// comes from the status script run under GP6's client programs (package
// gp6clients: psql 9.4 runs only the last -c; pg_isready answers 64 for a
// mirror; a mirror refuses a session with its version after "- VERSION: "),
// each mode asking what gathers asks for it. The instances live on this
// machine under test ports and temporary data directories, each with a
// postmaster.pid holding the pid recorded, its lock file and a listening
// socket; the observation, keyed by dbid, is then rendered for the second
// cluster's catalog (vm, ports 7000-7005, /data1/gpadmin/gp/...).
func TestSecondClusterGathered(t *testing.T) {
	const base = 31580 // the test instances' ports: base + dbid - 1
	healthy := secondHealthy()
	gphome := t.TempDir()
	log := gp6clients.Install(t, gphome, gp6clients.Answers{
		SQL: `case $port in
` + fmt.Sprintf("%d|%d", base+3, base+4) + `)
	printf 'psql: FATAL:  the database system is in recovery mode\nDETAIL:  last replayed record at 0/C000000\n- VERSION: %s\n' '` + secondServerText + `' >&2
	return 2 ;;
esac
case $1 in
*pg_stat_replication*) printf 'gp_walreceiver%sstreaming%s0/C000000%s0/C000000%s0%s0/C000000%s0%s2026-12-04 14:47:19.5+00%s0\n' "$sep" "$sep" "$sep" "$sep" "$sep" "$sep" "$sep" "$sep" ;;
*pg_current_xlog_location*) echo 0/C000000 ;;
*pg_stat_activity*) ;;
*version*) printf '%s\n' '` + secondServerText + `' ;;
*) echo "ERROR:  unexpected statement" >&2; return 1 ;;
esac`,
		Ready:   fmt.Sprintf("case $port in %d|%d) return 64 ;; esac; return 0", base+3, base+4),
		Version: secondBinary,
	})
	// The same instances on this machine.
	var local []cluster.Segment
	for _, s := range healthy.segs {
		s.Hostname, s.Address, s.Port, s.DataDir = "localhost", "localhost", base+s.DBID-1, t.TempDir()
		pid := strconv.Itoa(healthy.obs.Instances[s.DBID].PID)
		if err := os.WriteFile(filepath.Join(s.DataDir, "postmaster.pid"), []byte(pid+"\n"+s.DataDir+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		secondListen(t, s.Port)
		local = append(local, s)
	}
	t.Setenv("TMPDIR", t.TempDir())
	lc := mustCluster(t, local)

	for _, tt := range []struct {
		file  string
		mode  Mode
		run   func(*report, context.Context) error
		setup func(*testing.T, *testReport)
	}{
		{"gpstate-s.txt", ModeDetail, (*report).detail, secondDetail},
		{"gpstate-e.txt", ModeErrors, (*report).errors, secondErrorsSetup},
		{"gpstate-i.txt", ModeVersions, (*report).versions, nil},
	} {
		t.Run(tt.file, func(t *testing.T) {
			req, _, _ := gathers(tt.mode, lc)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			o := Gatherer{Exec: remote.LocalExecutor{}, Parallel: 4}.Gather(ctx, gphome, cluster.GP6, lc, req)
			for _, l := range gp6clients.Calls(t, log) {
				if strings.HasPrefix(l, "REFUSED") {
					t.Errorf("a GP6 client program refused an option: %s", l)
				}
			}
			if v, ok := o.Binary["localhost"]; ok {
				o.Binary["vm"] = v
				delete(o.Binary, "localhost")
			}
			f := secondHealthy()
			f.obs = o
			secondCheck(t, tt.file, tt.mode, f, tt.run, tt.setup, 0)
		})
	}
}

// secondListen makes port look like a running instance's to the status
// script: a Unix socket listening at /tmp/.s.PGSQL.<port> and its lock
// file, both removed when the test ends. A port in use is a skip, as in
// TestStatusScriptGP6Clients.
func secondListen(t *testing.T, port int) {
	t.Helper()
	sock := fmt.Sprintf("/tmp/.s.PGSQL.%d", port)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("cannot listen on the socket of port %d: %v", port, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	lock, err := os.OpenFile(sock+".lock", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Skipf("cannot create the lock file of port %d: %v", port, err)
	}
	t.Cleanup(func() { _ = os.Remove(sock + ".lock") })
	if err := lock.Close(); err != nil {
		t.Fatal(err)
	}
}
