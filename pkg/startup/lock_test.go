package startup

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// coordinatorStops lists the modes of the coordinator stops r ran.
func (r *rig) coordinatorStops() []string {
	var modes []string
	for _, c := range r.exec.Calls() {
		if strings.Contains(c.Script, "stop_one()") && slices.Contains(c.Args, r.dir) {
			modes = append(modes, c.Args[1])
		}
	}
	return modes
}

// leaveStaleLock leaves r's gpstart lock as a killed gpstart does: owned
// by a pid that no longer runs. It returns the lock's path and that pid.
func leaveStaleLock(t *testing.T, r *rig) (string, int) {
	t.Helper()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	lock := oplock.Path(r.dir, lockTool)
	if err := os.Mkdir(lock, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lock, "PID"), []byte(strconv.Itoa(dead.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	return lock, dead.Process.Pid
}

// TestKilledGpstartCoordinatorStopped: a gpstart killed -9 after it
// started the coordinator (admin or dispatch mode) leaves its lock and a
// running coordinator; the rerun stops that coordinator (fast) and starts
// the cluster from the beginning, instead of refusing a cluster "started
// already".
func TestKilledGpstartCoordinatorStopped(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	lock, dead := leaveStaleLock(t, r)
	// The coordinator it started: a live process in postmaster.pid,
	// started after the lock was taken.
	if err := os.WriteFile(r.pidFile(), []byte(fmt.Sprintf("%d\n%s\n%d\n", os.Getpid(), r.dir, time.Now().Unix()+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.run(t, nonInteractive()); err != nil {
		t.Fatal(err)
	}
	msgs := strings.Join(r.messages(), "\n")
	for _, want := range []string{
		"was left by gpstart with PID " + strconv.Itoa(dead) + ": its process is not running; taking it over",
		"The master is running, left by the gpstart that did not finish: stopping it to start the cluster from the beginning",
		"Database successfully started",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing %q in\n%s", want, msgs)
		}
	}
	if got := r.coordinatorStops(); !slices.Equal(got, []string{"fast", "fast"}) {
		t.Errorf("coordinator stops %v, want [fast fast]: the one left running, then the admin-mode one", got)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("the lock after the run: %v, want released", err)
	}
}

// TestStaleLockKeepsOlderCoordinator: a gpstart lock left behind (a
// gpstart killed long ago, a reboot) and a coordinator started before it
// (by hand, by another tool): that coordinator serves users and is not
// stopped; gpstart refuses a cluster started already, as without the lock.
func TestStaleLockKeepsOlderCoordinator(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	leaveStaleLock(t, r)
	if err := os.WriteFile(r.pidFile(), []byte(fmt.Sprintf("%d\n%s\n%d\n", os.Getpid(), r.dir, time.Now().Add(-time.Hour).Unix())), 0o600); err != nil {
		t.Fatal(err)
	}
	// It answers on its socket.
	l, err := net.Listen("unix", fmt.Sprintf("/tmp/.s.PGSQL.%d", testPort))
	if err != nil {
		t.Skipf("cannot listen on the coordinator's socket: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	err = r.run(t, nonInteractive())
	if got := r.coordinatorStops(); len(got) != 0 {
		t.Errorf("coordinator stops %v: a coordinator older than the lock was stopped", got)
	}
	wantExit(t, err, app.ExitFatal)
	if err == nil || !strings.Contains(err.Error(), "Master instance process running") {
		t.Errorf("error %v, want the refusal of a cluster started already", err)
	}
}

// TestGpstartLockHeld: while a live gpstart holds the lock, another is
// refused with Greenplum's lock lines (exit 2) and starts nothing.
func TestGpstartLockHeld(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	held, _, err := oplock.Acquire(r.dir, lockTool, oplock.Self(r.env.Hostname))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	wantExit(t, r.run(t, nonInteractive()), app.ExitFatal)
	if msgs := strings.Join(r.messages(), "\n"); !strings.Contains(msgs, "indicates that an instance of gpstart is already running with PID "+strconv.Itoa(os.Getpid())) {
		t.Errorf("no lock lines in\n%s", msgs)
	}
	for _, c := range r.exec.Calls() {
		if len(c.Argv) > 0 && c.Argv[0] == "env" {
			t.Fatalf("started something: %v", c.Argv)
		}
	}
}

// TestPgCtlStarts: a pg_ctl start of the directory is found by its command
// line (a wrapper script's included); one of another directory, or a
// stop, is not.
func TestPgCtlStarts(t *testing.T) {
	bin, dir := t.TempDir(), t.TempDir()
	pgctl := filepath.Join(bin, "pg_ctl")
	if err := os.WriteFile(pgctl, []byte("#!/bin/sh\nsleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var want int
	for _, args := range [][]string{{"-D", dir, "-w", "start"}, {"-D", dir + "x", "start"}, {"-D", dir, "stop"}} {
		cmd := exec.Command(pgctl, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if want == 0 {
			want = cmd.Process.Pid
		}
	}
	if got := pgCtlStarts(dir); !slices.Equal(got, []int{want}) {
		t.Errorf("pgCtlStarts: %v, want [%d]", got, want)
	}
}
