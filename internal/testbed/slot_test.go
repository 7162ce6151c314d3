package testbed

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSlotsAreDisjoint(t *testing.T) {
	seenHosts := map[string]int{}
	for i := range Slots {
		s := newSlot(i)
		if s.PortBase < FirstPort || s.PortBase+PortsPerSlot > 65536 {
			t.Errorf("slot %d ports %d.. out of range", i, s.PortBase)
		}
		for _, h := range s.Hosts {
			if j, dup := seenHosts[h]; dup {
				t.Errorf("host %s in slots %d and %d", h, j, i)
			}
			seenHosts[h] = i
		}
	}
	if n := Slots * HostsPerSlot; n > 30 {
		t.Errorf("%d hosts needed; setup-test-host.sh names 30", n)
	}
	if d := cmp.Diff([]string{"sdw5", "sdw6", "sdw7", "sdw8"}, newSlot(1).Hosts); d != "" {
		t.Error(d)
	}
}

func TestAcquireSlotExcludes(t *testing.T) {
	var held []Slot
	for range 3 {
		held = append(held, AcquireSlot(t))
	}
	seen := map[int]bool{}
	for _, s := range held {
		if seen[s.Index] {
			t.Fatalf("slot %d handed out twice while held", s.Index)
		}
		seen[s.Index] = true
	}
}

func TestWideSlotIsBeyondTheSlots(t *testing.T) {
	w := newWide()
	if last := FirstPort + Slots*PortsPerSlot; w.PortBase < last {
		t.Errorf("wide ports from %d overlap the slots' ports, which end at %d", w.PortBase, last-1)
	}
	if end := w.PortBase + WidePortCount; end > 32768 {
		t.Errorf("wide ports reach %d, into Linux's ephemeral range (32768..)", end-1)
	}
	if len(w.Hosts) != WideHosts || w.Hosts[0] != "sdw1" || w.Hosts[WideHosts-1] != "sdw30" {
		t.Errorf("wide hosts %v, want sdw1..sdw30 (setup-test-host.sh names 30)", w.Hosts)
	}
}
