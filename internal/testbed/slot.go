// Package testbed gives integration tests their share of the test host:
// a slot of loopback host names and ports that no other test package uses
// while it is held, so packages can run in parallel (design.md, Decisions:
// CI), and a way to run a tool where segment data directories are hidden.
package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Slot geometry. scripts/setup-test-host.sh names 30 hosts, sdw1..sdw30;
// each slot owns HostsPerSlot of them and PortsPerSlot ports.
const (
	Slots        = 7
	HostsPerSlot = 4
	PortsPerSlot = 100
	FirstPort    = 20000
)

// Slot is one test package's share of the test host, held until the test
// ends.
type Slot struct {
	Index    int
	Hosts    []string // host names, e.g. sdw5..sdw8 for slot 1
	PortBase int      // first of PortsPerSlot ports
}

// LockDir is where the slot locks live; every user of the test host shares it.
const LockDir = "/tmp/gpmgmt-test-slots"

// slotWaitLimit bounds the wait for a slot of a test without a deadline;
// a test with one gives up slotWaitMargin before it.
const (
	slotWaitLimit  = 30 * time.Minute
	slotWaitMargin = time.Minute
)

// AcquireSlot takes a free slot, waiting for one if all are held, and
// releases it when t ends. The lock is an flock on a file, so a test
// process that dies releases its slot. The wait ends, failing t, a minute
// before the test's deadline (-timeout), or after slotWaitLimit without
// one: a suite whose slots never free up fails with the reason rather than
// hang until go test kills it.
func AcquireSlot(t testing.TB) Slot {
	t.Helper()
	if err := os.MkdirAll(LockDir, 0o777); err != nil {
		t.Fatalf("test slots: %v", err)
	}
	_ = os.Chmod(LockDir, 0o1777) // shared by every user; fails harmlessly if another owns it
	giveUp := time.Now().Add(slotWaitLimit)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, set := d.Deadline(); set {
			giveUp = dl.Add(-slotWaitMargin)
		}
	}
	for {
		for i := range Slots {
			f, err := tryLock(filepath.Join(LockDir, fmt.Sprintf("slot-%d.lock", i)))
			if err != nil {
				t.Fatalf("test slots: %v", err)
			}
			if f == nil {
				continue
			}
			t.Cleanup(func() { _ = f.Close() }) // closing releases the flock
			return newSlot(i)
		}
		if !time.Now().Before(giveUp) {
			t.Fatalf("test slots: all %d slots in %s stayed held until %s; another test run may be stuck (lsof %s)", Slots, LockDir, giveUp.Format(time.TimeOnly), LockDir)
		}
		if err := waitForAny(); err != nil {
			t.Fatalf("test slots: %v", err)
		}
	}
}

func newSlot(i int) Slot {
	s := Slot{Index: i, PortBase: FirstPort + i*PortsPerSlot}
	for h := range HostsPerSlot {
		s.Hosts = append(s.Hosts, fmt.Sprintf("sdw%d", i*HostsPerSlot+h+1))
	}
	return s
}

// tryLock returns the open, locked file, or nil if another process holds it.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	_ = f.Chmod(0o666) // root and gpadmin runs share the locks; fails harmlessly if another owns it
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// waitForAny pauses before the slots are tried again when every slot is
// held (more test packages than slots). It never blocks on one slot's
// lock: a process holding that slot itself would wait for itself.
func waitForAny() error {
	time.Sleep(200 * time.Millisecond)
	return nil
}
