//go:build integration

package e2e

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// BenchmarkGpstate measures gpstate (the default report and -s) against a
// floor measured in the same round: one psql query of the catalog on the
// coordinator plus one SSH round trip to every segment host, all hosts at
// once (a fresh ssh per host, as gpstate opens a fresh connection per
// host). That is the least any status tool must do: read the catalog, and
// reach every host.
//
// It runs on 8 loopback hosts twice: with 1 primary per host (8 segments),
// then with 8 per host (64 segments), both mirrorless so that 64 primaries
// fit one slot's ports; gpstate's cost should grow with hosts, not
// segments. Reported per size: medians of the floor, of gpstate and of
// gpstate -s, and their ratios to the floor (x_floor_8, xs_floor_8, ...),
// then the growth from 8 to 64 segments (growth, growth_s). Nothing is
// asserted on timing; a gpstate exit other than 0 fails the benchmark.
//
// Each size is measured over gpstateRounds rounds whatever b.N is (run it
// with -benchtime 1x): building the 64-segment cluster costs more than the
// measurements, and Go would build it once more for its b.N=1 probe.
//
//	go test -tags integration -run '^$' -bench '^BenchmarkGpstate$' -benchtime 1x ./e2e/
func BenchmarkGpstate(b *testing.B) {
	first, second := testbed.AcquireSlot(b), testbed.AcquireSlot(b)
	hosts := append(append([]string{}, first.Hosts...), second.Hosts...)
	type result struct{ floor, brief, detail time.Duration }
	measure := func(perHost int) result {
		dir := filepath.Join(b.TempDir(), "cluster")
		run(b, "gpdemo", "create", "--dir", dir, "--gphome", gphome, "--hosts", strconv.Itoa(len(hosts)),
			"--primaries-per-host", strconv.Itoa(perHost), "--host-names", strings.Join(hosts, ","), "--port-base", strconv.Itoa(first.PortBase))
		defer run(b, "gpdemo", "destroy", "--dir", dir)
		d := mirrorless{dir: dir, coord: filepath.Join(dir, "coordinator", "gpseg-1"), hosts: hosts, portBase: first.PortBase}
		for _, h := range hosts {
			d.hidden = append(d.hidden, filepath.Join(dir, h))
		}
		var floor, brief, detail []time.Duration
		for range gpstateRounds {
			floor = append(floor, catalogAndHosts(b, first.PortBase, hosts))
			for _, m := range []struct {
				args []string
				into *[]time.Duration
			}{{nil, &brief}, {[]string{"-s"}, &detail}} {
				begin := time.Now()
				code, out := d.tool(b, "", "gpstate", m.args...)
				*m.into = append(*m.into, time.Since(begin))
				if code != 0 {
					b.Fatalf("gpstate %v: exit %d\n%s", m.args, code, out)
				}
			}
		}
		return result{median(floor), median(brief), median(detail)}
	}
	b.ResetTimer()
	small := measure(1)
	large := measure(8)
	b.StopTimer()
	for _, r := range []struct {
		n string
		r result
	}{{"8", small}, {"64", large}} {
		b.ReportMetric(r.r.floor.Seconds(), "s_floor_"+r.n)
		b.ReportMetric(r.r.brief.Seconds(), "s_gpstate_"+r.n)
		b.ReportMetric(r.r.detail.Seconds(), "s_gpstate_s_"+r.n)
		b.ReportMetric(float64(r.r.brief)/float64(r.r.floor), "x_floor_"+r.n)
		b.ReportMetric(float64(r.r.detail)/float64(r.r.floor), "xs_floor_"+r.n)
	}
	b.ReportMetric(float64(large.brief)/float64(small.brief), "growth")
	b.ReportMetric(float64(large.detail)/float64(small.detail), "growth_s")
}

// gpstateRounds is how many times each size is measured.
const gpstateRounds = 5

// catalogAndHosts is the floor: psql reading gp_segment_configuration,
// then ssh <host> true on every host at once; it returns the total wall
// time.
func catalogAndHosts(b *testing.B, port int, hosts []string) time.Duration {
	b.Helper()
	begin := time.Now()
	psql := exec.Command(filepath.Join(gphome, "bin", "psql"), "-X", "-A", "-t", "-h", "/tmp", "-p", strconv.Itoa(port), "-d", "template1",
		"-c", "SELECT * FROM gp_segment_configuration")
	psql.Env = append(psql.Environ(), "PGOPTIONS=-c gp_role=utility")
	if out, err := psql.CombinedOutput(); err != nil {
		b.Fatalf("psql: %v\n%s", err, out)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(hosts))
	for i, h := range hosts {
		wg.Go(func() {
			errs[i] = exec.Command("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", h, "true").Run()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("ssh %s true: %v", hosts[i], err)
		}
	}
	return time.Since(begin)
}
