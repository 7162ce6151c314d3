package tooltest

import (
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// WaitReplayed waits, limit at most, until the mirror streaming from
// conn's primary (its gp_walreceiver) has replayed lsn. Mirrors refuse
// sessions: their replay position is the proof that they hold what was
// written.
func WaitReplayed(t testing.TB, conn cluster.Conn, lsn string, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		var done bool
		err := conn.QueryRow(t.Context(), "SELECT coalesce(bool_and(state = 'streaming' AND replay_lsn >= $1::pg_lsn), false) FROM pg_stat_replication WHERE application_name = 'gp_walreceiver'", lsn).Scan(&done)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror did not replay %s within %s", lsn, limit)
		}
	}
}
