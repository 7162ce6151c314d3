//go:build integration && reliability

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// addMirrorsSteps are gpaddmirrors's 11 numbered steps on a mirrorless
// cluster (pkg/buildmirrors/steps.go; step 1 is announced by
// buildmirrors.go before the checks run).
var addMirrorsSteps = []string{
	buildmirrors.StepCheck, buildmirrors.StepHBA, buildmirrors.StepSlots, buildmirrors.StepMkdir,
	buildmirrors.StepCopy, buildmirrors.StepPort, buildmirrors.StepStart, buildmirrors.StepStream,
	buildmirrors.StepRegister, buildmirrors.StepUnmark, buildmirrors.StepFTS,
}

// TestFaultAddMirrorsStep: gpaddmirrors -a -i, spreading a mirror for each
// of the 2 contents of a mirrorless gpdemo to the other host, is killed -9
// the moment it prints "Step N of 11", for each N; rows were written on
// every content before. What the killed run left is observed (catalog,
// journal, lock, directories, instances, copies) and checked against what
// the step implies: no mirror row before the catalog step, both after it;
// no journal before the first changing step, one after. The same command
// run again must finish: exit 0, both mirrors up, in sync and replayed
// past the rows, the catalog true to disk, nothing of the tool's left, no
// row lost. One fault-table row per step.
//
// A step can be shorter than the time between the line and the signal: the
// row then says what the tool printed last, as it was.
func TestFaultAddMirrorsStep(t *testing.T) {
	for i, name := range addMirrorsSteps {
		n := i + 1
		t.Run(fmt.Sprintf("%02d_%s", n, name), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			d := newMirrorless(t)
			lsn := d.writeRows(t, "before_kill")
			file, targets := d.spreadMirrorFile(t)

			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			cmd := d.command(t, ctx, "gpaddmirrors", "-a", "-i", file)
			at := fmt.Sprintf("Step %d of %d: %s", n, len(addMirrorsSteps), name)
			k := faulttest.KillAtLine(t, cmd, regexp.MustCompile(regexp.QuoteMeta(at)+`$`))
			after := d.addMirrorsState(t, targets)
			t.Logf("killed -9 %.2f s after the start at %q; last message %q; left: %s", k.After.Seconds(), at, k.Last, after)

			// What the step implies, whatever the kill's timing within it.
			rows := d.mirrorContents(t)
			switch idx := slices.Index(addMirrorsSteps, name); {
			case idx < slices.Index(addMirrorsSteps, buildmirrors.StepRegister) && len(rows) != 0:
				t.Errorf("mirror rows for contents %v after a kill at %q, want none (nothing registers before step 9)", rows, at)
			case idx > slices.Index(addMirrorsSteps, buildmirrors.StepRegister) && len(rows) != 2:
				t.Errorf("mirror rows for contents %v after a kill at %q, want both (step 9 committed)", rows, at)
			}
			rec, err := oplock.ReadJournal(d.coord, "gpaddmirrors")
			switch {
			case err != nil:
				t.Errorf("the killed run's journal: %v", err)
			case name == buildmirrors.StepCheck && rec != nil:
				t.Errorf("a journal after a kill at the read-only check: %+v", rec)
			case name != buildmirrors.StepCheck && rec == nil:
				t.Errorf("no journal after a kill at %q: it is written before every changing step", at)
			case rec != nil:
				for _, it := range rec.Items {
					if it.Step != name {
						t.Errorf("journal item dbid %d at %q, want %q (written before the step's line)", it.DBID, it.Step, name)
					}
				}
			}

			rerun, lost := d.rerunAddMirrors(t, file, targets, lsn, "before_kill")
			faulttest.Record(t, faulttest.Row{
				Fault:   "kill -9 at `" + at + "`",
				Tool:    "gpaddmirrors -a -i FILE (2 contents, mirrorless, spread)",
				Printed: d.short(k.Last),
				Exit:    "killed (137)",
				After:   after,
				Rerun:   rerun,
				Lost:    lost,
			})
			t.Logf("wall time %.1f s", time.Since(began).Seconds())
		})
	}
}
