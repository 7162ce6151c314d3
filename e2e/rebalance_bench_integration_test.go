//go:build integration

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRebalance measures how long gprecoverseg -r -a leaves each
// switched content without a primary, beside what the tool itself
// estimated before it began, and against the floor FTS sets: its own
// promotion time, measured in the same round.
//
// The cluster is made once: 4 contents on 2 hosts, group mirrors, a
// standby. Each of GPMGMT_BENCH_ROUNDS rounds (default 5) per b.N
// iteration kills -9 both primaries of the first host and recovers them
// (gprecoverseg -a), so that contents 0 and 1 run on their preferred
// mirrors; then, while a writer per content inserts a row every 20 ms into
// its content's acting primary (utility mode, finding the new primary in
// the catalog after a failed write), gprecoverseg -r -a runs blind with
// its output timed line by line. Per switched content:
//
//   - s-unavail-cN: from the "Stopping unbalanced primary segments..."
//     line to the first write acknowledged by the content's preferred
//     primary: the content's unavailability as a client sees it;
//   - s-estimate-cN: the "unavailable (estimate)" column of the tool's
//     "Rebalance plan" table, and x-estimate-cN the measurement over it;
//   - x-fts-cN: the unavailability over s-fts-promotion, the time from
//     "Triggering segment reconfiguration" to "Starting segment
//     synchronization" (FTS's probe, its promotions, and the proof that
//     every content is served), which no FTS-driven switch can beat.
//
// s-rebalance (and ns/op) is the tool's wall time. Every figure is the
// median over the rounds. Nothing is asserted on timing; a failed run, a
// cluster left unbalanced or out of sync, or an acknowledged row lost
// fails the benchmark.
//
//	go test -tags integration -run '^$' -bench '^BenchmarkRebalance$' -benchtime 1x ./e2e/
func BenchmarkRebalance(b *testing.B) {
	rounds := envInt(b, "GPMGMT_BENCH_ROUNDS", 5)
	d := newRebalanceDemo(b)
	d.createWriteTable(b)
	switched := []int{0, 1}
	var wall, fts []time.Duration
	unavail, estimate := map[int][]time.Duration{}, map[int][]time.Duration{}
	b.ResetTimer()
	for i := range b.N {
		for r := range rounds {
			d.unbalance(b, switched...)
			load := d.startWriters(b, fmt.Sprintf("bench-%d-%d", i, r), 0, 1, 2, 3)
			bg := d.startBackground(b, "", "gprecoverseg", "-r", "-a")
			code, out := bg.wait(b)
			exited := time.Now()
			if code != 0 {
				b.Fatalf("round %d: gprecoverseg -r -a: exit %d\n%s", r+1, code, out)
			}
			d.wantBalancedInSync(b)
			load.wantAcknowledgedPresent(b, d)
			stopping, ok1 := bg.lineAt("Stopping unbalanced primary segments...")
			triggering, ok2 := bg.lineAt("Triggering segment reconfiguration")
			syncing, ok3 := bg.lineAt("Starting segment synchronization")
			if !ok1 || !ok2 || !ok3 {
				b.Fatalf("round %d: a step's line is missing\n%s", r+1, out)
			}
			wall = append(wall, exited.Sub(bg.began))
			fts = append(fts, syncing.Sub(triggering))
			est := planEstimates(b, out)
			segs := d.catalog(b)
			line := fmt.Sprintf("round %d: gprecoverseg -r %.2f s, FTS promotion %.2f s", r+1, wall[len(wall)-1].Seconds(), fts[len(fts)-1].Seconds())
			for _, w := range load.all {
				if w.content > switched[len(switched)-1] {
					continue
				}
				p, _ := contentRows(b, segs, w.content)
				a, ok := w.firstOn(p.Port, stopping)
				if !ok {
					b.Fatalf("round %d: content %d: no write acknowledged by its preferred primary dbid %d", r+1, w.content, p.DBID)
				}
				e, ok := est[w.content]
				if !ok {
					b.Fatalf("round %d: no estimate for content %d in the plan\n%s", r+1, w.content, out)
				}
				unavail[w.content] = append(unavail[w.content], a.at.Sub(stopping))
				estimate[w.content] = append(estimate[w.content], e)
				line += fmt.Sprintf("; content %d unavailable %.2f s (estimate %.0f s, longest write gap %.2f s)",
					w.content, a.at.Sub(stopping).Seconds(), e.Seconds(), w.longestGap().length().Seconds())
			}
			b.Log(line)
		}
	}
	b.StopTimer()
	mw, mf := median(wall), median(fts)
	b.ReportMetric(float64(mw.Nanoseconds()), "ns/op")
	b.ReportMetric(mw.Seconds(), "s-rebalance")
	b.ReportMetric(mf.Seconds(), "s-fts-promotion")
	for _, c := range switched {
		mu, me := median(unavail[c]), median(estimate[c])
		b.ReportMetric(mu.Seconds(), fmt.Sprintf("s-unavail-c%d", c))
		b.ReportMetric(me.Seconds(), fmt.Sprintf("s-estimate-c%d", c))
		b.ReportMetric(float64(mu)/float64(me), fmt.Sprintf("x-estimate-c%d", c))
		b.ReportMetric(float64(mu)/float64(mf), fmt.Sprintf("x-fts-c%d", c))
	}
}
