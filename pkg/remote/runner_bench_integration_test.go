//go:build integration

package remote

import (
	"testing"
	"time"
)

// BenchmarkRunnerSSH runs 200 trivial commands (true) over sdw1..sdw4 through
// one Runner (Limit DefaultLimit) on established connections, and reports
// the cost of the batch against one SSH round trip on an established client.
func BenchmarkRunnerSSH(b *testing.B) {
	e := newRealEnv(b)
	x := e.executor(b, nil)
	hosts := []string{"sdw1", "sdw2", "sdw3", "sdw4"}
	cmds := make([]Command, 200)
	for i := range cmds {
		cmds[i] = Command{Host: hosts[i%len(hosts)], Argv: []string{"true"}}
	}
	r := Runner{Exec: x, Limit: DefaultLimit}
	if err := Failures(r.Run(b.Context(), cmds[:4])); err != nil { // dial every host
		b.Fatal(err)
	}
	const trips = 20
	start := time.Now()
	for range trips {
		if res := x.Exec(b.Context(), Command{Host: "sdw1", Argv: []string{"true"}}); !res.OK() {
			b.Fatal(res.Err)
		}
	}
	roundTrip := time.Since(start) / trips

	b.ResetTimer()
	for b.Loop() {
		if err := Failures(r.Run(b.Context(), cmds)); err != nil {
			b.Fatal(err)
		}
	}
	perBatch := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(roundTrip.Microseconds()), "µs/roundtrip")
	b.ReportMetric(float64(perBatch.Microseconds())/200, "µs/command")
	b.ReportMetric(float64(perBatch)/float64(roundTrip), "batch/roundtrip")
}
