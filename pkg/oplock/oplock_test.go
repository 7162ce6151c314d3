package oplock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestLockFormat: the lock is a directory with PID (no newline), as
// Greenplum's gprecoverseg makes it and gpstate reads it, and Release
// removes it.
func TestLockFormat(t *testing.T) {
	mdd := t.TempDir()
	l, stale, err := Acquire(mdd, "gprecoverseg", Self("mdw"))
	if err != nil || stale != nil {
		t.Fatalf("acquire: %v %+v", err, stale)
	}
	b, err := os.ReadFile(filepath.Join(mdd, "gprecoverseg.lock", "PID"))
	if err != nil || string(b) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("PID file %q, %v", b, err)
	}
	if _, held, _ := Held(mdd, "gprecoverseg", "mdw"); !held {
		t.Error("Held says the live lock is not held")
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mdd, "gprecoverseg.lock")); !os.IsNotExist(err) {
		t.Errorf("lock not removed: %v", err)
	}
}

// TestLockHeld: a second run is refused with Greenplum's two lines, the
// lock untouched.
func TestLockHeld(t *testing.T) {
	mdd := t.TempDir()
	if _, _, err := Acquire(mdd, "gprecoverseg", Self("mdw")); err != nil {
		t.Fatal(err)
	}
	_, _, err := Acquire(mdd, "gprecoverseg", Owner{PID: os.Getpid() + 1, Host: "mdw"})
	var he *HeldError
	if !errors.As(err, &he) {
		t.Fatalf("%v, want a HeldError", err)
	}
	path := filepath.Join(mdd, "gprecoverseg.lock")
	want := []string{
		"Lockfile " + path + " indicates that an instance of gprecoverseg is already running with PID " + strconv.Itoa(os.Getpid()),
		"If this is not the case, remove the lockfile directory at " + path,
	}
	if got := he.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAcquireAlone: with gprecoverseg's lock held by a live process,
// gpaddmirrors' is refused with a HeldError naming gprecoverseg's lock and
// left free; with it stale or absent, gpaddmirrors' is taken.
func TestAcquireAlone(t *testing.T) {
	mdd := t.TempDir()
	rec, _, err := Acquire(mdd, "gprecoverseg", Self("mdw"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = AcquireAlone(mdd, "gpaddmirrors", Self("mdw"), "gprecoverseg")
	var he *HeldError
	if !errors.As(err, &he) || he.Tool != "gprecoverseg" || he.Path != Path(mdd, "gprecoverseg") || he.Owner.PID != os.Getpid() {
		t.Fatalf("%v, want gprecoverseg's HeldError", err)
	}
	if _, err := os.Stat(Path(mdd, "gpaddmirrors")); !os.IsNotExist(err) {
		t.Fatalf("gpaddmirrors' lock left behind after the refusal: %v", err)
	}
	if err := rec.Release(); err != nil {
		t.Fatal(err)
	}
	l, _, err := AcquireAlone(mdd, "gpaddmirrors", Self("mdw"), "gprecoverseg")
	if err != nil {
		t.Fatal(err)
	}
	if _, held, _ := Held(mdd, "gpaddmirrors", "mdw"); !held {
		t.Error("gpaddmirrors' lock not held")
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestMirrorWorkRunning: gpstart's and gpstop's warning names whichever
// of gprecoverseg and gpaddmirrors holds its lock, and is empty when
// neither does.
func TestMirrorWorkRunning(t *testing.T) {
	mdd := t.TempDir()
	if w := MirrorWorkRunning(mdd, "mdw"); w != "" {
		t.Errorf("no lock held, warning %q", w)
	}
	for _, tool := range []string{"gprecoverseg", "gpaddmirrors"} {
		l, _, err := Acquire(mdd, tool, Self("mdw"))
		if err != nil {
			t.Fatal(err)
		}
		want := "A " + tool + " (PID " + strconv.Itoa(os.Getpid()) + ") is running on this cluster"
		if w := MirrorWorkRunning(mdd, "mdw"); !strings.HasPrefix(w, want) {
			t.Errorf("%s holds its lock: warning %q, want %q...", tool, w, want)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLockStale: a lock whose process is gone, one whose pid is now
// another process's (start time differs) and one without a readable PID
// are taken over, each with its reason; a lock of another host is held.
func TestLockStale(t *testing.T) {
	for _, tt := range []struct {
		name, pid, owner, reason string
	}{
		{"dead", strconv.Itoa(deadPID(t)), "host=mdw\nstart=1\n", "its process is not running"},
		{"reused pid", strconv.Itoa(os.Getpid()), "host=mdw\nstart=1\n", "its pid now belongs to another process"},
		{"garbage", "x", "", `its PID file holds no pid ("x")`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mdd := t.TempDir()
			dir := filepath.Join(mdd, "gprecoverseg.lock")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			_ = os.WriteFile(filepath.Join(dir, "PID"), []byte(tt.pid), 0o600)
			_ = os.WriteFile(filepath.Join(dir, "owner"), []byte(tt.owner), 0o600)
			l, stale, err := Acquire(mdd, "gprecoverseg", Self("mdw"))
			if err != nil || stale == nil || stale.Reason != tt.reason {
				t.Fatalf("acquire: %v, stale %+v; want it taken over because %q", err, stale, tt.reason)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "PID"))
			if string(b) != strconv.Itoa(os.Getpid()) {
				t.Errorf("PID after takeover %q", b)
			}
			_ = l.Release()
		})
	}
	t.Run("other host", func(t *testing.T) {
		mdd := t.TempDir()
		dir := filepath.Join(mdd, "gprecoverseg.lock")
		_ = os.Mkdir(dir, 0o700)
		_ = os.WriteFile(filepath.Join(dir, "PID"), []byte(strconv.Itoa(deadPID(t))), 0o600)
		_ = os.WriteFile(filepath.Join(dir, "owner"), []byte("host=smdw\nstart=1\n"), 0o600)
		_, _, err := Acquire(mdd, "gprecoverseg", Self("mdw"))
		var he *HeldError
		if !errors.As(err, &he) || !he.Foreign || !strings.Contains(err.Error(), "the owner runs on host smdw") {
			t.Fatalf("%v, want a HeldError naming host smdw", err)
		}
	})
}

// TestJournal: steps are on disk as soon as they are recorded; a damaged
// journal is an error that says what to do; Remove ends it.
func TestJournal(t *testing.T) {
	mdd := t.TempDir()
	if r, err := ReadJournal(mdd, "gprecoverseg"); r != nil || err != nil {
		t.Fatalf("no journal yet: %+v %v", r, err)
	}
	j, err := NewJournal(mdd, Record{Tool: "gprecoverseg", PID: 7, Started: time.Unix(0, 0).UTC(), Args: []string{"-a"},
		Items: []Item{{DBID: 3, Method: "incremental", Host: "sdw1", DataDir: "/data/p1", Port: 6001, Step: "planned"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Step(3, "rewind", "pid file /data/.p1.pg_rewind.pid"); err != nil {
		t.Fatal(err)
	}
	r, err := ReadJournal(mdd, "gprecoverseg")
	if err != nil {
		t.Fatal(err)
	}
	if it, ok := r.Item(3); !ok || it.Step != "rewind" || it.Note != "pid file /data/.p1.pg_rewind.pid" || it.Made {
		t.Errorf("read back %+v", r)
	}
	if err := j.Made(3); err != nil {
		t.Fatal(err)
	}
	if r, err := ReadJournal(mdd, "gprecoverseg"); err != nil || !r.Items[0].Made || r.Items[0].Step != "rewind" {
		t.Errorf("after Made: %+v %v", r, err)
	}
	if err := j.Update(3, func(it *Item) { it.Partial = true }); err != nil {
		t.Fatal(err)
	}
	if r, err := ReadJournal(mdd, "gprecoverseg"); err != nil || !r.Items[0].Partial || !r.Items[0].Made || r.Items[0].Step != "rewind" {
		t.Errorf("after Update: %+v %v", r, err)
	}
	if err := j.Made(9); err == nil {
		t.Error("Made for an unknown dbid was accepted")
	}
	if err := j.Step(9, "x", ""); err == nil {
		t.Error("a step for an unknown dbid was accepted")
	}
	if err := os.WriteFile(JournalPath(mdd, "gprecoverseg"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJournal(mdd, "gprecoverseg"); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("damaged journal: %v", err)
	}
	if err := j.Remove(); err != nil {
		t.Fatal(err)
	}
	if r, err := ReadJournal(mdd, "gprecoverseg"); r != nil || err != nil {
		t.Errorf("after Remove: %+v %v", r, err)
	}
}
