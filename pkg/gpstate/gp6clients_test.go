package gpstate

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
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

// gp6Status runs the status script under GP6's client programs on a
// healthy GP6 cluster on localhost: coordinator on port base, primaries on
// base+1 and base+2, mirrors on base+3 and base+4, every mode's request at
// once. Statements to port refuse (a primary that went down after its
// socket was seen) unless refuse is 0. It returns the observation and the
// clients' calls.
func gp6Status(t *testing.T, base, refuse int) (*Observation, []string) {
	t.Helper()
	return gp6StatusStalled(t, base, refuse, 0, Request{Readiness: true, Replication: true, Version: true})
}

// gp6StatusStalled is gp6Status with req, and statements to port stall
// (answered after 60 s) unless stall is 0.
func gp6StatusStalled(t *testing.T, base, refuse, stall int, req Request) (*Observation, []string) {
	t.Helper()
	gphome := t.TempDir()
	mirrorPorts := fmt.Sprintf("%d|%d", base+3, base+4)
	log := gp6clients.Install(t, gphome, gp6clients.Answers{
		SQL: `case $port in
` + strconv.Itoa(refuse) + `) echo "psql: could not connect to server: Connection refused" >&2; return 2 ;;
` + strconv.Itoa(stall) + `) sleep 60 ;;
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
	return Gatherer{Exec: remote.LocalExecutor{}, Parallel: 4}.Gather(ctx, gphome, cluster.GP6, c, req), gp6clients.Calls(t, log)
}

// TestStatusScriptGP6Clients runs the status script under GP6's client
// programs (package gp6clients: psql 9.4 runs only the last -c, reads its
// standard input otherwise, and refuses options it lacks) on a healthy GP6
// cluster of a coordinator, two primaries and two mirrors, every mode's
// request at once. Every primary's replication rows, WAL position and
// version() must arrive tagged; each mirror's version comes from its
// refusal, as Greenplum 6's gpstate -i reads it; no program refused an
// option; and the script's last line (after every psql call) ran.
func TestStatusScriptGP6Clients(t *testing.T) {
	const base = 31560
	o, calls := gp6Status(t, base, 0)
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
	// The host's current primaries (the coordinator among them) were read
	// by one psql process, from the coordinator's port on, then with
	// \connect to each primary's.
	sessions := slices.DeleteFunc(slices.Clone(calls), func(l string) bool {
		return !strings.HasPrefix(l, "psql '") || !strings.Contains(l, "'-f'")
	})
	if len(sessions) != 1 || !strings.Contains(sessions[0], fmt.Sprintf("'-p' '%d'", base)) ||
		!slices.Contains(calls, fmt.Sprintf("psql connect: localhost %d", base+1)) || !slices.Contains(calls, fmt.Sprintf("psql connect: localhost %d", base+2)) {
		t.Errorf("%d psql sessions for the primaries, want 1 from port %d, then \\connect to %d and %d:\n%s", len(sessions), base, base+1, base+2, strings.Join(calls, "\n"))
	}
}

// TestStatusScriptOnePsqlFallback: when a primary of the host refuses in
// the middle of the one psql session (it went down after its socket was
// seen), the session ends there; the primaries after it, and it, get a
// session of their own, so the others' rows still arrive and only its
// replication carries the error. The coordinator, read before it, is not
// asked again.
func TestStatusScriptOnePsqlFallback(t *testing.T) {
	const base = 31570
	o, calls := gp6Status(t, base, base+1)
	if r := o.Repl[3]; r == nil || r.Err != "" || len(r.Rows) != 1 || r.CurrentWAL != "0/C000000" {
		t.Errorf("replication of dbid 3, after the refusing primary: %+v\ncalls:\n%s", r, strings.Join(calls, "\n"))
	}
	if r := o.Repl[2]; r == nil || !strings.Contains(r.Err, "Connection refused") {
		t.Errorf("replication of the refusing dbid 2: %+v", r)
	}
	if r := o.Repl[1]; r == nil || r.Err != "" || r.CurrentWAL != "0/C000000" {
		t.Errorf("replication of the coordinator: %+v", r)
	}
	var own []string
	for _, l := range calls {
		if strings.HasPrefix(l, "psql '") && strings.Contains(l, "'-f'") {
			own = append(own, l)
		}
	}
	if len(own) != 3 || !strings.Contains(own[0], fmt.Sprintf("'-p' '%d'", base)) {
		t.Fatalf("psql sessions: want the host's, then one each for ports %d and %d:\n%s", base+1, base+2, strings.Join(own, "\n"))
	}
	for _, port := range []int{base + 1, base + 2} {
		if !slices.ContainsFunc(own[1:], func(l string) bool { return strings.Contains(l, fmt.Sprintf("'-p' '%d'", port)) }) {
			t.Errorf("no session of its own for port %d:\n%s", port, strings.Join(own, "\n"))
		}
	}
}

// TestStatusScriptStalledPrimary: a primary that stops answering once its
// session is open holds the host's one session only until twice the
// stall limit; the primary after it is still read (in a session of its
// own), and the stalled one is reported with the reason, long before
// gpstate would give up on the whole host.
func TestStatusScriptStalledPrimary(t *testing.T) {
	const base = 31580
	start := time.Now()
	o, calls := gp6StatusStalled(t, base, 0, base+1, Request{Replication: true, StallLimit: 4 * time.Second})
	took := time.Since(start)
	if r := o.Repl[3]; r == nil || r.Err != "" || len(r.Rows) != 1 {
		t.Errorf("replication of dbid 3, after the stalled primary: %+v\ncalls:\n%s", r, strings.Join(calls, "\n"))
	}
	if r := o.Repl[2]; r == nil || !strings.Contains(r.Err, fmt.Sprintf("no answer from localhost:%d within 4 s", base+1)) {
		t.Errorf("replication of the stalled dbid 2: %+v\ncalls:\n%s", r, strings.Join(calls, "\n"))
	}
	if took > 30*time.Second {
		t.Errorf("the status of the host took %s with a stall limit of 4 s", took)
	}
}
