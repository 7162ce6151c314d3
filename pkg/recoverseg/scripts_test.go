package recoverseg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/gp6clients"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// gp6Recovery is a recovery of a GP6 cluster whose GPHOME holds GP6's
// client programs (package gp6clients) answering as a scripts says.
func gp6Recovery(t *testing.T, a gp6clients.Answers) (*recovery, string) {
	t.Helper()
	home := t.TempDir()
	log := gp6clients.Install(t, home, a)
	return &recovery{co: &coordinator.Coordinator{GPHome: home}, f: cluster.GP6, exec: remote.LocalExecutor{}}, log
}

// gp6Target is a failed GP6 instance under base, with its data directory
// made: internal.auto.conf naming dbid 3, a postgresql.conf with the
// source's port (as a rewind leaves it).
func gp6Target(t *testing.T, base string) target {
	t.Helper()
	dir := filepath.Join(base, "primary", "gpseg1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "internal.auto.conf"), "gp_dbid=3\n")
	write(t, filepath.Join(dir, "postgresql.conf"), "port=7005\n")
	return target{
		Failed:       cluster.Segment{DBID: 3, ContentID: 1, Role: cluster.RoleMirror, Hostname: "localhost", Address: "localhost", Port: 7003, DataDir: dir},
		Source:       cluster.Segment{DBID: 5, ContentID: 1, Role: cluster.RolePrimary, Hostname: "sdw2", Address: "sdw2", Port: 7005, DataDir: "/data/mirror/gpseg1"},
		ProgressFile: filepath.Join(base, "logs", "pg_rewind.20261204_144917.dbid3.out"),
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// noRefusals fails t when a GP6 client program refused an option.
func noRefusals(t *testing.T, log string) []string {
	t.Helper()
	calls := gp6clients.Calls(t, log)
	for _, l := range calls {
		if strings.HasPrefix(l, "REFUSED") {
			t.Errorf("a GP6 client program refused an option: %s\ncalls:\n%s", l, strings.Join(calls, "\n"))
		}
	}
	return calls
}

// rewindAnswer is GP6's pg_rewind as the fake runs it: it prints its
// progress, takes a moment, and leaves the target a mirror of the source
// (recovery.conf as GP6's -R writes it).
const rewindAnswer = `for a; do case $a in --target-pgdata=*) d=${a#--target-pgdata=} ;; esac; done
echo "connected to server"
echo " 51530/152375 kB (33%) copied"
sleep 1
printf "standby_mode = 'on'\nprimary_conninfo = 'user=gpadmin host=sdw2 port=7005 application_name=gp_walreceiver'\nprimary_slot_name = 'internal_wal_replication_slot'\n" >"$d/recovery.conf"
echo "Done!"`

// ctlAnswer starts and stops instances as the fake pg_ctl does: start
// leaves a sleeping process's pid in postmaster.pid.
const ctlAnswer = `case $1 in
start) sleep 30 >/dev/null 2>&1 & echo $! >"$dir/postmaster.pid"; echo "server started" ;;
stop) kill "$(head -n 1 "$dir/postmaster.pid")" 2>/dev/null; rm -f "$dir/postmaster.pid"; echo "server stopped" ;;
status) [ -f "$dir/postmaster.pid" ] && kill -0 "$(head -n 1 "$dir/postmaster.pid")" 2>/dev/null || return 3 ;;
esac`

// killStarted stops the process a fake start left in dir.
func killStarted(t *testing.T, dir string) {
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid")); err == nil {

			if pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

func run(t *testing.T, r *recovery, c remote.Command) remote.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return r.exec.Exec(ctx, c)
}

// TestRecoverScriptUnderGP6 runs the recovery script of a failed-over GP6
// primary with GP6's client programs: pg_rewind runs detached with 9.5's
// options and GP6's PGOPTIONS, its progress comes back as PROGRESS lines,
// the port is set, the instance starts with GP6's options, and the rewind's
// pid and status files are gone at the end.
func TestRecoverScriptUnderGP6(t *testing.T) {
	r, log := gp6Recovery(t, gp6clients.Answers{Rewind: `echo "PGOPTIONS=$PGOPTIONS" >&2; ` + rewindAnswer, Ctl: ctlAnswer})
	tg := gp6Target(t, t.TempDir())
	killStarted(t, tg.Failed.DataDir)
	res := run(t, r, r.recoverCommand(tg, "e1"))
	if !res.OK() || !strings.Contains(res.Stdout, "RESULT ok started") {
		t.Fatalf("recovery: %v\nstdout: %s\nstderr: %s", res.Err, res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "PROGRESS  51530/152375 kB (33%) copied") && !strings.Contains(res.Stdout, "PROGRESS Done!") {
		t.Errorf("no progress lines:\n%s", res.Stdout)
	}
	b, _ := os.ReadFile(filepath.Join(tg.Failed.DataDir, "postgresql.conf"))
	if string(b) != "port=7003\n" {
		t.Errorf("postgresql.conf %q", b)
	}
	pf, _ := os.ReadFile(tg.ProgressFile)
	if !strings.Contains(string(pf), "PGOPTIONS=-c gp_session_role=utility") || !strings.Contains(string(pf), "Done!") {
		t.Errorf("progress file: %s", pf)
	}
	for _, f := range []string{rewindFile(tg, "pid"), rewindFile(tg, "status")} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	calls := noRefusals(t, log)
	joined := strings.Join(calls, "\n")
	for _, want := range []string{
		"pg_rewind '--write-recovery-conf' '--slot=internal_wal_replication_slot' '--source-server=host=sdw2 port=7005 dbname=template1 application_name=__gprecoverseg_pg_rewind__' '--target-pgdata=" + tg.Failed.DataDir + "' '--progress'",
		"pg_ctl '-D' '" + tg.Failed.DataDir + "' '-l' '" + tg.Failed.DataDir + "/pg_log/startup.log' '-w' '-t' '600' '-o' ' -p 7003 -c gp_role=utility ' 'start'",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no call %s in:\n%s", want, joined)
		}
	}
}

// TestRecoverScriptGuards: a mirror that went down (its recovery.conf
// this cluster's) is restarted without a rewind; a rewind an earlier run
// finished is not run again; one that was killed midway stops the
// recovery (exit 3, "interrupted"); a directory of another dbid is
// refused.
func TestRecoverScriptGuards(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(tg target)
		result  string
		rewinds bool
	}{
		{"standby", func(tg target) {
			write(t, filepath.Join(tg.Failed.DataDir, "recovery.conf"), "standby_mode = 'on'\nprimary_conninfo = 'host=sdw2 port=7005 application_name=gp_walreceiver'\nprimary_slot_name = 'internal_wal_replication_slot'\n")
		}, "RESULT ok started", false},
		{"foreign standby configuration", func(tg target) {
			write(t, filepath.Join(tg.Failed.DataDir, "recovery.conf"), "standby_mode = 'on'\nprimary_conninfo = 'host=elsewhere port=1'\n")
		}, "RESULT ok started", true},
		{"finished earlier", func(tg target) { write(t, rewindFile(tg, "status"), "0\n") }, "RESULT ok started", false},
		{"failed earlier", func(tg target) { write(t, rewindFile(tg, "status"), "1\n") }, "RESULT incremental pg_rewind of an earlier run failed (exit 1)", false},
		{"killed midway", func(tg target) {
			cmd := exec.Command("true")
			_ = cmd.Run()
			write(t, rewindFile(tg, "pid"), strings.TrimSpace(itoa(cmd.Process.Pid)))
		}, "RESULT interrupted the pg_rewind an earlier run started", false},
		{"another dbid", func(tg target) { write(t, filepath.Join(tg.Failed.DataDir, "internal.auto.conf"), "gp_dbid=9\n") },
			"RESULT validation " + "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, log := gp6Recovery(t, gp6clients.Answers{Rewind: rewindAnswer, Ctl: ctlAnswer})
			tg := gp6Target(t, t.TempDir())
			killStarted(t, tg.Failed.DataDir)
			tt.prepare(tg)
			res := run(t, r, r.recoverCommand(tg, "e1"))
			if !strings.Contains(res.Stdout, tt.result) {
				t.Fatalf("stdout lacks %q:\n%s\nstderr: %s", tt.result, res.Stdout, res.Stderr)
			}
			if tt.name == "killed midway" && res.ExitCode != 3 {
				t.Errorf("exit %d, want 3", res.ExitCode)
			}
			rewound := strings.Contains(strings.Join(noRefusals(t, log), "\n"), "pg_rewind ")
			if rewound != tt.rewinds {
				t.Errorf("pg_rewind ran: %t, want %t", rewound, tt.rewinds)
			}
		})
	}
}

// TestStopScriptUnderGP6: a failed instance still running is stopped with
// GP6's pg_ctl; one whose pid is gone is left; shared memory cleanup does
// not fail on an id that is not there.
func TestStopScriptUnderGP6(t *testing.T) {
	r, log := gp6Recovery(t, gp6clients.Answers{Ctl: ctlAnswer})
	base := t.TempDir()
	running, dead := filepath.Join(base, "a"), filepath.Join(base, "b")
	for _, d := range []string{running, dead} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sleeper := exec.Command("sleep", "30")
	sleeper.Dir = running
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _, _ = sleeper.Process.Wait() })
	write(t, filepath.Join(running, "postmaster.pid"), itoa(sleeper.Process.Pid)+"\n"+running+"\n  5432001  2\n")
	gone := exec.Command("true")
	_ = gone.Run()
	write(t, filepath.Join(dead, "postmaster.pid"), itoa(gone.Process.Pid)+"\n")
	ts := []target{
		{Failed: cluster.Segment{DBID: 3, Hostname: "localhost", DataDir: running}},
		{Failed: cluster.Segment{DBID: 4, Hostname: "localhost", DataDir: dead}},
	}
	res := run(t, r, r.stopCommands(ts)[0])
	for _, want := range []string{"STOP 3 stopped pid", "STOP 4 notrunning process with pid"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s\n%s", want, res.Stdout, res.Stderr)
		}
	}
	noRefusals(t, log)
}

// TestPlanScriptsUnderGP6: pg_rewind --dry-run with GP6's options, read
// for its estimate; a standby skips it; the WAL check finds a segment
// under another timeline.
func TestPlanScriptsUnderGP6(t *testing.T) {
	r, log := gp6Recovery(t, gp6clients.Answers{Rewind: `echo "servers diverged at WAL position 0/C050B98 on timeline 1"; echo "need to copy 207 MB (total source directory size is 1203 MB)"`})
	tg := gp6Target(t, t.TempDir())
	cmd := remote.Command{Host: "localhost", Script: dryRunScript,
		Args: []string{r.co.GPHome, cluster.UtilityOption(cluster.GP6), sourceServer(tg.Source, "gprecoverseg_plan"), tg.Failed.DataDir, "recovery.conf"}}
	res := run(t, r, cmd)
	if m := needToCopy.FindStringSubmatch(res.Stdout); m == nil || m[1] != "207" {
		t.Errorf("dry run said %q", res.Stdout)
	}
	noRefusals(t, log)

	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "pg_xlog"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "pg_xlog", "000000020000000000000004"), "")
	res = run(t, r, remote.Command{Host: "localhost", Script: walScript,
		Args: []string{"3", src, "pg_xlog", "000000010000000000000004", "4", src, "pg_xlog", "000000010000000000000002"}})
	if !strings.Contains(res.Stdout, "WAL 3 present") || !strings.Contains(res.Stdout, "WAL 4 absent") {
		t.Errorf("WAL check:\n%s%s", res.Stdout, res.Stderr)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
