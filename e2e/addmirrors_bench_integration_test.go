//go:build integration

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// benchRowBytes is what one row of fillContent takes on disk: a 1,032-byte
// tuple and its line pointer, 7 to an 8 kB page.
const benchRowBytes = 8192 / 7

// pgBin is where the test host's PostgreSQL 15 lives (docs/testing.md).
const pgBin = "/usr/lib/postgresql/15/bin"

// BenchmarkAddMirrors measures gpaddmirrors -a -i adding a mirror to each
// of 2 primaries of GPMGMT_BENCH_MB megabytes each (default 1024; one per
// host, as newMirrorless makes them), run blind over real SSH, against two
// floors measured in the same run on the same data, with the same
// parallelism (both segments at once) and to the same file system:
//
//   - x-basebackup: the bare pg_basebackup (PostgreSQL's binary, run
//     locally, "-c fast -X stream --no-verify-checksums", fsync on as in
//     gpaddmirrors' copy) of each primary; the floor of gpaddmirrors'
//     overhead, goal ≤ 1.1;
//   - x-cp: cp -a of each primary's data directory except pg_wal (which
//     pg_basebackup does not copy; it streams the WAL written during the
//     copy), then sync: what the disk allows.
//
// The cluster is made and filled once per call; each of b.N iterations runs
// GPMGMT_BENCH_ROUNDS rounds (default 3), a round being the three copies in
// an order rotated from round to round (the mirrors are removed before the
// next round), after one untimed pg_basebackup that warms up. Times are
// the medians over the rounds, and ns/op is gpaddmirrors' median. Everything
// is read from the page cache (the data was just written); dirty pages are
// synced before each copy.
//
// It runs only under make bench (-run '^$' -bench ... -benchtime 1x);
// scripts/as-gpadmin.sh passes both variables through, e.g.:
//
//	GPMGMT_BENCH_MB=200 make bench
func BenchmarkAddMirrors(b *testing.B) {
	mb, rounds := envInt(b, "GPMGMT_BENCH_MB", 1024), envInt(b, "GPMGMT_BENCH_ROUNDS", 3)
	d := newMirrorless(b)
	// Per segment, at the peak: its heap, as much WAL, one copy, and slack.
	if free, need := freeMB(b, d.dir), 2*4*mb+1024; free < need {
		b.Fatalf("%s has %d MB free; %d MB per segment needs about %d MB", d.dir, free, mb, need)
	}
	fill := time.Now()
	rows := int(int64(mb) << 20 / benchRowBytes)
	var wg sync.WaitGroup
	errs := make([]error, len(d.hosts))
	for c := range d.hosts {
		wg.Go(func() { errs[c] = d.fill(b.Context(), c, rows) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	var sizes []string
	var total int64
	for c, h := range d.hosts {
		dir := filepath.Join(d.dir, h, "primary", fmt.Sprintf("gpseg%d", c))
		wal := dirSize(filepath.Join(dir, "pg_wal"))
		n := dirSize(dir) - wal
		total += n
		sizes = append(sizes, fmt.Sprintf("content %d %d MB (and %d MB of pg_wal)", c, n>>20, wal>>20))
	}
	b.Logf("filled 2 primaries with %d rows each in %.1f s; data directories: %s", rows, time.Since(fill).Seconds(), strings.Join(sizes, ", "))

	var lines []string
	mirrors := map[int]string{}
	for c := range d.hosts {
		host := d.hosts[(c+1)%2]
		mirrors[c] = filepath.Join(d.dir, host, "mirror", fmt.Sprintf("gpseg%d", c))
		lines = append(lines, fmt.Sprintf("%d|%s|%d|%s", c, host, d.portBase+60+c, mirrors[c]))
		if err := os.MkdirAll(filepath.Dir(mirrors[c]), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	file := filepath.Join(b.TempDir(), "mirrors")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}

	basebackup := func(ctx context.Context, c int, _, dst string) *exec.Cmd {
		return exec.CommandContext(ctx, filepath.Join(pgBin, "pg_basebackup"), "-c", "fast", "-X", "stream", "--no-verify-checksums",
			"-D", dst, "-h", d.hosts[c], "-p", strconv.Itoa(d.primaryPort(c)))
	}
	cpa := func(ctx context.Context, _ int, src, dst string) *exec.Cmd {
		return exec.CommandContext(ctx, "sh", "-c", `mkdir -m 0700 "$2" && find "$1" -mindepth 1 -maxdepth 1 ! -name pg_wal -exec cp -a -t "$2" {} + && sync -f "$2"`,
			"cp", src, dst)
	}
	warm := d.timeCopies(b, "pg_basebackup", basebackup)
	b.Logf("warm-up pg_basebackup: %.2f s", warm.Seconds())

	var add, base, cp []time.Duration
	mirrored := false
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			steps := []func(){
				func() { base = append(base, d.timeCopies(b, "pg_basebackup", basebackup)) },
				func() { cp = append(cp, d.timeCopies(b, "cp -a", cpa)) },
				func() {
					if mirrored {
						d.unmirror(b, mirrors)
					}
					syncAll(b)
					start := time.Now()
					code, out := d.tool(b, "", "gpaddmirrors", "-a", "-i", file)
					add = append(add, time.Since(start))
					if code != 0 {
						b.Fatalf("gpaddmirrors: exit %d\n%s", code, out)
					}
					mirrored = true
				},
			}
			for k := range steps {
				steps[(k+r)%len(steps)]()
			}
			b.Logf("round %d: pg_basebackup %.2f s, cp -a %.2f s, gpaddmirrors %.2f s",
				len(add), base[len(base)-1].Seconds(), cp[len(cp)-1].Seconds(), add[len(add)-1].Seconds())
		}
	}
	b.StopTimer()
	ma, mb2, mc := median(add), median(base), median(cp)
	b.ReportMetric(float64(ma.Nanoseconds()), "ns/op")
	b.ReportMetric(ma.Seconds(), "s-addmirrors")
	b.ReportMetric(mb2.Seconds(), "s-basebackup")
	b.ReportMetric(mc.Seconds(), "s-cp")
	b.ReportMetric(float64(ma)/float64(mb2), "x-basebackup")
	b.ReportMetric(float64(ma)/float64(mc), "x-cp")
	b.ReportMetric(float64(mb), "MB/segment")
	b.Logf("%d MB per segment, 2 segments, medians of %d rounds: gpaddmirrors %.2f s, bare pg_basebackup %.2f s (%.2fx), cp -a %.2f s (%.2fx); %.0f MB/s through gpaddmirrors",
		mb, len(add), ma.Seconds(), mb2.Seconds(), float64(ma)/float64(mb2), mc.Seconds(), float64(ma)/float64(mc), float64(total>>20)/ma.Seconds())
}

// envInt is the positive integer in the environment variable name, or def.
func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	return tooltest.EnvInt(b, name, def)
}

func median(ds []time.Duration) time.Duration { return tooltest.Median(ds) }

// fill writes rows of about 1 kB into a new table on content c's primary,
// vacuums it and checkpoints.
func (d mirrorless) fill(ctx context.Context, c, rows int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Host: d.hosts[c], Port: d.primaryPort(c), Flavour: cluster.GP7, Utility: true, ConnectTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, sql := range []string{
		"CREATE TABLE public.bench (i int, pad text)",
		"INSERT INTO public.bench SELECT i, repeat('x', 1000) FROM generate_series(1, " + strconv.Itoa(rows) + ") AS i",
		// Now, not by autovacuum during a measurement: it rewrites every
		// page (hint bits, visibility map) and logs each (checksums).
		"VACUUM (FREEZE, ANALYZE) public.bench",
		"CHECKPOINT",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s on content %d: %w", sql, c, err)
		}
	}
	return nil
}

// timeCopies syncs, then copies every primary at once with the command
// mk gives (to a directory beside where its mirror goes), waits for all
// and returns the time taken; the copies are removed afterwards.
func (d mirrorless) timeCopies(b *testing.B, what string, mk func(ctx context.Context, c int, src, dst string) *exec.Cmd) time.Duration {
	b.Helper()
	syncAll(b)
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()
	var dsts []string
	var cmds []*exec.Cmd
	for c, h := range d.hosts {
		dst := filepath.Join(d.dir, d.hosts[(c+1)%2], "bench", fmt.Sprintf("gpseg%d", c))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			b.Fatal(err)
		}
		cmd := mk(ctx, c, filepath.Join(d.dir, h, "primary", fmt.Sprintf("gpseg%d", c)), dst)
		dsts, cmds = append(dsts, dst), append(cmds, cmd)
	}
	defer func() {
		for _, dst := range dsts {
			if err := os.RemoveAll(filepath.Dir(dst)); err != nil {
				b.Error(err)
			}
		}
	}()
	start := time.Now()
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			b.Fatalf("%s of content %d: %v\n%s", what, i, err, outs[i])
		}
	}
	return took
}

// unmirror undoes gpaddmirrors, for the next run: synchronous replication
// off, the mirrors stopped, their rows removed and the primaries' mode
// back to n (not in sync), their slots dropped, their directories removed.
func (d mirrorless) unmirror(b *testing.B, mirrors map[int]string) {
	b.Helper()
	for c, h := range d.hosts {
		conn := connect(b, h, d.primaryPort(c), true)
		for _, sql := range []string{"ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()"} {
			if _, err := conn.Exec(b.Context(), sql); err != nil {
				b.Fatalf("%s on content %d: %v", sql, c, err)
			}
		}
	}
	for _, dir := range mirrors {
		if out, err := exec.Command(filepath.Join(gphome, "bin", "pg_ctl"), "-D", dir, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			b.Fatalf("stop %s: %v\n%s", dir, err, out)
		}
	}
	coord, err := cluster.Dialer{Getenv: os.Getenv}.Connect(b.Context(), cluster.ConnConfig{Port: d.portBase, Flavour: cluster.GP7, Utility: true, AllowSystemTableMods: true, ConnectTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer coord.Close(context.WithoutCancel(b.Context()))
	for c := range d.hosts {
		for _, sql := range []string{
			"SELECT gp_remove_segment_mirror($1::int2)",
			"UPDATE gp_segment_configuration SET mode = 'n' WHERE content = $1 AND role = 'p'",
		} {
			if _, err := coord.Exec(b.Context(), sql, c); err != nil {
				b.Fatalf("%s for content %d: %v", sql, c, err)
			}
		}
	}
	for c, h := range d.hosts {
		conn := connect(b, h, d.primaryPort(c), true)
		// The stopped mirror's walsender may take a moment to go.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			_, err := conn.Exec(b.Context(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("drop the slots on content %d: %v", c, err)
			}
		}
	}
	for _, dir := range mirrors {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func syncAll(b *testing.B) {
	b.Helper()
	tooltest.SyncAll(b)
}

// freeMB is the space available to this user on dir's file system.
func freeMB(b *testing.B, dir string) int {
	b.Helper()
	return tooltest.FreeMB(b, dir)
}
