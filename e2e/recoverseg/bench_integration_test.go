//go:build integration

package recoverseg_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// pgBin is where the test host's PostgreSQL 15 lives (docs/testing.md):
// the bare programs the floors run.
const pgBin = "/usr/lib/postgresql/15/bin"

// benchRowBytes is what one row of fill takes on disk: a 1,032-byte tuple
// and its line pointer, 7 to an 8 kB page.
const benchRowBytes = 8192 / 7

// BenchmarkRecoversegFull measures gprecoverseg -F -a recovering both
// contents of a 2-host cluster, each GPMGMT_BENCH_MB megabytes (default
// 1024), run blind over real SSH, against the floor measured in the same
// run on the same data: the bare pg_basebackup (PostgreSQL's binary, run
// locally, "-c fast -X stream --no-verify-checksums") of both sources at
// once into a directory beside each failed instance. Goal: x-basebackup ≤
// 1.1.
//
// Both contents fail over (kill -9, FTS), and their new primaries, without
// mirrors, are filled, vacuumed and checkpointed. Each of b.N iterations
// runs GPMGMT_BENCH_ROUNDS rounds (default 3): both copies, in an order
// rotated from round to round; then, for the next round, both contents
// fail over again (the recovered instances become the sources, the killed
// ones the failed instances, of the same size). Dirty pages are synced
// before each copy; times are medians over the rounds.
//
// It runs only under make bench:
//
//	GPMGMT_BENCH_MB=200 make bench
func BenchmarkRecoversegFull(b *testing.B) {
	mb, rounds := tooltest.EnvInt(b, "GPMGMT_BENCH_MB", 1024), tooltest.EnvInt(b, "GPMGMT_BENCH_ROUNDS", 3)
	bd := newBed(b, 2)
	// Per content at the peak: its heap, as much WAL, the failed copy and
	// the floor's copy, and slack.
	if free, need := tooltest.FreeMB(b, bd.dir), 2*4*mb+1024; free < need {
		b.Fatalf("%s has %d MB free; %d MB per segment needs about %d MB", bd.dir, free, mb, need)
	}
	for c := range 2 {
		bd.failover(b, c)
	}
	fillAll(b, bd, int(int64(mb)<<20/benchRowBytes))

	basebackups := func() time.Duration {
		var cmds []*exec.Cmd
		for c := range 2 {
			p, f := pair(b, bd.catalog(b), c)
			dst := floorDir(b, f.DataDir)
			cmds = append(cmds, exec.Command(filepath.Join(pgBin, "pg_basebackup"), "-c", "fast", "-X", "stream", "--no-verify-checksums",
				"-D", dst, "-h", p.Hostname, "-p", strconv.Itoa(p.Port)))
		}
		return timeAll(b, "pg_basebackup", cmds)
	}
	recoverseg := func() time.Duration {
		tooltest.SyncAll(b)
		start := time.Now()
		code, out := bd.tool(b, toolRun{}, "gprecoverseg", "-F", "-a")
		took := time.Since(start)
		if code != 0 {
			b.Fatalf("gprecoverseg -F -a: exit %d\n%s", code, out)
		}
		b.Logf("gprecoverseg -F -a by its log lines: %s", phases(b, out,
			phase{"checks, plan, pg_hba.conf", `Step 5 of \d+: copy primaries with pg_basebackup$`},
			phase{"copy", `Step 6 of \d+: set mirror ports$`},
			phase{"port, start, wait to stream", `Step 9 of \d+: register mirrors in the catalog$`},
			phase{"catalog, FTS probe", `Segments successfully recovered\.$`}))
		return took
	}

	var tool, floor []time.Duration
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			if r > 0 {
				b.StopTimer()
				for c := range 2 {
					_, m := pair(b, bd.catalog(b), c)
					bd.waitInSync(b, c, m.DBID, "")
					bd.failover(b, c)
				}
				b.StartTimer()
			}
			steps := []func(){
				func() { floor = append(floor, basebackups()) },
				func() { tool = append(tool, recoverseg()) },
			}
			for k := range steps {
				steps[(k+r)%len(steps)]()
			}
			b.Logf("round %d: bare pg_basebackup %.2f s, gprecoverseg -F %.2f s", r+1, floor[len(floor)-1].Seconds(), tool[len(tool)-1].Seconds())
		}
	}
	b.StopTimer()
	mt, mf := tooltest.Median(tool), tooltest.Median(floor)
	b.ReportMetric(float64(mt.Nanoseconds()), "ns/op")
	b.ReportMetric(mt.Seconds(), "s-recoverseg")
	b.ReportMetric(mf.Seconds(), "s-basebackup")
	b.ReportMetric(float64(mt)/float64(mf), "x-basebackup")
	b.ReportMetric(float64(mb), "MB/segment")
	b.Logf("%d MB per segment, 2 segments, medians of %d rounds: gprecoverseg -F -a %.2f s, bare pg_basebackup %.2f s (%.2fx)",
		mb, len(tool), mt.Seconds(), mf.Seconds(), float64(mt)/float64(mf))
}

// BenchmarkRecoversegIncremental measures gprecoverseg -a recovering
// content 1 of a 2-host cluster after a failover, with GPMGMT_BENCH_MB/4
// megabytes (default 256) written on its new primary since, run blind over
// real SSH, against the floor measured in the same run on the same data:
// the bare pg_rewind it runs (PostgreSQL's binary, run locally, with the
// same options and source) of a copy of the failed instance made before
// either runs.
//
// Each of b.N iterations runs GPMGMT_BENCH_ROUNDS rounds (default 3): a
// failover (kill -9 of the acting primary, FTS), the divergence written
// (a new table; the last round's is dropped first), a CHECKPOINT on the
// source (as gprecoverseg's setup does), the copy of the failed directory,
// then both rewinds in an order rotated from round to round. gprecoverseg's
// time includes everything it does around the rewind: its checks and plan
// (pg_controldata, pg_rewind --dry-run), pg_hba.conf, the start, the wait
// until the recovered mirror streams and the FTS probe. Times are medians
// over the rounds.
func BenchmarkRecoversegIncremental(b *testing.B) {
	mb, rounds := tooltest.EnvInt(b, "GPMGMT_BENCH_MB", 1024)/4, tooltest.EnvInt(b, "GPMGMT_BENCH_ROUNDS", 3)
	bd := newBed(b, 2)
	const content = 1

	var tool, floor []time.Duration
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			b.StopTimer()
			_, m := pair(b, bd.catalog(b), content)
			bd.waitInSync(b, content, m.DBID, "")
			source, failed := bd.failover(b, content)
			conn := on(b, source)
			execSQL(b, conn, "DROP TABLE IF EXISTS public.diverged")
			fill(b, source, "diverged", int(int64(mb)<<20/benchRowBytes))
			execSQL(b, conn, "CHECKPOINT")
			floorTarget := floorDir(b, failed.DataDir)
			copyDir(b, failed.DataDir, floorTarget)
			b.StartTimer()

			steps := []func(){
				func() {
					rewind := exec.Command(filepath.Join(pgBin, "pg_rewind"), "--write-recovery-conf",
						"--source-server="+fmt.Sprintf("host=%s port=%d dbname=template1 application_name=__gprecoverseg_pg_rewind__", source.Hostname, source.Port),
						"--target-pgdata="+floorTarget, "--progress")
					rewind.Env = append(os.Environ(), "PGOPTIONS="+cluster.UtilityOption(cluster.GP7))
					floor = append(floor, timeAll(b, "pg_rewind", []*exec.Cmd{rewind}))
				},
				func() {
					tooltest.SyncAll(b)
					start := time.Now()
					code, out := bd.tool(b, toolRun{}, "gprecoverseg", "-a")
					tool = append(tool, time.Since(start))
					if code != 0 {
						b.Fatalf("gprecoverseg -a: exit %d\n%s", code, out)
					}
					b.Logf("gprecoverseg -a by its log lines: %s", phases(b, out,
						phase{"checks, plan (pg_rewind --dry-run), pg_hba.conf, CHECKPOINT", `Initiating segment recovery\.`},
						phase{"rewind, port, start, wait to stream", `Triggering FTS probe$`},
						phase{"FTS probe", `Segments successfully recovered\.$`}))
				},
			}
			for k := range steps {
				steps[(k+r)%len(steps)]()
			}
			b.Logf("round %d: bare pg_rewind %.2f s, gprecoverseg -a %.2f s", r+1, floor[len(floor)-1].Seconds(), tool[len(tool)-1].Seconds())
		}
	}
	b.StopTimer()
	mt, mf := tooltest.Median(tool), tooltest.Median(floor)
	b.ReportMetric(float64(mt.Nanoseconds()), "ns/op")
	b.ReportMetric(mt.Seconds(), "s-recoverseg")
	b.ReportMetric(mf.Seconds(), "s-pgrewind")
	b.ReportMetric(float64(mt)/float64(mf), "x-pgrewind")
	b.ReportMetric(float64(mb), "MB-diverged")
	b.Logf("%d MB written since the failover, medians of %d rounds: gprecoverseg -a %.2f s, bare pg_rewind %.2f s (%.2fx)",
		mb, len(tool), mt.Seconds(), mf.Seconds(), float64(mt)/float64(mf))
}

// fillAll writes rows of about 1 kB into a new table on both contents'
// acting primaries at once, then vacuums and checkpoints them: now, not by
// autovacuum during a measurement (it rewrites every page, and logs each
// with checksums on).
func fillAll(b *testing.B, bd *bed, rows int) {
	b.Helper()
	begin := time.Now()
	segs := bd.catalog(b)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for c := range 2 {
		p, _ := pair(b, segs, c)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(b.Context(), 15*time.Minute)
			defer cancel()
			conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Host: p.Address, Port: p.Port, Flavour: cluster.GP7, Utility: true, ConnectTimeout: 10 * time.Second})
			if err != nil {
				errs[c] = err
				return
			}
			defer conn.Close(context.WithoutCancel(ctx))
			for _, sql := range []string{
				"CREATE TABLE public.bench (i int, pad text)",
				"INSERT INTO public.bench SELECT i, repeat('x', 1000) FROM generate_series(1, " + strconv.Itoa(rows) + ") AS i",
				"VACUUM (FREEZE, ANALYZE) public.bench",
				"CHECKPOINT",
			} {
				if _, err := conn.Exec(ctx, sql); err != nil {
					errs[c] = fmt.Errorf("%s on content %d: %w", sql, c, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled both acting primaries with %d rows each in %.1f s", rows, time.Since(begin).Seconds())
}

// floorDir is where a floor copies to, beside the failed instance's
// directory dir (the same file system and host); it is removed when b
// ends or before it is used again.
func floorDir(b *testing.B, dir string) string {
	b.Helper()
	dst := filepath.Join(filepath.Dir(dir), "bench-"+filepath.Base(dir))
	if err := os.RemoveAll(dst); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dst) })
	return dst
}

// copyDir copies the stopped instance's directory src to dst (untimed),
// without its stale postmaster.pid, as the recovery removes it.
func copyDir(b *testing.B, src, dst string) {
	b.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		b.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
	if err := os.Remove(filepath.Join(dst, "postmaster.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.Fatal(err)
	}
}

// timeAll syncs, then runs cmds at once and returns the time until the
// last one ended; it fails b if one fails.
func timeAll(b *testing.B, what string, cmds []*exec.Cmd) time.Duration {
	b.Helper()
	tooltest.SyncAll(b)
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	start := time.Now()
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			b.Fatalf("%s %d: %v\n%s", what, i, err, outs[i])
		}
	}
	return took
}

// phase is a part of a tool's run that ends with the first log line
// matching end.
type phase struct{ name, end string }

// phases says how long each phase of a tool's run took, by the time stamps
// of its log lines (whole seconds, as Greenplum's are), from its first
// line on.
func phases(b *testing.B, out string, ps ...phase) string {
	b.Helper()
	stamp := regexp.MustCompile(`^(\d{8}:\d\d:\d\d:\d\d):\d+ `)
	var at []time.Time
	var msgs []string
	for _, line := range strings.Split(out, "\n") {
		m := stamp.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t, err := time.Parse("20060102:15:04:05", m[1])
		if err != nil {
			b.Fatal(err)
		}
		at, msgs = append(at, t), append(msgs, line)
	}
	if len(at) == 0 {
		return "no log lines"
	}
	var parts []string
	prev, i := at[0], 0
	for _, p := range ps {
		re := regexp.MustCompile(p.end)
		for i < len(msgs) && !re.MatchString(msgs[i]) {
			i++
		}
		if i == len(msgs) {
			return strings.Join(append(parts, "no line matching "+p.end), ", ")
		}
		parts = append(parts, fmt.Sprintf("%s %.0f s", p.name, at[i].Sub(prev).Seconds()))
		prev = at[i]
	}
	return strings.Join(parts, ", ")
}
