package gpstate

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/gp6clients"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// gp6RefusalVersion is what a GP6 instance's version() says, and its
// mirrors' refusals after "- VERSION: ".
const gp6RefusalVersion = "PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213) on x86_64-unknown-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit compiled on Dec  4 2026 14:39:43"

// TestStatusScriptGP6Clients runs the status script under GP6's client
// programs (package gp6clients: psql 9.4 runs only the last -c, reads its
// standard input otherwise, and refuses options it lacks) on a healthy GP6
// cluster of a coordinator, two primaries and two mirrors, every mode's
// request at once. Every primary's replication rows, WAL position and
// version() must arrive tagged; each mirror's version comes from its
// refusal, as Greenplum 6's gpstate -i reads it; no program refused an
// option; and the script's last line (after every psql call) ran.
func TestStatusScriptGP6Clients(t *testing.T) {
	gphome := t.TempDir()
	const base = 31560
	mirrorPorts := "31563|31564"
	log := gp6clients.Install(t, gphome, gp6clients.Answers{
		SQL: `case $port in
` + mirrorPorts + `)
	printf 'psql: FATAL:  the database system is in recovery mode\nDETAIL:  last replayed record at 0/C050F98\n- VERSION: %s\n' '` + gp6RefusalVersion + `' >&2
	return 2 ;;
esac
case $1 in
*pg_stat_replication*) printf 'gp_walreceiver%sstreaming%s0/C000000%s0/C000000%s0%s0/C000000%s0%s2026-12-04 14:47:19.5+00%s0\n' "$sep" "$sep" "$sep" "$sep" "$sep" "$sep" "$sep" "$sep" ;;
*pg_current_xlog_location*) echo 0/C000000 ;;
*pg_stat_activity*) ;;
*version*) printf '%s\n' '` + gp6RefusalVersion + `' ;;
*) echo "ERROR:  unexpected statement" >&2; return 1 ;;
esac`,
		Ready: `case $port in ` + mirrorPorts + `) return 64 ;; esac; return 0`,
	})
	segs := []cluster.Segment{
		seg(1, -1, cluster.RolePrimary, cluster.ModeNotSynced, "localhost", base, t.TempDir()),
		seg(2, 0, cluster.RolePrimary, cluster.ModeSynced, "localhost", base+1, t.TempDir()),
		seg(3, 1, cluster.RolePrimary, cluster.ModeSynced, "localhost", base+2, t.TempDir()),
		seg(4, 0, cluster.RoleMirror, cluster.ModeSynced, "localhost", base+3, t.TempDir()),
		seg(5, 1, cluster.RoleMirror, cluster.ModeSynced, "localhost", base+4, t.TempDir()),
	}
	for _, s := range segs {
		l, err := net.Listen("unix", filepath.Join("/tmp", fmt.Sprintf(".s.PGSQL.%d", s.Port)))
		if err != nil {
			t.Skipf("cannot listen on the socket of port %d: %v", s.Port, err)
		}
		t.Cleanup(func() { _ = l.Close() })
	}
	t.Setenv("TMPDIR", t.TempDir())
	c := mustCluster(t, segs)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	o := Gatherer{Exec: remote.LocalExecutor{}, Parallel: 4}.Gather(ctx, gphome, cluster.GP6, c, Request{Readiness: true, Replication: true, Version: true})

	calls := gp6clients.Calls(t, log)
	for _, l := range calls {
		if strings.HasPrefix(l, "REFUSED") {
			t.Errorf("a GP6 client program refused an option: %s\ncalls:\n%s", l, strings.Join(calls, "\n"))
		}
	}
	if len(o.HostWarnings) != 0 {
		t.Fatalf("host warnings: %v", o.HostWarnings)
	}
	for _, dbid := range []int{2, 3} {
		r := o.Repl[dbid]
		if r == nil || r.Err != "" || len(r.Rows) != 1 || r.Rows[0].State != "streaming" || r.Rows[0].Replay != "0/C000000" || r.CurrentWAL != "0/C000000" {
			t.Errorf("replication of primary dbid %d: %+v\ncalls:\n%s", dbid, r, strings.Join(calls, "\n"))
		}
	}
	for _, dbid := range []int{1, 2, 3, 4, 5} {
		if got := o.Instances[dbid].Version; got != gp6RefusalVersion {
			t.Errorf("dbid %d: version %q, want version()'s text", dbid, got)
		}
	}
	if o.Instances[4].Ready != 64 || o.Instances[2].Ready != 0 {
		t.Errorf("readiness: mirror %d, primary %d", o.Instances[4].Ready, o.Instances[2].Ready)
	}
	if o.Binary["localhost"] == "" {
		t.Error("the script's last line (the binaries' version, after every psql call) did not run")
	}
	// Each primary's statements ran in one psql session.
	sessions := slices.DeleteFunc(slices.Clone(calls), func(l string) bool {
		return !strings.HasPrefix(l, "psql '") || !strings.Contains(l, fmt.Sprintf("'%d'", base+1))
	})
	if len(sessions) != 1 {
		t.Errorf("%d psql sessions for the primary on port %d, want 1:\n%s", len(sessions), base+1, strings.Join(sessions, "\n"))
	}
}
