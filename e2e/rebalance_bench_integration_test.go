//go:build integration

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
)

// BenchmarkRebalance measures gprecoverseg -r -a switching two contents
// back to their preferred primaries against its floor, the bare switch it
// runs, measured in the same round on the same cluster: pg_ctl stop -m
// fast of the acting primaries, FTS probes until their mirrors are
// promoted, pg_rewind --write-recovery-conf of the stopped instances from
// their new primaries, their port set, pg_ctl start, and FTS probes until
// every pair is in sync (bareSwitch), with no plan, no checks, no SSH.
//
// The cluster is made once: 4 contents on 2 hosts, group mirrors, a
// standby. Each of GPMGMT_BENCH_ROUNDS rounds (default 5) per b.N
// iteration, while a writer per content inserts a row every 20 ms into its
// content's acting primary (utility mode, finding the new primary in the
// catalog after a failed write):
//
//  1. the bare switch moves contents 0 and 1 from their preferred
//     primaries (host 1) to their preferred mirrors (host 2);
//  2. gprecoverseg -r -a -v, run blind, its output timed line by line,
//     moves them back (the same work in the other direction).
//
// Figures, medians over the rounds:
//
//   - s-rebalance (and ns/op): the tool's wall time; s-floor: the bare
//     switch's; x-floor = s-rebalance / s-floor;
//   - s-unavail-cN: from the "Stopping unbalanced primary segments..."
//     line to the first write acknowledged by content N's new primary;
//     s-floor-unavail-cN: the same window of the bare switch, from its
//     stop; x-floor-unavail-cN their ratio;
//   - x-estimate-cN: s-unavail-cN over the "unavailable (estimate)" the
//     tool printed in its plan (s-estimate-cN);
//   - s-fts-promotion: "Triggering segment reconfiguration" to "Starting
//     segment synchronization" (FTS's probe, its promotions, the proof
//     that every content is served); x-fts-cN: s-unavail-cN over it.
//
// Nothing is asserted on timing; a failed run, a cluster left unbalanced
// or out of sync, or an acknowledged row lost fails the benchmark.
//
//	go test -tags integration -run '^$' -bench '^BenchmarkRebalance$' -benchtime 1x ./e2e/
func BenchmarkRebalance(b *testing.B) {
	rounds := tooltest.EnvInt(b, "GPMGMT_BENCH_ROUNDS", 5)
	d := newRebalanceDemo(b)
	d.createWriteTable(b)
	switched := []int{0, 1}
	var wall, floor, fts []time.Duration
	unavail, floorUnavail, estimate := map[int][]time.Duration{}, map[int][]time.Duration{}, map[int][]time.Duration{}
	b.ResetTimer()
	for i := range b.N {
		for r := range rounds {
			b.StopTimer()
			d.wantBalancedInSync(b)
			b.StartTimer()

			load := d.startWriters(b, fmt.Sprintf("bench-floor-%d-%d", i, r), 0, 1, 2, 3)
			stopped, took := d.bareSwitch(b, switched...)
			floor = append(floor, took)
			load.wantAcknowledgedPresent(b, d)
			segs := d.catalog(b)
			if got := unbalancedContents(segs); fmt.Sprint(got) != fmt.Sprint(switched) {
				b.Fatalf("round %d: after the bare switch contents %v run on their preferred mirrors, want %v\n%s", r+1, got, switched, dump(segs))
			}
			line := fmt.Sprintf("round %d: bare switch %.2f s", r+1, took.Seconds())
			for _, c := range switched {
				w := load.all[c]
				p, _ := contentRows(b, segs, c)
				a, ok := w.firstOn(p.Port, stopped)
				if !ok {
					b.Fatalf("round %d: content %d: no write acknowledged by its new primary dbid %d after the bare switch", r+1, c, p.DBID)
				}
				floorUnavail[c] = append(floorUnavail[c], a.at.Sub(stopped))
				line += fmt.Sprintf(", content %d unavailable %.2f s", c, a.at.Sub(stopped).Seconds())
			}

			load = d.startWriters(b, fmt.Sprintf("bench-tool-%d-%d", i, r), 0, 1, 2, 3)
			bg := d.startBackground(b, "", "gprecoverseg", "-r", "-a", "-v")
			code, out := bg.wait(b)
			exited := time.Now()
			if code != 0 {
				b.Fatalf("round %d: gprecoverseg -r -a -v: exit %d\n%s", r+1, code, out)
			}
			b.StopTimer()
			d.wantBalancedInSync(b)
			load.wantAcknowledgedPresent(b, d)
			b.StartTimer()
			stopping, ok1 := bg.lineAt("Stopping unbalanced primary segments...")
			triggering, ok2 := bg.lineAt("Triggering segment reconfiguration")
			syncing, ok3 := bg.lineAt("Starting segment synchronization")
			if !ok1 || !ok2 || !ok3 {
				b.Fatalf("round %d: a step's line is missing\n%s", r+1, out)
			}
			wall = append(wall, exited.Sub(bg.began))
			fts = append(fts, syncing.Sub(triggering))
			est := planEstimates(b, out)
			segs = d.catalog(b)
			line += fmt.Sprintf("; gprecoverseg -r %.2f s, FTS promotion %.2f s", wall[len(wall)-1].Seconds(), fts[len(fts)-1].Seconds())
			for _, c := range switched {
				w := load.all[c]
				p, _ := contentRows(b, segs, c)
				a, ok := w.firstOn(p.Port, stopping)
				if !ok {
					b.Fatalf("round %d: content %d: no write acknowledged by its preferred primary dbid %d", r+1, c, p.DBID)
				}
				e, ok := est[c]
				if !ok {
					b.Fatalf("round %d: no estimate for content %d in the plan\n%s", r+1, c, out)
				}
				unavail[c] = append(unavail[c], a.at.Sub(stopping))
				estimate[c] = append(estimate[c], e)
				line += fmt.Sprintf(", content %d unavailable %.2f s (estimate %.0f s, longest write gap %.2f s)",
					c, a.at.Sub(stopping).Seconds(), e.Seconds(), w.longestGap().length().Seconds())
			}
			b.Log(line)
		}
	}
	b.StopTimer()
	mw, mfl, mf := tooltest.Median(wall), tooltest.Median(floor), tooltest.Median(fts)
	b.ReportMetric(float64(mw.Nanoseconds()), "ns/op")
	b.ReportMetric(mw.Seconds(), "s-rebalance")
	b.ReportMetric(mfl.Seconds(), "s-floor")
	b.ReportMetric(float64(mw)/float64(mfl), "x-floor")
	b.ReportMetric(mf.Seconds(), "s-fts-promotion")
	for _, c := range switched {
		mu, mfu, me := tooltest.Median(unavail[c]), tooltest.Median(floorUnavail[c]), tooltest.Median(estimate[c])
		b.ReportMetric(mu.Seconds(), fmt.Sprintf("s-unavail-c%d", c))
		b.ReportMetric(mfu.Seconds(), fmt.Sprintf("s-floor-unavail-c%d", c))
		b.ReportMetric(float64(mu)/float64(mfu), fmt.Sprintf("x-floor-unavail-c%d", c))
		b.ReportMetric(me.Seconds(), fmt.Sprintf("s-estimate-c%d", c))
		if me > 0 {
			b.ReportMetric(float64(mu)/float64(me), fmt.Sprintf("x-estimate-c%d", c))
		}
		b.ReportMetric(float64(mu)/float64(mf), fmt.Sprintf("x-fts-c%d", c))
	}
}
