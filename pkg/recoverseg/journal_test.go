package recoverseg

import (
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// TestJournalCarriesPartialCopy: run 1 of gprecoverseg -F was killed while
// it copied into dbid 4's directory; run 2 took its journal over and was
// killed too, before its own copy began. Run 2's journal, which replaced
// run 1's, still says the directory may hold a partial copy, so run 3
// vouches for the half-written directory (and stops the orphaned copy)
// instead of refusing it, and an incremental run 3 refuses to rewind it.
// Only a finished recovery clears the word.
func TestJournalCarriesPartialCopy(t *testing.T) {
	segs := degraded()
	full := target{Failed: segs[2], Source: segs[1], Full: true}
	other := target{Failed: segs[3], Source: segs[4], Full: true}
	r, _ := reportRig(t)
	item := func(rec *oplock.Record, dbid int) oplock.Item {
		t.Helper()
		it, ok := rec.Item(dbid)
		if !ok {
			t.Fatalf("journal %+v: no item for dbid %d", rec, dbid)
		}
		return it
	}

	// Run 1 begins, copies into dbid 4, and is killed.
	if err := r.beginJournal([]target{full, other}); err != nil {
		t.Fatal(err)
	}
	r.step(full, stepCopying, "pid file x")
	run1, err := oplock.ReadJournal(r.co.DataDir, Tool)
	if err != nil {
		t.Fatal(err)
	}
	if it := item(run1, 4); !it.Partial || it.Step != stepCopying {
		t.Fatalf("run 1's item while copying: %+v", it)
	}

	// Run 2 takes the journal over, writes its own and is killed before
	// its copy: its journal says planned, and still partial.
	r.prev, r.journal = run1, nil
	if err := r.beginJournal([]target{full, other}); err != nil {
		t.Fatal(err)
	}
	run2, err := oplock.ReadJournal(r.co.DataDir, Tool)
	if err != nil {
		t.Fatal(err)
	}
	if it := item(run2, 4); !it.Partial || it.Step != stepPlanned {
		t.Errorf("run 2's item for the half-copied directory: %+v, want planned and partial", it)
	}
	if it := item(run2, 3); it.Partial {
		t.Errorf("run 2's item for a directory no copy touched: %+v, want not partial", it)
	}

	// Run 3 reads run 2's journal: the directory is vouched for as a
	// partial copy, and an incremental recovery of it is refused.
	r.prev, r.journal = run2, nil
	if m := r.mirrors([]target{full})[0]; !m.PartialCopy {
		t.Errorf("run 3's mirror %+v: not vouched for as a partial copy", m)
	}
	inc := []target{{Failed: segs[2], Source: segs[1]}}
	r.refusePartialCopies(inc)
	if !strings.Contains(inc[0].Plan.Impossible, "an interrupted gprecoverseg -F left a partial copy in /data/mirror/gpseg0") {
		t.Errorf("an incremental run 3 over the partial copy: impossible %q", inc[0].Plan.Impossible)
	}

	// Run 3 copies and the recovery succeeds: the word is cleared.
	if err := r.beginJournal([]target{full}); err != nil {
		t.Fatal(err)
	}
	r.step(full, stepCopying, "pid file x")
	r.step(full, stepStarted, "")
	run3, err := oplock.ReadJournal(r.co.DataDir, Tool)
	if err != nil {
		t.Fatal(err)
	}
	if it := item(run3, 4); it.Partial {
		t.Errorf("run 3's item after the recovery succeeded: %+v, want not partial", it)
	}
}
