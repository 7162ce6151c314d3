package addmirrors_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// errNoSSH stops the run where the build-mirrors pipeline begins: the
// pipeline itself is tested in pkg/buildmirrors.
var errNoSSH = errors.New("no ssh in unit tests")

// hosts is the segment hosts of a rig: they answer the first host-key
// check (Run's own, before the checksum check) and pg_controldata, with
// the checksum version of each dbid (1 unless set); the pipeline's own
// host-key check then gets errNoSSH.
type hosts struct {
	*remotetest.Fake
	checks   int
	checksum map[int]string
}

func (h *hosts) CheckHostKeys(context.Context, []string) error {
	if h.checks++; h.checks > 1 {
		return errNoSSH
	}
	return nil
}

func (h *hosts) Close() error { return nil }

// controlData answers a pg_controldata script: its arguments are GPHOME,
// then dbid and data directory pairs.
func controlData(checksum map[int]string) func(remote.Command) (remotetest.Response, bool) {
	return func(c remote.Command) (remotetest.Response, bool) {
		if c.Label != "pg_controldata" {
			return remotetest.Response{}, false
		}
		var out strings.Builder
		for i := 1; i+1 < len(c.Args); i += 2 {
			v := "1"
			if dbid, _ := strconv.Atoi(c.Args[i]); checksum[dbid] != "" {
				v = checksum[dbid]
			}
			fmt.Fprintf(&out, "@@ %s 0\npg_control version number:            9420600\nData page checksum version:           %s\n@@stderr\n", c.Args[i], v)
		}
		return remotetest.Response{Stdout: out.String()}, true
	}
}

// The versions of gp6-transcripts/gpaddmirrors-i-v.txt.
const (
	gphome    = "/usr/local/greenplum-db"
	gp6Local  = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
	gp6Server = "PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213) on x86_64-unknown-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit compiled on Nov 23 2026 18:42:17"
	demoMDD   = "/data/qddir/demoDataDir-1"
)

// rig is a GP6 coordinator of the transcript's mirrorless gpdemo cluster,
// faked: environment, postgres --gp-version, data directory, connection.
type rig struct {
	env   *app.Env
	out   *bytes.Buffer
	mdd   string
	conn  *clustertest.FakeConn
	exec  *remotetest.Fake
	hosts *hosts
}

func newRig(t *testing.T, segs []cluster.Segment, args ...string) *rig {
	t.Helper()
	env, out, _ := apptest.Env(t, "gpaddmirrors", args...)
	r := &rig{env: env, out: out, mdd: filepath.Join(t.TempDir(), "demoDataDir-1"),
		conn: &clustertest.FakeConn{}, exec: &remotetest.Fake{}, hosts: &hosts{Fake: &remotetest.Fake{}, checksum: map[int]string{}}}
	r.exec.OnFunc(controlData(nil))
	r.hosts.OnFunc(controlData(r.hosts.checksum))
	if err := os.Mkdir(r.mdd, 0o700); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"GPHOME": gphome, "MASTER_DATA_DIRECTORY": r.mdd}
	env.Getenv = func(k string) string { return vars[k] }
	env.Exec = r.exec
	env.Connect = r.conn.Connector()
	r.exec.OnArgv("localhost", []string{gphome + "/bin/postgres", "--gp-version"}, remotetest.Response{Stdout: gp6Local + "\n"})
	r.conn.On(cluster.ServerVersionSQL, clustertest.Text(gp6Server))
	r.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
	for name, text := range map[string]string{
		"postgresql.conf": "port=7000\nmax_connections = 25\n",
		"postmaster.pid":  "12345\n" + r.mdd + "\n",
		"postmaster.opts": gphome + `/bin/postgres "-D" "` + r.mdd + `" "-p" "7000" "-E"` + "\n",
	} {
		if err := os.WriteFile(filepath.Join(r.mdd, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// main runs gpaddmirrors through app.Main with stdin and a host lookup
// that knows every name, and returns the exit code and stdout with the
// temporary coordinator data directory shown as the transcript's.
func (r *rig) main(t *testing.T, stdin string) (int, string) {
	t.Helper()
	r.env.In = strings.NewReader(stdin)
	cmd := addmirrors.NewCommand(r.env, func(o *addmirrors.Options) error {
		o.LookupHost = func(context.Context, string) ([]string, error) { return []string{"10.0.0.2"}, nil }
		r.env.NewSSH = func(remote.SSHOptions) (remote.HostExecutor, error) { return r.hosts, nil }
		if err := r.env.SetupLogging(&o.CommonOptions); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return addmirrors.Run(t.Context(), r.env, o)
	})
	code := app.Main(cmd, r.env)
	return code, strings.ReplaceAll(r.out.String(), r.mdd, demoMDD)
}

func gpdemoSegments(t *testing.T) []cluster.Segment {
	return fixtureSegments(t, "segconfig", "gpdemo_mirrorless")
}

// TestRunPrompts answers the directory prompts and the confirmation on
// stdin: the plan is the transcript's, then the pipeline starts (here it
// cannot reach the hosts: exit 2).
func TestRunPrompts(t *testing.T) {
	r := newRig(t, gpdemoSegments(t), "-p", "2")
	code, out := r.main(t, "/data/dbfast_mirror1\n/data/dbfast_mirror2\ny\n")
	if code != app.ExitFatal {
		t.Errorf("exit code %d, want 2", code)
	}
	golden.Check(t, "addmirrors", "run_prompts_gp6.golden", []byte(out))
}

func TestRunExitCodes(t *testing.T) {
	mirrorFile := testdataPath("gpdemo.mirrors")
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		has   []string // substrings of stdout
		lacks []string
	}{
		{"-a -i: no prompt at all", []string{"-a", "-i", mirrorFile}, "", app.ExitFatal,
			[]string{"Mirror 2 of 2", "no ssh in unit tests"}, []string{"Enter mirror", "Yy|Nn"}},
		{"no at the prompt", []string{"-i", mirrorFile}, "n\n", app.ExitUserAbort,
			[]string{"Continue with add mirrors procedure Yy|Nn (default=N):", "User abort requested, Exiting..."}, []string{"not implemented"}},
		{"dry run", []string{"--dry-run", "-i", mirrorFile}, "", app.ExitFatal,
			[]string{"Mirror 2 of 2", "no ssh in unit tests"}, []string{"Yy|Nn", "not implemented"}},
		{"-m file", []string{"-a", "-p", "2", "-m", testdataPath("gpdemo.dirs")}, "", app.ExitFatal,
			[]string{"Mirror instance directory    = /data/dbfast_mirror2/demoDataDir1"}, []string{"Enter mirror"}},
		{"prompt without answers", []string{"-a"}, "", app.ExitFatal,
			[]string{"Enter mirror segment data directory location 1 of 2 >", "end of input at mirror segment data directory location 1 of 2"}, nil},
		{"port offset out of range", []string{"-a"}, "", app.ExitFatal,
			[]string{"gpaddmirrors: error: Value of port offset supplied via -p option produces ports outside of the valid rangeMirror port base range must be between 6432 and 61000"}, []string{"Enter mirror"}},
		{"-B out of range", []string{"-B", "65"}, "", app.ExitFatal,
			[]string{"gpaddmirrors: error: Invalid batch_size provided with -B argument: 65"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs := gpdemoSegments(t)
			if tt.name == "port offset out of range" {
				for i := range segs {
					if segs[i].IsSegment() {
						segs[i].Port += 55000
					}
				}
			}
			r := newRig(t, segs, tt.args...)
			code, out := r.main(t, tt.stdin)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\n%s", code, tt.code, out)
			}
			for _, s := range tt.has {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
		})
	}
}

// TestRunOutputFile: -o writes the computed mirrors in the -i format and
// exits 0 without showing or asking anything; the file is the one the
// transcript's run was given.
func TestRunOutputFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mirrors")
	r := newRig(t, gpdemoSegments(t), "-p", "2", "-o", file)
	code, out := r.main(t, "/data/dbfast_mirror1\n/data/dbfast_mirror2\n")
	if code != app.ExitOK {
		t.Fatalf("exit code %d, want 0\n%s", code, out)
	}
	if !strings.HasSuffix(out, "-[INFO]:-Configuration file output to "+file+" successfully.\n") || strings.Contains(out, "Mirror 1 of 2") {
		t.Errorf("stdout:\n%s", out)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(testdataPath("gpdemo.mirrors"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestRunAlreadyMirrored(t *testing.T) {
	segs := gpdemoSegments(t)
	for _, p := range []struct {
		dbid, content, port int
		dir                 string
	}{{4, 0, 7004, "/data/dbfast_mirror1/demoDataDir0"}, {5, 1, 7005, "/data/dbfast_mirror2/demoDataDir1"}} {
		segs = append(segs, cluster.Segment{DBID: p.dbid, ContentID: p.content, Role: cluster.RoleMirror, PreferredRole: cluster.RoleMirror,
			Mode: cluster.ModeSynced, Status: cluster.StatusUp, Hostname: "mdw", Address: "mdw", Port: p.port, DataDir: p.dir})
	}
	for i := range segs {
		if segs[i].ContentID >= 0 {
			segs[i].Mode = cluster.ModeSynced
		}
	}
	r := newRig(t, segs, "-a", "-p", "2")
	code, out := r.main(t, "")
	want := "-[ERROR]:-gpaddmirrors error: GPDB physical mirroring cannot be added.  The cluster is already configured with Mirrors.\n"
	if code != app.ExitFatal || !strings.HasSuffix(out, want) || strings.Contains(out, "Enter mirror") {
		t.Errorf("exit code %d, stdout:\n%s", code, out)
	}
}

// TestRunHeapChecksums: every segment's heap checksum setting must be the
// coordinator's (spec §5.2 step 2); a difference stops the run before
// anything is planned or changed, with Greenplum's messages.
func TestRunHeapChecksums(t *testing.T) {
	r := newRig(t, gpdemoSegments(t), "-a", "-i", testdataPath("gpdemo.mirrors"))
	r.hosts.checksum[3] = "0"
	code, out := r.main(t, "")
	if code != app.ExitFatal {
		t.Errorf("exit code %d, want 2", code)
	}
	for _, want := range []string{
		"-[CRITICAL]:-Cluster heap checksum setting differences reported\n",
		"-[CRITICAL]:-Heap checksum settings on 1 of 2 segment instances do not match master <<<<<<<<\n",
		"-[WARNING]:-dbid: 3 checksum set to 0 differs from master checksum set to 1\n",
		"-[CRITICAL]:-gpaddmirrors error: Cluster will not be modified as checksum settings are not consistent across the cluster.\n",
		"-[ERROR]:-gpaddmirrors error: Segments have heap_checksum set inconsistently to master\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Mirror 1 of 2") {
		t.Errorf("the plan was shown although the check failed:\n%s", out)
	}
}

// TestRunRefusedDuringRecovery: while a gprecoverseg holds its lock, no
// mirror is added (both copy from the same primaries; docs/locks.md), and
// no host is asked anything.
func TestRunRefusedDuringRecovery(t *testing.T) {
	r := newRig(t, gpdemoSegments(t), "-a", "-p", "2")
	l, _, err := oplock.Acquire(r.mdd, "gprecoverseg", oplock.Self(r.env.Hostname))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Release() }()
	code, out := r.main(t, "")
	if code != app.ExitFatal || !strings.Contains(out, "-[ERROR]:-gpaddmirrors error: a gprecoverseg (PID ") || !strings.Contains(out, "[ERROR]:-Hint: wait until it ends") {
		t.Errorf("exit code %d, stdout:\n%s", code, out)
	}
	if calls := r.hosts.Calls(); len(calls) > 0 {
		t.Errorf("hosts were asked %d things during a recovery", len(calls))
	}
}

// TestRunRefusedBesideAnotherAddMirrors: a second gpaddmirrors while one
// holds its lock is refused with the two lock lines, exit 2, before any
// host is asked anything (safety invariant 3); the lock it found stays.
func TestRunRefusedBesideAnotherAddMirrors(t *testing.T) {
	r := newRig(t, gpdemoSegments(t), "-a", "-p", "2")
	l, _, err := oplock.Acquire(r.mdd, "gpaddmirrors", oplock.Self(r.env.Hostname))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Release() }()
	code, out := r.main(t, "")
	want := "/gpaddmirrors.lock indicates that an instance of gpaddmirrors is already running with PID "
	if code != app.ExitFatal || !strings.Contains(out, want) {
		t.Errorf("exit code %d, want 2 and %q; stdout:\n%s", code, want, out)
	}
	if calls := r.hosts.Calls(); len(calls) > 0 {
		t.Errorf("hosts were asked %d things beside another gpaddmirrors", len(calls))
	}
	if _, held, _ := oplock.Held(r.mdd, "gpaddmirrors", r.env.Hostname); !held {
		t.Error("the other run's lock was removed")
	}
}

// TestRunReleasesItsLock: a run that got as far as building the mirrors
// (here it cannot reach the hosts: exit 2) leaves no lock behind.
func TestRunReleasesItsLock(t *testing.T) {
	r := newRig(t, gpdemoSegments(t), "-a", "-p", "2")
	if code, out := r.main(t, "/data/dbfast_mirror1\n/data/dbfast_mirror2\n"); code != app.ExitFatal || !strings.Contains(out, "Mirror 1 of 2") {
		t.Fatalf("exit %d, want 2 after the plan:\n%s", code, out)
	}
	if _, err := os.Stat(oplock.Path(r.mdd, "gpaddmirrors")); !os.IsNotExist(err) {
		t.Errorf("gpaddmirrors' lock left behind: %v", err)
	}
}

// TestRunFinishesOnlyTheSameCommand: a run killed after its catalog
// commit (both mirrors of the journal registered) is finished by a rerun
// only once the rerun's own input has been read and checked and plans the
// same mirrors: a -i file that cannot be parsed, or that names other
// directories, is refused with exit 2 and nothing changed (the journal
// stays, no host is told to forget a copy, FTS is not asked); the same -i
// file finishes it, with the FTS probe the killed run's last step would
// have asked for.
func TestRunFinishesOnlyTheSameCommand(t *testing.T) {
	segs := gpdemoSegments(t)
	var items []oplock.Item
	for _, p := range []struct {
		dbid, content, port int
		dir                 string
	}{{4, 0, 7004, "/data/dbfast_mirror1/demoDataDir0"}, {5, 1, 7005, "/data/dbfast_mirror2/demoDataDir1"}} {
		segs = append(segs, cluster.Segment{DBID: p.dbid, ContentID: p.content, Role: cluster.RoleMirror, PreferredRole: cluster.RoleMirror,
			Mode: cluster.ModeNotSynced, Status: cluster.StatusDown, Hostname: "mdw", Address: "mdw", Port: p.port, DataDir: p.dir})
		items = append(items, oplock.Item{DBID: p.dbid, Method: "add", Host: "mdw", DataDir: p.dir, Port: p.port,
			Step: "forget the finished copies", Made: true})
	}
	bad := filepath.Join(t.TempDir(), "bad.mirrors")
	other := filepath.Join(t.TempDir(), "other.mirrors")
	for name, text := range map[string]string{
		bad:   "0|mdw|7004|/data/dbfast_mirror1/demoDataDir0\n1|mdw|seven|/data/dbfast_mirror2/demoDataDir1\n",
		other: "0|mdw|7004|/data/dbfast_mirror1/demoDataDir0\n1|mdw|7005|/elsewhere/demoDataDir1\n",
	} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name, file string
		wantCode   int
		wantOut    string
	}{
		{"unparsable -i", bad, app.ExitFatal, "bad.mirrors"},
		{"missing -i", filepath.Join(t.TempDir(), "absent"), app.ExitFatal, "cannot read the mirror configuration file given with -i"},
		{"other mirrors", other, app.ExitFatal, "registered mirrors this command does not plan (dbid 5 mdw:7005 /data/dbfast_mirror2/demoDataDir1): nothing was changed"},
		{"the same command", testdataPath("gpdemo.mirrors"), app.ExitOK, "registered every mirror it planned before it stopped"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, segs, "-a", "-i", tt.file)
			if _, err := oplock.NewJournal(r.mdd, oplock.Record{Tool: "gpaddmirrors", PID: 77, Args: []string{"-a", "-i", "FILE"}, Items: items}); err != nil {
				t.Fatal(err)
			}
			r.hosts.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
				return remotetest.Response{}, strings.HasPrefix(c.Label, "forget the finished copy")
			})
			r.conn.On(cluster.FTSProbeSQL, clustertest.Bool(true))
			code, out := r.main(t, "")
			probes := 0
			for _, q := range r.conn.SQL() {
				if q == cluster.FTSProbeSQL {
					probes++
				}
			}
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %d and %q; stdout:\n%s", code, tt.wantCode, tt.wantOut, out)
			}
			var forgot int
			for _, c := range r.hosts.Calls() {
				if strings.HasPrefix(c.Label, "forget the finished copy") {
					forgot++
				}
			}
			rec, err := oplock.ReadJournal(r.mdd, "gpaddmirrors")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantCode != app.ExitOK && (rec == nil || forgot != 0 || probes != 0):
				t.Errorf("refused run: journal %v, %d copies forgotten, %d FTS probes; want the journal kept and nothing done", rec, forgot, probes)
			case tt.wantCode == app.ExitOK && (rec != nil || forgot != 2 || probes != cluster.FTSProbeCount(cluster.GP6)):
				t.Errorf("finishing run: journal %v, %d copies forgotten, %d FTS probes; want it removed, both forgotten, the probe GP6 asks for", rec, forgot, probes)
			}
		})
	}
}
