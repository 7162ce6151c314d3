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
