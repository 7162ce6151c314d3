//go:build integration

package recoverseg_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
)

// BenchmarkRecoversegDifferential measures what --differential is for:
// content 0's mirror, down while 1 % of its primary's GPMGMT_BENCH_MB
// megabytes (default 1024) changed, recovered with gprecoverseg -a
// --differential, against gprecoverseg -a -F of the same segment, both
// run blind over real SSH on the same cluster and data. Each of b.N
// iterations runs GPMGMT_BENCH_ROUNDS rounds (default 3); a round stops the
// mirror, updates a fresh 1 % of the rows and checkpoints, then recovers
// it one way, and does it all again for the other way, the order
// alternating from round to round. A recovery's time is gprecoverseg's
// whole run until the mirror is marked in sync by FTS; ns/op is the
// differential recovery's median, x-full its ratio to the full one's
// (below 1 is faster).
//
// It runs only under make bench:
//
//	GPMGMT_BENCH_MB=200 GPMGMT_BENCH_ROUNDS=1 make bench
func BenchmarkRecoversegDifferential(b *testing.B) {
	mb, rounds := tooltest.EnvInt(b, "GPMGMT_BENCH_MB", 1024), tooltest.EnvInt(b, "GPMGMT_BENCH_ROUNDS", 3)
	bd := newBed(b, 2)
	if free, need := tooltest.FreeMB(b, bd.dir), 6*mb+1024; free < need {
		b.Fatalf("%s has %d MB free; a %d MB segment, its mirror, their WAL and slack need about %d MB", bd.dir, free, mb, need)
	}
	p0, m0 := pair(b, bd.catalog(b), 0)

	rows := int(int64(mb) << 20 / benchRowBytes)
	fill := time.Now()
	conn := on(b, p0)
	execSQL(b, conn,
		"CREATE TABLE public.bench (i int, pad text)",
		"INSERT INTO public.bench SELECT i, repeat('x', 1000) FROM generate_series(1, "+strconv.Itoa(rows)+") AS i",
		"VACUUM (FREEZE, ANALYZE) public.bench",
		"CHECKPOINT")
	bd.waitInSync(b, 0, m0.DBID, "")
	b.Logf("filled content 0's primary with %d rows (%d MB of data directory) in %.1f s; its mirror is in sync",
		rows, (tooltest.DirSize(p0.DataDir)-tooltest.DirSize(p0.DataDir+"/pg_wal"))>>20, time.Since(fill).Seconds())

	changed := 0
	recoverOnce := func(way string, ps ...phase) time.Duration {
		b.Helper()
		bd.mirrorDown(b, p0, m0)
		// A fresh 1 % of the rows: each UPDATE writes new row versions
		// elsewhere in the table and marks the old ones.
		lo, hi := changed*rows/100+1, (changed+1)*rows/100
		changed = (changed + 1) % 100
		execSQL(b, conn, "UPDATE public.bench SET pad = repeat('y', 1000) WHERE i BETWEEN "+strconv.Itoa(lo)+" AND "+strconv.Itoa(hi), "CHECKPOINT")
		tooltest.SyncAll(b)
		start := time.Now()
		code, out := bd.tool(b, toolRun{}, "gprecoverseg", "-a", way)
		if code != 0 {
			b.Fatalf("gprecoverseg -a %s: exit %d\n%s", way, code, out)
		}
		bd.waitInSync(b, 0, m0.DBID, "")
		took := time.Since(start)
		b.Logf("gprecoverseg -a %s by its log lines: %s", way, phases(b, out, ps...))
		return took
	}
	differential := func() time.Duration {
		return recoverOnce("--differential",
			phase{"checks, plan, pg_hba.conf, catalog", `Running differential recovery with progress output`},
			phase{"backup, rsync", `Successfully ran differential recovery for dbid`},
			phase{"start, wait to stream, FTS probe", `Segments successfully recovered\.$`})
	}
	full := func() time.Duration {
		return recoverOnce("-F",
			phase{"checks, plan, pg_hba.conf", `Step 5 of \d+: copy primaries with pg_basebackup$`},
			phase{"copy", `Step 6 of \d+: set mirror ports$`},
			phase{"start, wait to stream, catalog, FTS probe", `Segments successfully recovered\.$`})
	}

	var diff, whole []time.Duration
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			ways := []func(){
				func() { diff = append(diff, differential()) },
				func() { whole = append(whole, full()) },
			}
			for k := range ways {
				ways[(k+r)%len(ways)]()
			}
			b.Logf("round %d: --differential %.2f s, -F %.2f s", len(diff), diff[len(diff)-1].Seconds(), whole[len(whole)-1].Seconds())
		}
	}
	b.StopTimer()
	md, mf := tooltest.Median(diff), tooltest.Median(whole)
	b.ReportMetric(float64(md.Nanoseconds()), "ns/op")
	b.ReportMetric(md.Seconds(), "s-differential")
	b.ReportMetric(mf.Seconds(), "s-full")
	b.ReportMetric(float64(md)/float64(mf), "x-full")
	b.ReportMetric(float64(mb), "MB/segment")
	b.Logf("%d MB segment, 1 %% changed, medians of %d rounds: gprecoverseg --differential %.2f s, gprecoverseg -F %.2f s: %.2fx the full recovery's time",
		mb, len(diff), md.Seconds(), mf.Seconds(), float64(md)/float64(mf))
}
