package gpstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// healthStatus is the Status a report holds for fixture f.
func healthStatus(t *testing.T, f *fixture) *Status {
	t.Helper()
	c, err := cluster.New(f.segs)
	if err != nil {
		t.Fatal(err)
	}
	return &Status{Flavour: f.flavour, Cluster: c, Obs: f.obs, DataDir: "/data/qddir/demoDataDir-1", Port: 7000}
}

// healthGolden is what testdata/gpstate/health_<fixture>.golden holds:
// stdout, then the exit code.
func healthGolden(stdout string, code int) []byte {
	return fmt.Appendf(nil, "%s--- exit code %d\n", stdout, code)
}

// TestHealthGolden pins the verdict lines and exit code of every fixture.
func TestHealthGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			h := CheckHealth(healthStatus(t, fx.make()))
			golden.Check(t, "gpstate", "health_"+fx.name+".golden", healthGolden(h.Text(), h.Verdict.ExitCode()))
		})
	}
}

// TestHealthVerdicts pins the words, the Nagios exit codes and the order
// (worst wins) of the verdicts.
func TestHealthVerdicts(t *testing.T) {
	want := []struct {
		v    Verdict
		name string
		code int
	}{
		{VerdictOK, "OK", 0},
		{VerdictUnbalanced, "UNBALANCED", 1},
		{VerdictNotSynced, "NOT_SYNCED", 1},
		{VerdictDegraded, "DEGRADED", 1},
		{VerdictUnknown, "UNKNOWN", 3},
		{VerdictUnreachable, "UNREACHABLE", 3},
		{VerdictDoubleFault, "DOUBLE_FAULT", 2},
		{VerdictCritical, "CRITICAL", 2},
	}
	for i, w := range want {
		if w.v.String() != w.name || w.v.ExitCode() != w.code {
			t.Errorf("verdict %d: %s exit %d, want %s exit %d", int(w.v), w.v, w.v.ExitCode(), w.name, w.code)
		}
		if i > 0 && !(want[i-1].v < w.v) {
			t.Errorf("%s must rank below %s", want[i-1].name, w.name)
		}
	}
}

// healthMoveTo puts the instances dbids of f on host, which does not answer.
func healthMoveTo(f *fixture, host string, dbids ...int) {
	for _, dbid := range dbids {
		s := f.byDBID(dbid)
		s.Hostname, s.Address = host, host
		f.obs.Instances[dbid] = Observed{HostErr: "Error getting status from host " + host, Ready: -1}
	}
	f.obs.HostWarnings[host] = "Error getting status from host " + host
}

func healthAddStandby(f *fixture, o Observed) *fixture {
	f.segs = append(f.segs, seg(6, -1, cluster.RoleMirror, cluster.ModeSynced, "smdw", 7000, "/data/standby/demoDataDir-1"))
	f.obs.Instances[6] = o
	return f
}

// TestHealthPrecedence: combinations of problems, the verdict each gives,
// and the verdicts of the problem lines, worst first.
func TestHealthPrecedence(t *testing.T) {
	tests := []struct {
		name     string
		make     func() *fixture
		want     Verdict
		problems []Verdict
		contains string // in the report's text
	}{
		{"healthy", healthyGP6, VerdictOK, nil, "GPSTATE OK - 2 contents, 4 segment instances up, 2 of 2 pairs in sync\n"},
		{"mirrorless", mirrorless, VerdictOK, nil, "no mirrors"},
		{"unbalanced", unbalanced, VerdictUnbalanced, []Verdict{VerdictUnbalanced}, "1 unbalanced"},
		{"not in sync", notInSync, VerdictNotSynced, []Verdict{VerdictNotSynced}, "262896 bytes left to send"},
		{"not in sync beats unbalanced", func() *fixture {
			f := unbalanced()
			f.byDBID(3).Mode, f.byDBID(5).Mode = cluster.ModeNotSynced, cluster.ModeNotSynced
			f.obs.Repl[5].Rows[0].State = "catchup"
			return f
		}, VerdictNotSynced, []Verdict{VerdictNotSynced, VerdictUnbalanced}, "mirror status Catchup"},
		{"catalog in sync, walsender catching up", func() *fixture {
			f := healthyGP6()
			f.obs.Repl[3].Rows[0].State = "catchup"
			return f
		}, VerdictNotSynced, []Verdict{VerdictNotSynced}, "the catalog says Synchronized but the mirror is Catchup"},
		{"catalog in sync, no walreceiver", func() *fixture {
			f := healthyGP6()
			f.obs.Repl[3].Rows = nil
			return f
		}, VerdictNotSynced, []Verdict{VerdictNotSynced}, "pg_stat_replication shows no standby connection"},
		{"replication query failed: the catalog stands", func() *fixture {
			f := healthyGP6()
			f.obs.Repl[3] = &Replication{Queried: true, Err: "psql: error: connection refused"}
			return f
		}, VerdictOK, nil, "2 of 2 pairs in sync"},
		{"mirror down", mirrorDown, VerdictDegraded, []Verdict{VerdictDegraded}, "content 1 is served by primary dbid 3"},
		{"primary down, mirror promoted", primaryDown, VerdictDegraded, []Verdict{VerdictDegraded, VerdictUnbalanced}, "mirror dbid 3 on mdw:7003 is down (Down in configuration)"},
		{"primary process gone, mirror can take over", func() *fixture {
			f := healthyGP6()
			f.obs.Instances[2] = stopped()
			delete(f.obs.Repl, 2)
			return f
		}, VerdictDegraded, []Verdict{VerdictDegraded}, "primary dbid 2 on mdw:7002 is down (Process error -- database process may be down); mirror dbid 4 can take over content 0"},
		{"degraded beats not in sync", func() *fixture {
			f := mirrorDown()
			f.byDBID(2).Mode, f.byDBID(4).Mode = cluster.ModeNotSynced, cluster.ModeNotSynced
			return f
		}, VerdictDegraded, []Verdict{VerdictDegraded, VerdictNotSynced}, "content 0 is not in sync"},
		{"standby down", func() *fixture { return healthAddStandby(healthyGP6(), stopped()) },
			VerdictDegraded, []Verdict{VerdictDegraded}, "standby dbid 6 on smdw:7000 is down (no postmaster.pid)"},
		{"standby down in configuration", func() *fixture {
			f := withStandby()
			f.byDBID(6).Status = cluster.StatusDown
			return f
		}, VerdictDegraded, []Verdict{VerdictDegraded}, "standby down"},
		{"host unreachable", hostUnreachable, VerdictUnreachable, []Verdict{VerdictUnreachable}, "2 of 4 segment instances up (2 unknown)"},
		{"standby unreachable", func() *fixture {
			f := withStandby()
			healthMoveTo(f, "smdw", 6)
			return f
		}, VerdictUnreachable, []Verdict{VerdictUnreachable}, "state unknown of standby (dbid 6)"},
		{"unreachable beats degraded", func() *fixture { return healthAddStandby(hostUnreachable(), stopped()) },
			VerdictUnreachable, []Verdict{VerdictUnreachable, VerdictDegraded}, "1 host unreachable"},
		{"primary unreachable, in-sync mirror can take over", func() *fixture {
			f := healthyGP6()
			healthMoveTo(f, "sdw1", 2, 3)
			return f
		}, VerdictUnreachable, []Verdict{VerdictUnreachable}, "host sdw1 did not answer"},
		{"double fault", func() *fixture {
			f := primaryDown()
			f.obs.Instances[5] = stopped()
			delete(f.obs.Repl, 5)
			return f
		}, VerdictDoubleFault, []Verdict{VerdictDoubleFault},
			"DOUBLE_FAULT: content 1 has no usable instance (primary dbid 5 down (Process error -- database process may be down), mirror dbid 3 down)\n"},
		{"double fault beats unreachable", func() *fixture {
			f := hostUnreachable()
			f.obs.Instances[3] = stopped()
			delete(f.obs.Repl, 3)
			return f
		}, VerdictDoubleFault, []Verdict{VerdictDoubleFault, VerdictUnreachable},
			"(primary dbid 3 down (Process error -- database process may be down), mirror dbid 5 unreachable (Error getting status from host sdw2))"},
		{"primary unreachable, mirror down", func() *fixture {
			f := mirrorDown()
			healthMoveTo(f, "sdw1", 3)
			return f
		}, VerdictDoubleFault, []Verdict{VerdictDoubleFault, VerdictUnreachable}, "mirror dbid 5 down)"},
		{"mirrorless content down", func() *fixture {
			f := mirrorless()
			f.obs.Instances[3] = stopped()
			return f
		}, VerdictDoubleFault, []Verdict{VerdictDoubleFault}, "content 1 has no usable instance (primary dbid 3 down (Process error -- database process may be down), no mirror)"},
		{"mirror up but its primary not in sync", func() *fixture {
			f := notInSync()
			f.obs.Instances[3] = Observed{PIDFile: true, PID: 6045, Lock: true, Active: false, Ready: 2}
			return f
		}, VerdictDoubleFault, []Verdict{VerdictDoubleFault},
			"primary dbid 3 down (Process error -- database process may be down), mirror dbid 5 up but not in sync"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := CheckHealth(healthStatus(t, tt.make()))
			var got []Verdict
			for _, p := range h.Problems {
				got = append(got, p.Verdict)
			}
			if h.Verdict != tt.want || !cmp.Equal(got, tt.problems) {
				t.Errorf("verdict %s, problems %v; want %s, %v\n%s", h.Verdict, got, tt.want, tt.problems, h.Text())
			}
			if !strings.Contains(h.Text(), tt.contains) {
				t.Errorf("report lacks %q:\n%s", tt.contains, h.Text())
			}
		})
	}
}

const healthGPHome = "/usr/local/greenplum-db"

// healthRig is everything runHealth touches, faked: the environment with
// GPHOME and MASTER_DATA_DIRECTORY, a coordinator data directory, the
// local executor (postgres --gp-version, the status script of the
// coordinator's host), the SSH executor (the other hosts' scripts) and the
// coordinator connection, all answering as the cluster of fixture f.
type healthRig struct {
	env         *app.Env
	out         *bytes.Buffer
	vars        map[string]string
	dir         string
	exec, ssh   *remotetest.Fake
	conn        *clustertest.FakeConn
	opts        *Options
	executorErr error // what opening SSH fails with
}

func newHealthRig(t *testing.T, f *fixture) *healthRig {
	t.Helper()
	env, out, _ := apptest.Env(t, "gpstate", "--health")
	// As in production: --health and --json log to the log file only.
	if err := env.SetupLogging(&app.CommonOptions{MachineOutput: true}); err != nil {
		t.Fatal(err)
	}
	rig := &healthRig{env: env, out: out, dir: t.TempDir(), exec: &remotetest.Fake{}, ssh: &remotetest.Fake{}, conn: &clustertest.FakeConn{}}
	rig.vars = map[string]string{"GPHOME": healthGPHome, "MASTER_DATA_DIRECTORY": rig.dir}
	env.Getenv = func(k string) string { return rig.vars[k] }
	env.Exec = rig.exec
	env.Connect = rig.conn.Connector()
	rig.exec.OnArgv("localhost", []string{healthGPHome + "/bin/postgres", "--gp-version"}, remotetest.Response{Stdout: gp6Version + "\n"})
	rig.conn.On(cluster.ServerVersionSQL, clustertest.Text(gp6ServerText))
	rig.conn.On(cluster.LoadSQL, clustertest.SegmentRows(f.segs))
	for name, text := range map[string]string{
		"postgresql.conf": "port=7000\n",
		"postmaster.pid":  "6071\n" + rig.dir + "\n",
		"postmaster.opts": healthGPHome + `/bin/postgres "-D" "` + rig.dir + `" "-p" "7000" "-E"` + "\n",
	} {
		if err := os.WriteFile(filepath.Join(rig.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := cluster.New(f.segs)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range c.AllHosts() {
		exec := rig.ssh
		if h == c.Coordinator().Hostname {
			exec = rig.exec
		}
		resp := remotetest.Response{Stdout: healthScriptOutput(c, f.obs, h)}
		if f.obs.HostWarnings[h] != "" {
			resp = remotetest.Response{Err: noRoute(h)}
		}
		exec.OnScript(h, statusScript, resp)
	}
	rig.opts = &Options{Health: true, Parallel: DefaultParallel, Retries: 1}
	env.NewSSH = func(o remote.SSHOptions) (remote.HostExecutor, error) {
		return (&remotetest.Hosts{Fake: rig.ssh}).Opener(rig.executorErr)(o)
	}
	return rig
}

// healthScriptOutput is what the status script prints on host for the
// observation o of c's instances there.
func healthScriptOutput(c *cluster.Cluster, o *Observation, host string) string {
	var b strings.Builder
	bit := map[bool]int{false: 0, true: 1}
	for _, s := range c.All() {
		if s.Hostname != host {
			continue
		}
		in := o.Instances[s.DBID]
		fmt.Fprintf(&b, "gpstate-status %d %d %d %d %d %d\n", s.DBID, bit[in.PIDFile], in.PID, bit[in.Lock], bit[in.Active], in.Ready)
		r := o.Repl[s.DBID]
		if r == nil {
			continue
		}
		for _, row := range r.Rows {
			fields := []string{row.AppName, row.State, row.Sent, row.Flush, row.FlushLeft, row.Replay, row.ReplayLeft, row.BackendStart, row.SentLeft}
			fmt.Fprintf(&b, "gpstate-repl %d %s\n", s.DBID, strings.Join(fields, "\x1f"))
		}
		if r.CurrentWAL != "" {
			fmt.Fprintf(&b, "gpstate-wal %d %s\n", s.DBID, r.CurrentWAL)
		}
		if r.Err != "" {
			fmt.Fprintf(&b, "gpstate-sqlerr %d %s\n", s.DBID, r.Err)
		}
	}
	return b.String()
}

// healthExitCode is the exit code app.Main makes of err.
func healthExitCode(t *testing.T, err error) int {
	t.Helper()
	var exit *app.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.Err == nil:
		return exit.Code
	}
	t.Fatalf("runHealth returned %v, want nil or a bare ExitError", err)
	return -1
}

func (rig *healthRig) logFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rig.env.Home, gplog.DefaultDirName, gplog.FileName("gpstate", apptest.At)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHealthRun runs runHealth end to end on every fixture, with the
// status scripts answering what the fixture observed: stdout holds the
// verdict lines alone, the same as CheckHealth's golden, and the exit code
// is the verdict's; the prelude's log lines went to the log file only.
func TestHealthRun(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			rig := newHealthRig(t, fx.make())
			code := healthExitCode(t, runHealth(t.Context(), rig.env, rig.opts))
			golden.Check(t, "gpstate", "health_"+fx.name+".golden", healthGolden(rig.out.String(), code))
			log := rig.logFile(t)
			for _, want := range []string{"-[INFO]:-local Greenplum Version: '" + gp6Version + "'", "-[INFO]:-Gathering data from segments...",
				"-[INFO]:-Health: " + strings.SplitN(rig.out.String(), "\n", 2)[0] + "\n"} {
				if !strings.Contains(log, want) {
					t.Errorf("log file lacks %q:\n%s", want, log)
				}
			}
			if !rig.conn.Closed() {
				t.Error("coordinator connection left open")
			}
		})
	}
}

// TestHealthPreludeFails: a coordinator that is down, or a check that
// cannot start, is a verdict on one line with its exit code; the reason is
// logged in the log file.
func TestHealthPreludeFails(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, rig *healthRig)
		want  string
		code  int
	}{
		{"coordinator stopped", func(t *testing.T, rig *healthRig) {
			if err := os.Remove(filepath.Join(rig.dir, "postmaster.pid")); err != nil {
				t.Fatal(err)
			}
		}, "GPSTATE CRITICAL - coordinator down: Greenplum database appears to be stopped\n", 2},
		{"connection refused", func(t *testing.T, rig *healthRig) {
			rig.env.Connect = func(context.Context, cluster.ConnConfig) (cluster.Conn, error) {
				return nil, errors.New("connect to database template1 on :7000 as gpadmin: dial error: connection refused")
			}
		}, "GPSTATE CRITICAL - coordinator down: cannot connect to the master on port 7000: connect to database template1 on :7000 as gpadmin: dial error: connection refused\n", 2},
		{"catalog unreadable", func(t *testing.T, rig *healthRig) {
			rig.conn.On(cluster.LoadSQL, clustertest.Err(errors.New("ERROR: relation \"gp_segment_configuration\" does not exist")))
		}, "GPSTATE CRITICAL - cannot read the catalog: ", 2},
		{"no data directory", func(t *testing.T, rig *healthRig) { delete(rig.vars, "MASTER_DATA_DIRECTORY") },
			"GPSTATE UNKNOWN - cannot check the cluster: Environment Variable MASTER_DATA_DIRECTORY not set!\n", 3},
		{"no GPHOME", func(t *testing.T, rig *healthRig) { delete(rig.vars, "GPHOME") },
			"GPSTATE UNKNOWN - cannot check the cluster: Environment Variable GPHOME not set\n", 3},
		{"no ssh", func(t *testing.T, rig *healthRig) {
			rig.executorErr = errors.New("read ~/.ssh/config: permission denied")
		},
			"GPSTATE UNKNOWN - cannot check the segments: ssh: read ~/.ssh/config: permission denied\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newHealthRig(t, healthyGP6())
			tt.setup(t, rig)
			code := healthExitCode(t, runHealth(t.Context(), rig.env, rig.opts))
			got := rig.out.String()
			t.Logf("exit %d: %s", code, got)
			if code != tt.code || !strings.HasPrefix(got, tt.want) || strings.Count(got, "\n") != 1 {
				t.Errorf("exit %d, stdout %q; want exit %d and the one line %q", code, got, tt.code, tt.want)
			}
			if log := rig.logFile(t); !strings.Contains(log, "-[ERROR]:-gpstate error: ") {
				t.Errorf("log file lacks the error:\n%s", log)
			}
		})
	}
}

// TestHealthMain runs gpstate --health through app.Main with the
// coordinator stopped: exit 2, the verdict on stdout, nothing on stderr,
// no stack trace: only the verdict on stdout, the error on stderr.
func TestHealthMain(t *testing.T) {
	rig := newHealthRig(t, healthyGP6())
	if err := os.Remove(filepath.Join(rig.dir, "postmaster.pid")); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	rig.env.Err = &stderr
	code := app.Main(NewCommand(rig.env, nil), rig.env)
	t.Logf("exit %d, stdout:\n%s", code, rig.out)
	want := "GPSTATE CRITICAL - coordinator down: Greenplum database appears to be stopped\n"
	if code != 2 || rig.out.String() != want {
		t.Errorf("exit %d, stdout %q; want 2 and %q", code, rig.out.String(), want)
	}
	if !strings.Contains(stderr.String(), "-[ERROR]:-gpstate error: Greenplum database appears to be stopped\n") || strings.Contains(stderr.String(), "goroutine") {
		t.Errorf("stderr %q: want the error line, no stack trace", stderr.String())
	}
	log := rig.logFile(t)
	for _, w := range []string{"-[ERROR]:-gpstate error: Greenplum database appears to be stopped\n",
		"-[ERROR]:-Hint: no postmaster.pid in " + rig.dir + ": start the cluster with gpstart\n",
		"-[INFO]:-Health: GPSTATE CRITICAL - coordinator down: Greenplum database appears to be stopped\n"} {
		if !strings.Contains(log, w) {
			t.Errorf("log file lacks %q:\n%s", w, log)
		}
	}
}
