//go:build integration

package compattest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gpmgmt/gpmgmt/compat/compattest/bed"
)

// FTS settings of this test only (design.md: short intervals are for FTS's
// own tests). The probe interval stays Greenplum's 60 s: every round below
// is a gp_request_fts_probe_scan() or the grace period's retry.
const (
	ftsProbeTimeout = 2 * time.Second
	ftsProbeRetries = 2
	ftsGracePeriod  = 3 * time.Second
)

type historyRow struct {
	dbid int16
	desc string
}

func ftsHistory(t *testing.T, conn *pgx.Conn) []historyRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, `SELECT dbid, "desc" FROM gp_configuration_history WHERE "desc" LIKE 'FTS:%' ORDER BY "time", dbid`)
	if err != nil {
		t.Fatal(err)
	}
	var result []historyRow
	for rows.Next() {
		var r historyRow
		if err := rows.Scan(&r.dbid, &r.desc); err != nil {
			t.Fatal(err)
		}
		result = append(result, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return result
}

func ftsDesc(dbid, content int, role, status, mode string) historyRow {
	return historyRow{int16(dbid), fmt.Sprintf("FTS: update role, status, and mode for dbid %d with contentid %d to %s, %s, and %s",
		dbid, content, role, status, mode)}
}

// states is "dbid:role,preferred_role,mode,status" of the segments, by dbid.
func states(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var parts []string
	for _, r := range segmentConfiguration(t, conn) {
		if r.content >= 0 {
			parts = append(parts, fmt.Sprintf("%d:%s%s%s%s", r.dbid, r.role, r.preferredRole, r.mode, r.status))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func probe(t *testing.T, conn *pgx.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	if got := queryString(t, conn, `SELECT gp_request_fts_probe_scan()::text`); got != "true" {
		t.Fatalf("gp_request_fts_probe_scan() = %s", got)
	}
	return time.Since(start)
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if err := exec1(conn, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func wantHistory(t *testing.T, got []historyRow, want ...historyRow) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("new history rows:\n got  %+v\n want %+v", got, want)
	}
}

// TestFTS proves compat's FTS on a coordinator with two mirrored contents:
// primaries dbid 2 (content 0) and 3 (content 1), mirrors dbid 4 and 5.
func TestFTS(t *testing.T) {
	b := bed.New(t)
	p0 := b.Primary
	p1 := b.AddPrimary(t, 3, 1)

	admin := b.MustConnect(t, b.Coord.Port, "template1", bed.Utility)
	for _, in := range []bed.Instance{b.Coord, p0, p1} {
		mustExec(t, admin, fmt.Sprintf(`SELECT pg_catalog.gp_add_segment(%d::int2, %d::int2, 'p', 'p', 's', 'u', %d, 'cdw', '127.0.0.1', '%s')`,
			in.DBID, in.Content, in.Port, in.Dir))
	}
	_ = admin.Close(context.Background())
	bed.AppendFile(t, filepath.Join(b.Coord.Dir, "postgresql.conf"), fmt.Sprintf(`
gp_compat.fts_probe_timeout = %d
gp_compat.fts_probe_retries = %d
gp_compat.fts_mark_mirror_down_grace_period = %d
`, int(ftsProbeTimeout.Seconds()), ftsProbeRetries, int(ftsGracePeriod.Seconds())))
	b.Stop(t, b.Coord.Dir)
	b.Start(t, b.Coord.Dir, "-c gp_role=dispatch")
	coordLog := b.Coord.Dir + ".log"

	m0 := b.MakeMirror(t, p0, 4)
	m1 := b.MakeMirror(t, p1, 5)
	qd := b.MustConnect(t, b.Coord.Port, "template1", nil)
	for _, m := range []bed.Instance{m0, m1} {
		if got := queryString(t, qd, `SELECT gp_add_segment_mirror($1::int2, 'cdw', '127.0.0.1', $2, $3)::text`, m.Content, m.Port, m.Dir); got != fmt.Sprint(m.DBID) {
			t.Fatalf("gp_add_segment_mirror = %s, want %d", got, m.DBID)
		}
	}

	// some rows on each primary, committed with synchronous replication on
	for _, p := range []bed.Instance{p0, p1} {
		c := b.MustConnect(t, p.Port, "postgres", bed.Utility)
		mustExec(t, c, `CREATE TABLE fts_t (i int)`)
		mustExec(t, c, `INSERT INTO fts_t SELECT generate_series(1, 100)`)
		if got := queryString(t, c, `SHOW synchronous_standby_names`); got != bed.SyncStandbyNames {
			t.Fatalf("synchronous_standby_names on dbid %d = %q", p.DBID, got)
		}
	}

	t.Run("settings", func(t *testing.T) {
		for name, want := range map[string]string{
			"gp_fts_probe_interval":                       "60s",
			"gp_fts_probe_timeout":                        "2s",
			"gp_fts_probe_retries":                        "2",
			"gp_fts_mark_mirror_down_grace_period":        "3s",
			"gp_compat.fts_probe_interval":                "1min",
			"gp_compat.fts_mark_mirror_down_grace_period": "3s",
		} {
			if got := queryString(t, qd, "SHOW "+name); got != want {
				t.Errorf("SHOW %s = %q, want %q", name, got, want)
			}
		}
		var n int
		if err := qd.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ftsprobe process'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("ftsprobe processes: %d, %v", n, err)
		}
	})

	t.Run("probe marks new mirrors up and in sync", func(t *testing.T) {
		if got, want := states(t, qd), "2:ppnu 3:ppnu 4:mmnd 5:mmnd"; got != want {
			t.Fatalf("before the probe: %s, want %s", got, want)
		}
		d := probe(t, qd)
		t.Logf("probe round: %v", d)
		if got, want := states(t, qd), "2:ppsu 3:ppsu 4:mmsu 5:mmsu"; got != want {
			t.Fatalf("after the probe: %s, want %s", got, want)
		}
		wantHistory(t, ftsHistory(t, qd),
			ftsDesc(2, 0, "p", "u", "s"), ftsDesc(3, 1, "p", "u", "s"),
			ftsDesc(4, 0, "m", "u", "s"), ftsDesc(5, 1, "m", "u", "s"))
		// idempotent: nothing changed, nothing written
		probe(t, qd)
		if n := len(ftsHistory(t, qd)); n != 4 {
			t.Fatalf("a probe without change wrote history: %d rows", n)
		}
	})

	t.Run("no probe request: nothing happens within 5 s at the 60 s interval", func(t *testing.T) {
		before := states(t, qd)
		history := len(ftsHistory(t, qd))
		b.Kill9(t, p0.Dir)
		time.Sleep(5 * time.Second)
		if got := states(t, qd); got != before {
			t.Fatalf("catalog changed without a probe request: %s, was %s", got, before)
		}
		if n := len(ftsHistory(t, qd)); n != history {
			t.Fatalf("history grew without a probe request: %d rows, was %d", n, history)
		}
		// gprecoverseg -r's proof of promotion fails while a content has
		// no serving primary, with the detail naming it; a utility
		// session is not a distributed one and is not checked.
		err := exec1(qd, `CREATE TEMP TABLE temp_test(a int)`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Message != "failed to acquire resources on one or more segments" ||
			!strings.Contains(pgErr.Detail, fmt.Sprintf("(seg0 127.0.0.1:%d)", p0.Port)) {
			t.Fatalf("CREATE TEMP TABLE in a dispatch session with content 0's primary down: %v", err)
		}
		util := b.MustConnect(t, b.Coord.Port, "template1", bed.Utility)
		if err := exec1(util, `CREATE TEMP TABLE temp_test(a int)`); err != nil {
			t.Errorf("CREATE TEMP TABLE in a utility session: %v", err)
		}
		_ = util.Close(context.Background())
	})

	t.Run("primary crash: the in-sync mirror is promoted", func(t *testing.T) {
		history := len(ftsHistory(t, qd))
		d := probe(t, qd)
		t.Logf("kill -9 of primary dbid 2: gp_request_fts_probe_scan() returned after %v with the mirror promoted", d)
		if limit := time.Duration(ftsProbeRetries+1)*ftsProbeTimeout + 20*time.Second; d > limit {
			t.Errorf("promotion took %v (limit %v)", d, limit)
		}
		if got, want := states(t, qd), "2:mpnd 3:ppsu 4:pmnu 5:mmsu"; got != want {
			t.Fatalf("after failover: %s, want %s", got, want)
		}
		wantHistory(t, ftsHistory(t, qd)[history:], ftsDesc(2, 0, "m", "d", "n"), ftsDesc(4, 0, "p", "u", "n"))
		if err := exec1(qd, `BEGIN; CREATE TEMP TABLE temp_test(a int); COMMIT`); err != nil {
			t.Errorf("CREATE TEMP TABLE after the promotion: %v", err)
		}

		c := b.MustConnect(t, m0.Port, "postgres", bed.Utility)
		if got := queryString(t, c, `SELECT count(*)::text FROM fts_t`); got != "100" {
			t.Errorf("promoted mirror has %s rows of 100", got)
		}
		if got := queryString(t, c, `SELECT pg_is_in_recovery()::text`); got != "false" {
			t.Errorf("promoted mirror: pg_is_in_recovery() = %s", got)
		}
		if got := queryString(t, c, `SHOW synchronous_standby_names`); got != "" {
			t.Errorf("promoted mirror: synchronous_standby_names = %q", got)
		}
		// The slot keeps WAL from the promotion on, for the old primary's
		// rewind, as Greenplum's does.
		if got := queryString(t, c, `SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = 'internal_wal_replication_slot' AND restart_lsn IS NOT NULL`); got != "1" {
			t.Errorf("promoted mirror has no internal_wal_replication_slot reserving WAL")
		}
		mustExec(t, c, `INSERT INTO fts_t VALUES (101)`) // does not wait for a mirror

		probe(t, qd)
		if n := len(ftsHistory(t, qd)); n != history+2 {
			t.Fatalf("a second probe wrote history: %d rows, want %d", n, history+2)
		}
	})

	t.Run("mirror crash: commits wait for the grace period, then the mirror is marked down", func(t *testing.T) {
		history := len(ftsHistory(t, qd))
		c := b.MustConnect(t, p1.Port, "postgres", bed.Utility)
		b.Kill9(t, m1.Dir)
		b.WaitStreaming(t, p1.Port, false)

		type result struct {
			d   time.Duration
			err error
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := c.Exec(ctx, `INSERT INTO fts_t VALUES (1001)`)
			done <- result{time.Since(start), err}
		}()
		time.Sleep(200 * time.Millisecond)
		probe(t, qd) // a tool's probe: FTS starts the grace period
		var r result
		select {
		case r = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("INSERT still blocked after 60 s")
		}
		t.Logf("kill -9 of mirror dbid 5: INSERT on primary dbid 3 blocked %v (grace period %v)", r.d, ftsGracePeriod)
		if r.err != nil {
			t.Fatalf("INSERT: %v", r.err)
		}
		if r.d < ftsGracePeriod-500*time.Millisecond || r.d > ftsGracePeriod+5*time.Second {
			t.Errorf("INSERT blocked %v, want about the grace period %v", r.d, ftsGracePeriod)
		}
		if got := queryString(t, c, `SELECT count(*)::text FROM fts_t WHERE i = 1001`); got != "1" {
			t.Errorf("the blocked INSERT is not committed")
		}
		if got, want := states(t, qd), "2:mpnd 3:ppnu 4:pmnu 5:mmnd"; got != want {
			t.Fatalf("after mirror crash: %s, want %s", got, want)
		}
		wantHistory(t, ftsHistory(t, qd)[history:], ftsDesc(3, 1, "p", "u", "n"), ftsDesc(5, 1, "m", "d", "n"))
		if auto := bed.ReadFile(t, filepath.Join(p1.Dir, "postgresql.auto.conf")); !strings.Contains(auto, "synchronous_standby_names = ''") {
			t.Errorf("postgresql.auto.conf of dbid 3:\n%s", auto)
		}
		c2 := b.MustConnect(t, p1.Port, "postgres", bed.Utility)
		if got := queryString(t, c2, `SHOW synchronous_standby_names`); got != "" {
			t.Errorf("synchronous_standby_names on dbid 3 = %q", got)
		}
	})

	t.Run("mirror restarted: back in sync after a probe", func(t *testing.T) {
		history := len(ftsHistory(t, qd))
		b.Restart(t, m1.Dir, "-c gp_role=execute")
		b.WaitStreaming(t, p1.Port, true)
		d := probe(t, qd)
		t.Logf("probe round with the mirror back: %v", d)
		if got, want := states(t, qd), "2:mpnd 3:ppsu 4:pmnu 5:mmsu"; got != want {
			t.Fatalf("after mirror restart: %s, want %s", got, want)
		}
		wantHistory(t, ftsHistory(t, qd)[history:], ftsDesc(3, 1, "p", "u", "s"), ftsDesc(5, 1, "m", "u", "s"))
		if auto := bed.ReadFile(t, filepath.Join(p1.Dir, "postgresql.auto.conf")); !strings.Contains(auto, "synchronous_standby_names = '*'") {
			t.Errorf("postgresql.auto.conf of dbid 3:\n%s", auto)
		}
		c := b.MustConnect(t, p1.Port, "postgres", bed.Utility)
		if got := queryString(t, c, `SHOW synchronous_standby_names`); got != bed.SyncStandbyNames {
			t.Errorf("synchronous_standby_names on dbid 3 = %q", got)
		}
		if got := queryString(t, c, `SELECT sync_state FROM pg_stat_replication WHERE application_name = 'gp_walreceiver'`); got != "sync" {
			t.Errorf("sync_state = %q", got)
		}
		mustExec(t, c, `INSERT INTO fts_t VALUES (1002)`)
	})

	t.Run("double fault: no promotion", func(t *testing.T) {
		history := len(ftsHistory(t, qd))
		b.Stop(t, m1.Dir)
		b.WaitStreaming(t, p1.Port, false)
		probe(t, qd) // starts the grace period; its retry marks the mirror down
		deadline := time.Now().Add(ftsGracePeriod + 15*time.Second)
		for states(t, qd) != "2:mpnd 3:ppnu 4:pmnu 5:mmnd" {
			if time.Now().After(deadline) {
				t.Fatalf("mirror not marked down: %s", states(t, qd))
			}
			time.Sleep(200 * time.Millisecond)
		}
		wantHistory(t, ftsHistory(t, qd)[history:], ftsDesc(3, 1, "p", "u", "n"), ftsDesc(5, 1, "m", "d", "n"))

		b.Kill9(t, p1.Dir)
		probe(t, qd)
		probe(t, qd)
		if got, want := states(t, qd), "2:mpnd 3:ppnu 4:pmnu 5:mmnd"; got != want {
			t.Fatalf("after double fault: %s, want %s", got, want)
		}
		if n := len(ftsHistory(t, qd)); n != history+2 {
			t.Fatalf("double fault wrote history: %d rows, want %d", n, history+2)
		}
		if bed.FileExists(filepath.Join(m1.Dir, "postmaster.pid")) {
			t.Errorf("the stopped mirror was started")
		}
		if log := bed.ReadFile(t, coordLog); !strings.Contains(log, "WARNING:  FTS: double fault detected for content 1: primary dbid 3 is down and mirror dbid 5 is not in sync (status d, mode n); not promoting") {
			t.Errorf("coordinator log lacks the double-fault WARNING")
		}
	})

	if t.Failed() || os.Getenv("COMPAT_FTS_LOG") != "" {
		if log, err := os.ReadFile(coordLog); err == nil {
			t.Logf("coordinator log:\n%s", log)
		}
	}
}
