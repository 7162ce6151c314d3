package gpstate

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// The fixtures every report is tested on (issue 7): the cluster of the GP6
// transcripts in testdata/gpstate/gp6-*.txt (verbatim copies of
// reference/gp6-transcripts/gpstate-*.txt; everything on
// mdw, the values those runs observed), and the same cluster in the states
// a DBA meets.

const (
	gp6Version    = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
	gp6ServerText = "PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213) on x86_64-unknown-linux-gnu, compiled by gcc (GCC) 6.4.0, 64-bit compiled on Jun 12 2023 02:32:20"
)

func seg(dbid, content int, role cluster.Role, mode cluster.Mode, host string, port int, dir string) cluster.Segment {
	return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: mode,
		Status: cluster.StatusUp, Hostname: host, Address: host, Port: port, DataDir: dir}
}

// fixture is a cluster and what its hosts said.
type fixture struct {
	flavour cluster.Flavour
	segs    []cluster.Segment
	obs     *Observation
}

// byDBID returns a pointer to the fixture's row dbid.
func (f *fixture) byDBID(dbid int) *cluster.Segment {
	for i := range f.segs {
		if f.segs[i].DBID == dbid {
			return &f.segs[i]
		}
	}
	panic("no dbid")
}

// running is what a live instance shows: its pid file, lock file and
// socket, and pg_isready's answer for its role.
func running(pid int, role cluster.Role) Observed {
	ready := 0
	if role == cluster.RoleMirror {
		ready = 64
	}
	return Observed{PIDFile: true, PID: pid, Lock: true, Active: true, Ready: ready}
}

// stopped is what an instance that is not running shows.
func stopped() Observed { return Observed{Ready: 2} }

// healthyGP6 is the mirrored cluster of gpstate-all-modes-healthy.txt.
func healthyGP6() *fixture {
	m, s := cluster.RoleMirror, cluster.ModeSynced
	p := cluster.RolePrimary
	f := &fixture{flavour: cluster.GP6, segs: []cluster.Segment{
		seg(1, -1, p, cluster.ModeNotSynced, "mdw", 7000, "/data/qddir/demoDataDir-1"),
		seg(2, 0, p, s, "mdw", 7002, "/data/dbfast1/demoDataDir0"),
		seg(4, 0, m, s, "mdw", 7004, "/data/dbfast_mirror1/demoDataDir0"),
		seg(3, 1, p, s, "mdw", 7003, "/data/dbfast2/demoDataDir1"),
		seg(5, 1, m, s, "mdw", 7005, "/data/dbfast_mirror2/demoDataDir1"),
	}}
	f.obs = &Observation{
		Instances: map[int]Observed{1: running(6071, p), 2: running(6161, p), 4: running(6316, m), 3: running(6045, p), 5: running(6059, m)},
		Repl: map[int]*Replication{
			2: {Queried: true, CurrentWAL: "0/18090000", Rows: []ReplRow{{AppName: "gp_walreceiver", State: "streaming",
				Sent: "0/18090000", Flush: "0/18090000", FlushLeft: "0", Replay: "0/1808C748", ReplayLeft: "14520",
				BackendStart: "2026-11-23 18:49:59.012345+00", SentLeft: "0"}}},
			3: {Queried: true, CurrentWAL: "0/140402F0", Rows: []ReplRow{{AppName: "gp_walreceiver", State: "streaming",
				Sent: "0/140402F0", Flush: "0/140402F0", FlushLeft: "0", Replay: "0/140402F0", ReplayLeft: "0",
				BackendStart: "2026-11-23 18:49:59.112345+00", SentLeft: "0"}}},
		},
		Binary: map[string]string{}, HostWarnings: map[string]string{}, HostErrors: map[string]error{},
	}
	return f
}

// mirrorless is healthyGP6 without its mirrors.
func mirrorless() *fixture {
	f := healthyGP6()
	f.segs = []cluster.Segment{f.segs[0], f.segs[1], f.segs[3]}
	for i := range f.segs {
		f.segs[i].Mode = cluster.ModeNotSynced
	}
	delete(f.obs.Instances, 4)
	delete(f.obs.Instances, 5)
	f.obs.Repl = map[int]*Replication{}
	return f
}

// primaryDown: content 1's primary (dbid 3) was killed and FTS promoted
// its mirror (dbid 5), which now runs alone, not in sync: the seed's
// step 7.
func primaryDown() *fixture {
	f := healthyGP6()
	p3, m5 := f.byDBID(3), f.byDBID(5)
	p3.Role, p3.Status, p3.Mode = cluster.RoleMirror, cluster.StatusDown, cluster.ModeNotSynced
	m5.Role, m5.Mode = cluster.RolePrimary, cluster.ModeNotSynced
	f.obs.Instances[3] = stopped()
	f.obs.Instances[5] = running(6059, cluster.RolePrimary)
	delete(f.obs.Repl, 3)
	f.obs.Repl[5] = &Replication{Queried: true, CurrentWAL: "0/14040400"}
	return f
}

// mirrorDown: content 1's mirror (dbid 5) is down; its primary runs alone.
func mirrorDown() *fixture {
	f := healthyGP6()
	f.byDBID(3).Mode = cluster.ModeNotSynced
	m5 := f.byDBID(5)
	m5.Status, m5.Mode = cluster.StatusDown, cluster.ModeNotSynced
	f.obs.Instances[5] = stopped()
	f.obs.Repl[3] = &Replication{Queried: true, CurrentWAL: "0/140402F0"}
	return f
}

// notInSync: content 1's mirror is up and catching up.
func notInSync() *fixture {
	f := healthyGP6()
	f.byDBID(3).Mode, f.byDBID(5).Mode = cluster.ModeNotSynced, cluster.ModeNotSynced
	r := f.obs.Repl[3]
	r.Rows[0].State, r.Rows[0].Sent, r.Rows[0].Flush, r.Rows[0].FlushLeft = "catchup", "0/14000000", "0/13F00000", "1048576"
	r.Rows[0].Replay, r.Rows[0].ReplayLeft, r.Rows[0].SentLeft = "0/13F00000", "1048576", "262896"
	return f
}

// unbalanced: content 1 failed over and its old primary was recovered as
// a mirror: both up and in sync, roles switched.
func unbalanced() *fixture {
	f := healthyGP6()
	p3, m5 := f.byDBID(3), f.byDBID(5)
	p3.Role, m5.Role = cluster.RoleMirror, cluster.RolePrimary
	f.obs.Instances[3] = running(6045, cluster.RoleMirror)
	f.obs.Instances[5] = running(6059, cluster.RolePrimary)
	f.obs.Repl[5] = f.obs.Repl[3]
	delete(f.obs.Repl, 3)
	return f
}

// hostUnreachable: the mirrors live on sdw2, which does not answer.
func hostUnreachable() *fixture {
	f := healthyGP6()
	err := &remote.HostError{Host: "sdw2", Label: "status of sdw2", ExitCode: -1, Err: noRoute("sdw2")}
	for _, dbid := range []int{4, 5} {
		s := f.byDBID(dbid)
		s.Hostname, s.Address = "sdw2", "sdw2"
		f.obs.Instances[dbid] = Observed{HostErr: "Error getting status from host sdw2", Reason: failureReason("sdw2", err), Ready: -1}
	}
	f.obs.HostWarnings["sdw2"] = "Error getting status from host sdw2"
	f.obs.HostErrors["sdw2"] = err
	return f
}

// noRoute is the SSH failure of a host that has no route.
func noRoute(host string) error {
	return &remote.SSHError{Host: host, Addr: host + ":22", Reason: remote.ReasonUnreachable,
		Detail: "no route to the host: is it up, and is the network between us working?",
		Err:    errors.New("dial tcp " + host + ":22: connect: no route to host")}
}

// withStandby is healthyGP6 with a standby coordinator on smdw.
func withStandby() *fixture {
	f := healthyGP6()
	f.segs = append(f.segs, seg(6, -1, cluster.RoleMirror, cluster.ModeSynced, "smdw", 7000, "/data/standby/demoDataDir-1"))
	f.obs.Instances[6] = running(7101, cluster.RoleMirror)
	f.obs.Repl[1] = &Replication{Queried: true, CurrentWAL: "0/C000060", Rows: []ReplRow{{AppName: "gp_walreceiver", State: "streaming",
		Sent: "0/C000060", Flush: "0/C000060", FlushLeft: "0", Replay: "0/C000060", ReplayLeft: "0", BackendStart: "2026-11-23 18:49:58.5+00", SentLeft: "0"}}}
	return f
}

// fixtures names every fixture, for tests that run a report on each.
var fixtures = []struct {
	name string
	make func() *fixture
}{
	{"healthy", healthyGP6}, {"mirrorless", mirrorless}, {"primary_down", primaryDown}, {"mirror_down", mirrorDown},
	{"not_in_sync", notInSync}, {"unbalanced", unbalanced}, {"host_unreachable", hostUnreachable}, {"standby", withStandby},
}

// testReport is a report over f with a console log at level (INFO, or
// DEBUG for -v) in out, and a coordinator connection scripted by conn.
type testReport struct {
	*report
	out  *bytes.Buffer
	conn *clustertest.FakeConn
}

func newTestReport(t *testing.T, f *fixture, opts *Options, level slog.Level) *testReport {
	t.Helper()
	env, out, _ := apptest.Env(t, "gpstate")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: level}))
	env.Progress = &bytes.Buffer{}
	c, err := cluster.New(f.segs)
	if err != nil {
		t.Fatal(err)
	}
	conn := &clustertest.FakeConn{}
	env.Connect = conn.Connector()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Parallel == 0 {
		opts.Parallel = DefaultParallel
	}
	co := &coordinator.Coordinator{GPHome: "/usr/local/greenplum-db", DataDir: "/data/qddir/demoDataDir-1", Port: 7000,
		ServerVersion: gp6ServerText, Cluster: c, Conn: conn}
	co.Local, err = cluster.ParseGPVersion(gp6Version)
	if err != nil {
		t.Fatal(err)
	}
	if f.flavour != cluster.GP6 {
		co.Local.Flavour = f.flavour
	}
	st := &Status{Flavour: f.flavour, Cluster: c, Obs: f.obs, DataDir: co.DataDir, Port: co.Port}
	return &testReport{report: &report{env: env, opts: opts, co: co, st: st}, out: out, conn: conn}
}

// messages strips the log prefix of every line of out: "[LEVEL]:-message"
// becomes "message" for INFO and "LEVEL: message" for other levels; other
// lines are kept as "verbatim: <line>".
func messages(out string) []string {
	prefix := regexp.MustCompile(`^\d{8}:\d\d:\d\d:\d\d:\d{6} gpstate:[^:]+:[^-]+-\[(INFO|WARNING|ERROR|CRITICAL|DEBUG)\]:-`)
	var msgs []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if m := prefix.FindStringSubmatch(l); m != nil {
			l = strings.TrimPrefix(l, m[0])
			if m[1] != "INFO" {
				l = m[1] + ": " + l
			}
		} else {
			l = "verbatim: " + l
		}
		msgs = append(msgs, l)
	}
	return msgs
}

// transcript returns the messages of one "===== gpstate <args>" section of
// testdata/gpstate/gp6-all-modes-healthy.txt (a verbatim copy of the
// reference transcript), without the prelude's four lines and rc=.
func transcript(t *testing.T, args string) []string {
	t.Helper()
	return transcriptSection(t, "gp6-all-modes-healthy.txt", args)
}

// transcriptSection is transcript for any file of testdata/gpstate; a file
// without "=====" headers is one section (args is then ignored).
func transcriptSection(t *testing.T, file, args string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gpstate", file))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if strings.HasPrefix(lines[0], "=====") {
		start := slices.Index(lines, "===== gpstate "+args)
		if start < 0 {
			t.Fatalf("no section %q in %s", args, file)
		}
		lines = lines[start+1:]
		if end := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "=====") }); end >= 0 {
			lines = lines[:end]
		}
	}
	if end := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "rc=") }); end >= 0 {
		lines = lines[:end]
	}
	msgs := messages(strings.Join(lines, "\n"))
	var out []string
	for _, m := range msgs {
		if strings.HasPrefix(m, "Starting gpstate with args:") || strings.HasPrefix(m, "local Greenplum Version:") ||
			strings.HasPrefix(m, "master Greenplum Version:") || m == "Obtaining Segment details from master..." {
			continue
		}
		out = append(out, m)
	}
	return out
}

// withoutDebug drops DEBUG records and the lines that continue them (a
// helper's multi-line stdout in the -v transcripts).
func withoutDebug(msgs []string) []string {
	var out []string
	inDebug := false
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m, "DEBUG: "):
			inDebug = true
		case strings.HasPrefix(m, "verbatim: "):
			if !inDebug {
				out = append(out, m)
			}
		default:
			inDebug = false
			out = append(out, m)
		}
	}
	return out
}

// exitCode is the exit code Main would give a report's err.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var e *app.ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	t.Fatalf("unexpected error: %v", err)
	return -1
}
