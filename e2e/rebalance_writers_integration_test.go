//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Bounds of a writer (startWritersFor takes others): at most
// writeAttempts inserts (over 3 minutes of writing at writePause), each
// bounded by writeTimeout, and no writer outlives writeLife.
const (
	writeAttempts = 10000
	writePause    = 20 * time.Millisecond
	retryPause    = 50 * time.Millisecond
	writeTimeout  = 2 * time.Second
	writeLife     = 4 * time.Minute
)

// writers are one client per content inserting rows into
// public.rebalance_writes on that content's acting primary in a loop, as
// an application holding a utility connection per segment would. After a
// failed write a writer asks the coordinator which instance is the
// content's primary and connects to it. Every insert whose commit was
// acknowledged is recorded.
type writers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	all    []*writer
}

// writer is one content's client, written by its own goroutine.
type writer struct {
	content int
	run     string
	warned  bool // the last statement drew the warning counted in unconfirmed

	mu     sync.Mutex // guards the fields below
	acks   []ack
	failed int // attempts that did not end in an acknowledged commit
	// unconfirmed counts commits acknowledged with PostgreSQL's warning
	// that the wait for the synchronous standby was cancelled: committed
	// on the primary, perhaps not yet on the mirror.
	unconfirmed int
	lastErr     string
}

// ack is one acknowledged insert.
type ack struct {
	seq  int
	at   time.Time
	port int // of the primary that acknowledged it
}

// writerApp is the writers' application_name, by which a count of
// sessions can leave them out.
const writerApp = "e2e-writer"

// startWriters starts a writer for each content, rows labelled run, and
// waits (30 s at most) until each had a write acknowledged.
func (d rebalanceDemo) startWriters(t testing.TB, run string, contents ...int) *writers {
	t.Helper()
	return d.startWritersFor(t, writeLife, writeAttempts, run, contents...)
}

// startWritersFor is startWriters with other bounds: each writer lives
// at most life and tries at most attempts inserts.
func (d rebalanceDemo) startWritersFor(t testing.TB, life time.Duration, attempts int, run string, contents ...int) *writers {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), life)
	ws := &writers{cancel: cancel}
	for _, c := range contents {
		w := &writer{content: c, run: run}
		ws.all = append(ws.all, w)
		ws.wg.Go(func() { w.loop(ctx, d.coordPort, attempts) })
	}
	t.Cleanup(ws.stop)
	deadline := time.Now().Add(30 * time.Second)
	for _, w := range ws.all {
		for len(w.acked()) == 0 {
			if time.Now().After(deadline) {
				ws.stop()
				t.Fatalf("content %d: no write acknowledged within 30 s (%d failed: %s)", w.content, w.failed, w.lastErr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return ws
}

// acked is a copy of the acknowledged writes so far.
func (w *writer) acked() []ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acks)
}

// stop stops every writer and waits for them; it may be called again.
func (ws *writers) stop() {
	ws.cancel()
	ws.wg.Wait()
}

// loop writes until ctx ends or attempts inserts were tried.
func (w *writer) loop(ctx context.Context, coordPort, attempts int) {
	var conn *pgx.Conn
	port := 0
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for seq := 1; seq <= attempts && ctx.Err() == nil; seq++ {
		if conn == nil {
			var err error
			if conn, port, err = w.open(ctx, coordPort); err != nil {
				if ctx.Err() != nil {
					break
				}
				w.fail(err)
				pause(ctx, retryPause)
				continue
			}
		}
		w.warned = false
		wctx, cancel := context.WithTimeout(ctx, writeTimeout+time.Second)
		_, err := conn.Exec(wctx, "INSERT INTO public.rebalance_writes (run, seq) VALUES ($1, $2)", w.run, seq)
		cancel()
		if err != nil && ctx.Err() != nil {
			break // stopped: the write was cancelled, not failed
		}
		if err != nil {
			w.fail(err)
			_ = conn.Close(context.Background())
			conn = nil
			pause(ctx, retryPause)
			continue
		}
		w.mu.Lock()
		w.acks = append(w.acks, ack{seq: seq, at: time.Now(), port: port})
		if w.warned {
			w.unconfirmed++
		}
		w.mu.Unlock()
		pause(ctx, writePause)
	}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failed++
	w.lastErr = err.Error()
}

// open asks the coordinator (utility mode) for the content's primary and
// connects to it in utility mode, with writeTimeout as statement_timeout:
// a commit waiting for a mirror that is gone is cancelled, and the writer
// goes on.
func (w *writer) open(ctx context.Context, coordPort int) (*pgx.Conn, int, error) {
	octx, cancel := context.WithTimeout(ctx, 2*writeTimeout)
	defer cancel()
	dial := cluster.Dialer{Getenv: os.Getenv}
	coord, err := dial.Connect(octx, cluster.ConnConfig{Port: coordPort, Flavour: cluster.GP7, Utility: true, ConnectTimeout: writeTimeout})
	if err != nil {
		return nil, 0, err
	}
	var host string
	var port int
	err = coord.QueryRow(octx, "SELECT hostname, port FROM gp_segment_configuration WHERE content = $1 AND role = 'p'", w.content).Scan(&host, &port)
	_ = coord.Close(context.Background())
	if err != nil {
		return nil, 0, err
	}
	cfg, err := dial.PgxConfig(cluster.ConnConfig{Host: host, Port: port, Flavour: cluster.GP7, Utility: true, ConnectTimeout: writeTimeout})
	if err != nil {
		return nil, 0, err
	}
	cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(writeTimeout.Milliseconds())
	cfg.RuntimeParams["client_min_messages"] = "warning"
	cfg.RuntimeParams["application_name"] = writerApp
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		w.warned = w.warned || strings.Contains(n.Message, "canceling wait for synchronous replication")
	}
	conn, err := pgx.ConnectConfig(octx, cfg)
	if err != nil {
		return nil, 0, err
	}
	return conn, port, nil
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// gap is the longest time between two acknowledged writes.
type gap struct {
	from, to ack
}

func (g gap) length() time.Duration { return g.to.at.Sub(g.from.at) }

// longestGap is the writer's longest time without an acknowledged write.
func (w *writer) longestGap() gap {
	var g gap
	for i := 1; i < len(w.acks); i++ {
		if d := w.acks[i].at.Sub(w.acks[i-1].at); d > g.length() {
			g = gap{from: w.acks[i-1], to: w.acks[i]}
		}
	}
	return g
}

// firstOn is the first write acknowledged on port after since, if any.
func (w *writer) firstOn(port int, since time.Time) (ack, bool) {
	for _, a := range w.acks {
		if a.port == port && a.at.After(since) {
			return a, true
		}
	}
	return ack{}, false
}

// wantAcknowledgedPresent stops the writers and checks that every
// acknowledged row is on its content's catalog primary.
func (ws *writers) wantAcknowledgedPresent(t testing.TB, d rebalanceDemo) {
	t.Helper()
	ws.stop()
	segs := d.catalog(t)
	for _, w := range ws.all {
		p, _ := contentRows(t, segs, w.content)
		conn := connect(t, p.Hostname, p.Port, true)
		rows, err := conn.Query(t.Context(), "SELECT seq FROM public.rebalance_writes WHERE run = $1", w.run)
		if err != nil {
			t.Fatal(err)
		}
		seqs, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			t.Fatal(err)
		}
		var missing []int
		for _, a := range w.acks {
			if !slices.Contains(seqs, a.seq) {
				missing = append(missing, a.seq)
			}
		}
		if len(missing) > 0 {
			t.Errorf("content %d: %d of %d acknowledged rows missing on its primary dbid %d, e.g. seq %v",
				w.content, len(missing), len(w.acks), p.DBID, missing[:min(len(missing), 10)])
		}
		if err := conn.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}
}

// report logs each writer's figures: acknowledged and failed writes, and
// its longest time without an acknowledged write.
func (ws *writers) report(t testing.TB, began time.Time) {
	t.Helper()
	for _, w := range ws.all {
		g := w.longestGap()
		t.Logf("content %d: %d writes acknowledged (%d after a cancelled wait for the mirror), %d failed; longest gap %.2f s (from +%.2f s on port %d to +%.2f s on port %d)",
			w.content, len(w.acks), w.unconfirmed, w.failed, g.length().Seconds(),
			g.from.at.Sub(began).Seconds(), g.from.port, g.to.at.Sub(began).Seconds(), g.to.port)
	}
}
