package gpdemo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// fakeEnv returns an Env whose every command goes to fake, with a GPHOME
// that has every file gpdemo checks for and host names resolving to
// 127.0.0.1.
func fakeEnv(t *testing.T, fake *remotetest.Fake, args ...string) (*Env, string) {
	t.Helper()
	env, stdout, _ := apptest.Env(t, "gpdemo", args...)
	env.Exec = fake
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: stdout, Level: slog.LevelDebug}))
	t.Cleanup(func() { t.Logf("gpdemo output:\n%s", stdout) })
	home := t.TempDir()
	for _, f := range gpHomeFiles {
		path := filepath.Join(home, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake.OnArgv("localhost", []string{home + "/bin/postgres", "--gp-version"},
		remotetest.Response{Stdout: "postgres (Greenplum Database) 7.1.0-compat build dev\n"})
	env.NewSSH = (&remotetest.Hosts{Fake: fake}).Opener(nil)
	tools := toolsBin(t, "gpdemo", "gpstate")
	return &Env{
		Env:        env,
		Geteuid:    func() int { return 1001 },
		LookupHost: func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil },
		Executable: func() (string, error) { return filepath.Join(tools, "gpdemo"), nil },
	}, home
}

// toolsBin returns a directory holding an executable file of each name.
func toolsBin(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestToolsDir: the env file's tools are --tools-dir's, which must hold
// gpstate, else gpdemo's own directory when gpstate is beside it, else
// none, with a warning.
func TestToolsDir(t *testing.T) {
	withGpstate, without := toolsBin(t, "gpdemo", "gpstate"), toolsBin(t, "gpdemo")
	for _, tt := range []struct {
		name, flag, exeDir string
		want, err, warn    string
	}{
		{"--tools-dir", withGpstate, without, withGpstate, "", ""},
		{"--tools-dir without gpstate", without, withGpstate, "", "--tools-dir " + without + ": no gpstate there", ""},
		{"beside gpdemo", "", withGpstate, withGpstate, "", ""},
		{"not beside gpdemo", "", without, "", "", "gpstate is not beside gpdemo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := fakeEnv(t, &remotetest.Fake{})
			var log strings.Builder
			env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: &log, Level: slog.LevelDebug}))
			env.Executable = func() (string, error) { return filepath.Join(tt.exeDir, "gpdemo"), nil }
			got, err := toolsDir(env, tt.flag)
			if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.HasPrefix(err.Error(), tt.err)) {
				t.Errorf("toolsDir(%q) = %q, %v; want %q, %q", tt.flag, got, err, tt.want, tt.err)
			}
			if !strings.Contains(log.String(), tt.warn) || (tt.warn == "" && strings.Contains(log.String(), "WARN")) {
				t.Errorf("log %q, want %q", log.String(), tt.warn)
			}
		})
	}
}

// TestCreateRollsBack: a primary that fails to start makes create stop
// every instance (immediate) and remove what it created, DIR included.
func TestCreateRollsBack(t *testing.T) {
	fake := &remotetest.Fake{}
	env, home := fakeEnv(t, fake)
	dir := filepath.Join(t.TempDir(), "demo")
	ok := remotetest.Response{}
	fake.OnScript(remotetest.AnyHost, checkScript, ok)
	fake.OnScript(remotetest.AnyHost, initScript, ok)
	fake.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if c.Script != startScript {
			return remotetest.Response{}, false
		}
		if c.Host == "sdw2" {
			return remotetest.Response{ExitCode: 1, Stdout: "gpdemo-result 4 ok\ngpdemo-result 5 failed: pg_ctl: could not start server\n",
				Stderr: "dbid 5 (exit 1):\npg_ctl: could not start server"}, true
		}
		return ok, true
	})
	fake.OnScript(remotetest.AnyHost, stopScript, ok)
	fake.OnScript(remotetest.AnyHost, removeScript, ok)

	o := &CreateOptions{Dir: dir, Hosts: 2, PrimariesPerHost: 2, PortBase: 31300, GPHome: home}
	err := Create(context.Background(), env, o)
	if err == nil || !strings.HasPrefix(err.Error(), "start primaries: dbid 5 on sdw2 failed: pg_ctl: could not start server\n") {
		t.Fatalf("got %v", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Errorf("%s left behind: %v", dir, serr)
	}
	var got []string
	for _, c := range fake.Calls() {
		switch c.Script {
		case stopScript:
			got = append(got, c.Host+" stop "+strings.Join(c.Args[1:], " "))
		case removeScript:
			got = append(got, c.Host+" remove "+strings.Join(c.Args, " "))
		}
	}
	coord, _, _ := strings.Cut(env.Hostname, ".")
	want := []string{
		coord + " stop immediate 1 " + dir + "/coordinator/gpseg-1",
		"sdw1 stop immediate 2 " + dir + "/sdw1/primary/gpseg0 3 " + dir + "/sdw1/primary/gpseg1",
		"sdw2 stop immediate 4 " + dir + "/sdw2/primary/gpseg2 5 " + dir + "/sdw2/primary/gpseg3",
		coord + " remove 1 " + dir + "/coordinator/gpseg-1 " + dir + "/coordinator",
		"sdw1 remove 2 " + dir + "/sdw1/primary/gpseg0 " + dir + "/sdw1/primary/gpseg1 " + dir + "/sdw1/primary " + dir + "/sdw1",
		"sdw2 remove 2 " + dir + "/sdw2/primary/gpseg2 " + dir + "/sdw2/primary/gpseg3 " + dir + "/sdw2/primary " + dir + "/sdw2",
	}
	if len(got) != len(want) {
		t.Fatalf("rollback commands: %q", got)
	}
	// commands of one step run in parallel: compare each step's set
	slices.Sort(got[:3])
	slices.Sort(got[3:])
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rollback commands (-want +got):\n%s", d)
	}
}

// TestCreateKeepsExistingDir: a rollback leaves an existing empty DIR empty,
// and a failed stop keeps every data directory (never remove the files of
// a running instance).
func TestCreateKeepsExistingDir(t *testing.T) {
	fake := &remotetest.Fake{}
	env, home := fakeEnv(t, fake)
	dir := t.TempDir()
	fake.OnScript(remotetest.AnyHost, initScript, remotetest.Response{ExitCode: 1, Stderr: "initdb: boom"})
	fake.OnScript(remotetest.AnyHost, stopScript, remotetest.Response{ExitCode: 1, Stderr: "still running"})
	o := &CreateOptions{Dir: dir, Hosts: 1, PrimariesPerHost: 1, PortBase: 31400, GPHome: home, Local: true}
	err := Create(context.Background(), env, o)
	if err == nil || !strings.Contains(err.Error(), "initdb: boom") || !strings.Contains(err.Error(), "rollback: stop instances") {
		t.Fatalf("got %v", err)
	}
	for _, c := range fake.Calls() {
		if c.Script == removeScript {
			t.Errorf("removed data directories although the stop failed: %+v", c)
		}
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Errorf("the manifest must stay for destroy to finish the job: %v", err)
	}
}

// TestCreatePortInUse: an occupied socket file is found before anything is
// created. The unit tests' ports lie below Linux's ephemeral range
// (32768-60999) and away from the test slots (20000-20699), so no other
// test's connection can hold them.
func TestCreatePortInUse(t *testing.T) {
	fake := &remotetest.Fake{}
	env, home := fakeEnv(t, fake)
	const base = 31500
	lock := socketPath(base+2) + ".lock"
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(lock) })
	dir := filepath.Join(t.TempDir(), "demo")
	err := Create(context.Background(), env, &CreateOptions{Dir: dir, Hosts: 1, PrimariesPerHost: 1, PortBase: base, GPHome: home})
	want := "port 31502 of the content 0 primary (dbid 2) on sdw1 is in use: /tmp/.s.PGSQL.31502.lock exists"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	var expected *app.ExpectedError
	if !errors.As(err, &expected) {
		t.Errorf("%T is not an ExpectedError", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) || len(fake.Calls()) != 1 {
		t.Errorf("something ran or was created: %v %v", serr, fake.Calls())
	}
}

// TestStaleLockIsNotInUse: a lock file naming a process that is gone (a
// server killed -9 leaves it) does not make the port busy: PostgreSQL
// replaces it. One naming a live process does.
func TestStaleLockIsNotInUse(t *testing.T) {
	const port = 31510
	lock := socketPath(port) + ".lock"
	t.Cleanup(func() { _ = os.Remove(lock) })
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pid  int
		busy bool
	}{{dead.Process.Pid, false}, {os.Getpid(), true}} {
		if err := os.WriteFile(lock, fmt.Appendf(nil, "%d\n/data/gone\n", tt.pid), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, busy := socketBusy(port); busy != tt.busy {
			t.Errorf("lock naming pid %d: busy %v, want %v", tt.pid, busy, tt.busy)
		}
	}
}

// TestCreateAfterKilledCreate: a DIR holding the manifest of a create that
// never finished (no env file, as kill -9 leaves it) is destroyed by its
// manifest before the same create runs again; a finished cluster's DIR is
// left to the not-empty refusal.
func TestCreateAfterKilledCreate(t *testing.T) {
	fake := &remotetest.Fake{}
	env, home := fakeEnv(t, fake)
	env.Connect = func(context.Context, cluster.ConnConfig) (cluster.Conn, error) {
		return nil, errors.New("connection refused")
	}
	dir := t.TempDir()
	stopOK := false
	fake.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		switch c.Script {
		case initScript:
			return remotetest.Response{ExitCode: 1, Stderr: "initdb: boom"}, true
		case stopScript:
			if !stopOK {
				return remotetest.Response{ExitCode: 1, Stderr: "still running"}, true
			}
		}
		return remotetest.Response{}, true
	})
	o := &CreateOptions{Dir: dir, Hosts: 1, PrimariesPerHost: 1, PortBase: 31400, GPHome: home, Local: true}
	if err := Create(context.Background(), env, o); err == nil {
		t.Fatal("the first create succeeded")
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Fatalf("no manifest left for the rerun: %v", err)
	}

	// A finished cluster (its env file written) is not touched.
	if err := os.WriteFile(EnvFilePath(dir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stopOK = true
	if _, _, err := claimDir(context.Background(), env, o, dir); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("a finished cluster's DIR: %v, want the not-empty refusal", err)
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Fatalf("a finished cluster's manifest was removed: %v", err)
	}
	if err := os.Remove(EnvFilePath(dir)); err != nil {
		t.Fatal(err)
	}

	calls := len(fake.Calls())
	lock, created, err := claimDir(context.Background(), env, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.release(); err != nil {
		t.Fatal(err)
	}
	if created {
		t.Errorf("the DIR given empty counts as made by gpdemo")
	}
	var stops, removes int
	for _, c := range fake.Calls()[calls:] {
		switch c.Script {
		case stopScript:
			stops++
		case removeScript:
			removes++
		}
	}
	if stops == 0 || removes == 0 {
		t.Errorf("the unfinished create was not destroyed: %d stops, %d removes", stops, removes)
	}
	if _, err := ReadManifest(dir); !errors.Is(err, ErrNoManifest) {
		t.Errorf("manifest after the destroy: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the DIR given empty was removed: %v", err)
	}
}

// unfinishedDir returns a DIR holding what a create killed -9 leaves: the
// manifest of o's plan and no env file.
func unfinishedDir(t *testing.T, env *Env, o *CreateOptions) string {
	t.Helper()
	p, err := prepare(context.Background(), env, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(Manifest{Version: manifestVersion, Plan: p, DirCreated: true}); err != nil {
		t.Fatal(err)
	}
	return p.Dir
}

// wantUntouched fails t if a script ran on a host (the checks run
// commands, every change is a script) or the unfinished create's manifest
// is gone.
func wantUntouched(t *testing.T, fake *remotetest.Fake, dir string, calls int) {
	t.Helper()
	for _, c := range fake.Calls()[calls:] {
		if c.Script != "" {
			t.Errorf("ran %s on %s %v", c.Label, c.Host, c.Args)
		}
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Errorf("the unfinished create's manifest: %v", err)
	}
}

// TestCreateBadOptionsOverUnfinished: a create the checks refuse (a
// GPHOME without Greenplum, a mirror layout the hosts cannot hold) leaves
// an unfinished create's DIR as it was: nothing stopped, nothing removed.
func TestCreateBadOptionsOverUnfinished(t *testing.T) {
	fake := &remotetest.Fake{}
	env, home := fakeEnv(t, fake)
	good := &CreateOptions{Dir: filepath.Join(t.TempDir(), "demo"), Hosts: 2, PrimariesPerHost: 1, PortBase: 31600, GPHome: home, Local: true}
	dir := unfinishedDir(t, env, good)
	for _, tt := range []struct {
		name string
		o    CreateOptions
		err  string
	}{
		{"no GPHOME", CreateOptions{GPHome: t.TempDir()}, "GPHOME"},
		{"spread over 1 host", CreateOptions{Hosts: 1, Mirrors: MirrorsSpread}, "spread"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := *good
			if tt.o.GPHome != "" {
				o.GPHome = tt.o.GPHome
			}
			if tt.o.Mirrors != "" {
				o.Hosts, o.Mirrors = tt.o.Hosts, tt.o.Mirrors
			}
			calls := len(fake.Calls())
			err := Create(context.Background(), env, &o)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error naming %q", err, tt.err)
			}
			wantUntouched(t, fake, dir, calls)
		})
	}
}

// TestCreateRefusesLockedDir: while another create or destroy holds DIR's
// lock, a create over its unfinished DIR and a destroy of it refuse and
// change nothing; once the lock is released the create finishes the job.
func TestCreateRefusesLockedDir(t *testing.T) {
	fake := &remotetest.Fake{}
	env, home := fakeEnv(t, fake)
	env.Connect = func(context.Context, cluster.ConnConfig) (cluster.Conn, error) {
		return nil, errors.New("connection refused")
	}
	fake.OnFunc(func(remote.Command) (remotetest.Response, bool) { return remotetest.Response{}, true })
	o := &CreateOptions{Dir: filepath.Join(t.TempDir(), "demo"), Hosts: 1, PrimariesPerHost: 1, PortBase: 31620, GPHome: home, Local: true}
	dir := unfinishedDir(t, env, o)
	other, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	const busy = "another gpdemo create or destroy is working in it"
	calls := len(fake.Calls())
	if err := Create(context.Background(), env, o); err == nil || !strings.Contains(err.Error(), busy) {
		t.Fatalf("create: got %v, want %q", err, busy)
	}
	if err := Destroy(context.Background(), env, &DestroyOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), busy) {
		t.Fatalf("destroy: got %v, want %q", err, busy)
	}
	wantUntouched(t, fake, dir, calls)

	if err := other.release(); err != nil {
		t.Fatal(err)
	}
	lock, created, err := claimDir(context.Background(), env, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.release()
	if !created {
		t.Errorf("DIR made by the unfinished create no longer counts as made by gpdemo")
	}
	if _, err := ReadManifest(dir); !errors.Is(err, ErrNoManifest) {
		t.Errorf("manifest after the unfinished create was destroyed: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("DIR removed while locked: %v", err)
	}
}
