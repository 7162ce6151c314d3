package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The wide slot: every test host, and a port range of its own above the
// slots' (below Linux's ephemeral ports, which start at 32768), for the
// benchmarks of large clusters (30 hosts). It excludes only other holders
// of the wide slot: the slots' tests keep running beside it, on other
// ports, as other load on the machine, which the benchmarks' floors,
// measured in the same rounds, share.
const (
	WideHosts     = 30
	WidePortBase  = 30000
	WidePortCount = 500
	wideLockName  = "wide.lock"
)

// AcquireWide takes the wide slot, waiting while another test holds it,
// and releases it when t ends. The wait ends as AcquireSlot's does: a
// minute before t's deadline, or after slotWaitLimit without one.
func AcquireWide(t testing.TB) Slot {
	t.Helper()
	giveUp := time.Now().Add(slotWaitLimit)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, set := d.Deadline(); set {
			giveUp = dl.Add(-slotWaitMargin)
		}
	}
	if err := os.MkdirAll(LockDir, 0o777); err != nil {
		t.Fatalf("test slots: %v", err)
	}
	_ = os.Chmod(LockDir, 0o1777) // shared by every user; fails harmlessly if another owns it
	path := filepath.Join(LockDir, wideLockName)
	for {
		f, err := tryLock(path)
		if err != nil {
			t.Fatalf("test slots: %v", err)
		}
		if f != nil {
			t.Cleanup(func() { _ = f.Close() }) // closing releases the flock
			return newWide()
		}
		if !time.Now().Before(giveUp) {
			t.Fatalf("test slots: the wide slot %s stayed held until %s; another benchmark may be stuck (lsof %[1]s)", path, giveUp.Format(time.TimeOnly))
		}
		_ = waitForAny()
	}
}

func newWide() Slot {
	s := Slot{Index: -1, PortBase: WidePortBase}
	for h := range WideHosts {
		s.Hosts = append(s.Hosts, fmt.Sprintf("sdw%d", h+1))
	}
	return s
}
