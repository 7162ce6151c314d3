//go:build integration

package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// BenchmarkDifferential measures what --differential is for: content 0's
// mirror, down while 1 % of its primary's GPMGMT_BENCH_MB megabytes
// (default 1024) changed, recovered with gprecoverseg -a --differential,
// against the floor of the same recovery with gprecoverseg -a -F (a full
// copy of the same segment), both run blind over real SSH on the same
// cluster and data. Each of b.N iterations runs GPMGMT_BENCH_ROUNDS rounds
// (default 3); a round stops the mirror, updates a fresh 1 % of the rows
// and checkpoints, then recovers it one way, and does it all again for the
// other way, the order alternating from round to round. A recovery's time
// is gprecoverseg's whole run, from the start to the mirror marked in sync
// by FTS; ns/op is the differential recovery's median, x-full its ratio to
// the full one's (below 1 is faster).
//
// It runs only under make bench (-run '^$' -bench ... -benchtime 1x):
//
//	GPMGMT_BENCH_MB=200 make bench
func BenchmarkDifferential(b *testing.B) {
	mb, rounds := envInt(b, "GPMGMT_BENCH_MB", 1024), envInt(b, "GPMGMT_BENCH_ROUNDS", 3)
	d := newMirroredDemo(b, 2, 1)
	if free, need := freeMB(b, d.dir), 6*mb+1024; free < need {
		b.Fatalf("%s has %d MB free; a %d MB segment, its mirror, their WAL and slack need about %d MB", d.dir, free, mb, need)
	}
	coordPort := d.port(b)
	var p0, m0 cluster.Segment
	for _, s := range d.segs {
		switch {
		case s.ContentID == 0 && s.PreferredRole == cluster.RolePrimary:
			p0 = s
		case s.ContentID == 0 && s.PreferredRole == cluster.RoleMirror:
			m0 = s
		}
	}

	rows := int(int64(mb) << 20 / benchRowBytes)
	fill := time.Now()
	conn := connect(b, p0.Hostname, p0.Port, true)
	for _, sql := range []string{
		"CREATE TABLE public.bench (i int, pad text)",
		"INSERT INTO public.bench SELECT i, repeat('x', 1000) FROM generate_series(1, " + strconv.Itoa(rows) + ") AS i",
		"VACUUM (FREEZE, ANALYZE) public.bench",
		"CHECKPOINT",
	} {
		ctx, cancel := context.WithTimeout(b.Context(), 20*time.Minute)
		_, err := conn.Exec(ctx, sql)
		cancel()
		if err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	waitSynced(b, coordPort)
	b.Logf("filled content 0's primary with %d rows (%d MB of data directory) in %.1f s; its mirror is in sync",
		rows, (dirSize(p0.DataDir)-dirSize(p0.DataDir+"/pg_wal"))>>20, time.Since(fill).Seconds())

	changed := 0
	recoverOnce := func(way string, args ...string) time.Duration {
		b.Helper()
		d.mirrorDown(b, coordPort, p0, m0)
		// A fresh 1 % of the rows: each UPDATE writes new row versions
		// elsewhere in the table and marks the old ones.
		lo, hi := changed*rows/100+1, (changed+1)*rows/100
		changed = (changed + 1) % 100
		for _, sql := range []string{"UPDATE public.bench SET pad = repeat('y', 1000) WHERE i BETWEEN " + strconv.Itoa(lo) + " AND " + strconv.Itoa(hi), "CHECKPOINT"} {
			if _, err := conn.Exec(b.Context(), sql); err != nil {
				b.Fatalf("%s: %v", sql, err)
			}
		}
		syncAll(b)
		start := time.Now()
		code, out := d.blind(b, "gprecoverseg", append([]string{"-a"}, args...)...)
		if code != 0 {
			b.Fatalf("gprecoverseg %s: exit %d\n%s", way, code, out)
		}
		waitSynced(b, coordPort)
		return time.Since(start)
	}

	var diff, full []time.Duration
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			ways := []func(){
				func() { diff = append(diff, recoverOnce("--differential", "--differential")) },
				func() { full = append(full, recoverOnce("-F", "-F")) },
			}
			for k := range ways {
				ways[(k+r)%len(ways)]()
			}
			b.Logf("round %d: --differential %.2f s, -F %.2f s", len(diff), diff[len(diff)-1].Seconds(), full[len(full)-1].Seconds())
		}
	}
	b.StopTimer()
	md, mf := median(diff), median(full)
	b.ReportMetric(float64(md.Nanoseconds()), "ns/op")
	b.ReportMetric(md.Seconds(), "s-differential")
	b.ReportMetric(mf.Seconds(), "s-full")
	b.ReportMetric(float64(md)/float64(mf), "x-full")
	b.ReportMetric(float64(mb), "MB/segment")
	b.Logf("%d MB segment, 1 %% changed, medians of %d rounds: gprecoverseg --differential %.2f s, gprecoverseg -F %.2f s: %.2fx the full recovery's time",
		mb, len(diff), md.Seconds(), mf.Seconds(), float64(md)/float64(mf))
}
