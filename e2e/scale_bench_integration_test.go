//go:build integration

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// BenchmarkScale measures gpstate, gpstate -s, gpstart -a and gpstop -a on
// large clusters, each beside a floor measured in the same round, on the
// same cluster, under the same load (the loopback hosts share this
// machine's cores):
//
//   - gpstate and gpstate -s: the catalog read on the coordinator, then,
//     all at once, one SSH round trip to every host (ssh <host> true) and
//     a utility-mode SELECT 1 on every primary (from this process): the
//     least any status tool must do to know the catalog, the hosts and
//     the primaries answer;
//   - gpstart -a: every instance's own pg_ctl start -w (pgcmd's command
//     lines), run by one sh script per host over ssh, all hosts at once,
//     the coordinator's locally beside them;
//   - gpstop -a: the same with pg_ctl stop -m smart -w (gpstop's default
//     mode).
//
// The shapes, each a cluster of its own on the wide slot (every test
// host, ports from testbed.WidePortBase):
//
//   - "8": 2 hosts × 4 primaries, mirrorless (the base of the growth
//     figures);
//   - "120": 30 hosts × 4 primaries, mirrorless;
//   - "60+60": 30 hosts × 2 primaries, group mirrors.
//
// GPMGMT_BENCH_SHAPES (comma-separated names) runs some of them;
// GPMGMT_BENCH_ROUNDS sets the rounds per shape (default 3). Each shape is
// measured over its rounds whatever b.N is: run it with -benchtime 1x.
// Reported per shape: medians (s_*), ratios to the floor (x_*), and the
// growth from "8" to "120" (growth_*); a table of the same is logged.
// Nothing is asserted on timing; a tool's failure fails the benchmark.
//
//	go test -tags integration -run '^$' -bench '^BenchmarkScale$' -benchtime 1x -timeout 3h ./e2e/
func BenchmarkScale(b *testing.B) {
	wide := testbed.AcquireWide(b)
	rounds := envInt(b, "GPMGMT_BENCH_ROUNDS", 3)
	shapes := []scaleShape{
		{name: "8", hosts: 2, perHost: 4},
		{name: "120", hosts: 30, perHost: 4},
		{name: "60+60", hosts: 30, perHost: 2, mirrors: true},
	}
	if want := os.Getenv("GPMGMT_BENCH_SHAPES"); want != "" {
		var keep []scaleShape
		for _, s := range shapes {
			if strings.Contains(","+want+",", ","+s.name+",") {
				keep = append(keep, s)
			}
		}
		shapes = keep
	}
	if len(shapes) == 0 {
		b.Fatalf("GPMGMT_BENCH_SHAPES=%q names no shape (8, 120, 60+60)", os.Getenv("GPMGMT_BENCH_SHAPES"))
	}
	b.ResetTimer()
	results := map[string]scaleResult{}
	for _, s := range shapes {
		results[s.name] = measureShape(b, wide, s, rounds)
	}
	b.StopTimer()

	var table strings.Builder
	fmt.Fprintf(&table, "%d rounds per shape, medians, %d cores:\n%-6s %-11s %9s %9s %7s\n", rounds, runtime.NumCPU(), "shape", "what", "tool", "floor", "ratio")
	for _, s := range shapes {
		r := results[s.name]
		for _, m := range r.measures() {
			tool, floor := median(m.tool), median(m.floor)
			key := strings.ReplaceAll(s.name, "+", "_")
			b.ReportMetric(tool.Seconds(), "s_"+m.key+"_"+key)
			b.ReportMetric(floor.Seconds(), "s_floor_"+m.key+"_"+key)
			b.ReportMetric(float64(tool)/float64(floor), "x_"+m.key+"_"+key)
			fmt.Fprintf(&table, "%-6s %-11s %8.2fs %8.2fs %6.2fx\n", s.name, m.what, tool.Seconds(), floor.Seconds(), float64(tool)/float64(floor))
		}
	}
	small, okS := results["8"]
	large, okL := results["120"]
	if okS && okL {
		table.WriteString("growth from 8 to 120 segments (median at 120 / median at 8):\n")
		for i, m := range large.measures() {
			g := float64(median(m.tool)) / float64(median(small.measures()[i].tool))
			gf := float64(median(m.floor)) / float64(median(small.measures()[i].floor))
			b.ReportMetric(g, "growth_"+m.key)
			fmt.Fprintf(&table, "       %-11s %8.2fx (floor %.2fx)\n", m.what, g, gf)
		}
	}
	b.Log(table.String())
}

// scaleShape is one cluster shape of BenchmarkScale.
type scaleShape struct {
	name           string
	hosts, perHost int
	mirrors        bool
}

// scaleResult holds one shape's timings, one per round.
type scaleResult struct {
	state, detail, start, stop        []time.Duration
	floorState, floorStart, floorStop []time.Duration
}

type scaleMeasure struct {
	key, what   string
	tool, floor []time.Duration
}

func (r scaleResult) measures() []scaleMeasure {
	return []scaleMeasure{
		{"gpstate", "gpstate", r.state, r.floorState},
		{"gpstate_s", "gpstate -s", r.detail, r.floorState},
		{"gpstart", "gpstart -a", r.start, r.floorStart},
		{"gpstop", "gpstop -a", r.stop, r.floorStop},
	}
}

// scaleCluster is a cluster of BenchmarkScale.
type scaleCluster struct {
	dir, coord string
	port       int
	hidden     []string
	segs       []cluster.Segment // the catalog, read once made
}

// measureShape makes the shape's cluster, measures it over rounds rounds
// and destroys it.
func measureShape(b *testing.B, wide testbed.Slot, s scaleShape, rounds int) scaleResult {
	hosts := wide.Hosts[:s.hosts]
	c := scaleCluster{dir: filepath.Join(b.TempDir(), "cluster"), port: wide.PortBase}
	c.coord = filepath.Join(c.dir, "coordinator", "gpseg-1")
	args := []string{"create", "--dir", c.dir, "--gphome", gphome, "--primaries-per-host", strconv.Itoa(s.perHost),
		"--host-names", strings.Join(hosts, ","), "--port-base", strconv.Itoa(wide.PortBase)}
	if s.mirrors {
		args = append(args, "--mirrors", "group")
	}
	begin := time.Now()
	scaleRun(b, 2*time.Hour, filepath.Join(toolsDir, "gpdemo"), args...)
	b.Logf("shape %s: gpdemo create took %s", s.name, time.Since(begin).Round(time.Second))
	defer scaleRun(b, time.Hour, filepath.Join(toolsDir, "gpdemo"), "destroy", "--dir", c.dir)
	for _, h := range hosts {
		c.hidden = append(c.hidden, filepath.Join(c.dir, h))
	}
	c.segs = c.catalog(b)

	var r scaleResult
	for range rounds {
		r.floorState = append(r.floorState, c.floorState(b))
		r.state = append(r.state, c.timeTool(b, "gpstate"))
		r.detail = append(r.detail, c.timeTool(b, "gpstate", "-s"))

		r.stop = append(r.stop, c.timeTool(b, "gpstop", "-a"))
		c.wantRunning(b, false, "gpstop -a")
		r.floorStart = append(r.floorStart, c.floorScripts(b, "start"))
		c.wantRunning(b, true, "the floor's pg_ctl start")
		r.floorStop = append(r.floorStop, c.floorScripts(b, "stop"))
		c.wantRunning(b, false, "the floor's pg_ctl stop")
		r.start = append(r.start, c.timeTool(b, "gpstart", "-a"))
		c.wantRunning(b, true, "gpstart -a")
	}
	return r
}

// scaleToolTimeout bounds one tool run of BenchmarkScale.
const scaleToolTimeout = 20 * time.Minute

// scaleRun runs a program and fails b unless it exits 0.
func scaleRun(b *testing.B, limit time.Duration, name string, args ...string) {
	b.Helper()
	cmd, cancel := command(limit, name, args...)
	defer cancel()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// timeTool runs a built tool blind and returns its wall time; any exit
// but 0 fails b.
func (c scaleCluster) timeTool(b *testing.B, tool string, args ...string) time.Duration {
	b.Helper()
	cmd, cancel := command(scaleToolTimeout, filepath.Join(toolsDir, tool), append(args, "-l", b.TempDir())...)
	defer cancel()
	cmd = testbed.Blind(b, cmd, c.hidden...)
	cmd.Env = append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+c.coord, "MASTER_DATA_DIRECTORY=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	begin := time.Now()
	err := cmd.Run()
	took := time.Since(begin)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out.String())
	}
	return took
}

// catalog reads gp_segment_configuration in a utility session.
func (c scaleCluster) catalog(b *testing.B) []cluster.Segment {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: c.port, Flavour: cluster.GP7, Utility: true, ConnectTimeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	segs, err := cluster.LoadSegments(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	return segs
}

// hosts returns the segment hosts of the catalog, in catalog order.
func (c scaleCluster) hosts() []string {
	var hosts []string
	seen := map[string]bool{}
	for _, s := range c.segs {
		if s.IsSegment() && !seen[s.Hostname] {
			seen[s.Hostname] = true
			hosts = append(hosts, s.Hostname)
		}
	}
	return hosts
}

// floorState is gpstate's floor: the catalog read with psql, then, all
// at once, ssh <host> true to every host and a utility SELECT 1 on every
// primary; it returns the total wall time.
func (c scaleCluster) floorState(b *testing.B) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	begin := time.Now()
	psql := exec.CommandContext(ctx, filepath.Join(gphome, "bin", "psql"), "-X", "-A", "-t", "-h", "/tmp", "-p", strconv.Itoa(c.port), "-d", "template1",
		"-c", "SELECT * FROM gp_segment_configuration")
	psql.Env = append(psql.Environ(), "PGOPTIONS=-c gp_role=utility")
	if out, err := psql.CombinedOutput(); err != nil {
		b.Fatalf("psql: %v\n%s", err, out)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, h := range c.hosts() {
		wg.Go(func() {
			if out, err := exec.CommandContext(ctx, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", h, "true").CombinedOutput(); err != nil {
				fail(fmt.Errorf("ssh %s true: %v: %s", h, err, out))
			}
		})
	}
	for _, s := range c.segs {
		if !s.IsSegment() || !s.IsPrimary() {
			continue
		}
		wg.Go(func() {
			conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Host: s.Address, Port: s.Port, Flavour: cluster.GP7, Utility: true, ConnectTimeout: 30 * time.Second})
			if err != nil {
				fail(fmt.Errorf("connect to dbid %d: %w", s.DBID, err))
				return
			}
			defer conn.Close(context.Background())
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				fail(fmt.Errorf("SELECT 1 on dbid %d: %w", s.DBID, err))
			}
		})
	}
	wg.Wait()
	took := time.Since(begin)
	if len(errs) > 0 {
		b.Fatalf("gpstate's floor: %v", errs)
	}
	return took
}

// floorScripts is gpstart's (action "start") or gpstop's ("stop") floor:
// one sh script per host running the pg_ctl of each of its instances at
// once, every host's over ssh at the same time, the coordinator's run
// locally beside them; it returns the total wall time.
func (c scaleCluster) floorScripts(b *testing.B, action string) time.Duration {
	b.Helper()
	byHost := map[string][][]string{}
	var order []string
	for _, s := range c.segs {
		argv := pgcmd.Stop(gphome, s.DataDir, "smart", true, 600)
		if action == "start" {
			kind := pgcmd.Segment
			if s.IsCoordinator() {
				kind = pgcmd.CoordinatorNormal
			}
			argv = pgcmd.Start{Flavour: cluster.GP7, GPHome: gphome, Kind: kind, DataDir: s.DataDir, Port: s.Port, Wait: true, Timeout: 600}.Argv()
		}
		host := s.Hostname
		if s.IsCoordinator() {
			host = "" // local
		}
		if _, ok := byHost[host]; !ok {
			order = append(order, host)
		}
		byHost[host] = append(byHost[host], argv)
	}
	ctx, cancel := context.WithTimeout(b.Context(), scaleToolTimeout)
	defer cancel()
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(order))
	for i, h := range order {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, "sh", "-s")
			if h != "" {
				cmd = exec.CommandContext(ctx, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", h, "sh", "-s")
			}
			cmd.Stdin = strings.NewReader(floorScript(byHost[h]))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%s on %q: %v\n%s", action, h, err, out)
			}
		})
	}
	wg.Wait()
	took := time.Since(begin)
	for _, err := range errs {
		if err != nil {
			b.Fatalf("the floor's pg_ctl %s: %v", action, err)
		}
	}
	return took
}

// floorScript runs every argv at once and exits 1 if any failed.
func floorScript(argvs [][]string) string {
	var s strings.Builder
	s.WriteString("GPHOME=" + remote.Quote(gphome) + "\nexport GPHOME\nrc=0\n")
	for i, argv := range argvs {
		fmt.Fprintf(&s, "%s >/dev/null 2>&1 </dev/null &\np%d=$!\n", remote.Join(argv), i)
	}
	for i := range argvs {
		fmt.Fprintf(&s, "wait $p%d || rc=1\n", i)
	}
	s.WriteString("exit $rc\n")
	return s.String()
}

// wantRunning fails b unless every instance is running (want true) or
// none is (want false).
func (c scaleCluster) wantRunning(b *testing.B, want bool, after string) {
	b.Helper()
	for _, s := range c.segs {
		if running(s) != want {
			b.Fatalf("after %s: dbid %d (%s) running: %t, want %t", after, s.DBID, s.DataDir, !want, want)
		}
	}
}
