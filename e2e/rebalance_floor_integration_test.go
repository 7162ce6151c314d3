//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// bareSwitch is the floor of a rebalance, what gprecoverseg -r runs and
// nothing else, run locally (the demo's hosts share this machine) with the
// same programs and options: the fast stop of each content's acting
// primary, FTS probes requested back to back until every mirror is
// promoted, then per stopped instance pg_rewind --write-recovery-conf from
// its new primary, its port set again in postgresql.conf (the rewind
// copies the source's), and its start as a mirror; then FTS probes until
// every pair is up and in sync (probeUntil requests them back to back).
// The contents must be balanced; it returns when the stops began and how
// long the whole switch took.
func (d rebalanceDemo) bareSwitch(t testing.TB, contents ...int) (time.Time, time.Duration) {
	t.Helper()
	segs := d.catalog(t)
	era, err := cluster.ReadEra(d.coord, cluster.GP7)
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ acting, mirror cluster.Segment }
	var pairs []pair
	var ids []string
	for _, c := range contents {
		p, m := contentRows(t, segs, c)
		pairs = append(pairs, pair{p, m})
		ids = append(ids, strconv.Itoa(m.DBID))
	}
	pgctl := filepath.Join(gphome, "bin", "pg_ctl")
	began := time.Now()
	each(t, len(pairs), func(i int) error {
		return runCmd(nil, pgctl, "-D", pairs[i].acting.DataDir, "-m", "fast", "-w", "-t", "120", "stop")
	})
	probeUntil(t, d.coordPort, fmt.Sprintf("dbids %s promoted", strings.Join(ids, ",")),
		fmt.Sprintf("SELECT count(*) = %d FROM gp_segment_configuration WHERE dbid IN (%s) AND role = 'p'", len(ids), strings.Join(ids, ",")))
	each(t, len(pairs), func(i int) error {
		p := pairs[i]
		if err := runCmd([]string{"PGOPTIONS=" + cluster.UtilityOption(cluster.GP7)},
			filepath.Join(gphome, "bin", "pg_rewind"), "--write-recovery-conf", "--slot="+buildmirrors.SlotName,
			fmt.Sprintf("--source-server=host=%s port=%d dbname=template1 application_name=bench_rewind", p.mirror.Hostname, p.mirror.Port),
			"--target-pgdata="+p.acting.DataDir); err != nil {
			return err
		}
		conf := filepath.Join(p.acting.DataDir, "postgresql.conf")
		if err := runCmd(nil, "sed", "-i", fmt.Sprintf("s/^port[ ]*=[ ]*[0-9][0-9]*/port=%d/", p.acting.Port), conf); err != nil {
			return err
		}
		return runCmd(nil, buildmirrors.StartArgv(cluster.GP7, gphome, era, buildmirrors.Mirror{Source: p.mirror, Target: p.acting})...)
	})
	probeUntil(t, d.coordPort, "every segment up and in sync",
		"SELECT count(*) = 0 FROM gp_segment_configuration WHERE content >= 0 AND (mode <> 's' OR status <> 'u')")
	return began, time.Since(began)
}

// each runs f(0..n-1) at once and fails t with every error.
func each(t testing.TB, n int, f func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// runCmd runs argv with env added to the environment (2 minutes at
// most), its output in the error.
func runCmd(env []string, argv ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}
