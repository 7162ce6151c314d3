//go:build integration

package e2e

import (
	"testing"
	"time"
)

// BenchmarkGpstart measures gpstart -a against a floor measured in the same
// round on the same cluster: the sum of the wall times of every instance's
// own pg_ctl start -w (pgcmd's command lines, gpstart's order), run one
// after another by startAll with no tool around them.
//
// The cluster is made once per call: 3 segment hosts with 2 primaries each,
// group mirrors and a standby, 14 instances in all. Each of the b.N rounds
// is self-contained and leaves the cluster running as it found it:
//
//  1. gpstop -a -M fast, then the floor: startAll;
//  2. gpstop -a -M fast, then gpstart -a, timed.
//
// gpstop and gpstart run blind (testbed.Blind, the harness of the other
// e2e tests and of BenchmarkAddMirrors), so the timed gpstart is the one
// the tests prove: it reaches the segments and the standby over SSH only,
// as on a real cluster. The harness adds only the set-up of a user and
// mount namespace, milliseconds against seconds.
//
// Reported: medians over the rounds of the floor (s_floor) and of gpstart
// (s_gpstart, also ns/op), and gpstart's median over the floor's (x_floor).
// Nothing is asserted on timing; a failing gpstop or gpstart, or an
// instance left down by either start, fails the benchmark.
//
//	go test -tags integration -run '^$' -bench '^BenchmarkGpstart$' -benchtime 3x ./e2e/
func BenchmarkGpstart(b *testing.B) {
	d := newMirroredDemo(b, 3, 2)
	// demo.blind takes a *testing.T; mirrorless.tool is the same blind run
	// for a testing.TB, with the same environment.
	tool := mirrorless{coord: d.coord, hidden: d.hidden}.tool
	stop := func() {
		b.Helper()
		if code, out := tool(b, "", "gpstop", "-a", "-M", "fast"); code != 0 {
			b.Fatalf("gpstop -a -M fast: exit %d\n%s", code, out)
		}
		d.wantAllStopped(b)
		if b.Failed() {
			b.FailNow()
		}
	}
	wantAllRunning := func(after string) {
		b.Helper()
		for _, s := range d.segs {
			if !running(s) {
				b.Fatalf("after %s: dbid %d (%s) is not running", after, s.DBID, s.DataDir)
			}
		}
	}

	var floor, start []time.Duration
	b.ResetTimer()
	for range b.N {
		stop()
		floor = append(floor, d.startAll(b))
		wantAllRunning("the floor's pg_ctl starts")

		stop()
		begin := time.Now()
		code, out := tool(b, "", "gpstart", "-a")
		start = append(start, time.Since(begin))
		if code != 0 {
			b.Fatalf("gpstart -a: exit %d\n%s", code, out)
		}
		wantAllRunning("gpstart -a")
	}
	b.StopTimer()
	mf, ms := median(floor), median(start)
	b.ReportMetric(float64(ms.Nanoseconds()), "ns/op")
	b.ReportMetric(mf.Seconds(), "s_floor")
	b.ReportMetric(ms.Seconds(), "s_gpstart")
	b.ReportMetric(float64(ms)/float64(mf), "x_floor")
}
