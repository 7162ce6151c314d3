package recoverseg

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// TestTakeLock: a second gprecoverseg is refused with Greenplum's two
// ERROR lines and exit 2 (Greenplum 6 exits 0, a quirk not kept); a lock
// left by a process that is gone is taken over with a warning.
func TestTakeLock(t *testing.T) {
	r, out := reportRig(t)
	mdd := t.TempDir()
	held, _, err := oplock.Acquire(mdd, Tool, oplock.Self(r.env.Hostname))
	if err != nil {
		t.Fatal(err)
	}
	_, err = takeLock(r.env, mdd)
	var ee *app.ExitError
	if !errors.As(err, &ee) || ee.Code != app.ExitFatal {
		t.Fatalf("%v, want exit 2", err)
	}
	path := filepath.Join(mdd, "gprecoverseg.lock")
	for _, want := range []string{
		"[ERROR]:-Lockfile " + path + " indicates that an instance of gprecoverseg is already running with PID " + strconv.Itoa(os.Getpid()),
		"[ERROR]:-If this is not the case, remove the lockfile directory at " + path,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}

	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "PID"), []byte("999999999"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	l, err := takeLock(r.env, mdd)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "[WARNING]:-Lockfile "+path+" was left by gprecoverseg with PID 999999999: its process is not running; taking it over") {
		t.Errorf("no takeover warning:\n%s", out)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestTakeLockRefusedDuringAddMirrors: while a gpaddmirrors holds its lock
// (both build mirrors from the same primaries, safety invariant 3),
// gprecoverseg is refused with the two lock lines naming gpaddmirrors'
// lock, exit 2, and its own lock is not left behind.
func TestTakeLockRefusedDuringAddMirrors(t *testing.T) {
	r, out := reportRig(t)
	mdd := t.TempDir()
	held, _, err := oplock.Acquire(mdd, "gpaddmirrors", oplock.Self(r.env.Hostname))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Release() }()
	_, err = takeLock(r.env, mdd)
	var ee *app.ExitError
	if !errors.As(err, &ee) || ee.Code != app.ExitFatal {
		t.Fatalf("%v, want exit 2", err)
	}
	path := filepath.Join(mdd, "gpaddmirrors.lock")
	if want := "[ERROR]:-Lockfile " + path + " indicates that an instance of gpaddmirrors is already running with PID " + strconv.Itoa(os.Getpid()); !strings.Contains(out.String(), want) {
		t.Errorf("no %q in:\n%s", want, out)
	}
	if _, err := os.Stat(filepath.Join(mdd, "gprecoverseg.lock")); !os.IsNotExist(err) {
		t.Errorf("gprecoverseg's lock left behind: %v", err)
	}
}
