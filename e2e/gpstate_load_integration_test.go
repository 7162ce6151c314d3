//go:build integration && reliability

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Bounds and tolerances of the load run.
const (
	loadDurationEnv = "RELIABILITY_LOAD_DURATION" // how long each loop runs (default 10m)
	loadRunLimit    = 2 * time.Minute             // one run of gpstate
	loadSettle      = 30 * time.Second            // for what the last runs left to go away
	loadSlowRun     = 10 * time.Second            // a run this long is logged (the first 5 of a loop)
	// The peak memory of the last minute's runs may exceed the first
	// minute's by this factor and slack before it counts as growth.
	rssGrowth = 1.2
	rssSlack  = 2048 // KiB
)

// loadModes are the gpstate loops: the brief default, the detail, JSON
// and the cron verdict, each once a second.
var loadModes = []struct{ name, args string }{
	{"default", ""},
	{"status", "-s"},
	{"json", "--json"},
	{"health", "--health"},
}

// badLine is a line that fails a run under load: a message at WARNING or
// worse, or an error a library printed on its own.
var badLine = regexp.MustCompile(`\[(WARNING|ERROR|CRITICAL|FATAL)\]|^(ERROR|WARNING|FATAL|panic)\b`)

// TestLoadGpstate runs four gpstate loops at once, each mode once a second
// (blind, over real SSH), on a mirrored cluster with a standby while a
// client writes to every content, for RELIABILITY_LOAD_DURATION (10m by
// default). Every run must succeed, and nothing may be left behind: the
// sessions on the coordinator and each primary, the cluster's processes
// (remote shells, psql, sshd sessions, zombies), the SSH connections and
// the postgres processes' descriptors are the same at the end as at the
// start, and the tool's peak memory does not grow from the first minute
// to the last. Each loop records a row of "gpstate under load".
func TestLoadGpstate(t *testing.T) {
	t.Parallel()
	length := 10 * time.Minute
	if v := os.Getenv(loadDurationEnv); v != "" {
		var err error
		if length, err = time.ParseDuration(v); err != nil || length < 10*time.Second {
			t.Fatalf("%s=%q: want a duration of 10s or more (%v)", loadDurationEnv, v, err)
		}
	}
	began := time.Now()
	d := newRebalanceDemo(t)
	d.createWriteTable(t)
	life := length + 2*loadSettle + 2*time.Minute
	ws := d.startWritersFor(t, life, int(life/writePause), "load", 0, 1, 2, 3)
	sc := d.newFootprintScope(t)
	sess := d.openSessionCounter(t)

	// Each mode once, so that what a first run opens for good (relation
	// files of the catalog) is in the baseline; and the floor of maxrss,
	// the blind helper's own before it executes the tool.
	for _, m := range loadModes {
		if r := d.loadRun(t, m.args, t.TempDir()); r.bad != "" {
			t.Fatalf("gpstate %s before the load: %s", m.args, r.bad)
		}
	}
	floor := d.loadRun(t, "", "").rss
	startSess, _, err := sess.count()
	if err != nil {
		t.Fatal(err)
	}
	startFP, err := sc.take()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("at the start: sessions %v; processes %v, %d postgres, %d SSH connections %v; the blind helper's maxrss %d KiB",
		startSess, startFP.procs, startFP.pg, startFP.tcp, startFP.what["tcp"], floor)

	w := startLoadWatch(sess, sc)
	// The loops run at once, whatever go test's -parallel: subtests run
	// from goroutines of their own.
	var loops sync.WaitGroup
	for _, m := range loadModes {
		loops.Go(func() { t.Run(m.name, func(t *testing.T) { d.loadLoop(t, m.args, length) }) })
	}
	loops.Wait()
	loopsEnded := time.Now()
	maxSess, maxFP, watchErr := w.stop()
	if watchErr != nil {
		t.Errorf("watching the sessions and processes: %v", watchErr)
	}

	ws.stop()
	ws.report(t, began)
	for _, wr := range ws.all {
		switch acks := wr.acked(); {
		case wr.failed > 0 || len(acks) == 0:
			t.Errorf("content %d: the writer failed %d times (%d writes acknowledged); last error: %s", wr.content, wr.failed, len(acks), wr.lastErr)
		case acks[len(acks)-1].at.Before(loopsEnded.Add(-5 * time.Second)):
			t.Errorf("content %d: the writer's last write was acknowledged %s before the loops ended", wr.content, loopsEnded.Sub(acks[len(acks)-1].at))
		}
	}

	// The writers' sessions are left out of the counts, so they may go.
	endSess, endFP := startSess, startFP
	var grown []string
	for deadline := time.Now().Add(loadSettle); ; time.Sleep(time.Second) {
		var what map[string]string
		if endSess, what, err = sess.count(); err != nil {
			t.Fatal(err)
		}
		if endFP, err = sc.take(); err != nil {
			t.Fatal(err)
		}
		grown = endFP.grownSince(startFP)
		for k, n := range endSess {
			if n > startSess[k] {
				grown = append(grown, fmt.Sprintf("%s: %d sessions, %d at the start: %s", k, n, startSess[k], what[k]))
			}
		}
		if len(grown) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, g := range grown {
		t.Errorf("left after the load (%s settling): %s", loadSettle, g)
	}
	if ign := endFP.what["tcp ignored"]; len(ign) > 0 {
		t.Logf("SSH connections to the cluster's addresses not the test's, left out: %s", strings.Join(ign, "; "))
	}
	fdNow, fdThen := endFP.fdTotal(startFP)
	t.Logf("at the end: sessions %v (max during the run %v); processes %v (max %v), %d postgres; sockets and pipes of the postgres processes %d (%d at the start)",
		endSess, maxSess, endFP.procs, maxFP, endFP.pg, fdNow, fdThen)
	// A run holds at most one session per instance at a time; a session
	// whose client is gone may linger a moment.
	for k, n := range maxSess {
		if limit := startSess[k] + 2*len(loadModes); n > limit {
			t.Errorf("%s: %d sessions at once during the run, more than %d (%d at the start, %d loops)", k, n, limit, startSess[k], len(loadModes))
		}
	}
}

// loadResult is one run of gpstate.
type loadResult struct {
	at   time.Duration // from the loop's start
	wall time.Duration
	rss  int64  // maxrss, KiB
	bad  string // why the run failed, "" if it did not
}

// loadLoop runs gpstate args once a second for length, records the loop's
// row and checks that no run failed and the peak memory stayed flat.
func (d rebalanceDemo) loadLoop(t *testing.T, args string, length time.Duration) {
	logDir := t.TempDir()
	var runs []loadResult
	slow := 0
	start := time.Now()
	for next := start; time.Since(start) < length; next = next.Add(time.Second) {
		time.Sleep(time.Until(next))
		r := d.loadRun(t, args, logDir)
		r.at = time.Since(start) - r.wall
		runs = append(runs, r)
		if r.wall > loadSlowRun && slow < 5 {
			slow++
			t.Logf("run %d at +%.0f s took %.1f s", len(runs), r.at.Seconds(), r.wall.Seconds())
		}
	}
	row := faulttest.LoadRow{Mode: strings.TrimSpace("gpstate " + args), Runs: len(runs), Duration: time.Since(start)}
	walls := make([]time.Duration, len(runs))
	var bad []string
	for i, r := range runs {
		walls[i] = r.wall
		if r.at < time.Minute {
			row.PeakRSSFirst = max(row.PeakRSSFirst, r.rss)
		}
		if r.at >= row.Duration-time.Minute {
			row.PeakRSSLast = max(row.PeakRSSLast, r.rss)
		}
		if r.bad != "" {
			row.Failed++
			bad = append(bad, fmt.Sprintf("run %d at +%.0f s: %s", i+1, r.at.Seconds(), r.bad))
		}
	}
	row.Median, row.P99 = median(walls), percentile(walls, 0.99)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		row.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	faulttest.RecordLoad(t, row)
	for _, b := range bad[:min(len(bad), 5)] {
		t.Errorf("%s", b)
	}
	if row.Failed > 0 {
		t.Errorf("%d of %d runs failed", row.Failed, row.Runs)
	}
	if limit := int64(float64(row.PeakRSSFirst)*rssGrowth) + rssSlack; row.PeakRSSLast > limit {
		t.Errorf("peak maxrss grew from %d KiB in the first minute to %d KiB in the last (limit %d)", row.PeakRSSFirst, row.PeakRSSLast, limit)
	}
}

// loadRun runs gpstate args once, blind, with its log in logDir; logDir
// "" runs the blind helper with nothing but true(1), for its own maxrss.
func (d rebalanceDemo) loadRun(t *testing.T, args, logDir string) loadResult {
	t.Helper()
	name, argv := filepath.Join(toolsDir, "gpstate"), append(strings.Fields(args), "-l", logDir)
	if logDir == "" {
		name, argv = "true", nil
	}
	c, cancel := command(loadRunLimit, name, argv...)
	defer cancel()
	cmd := testbed.Blind(t, c, d.hidden...)
	cmd.Env = append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+d.coord, "MASTER_DATA_DIRECTORY=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	r := loadResult{wall: time.Since(began)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rss = ru.Maxrss
		}
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.bad = fmt.Sprintf("exit %d", exit.ExitCode())
	case err != nil:
		r.bad = err.Error()
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if badLine.MatchString(line) {
			r.bad = strings.TrimSpace(r.bad + "; " + line)
			break
		}
	}
	if strings.Contains(args, "--json") && !json.Valid(out.Bytes()) {
		r.bad = strings.TrimSpace(r.bad + "; not valid JSON")
	}
	if r.bad != "" {
		r.bad = strings.TrimPrefix(r.bad, "; ") + "\n" + shorten(out.String(), 2000)
	}
	return r
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// percentile is the p-th quantile of ds (nearest rank).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(float64(len(s))*p)) - 1
	return s[max(0, min(i, len(s)-1))]
}

// sessionCounter counts client sessions on the coordinator and every
// primary, through a utility session of its own on each, leaving out its
// own and the writers'.
type sessionCounter struct {
	conns map[string]cluster.Conn // "coordinator", "content N"
}

func (d rebalanceDemo) openSessionCounter(t *testing.T) sessionCounter {
	t.Helper()
	sc := sessionCounter{conns: map[string]cluster.Conn{}}
	for _, s := range d.catalog(t) {
		if !s.IsPrimary() {
			continue
		}
		key := fmt.Sprintf("content %d", s.ContentID)
		if s.ContentID < 0 {
			key = "coordinator"
		}
		sc.conns[key] = connect(t, s.Hostname, s.Port, true)
	}
	return sc
}

// sessionsSQL counts the client sessions but the counter's own, the
// writers' and FTS's probes (the cluster's own, every minute), and
// describes them.
const sessionsSQL = `SELECT count(*), coalesce(string_agg(format('pid %s %s %s since %s: %s', pid, application_name, state, backend_start, left(query, 80)), '; '), '')
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name NOT IN ($1, 'gp_fts_probe')`

// count counts each instance's sessions; what describes them.
func (sc sessionCounter) count() (n map[string]int, what map[string]string, err error) {
	n, what = map[string]int{}, map[string]string{}
	for k, conn := range sc.conns {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var c int
		var w string
		err := conn.QueryRow(ctx, sessionsSQL, writerApp).Scan(&c, &w)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", k, err)
		}
		n[k], what[k] = c, w
	}
	return n, what, nil
}

// loadWatch samples the sessions every second and the footprint every 5
// seconds while the loops run, keeping the largest counts.
type loadWatch struct {
	done  chan struct{}
	wg    sync.WaitGroup
	sess  map[string]int
	procs map[string]int
	err   error
}

func startLoadWatch(sess sessionCounter, sc footprintScope) *loadWatch {
	w := &loadWatch{done: make(chan struct{}), sess: map[string]int{}, procs: map[string]int{}}
	w.wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
			n, _, err := sess.count()
			if err != nil {
				w.err = errors.Join(w.err, err)
				continue
			}
			for k, v := range n {
				w.sess[k] = max(w.sess[k], v)
			}
			if i%5 != 0 {
				continue
			}
			f, err := sc.take()
			if err != nil {
				w.err = errors.Join(w.err, err)
				continue
			}
			for k, v := range f.procs {
				w.procs[k] = max(w.procs[k], v)
			}
		}
	})
	return w
}

// stop ends the watch and returns the largest session and process counts
// it saw.
func (w *loadWatch) stop() (sess, procs map[string]int, err error) {
	close(w.done)
	w.wg.Wait()
	return maps.Clone(w.sess), maps.Clone(w.procs), w.err
}
