package gpstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

func mustCluster(t *testing.T, segs []cluster.Segment) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(segs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStatusCommandsGolden pins the per-host commands: one per host, every
// instance of the host in it, the SQL of each flavour as arguments.
func TestStatusCommandsGolden(t *testing.T) {
	f := hostUnreachable()
	c := mustCluster(t, f.segs)
	var b strings.Builder
	for _, fl := range []cluster.Flavour{cluster.GP6, cluster.GP7} {
		for _, req := range []Request{{}, {Readiness: true, Replication: true}, {Version: true, Hosts: []string{"mdw"}}} {
			fmt.Fprintf(&b, "# %s %+v\n", fl, req)
			for _, cmd := range StatusCommands("/usr/local/greenplum-db", fl, c, req) {
				fmt.Fprintf(&b, "host=%s timeout=%s\n  %s\n", cmd.Host, cmd.Timeout, remote.CommandLine(cmd))
			}
		}
	}
	golden.Check(t, "gpstate", "status_commands.golden", []byte(b.String()))
	golden.Check(t, "gpstate", "status.sh.golden", []byte(statusScript))
}

// TestParse: a host that answered, one that could not be reached (its host
// key changed), and one whose script printed nothing for an instance. The
// unreachable host's error is kept whole: errors.As finds the changed key.
// changedKey is the host key error of sdw2, as pkg/remote words it.
var changedKey = &remote.ChangedHostKeyError{Host: "sdw2", Addr: "10.0.0.2:22", KeyName: "sdw2", KeyType: "ssh-ed25519",
	Fingerprint: "SHA256:Pc0kGSQlmrLfBD2XU2XqfLW8AxHfyGyZJwtdE4l6Fw0", Known: []string{"~/.ssh/known_hosts:12"},
	Fix: "ssh-keygen -R sdw2 -f ~/.ssh/known_hosts"}

func TestParse(t *testing.T) {
	f := hostUnreachable()
	f.segs = append(f.segs, seg(6, -1, cluster.RoleMirror, cluster.ModeSynced, "smdw", 7000, "/data/standby"))
	c := mustCluster(t, f.segs)
	us := "\x1f"
	mdw := strings.Join([]string{
		"gpstate-status 1 1 6071 1 1 0",
		"gpstate-status 2 1 6161 1 1 0",
		"gpstate-repl 2 gp_walreceiver" + us + "streaming" + us + "0/18090000" + us + "0/18090000" + us + "0" + us + "0/1808C748" + us + "14520" + us + "2026-11-23 18:49:59+00" + us + "0",
		"gpstate-wal 2 0/18090000",
		"gpstate-status 3 0 0 0 0 2",
		"gpstate-sqlerr 3 psql: error: connection refused",
		"noise that is not a record",
		"gpstate-binary postgres (Greenplum Database) 6.24.3 build commit:25d3498a",
	}, "\n") + "\n"
	results := []remote.Result{
		{Command: remote.Command{Host: "mdw"}, Stdout: mdw},
		{Command: remote.Command{Host: "sdw2"}, ExitCode: -1, Err: &remote.HostError{Host: "sdw2", ExitCode: -1, Err: &remote.SSHError{
			Host: "sdw2", Addr: "sdw2:22", Reason: remote.ReasonHostKeyChanged, Err: changedKey}}},
		{Command: remote.Command{Host: "smdw"}, Stdout: "gpstate-status 99 1 1 1 1 0\n"},
	}
	o := Parse(c, results)
	var ce *remote.ChangedHostKeyError
	if !errors.As(o.HostErrors["sdw2"], &ce) || ce.Host != "sdw2" {
		t.Errorf("the changed host key is lost: %#v", o.HostErrors["sdw2"])
	}
	want := map[int]Observed{
		1:  {PIDFile: true, PID: 6071, Lock: true, Active: true, Ready: 0},
		2:  {PIDFile: true, PID: 6161, Lock: true, Active: true, Ready: 0},
		3:  {Ready: 2},
		4:  {HostErr: "Error getting status from host sdw2", Reason: changedKey.Error(), Ready: -1},
		5:  {HostErr: "Error getting status from host sdw2", Reason: changedKey.Error(), Ready: -1},
		6:  {HostErr: "No status output provided from host smdw", Ready: -1},
		99: {PIDFile: true, PID: 1, Lock: true, Active: true, Ready: 0},
	}
	if d := cmp.Diff(want, o.Instances); d != "" {
		t.Errorf("instances (-want +got):\n%s", d)
	}
	wantRepl := map[int]*Replication{
		2: {Queried: true, CurrentWAL: "0/18090000", Rows: []ReplRow{{AppName: "gp_walreceiver", State: "streaming", Sent: "0/18090000",
			Flush: "0/18090000", FlushLeft: "0", Replay: "0/1808C748", ReplayLeft: "14520", BackendStart: "2026-11-23 18:49:59+00", SentLeft: "0"}}},
		3: {Queried: true, Err: "psql: error: connection refused"},
	}
	if d := cmp.Diff(wantRepl, o.Repl); d != "" {
		t.Errorf("replication (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"sdw2": "Error getting status from host sdw2", "smdw": "No status output provided from host smdw"}, o.HostWarnings); d != "" {
		t.Errorf("host warnings (-want +got):\n%s", d)
	}
	if o.Binary["mdw"] != "postgres (Greenplum Database) 6.24.3 build commit:25d3498a" {
		t.Errorf("binary %q", o.Binary["mdw"])
	}
}

// TestPIDError covers __getPid's four errors.
func TestPIDError(t *testing.T) {
	for _, tt := range []struct {
		o    Observed
		want string
	}{
		{Observed{}, "No socket connection or lock file (/tmp/.s.PGSQL.6000.lock) found for port 6000"},
		{Observed{Active: true}, "No lock file /tmp/.s.PGSQL.6000.lock but process running on port 6000"},
		{Observed{Lock: true}, "Have lock file /tmp/.s.PGSQL.6000.lock but no process running on port 6000"},
		{Observed{Lock: true, Active: true}, "Have lock file and process is active, but did not get a pid value"},
		{Observed{Lock: true, Active: true, PID: 7}, ""},
	} {
		if got := tt.o.PIDError(6000); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.o, got, tt.want)
		}
	}
}

// TestStatusScriptRuns runs the script with this machine's sh on fake
// programs: a running primary (pid file, a listening socket, replication
// rows from "psql", so pg_isready is not needed), a mirror pg_isready calls
// live (64), and a stopped instance. Ports are below the ephemeral range
// and away from the test slots, so the sockets are this test's.
func TestStatusScriptRuns(t *testing.T) {
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	progs := map[string]string{
		// pg_isready -q -h HOST -p PORT -d postgres: 64 for the mirror,
		// 2 otherwise; it must not be asked about the primary
		"pg_isready": `case $5 in 31541) exit 64 ;; 31540) echo asked >"$TMPDIR/asked"; exit 0 ;; *) exit 2 ;; esac`,
		// psql ... -f -: statements on standard input, \echo prints,
		// SQL is answered by its kind
		"psql": `while IFS= read -r line; do
	case $line in
	'\echo '*) printf '%s\n' "${line#\\echo }" ;;
	*pg_stat_replication*) printf 'gp_walreceiver\037streaming\0370/3000060\0370/3000060\0370\0370/3000060\0370\0372026-11-23 18:49:59+00\0370\n' ;;
	*current_wal*) echo 0/3000060 ;;
	*pg_stat_activity*) ;;
	*version*) echo "PostgreSQL 15.20" ;;
	esac
done
exit 0`,
		"postgres": `echo "postgres (Greenplum Database) 7.1.0-compat build dev"`,
	}
	for name, body := range progs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pdir, mdir, sdir := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{pdir, mdir} {
		if err := os.WriteFile(filepath.Join(d, "postmaster.pid"), []byte("4242\n"+d+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("unix", "/tmp/.s.PGSQL.31540")
	if err != nil {
		t.Skipf("cannot listen on /tmp/.s.PGSQL.31540: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	segs := []cluster.Segment{
		seg(1, -1, cluster.RolePrimary, cluster.ModeNotSynced, "localhost", 31539, t.TempDir()),
		seg(2, 0, cluster.RolePrimary, cluster.ModeSynced, "localhost", 31540, pdir),
		seg(3, 0, cluster.RoleMirror, cluster.ModeSynced, "localhost", 31541, mdir),
		seg(4, 1, cluster.RolePrimary, cluster.ModeNotSynced, "localhost", 31542, sdir),
		seg(5, 1, cluster.RoleMirror, cluster.ModeNotSynced, "localhost", 31543, t.TempDir()),
	}
	segs[4].Status = cluster.StatusDown
	c := mustCluster(t, segs)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	o := Gatherer{Exec: remote.LocalExecutor{}, Parallel: 4}.Gather(ctx, home, cluster.GP7, c, Request{Readiness: true, Replication: true, Version: true})
	if len(o.HostWarnings) != 0 {
		t.Fatalf("host warnings: %v", o.HostWarnings)
	}
	if got := o.Instances[2]; !got.PIDFile || got.PID != 4242 || !got.Active || got.Ready != 0 || got.Version != "PostgreSQL 15.20" {
		t.Errorf("primary: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(tmp, "asked")); err == nil {
		t.Error("pg_isready ran for a primary whose utility session worked")
	}
	if got := o.Instances[3]; !got.PIDFile || got.Ready != 64 || got.Version != "" {
		t.Errorf("mirror: %+v", got)
	}
	if got := o.Instances[4]; got.PIDFile || got.PID != 0 || got.Ready != 2 {
		t.Errorf("stopped: %+v", got)
	}
	r := o.Repl[2]
	if r == nil || len(r.Rows) != 1 || r.Rows[0].State != "streaming" || r.Rows[0].Replay != "0/3000060" || r.CurrentWAL != "0/3000060" {
		t.Errorf("replication of the primary: %+v", r)
	}
	if _, asked := o.Repl[4]; asked {
		t.Error("a primary with no server on its socket was queried")
	}
	if o.Binary["localhost"] != "postgres (Greenplum Database) 7.1.0-compat build dev" {
		t.Errorf("binary %q", o.Binary["localhost"])
	}
}

// TestGP6ChecksMatchTranscript: the pg_isready call of the status script
// is Greenplum 6's, as gp6-s-v.txt recorded it (its helper ran
// `PGOPTIONS="-c gp_session_role=utility" pg_isready -q -h mdw -p 7000 -d
// postgres` for every instance): same options, and the utility setting
// StatusCommands passes for GP6.
func TestGP6ChecksMatchTranscript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gpstate", "gp6-s-v.txt"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`Running Command: PGOPTIONS="([^"]*)" pg_isready (-q -h \S+ -p \d+ -d postgres)$`)
	var seen int
	for _, line := range strings.Split(string(b), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		seen++
		if m[1] != utilityOptions(cluster.GP6) {
			t.Errorf("PGOPTIONS %q in the transcript, %q in the script", m[1], utilityOptions(cluster.GP6))
		}
		want := regexp.MustCompile(`-h \S+ -p \d+`).ReplaceAllString(m[2], `-h "$$addr" -p "$$port"`)
		if !strings.Contains(statusScript, `pg_isready" `+want) {
			t.Errorf("the script does not run pg_isready %s", want)
		}
	}
	if seen != 5 {
		t.Fatalf("%d pg_isready lines in gp6-s-v.txt, want 5 (coordinator, 2 primaries, 2 mirrors)", seen)
	}
	c := mustCluster(t, healthyGP6().segs)
	for _, cmd := range StatusCommands("/g", cluster.GP6, c, Request{Readiness: true}) {
		if cmd.Args[1] != "-c gp_session_role=utility" || cmd.Args[4] != "1" {
			t.Errorf("GP6 status command args %q", cmd.Args[:5])
		}
	}
}

// TestStatusScriptBoundsJobs (review finding 8): the status script
// observes at most InstancesPerHost instances of its host at once. A fake
// pg_isready counts the runs alive together on 40 stopped instances.
func TestStatusScriptBoundsJobs(t *testing.T) {
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	isready := `d=` + runs + `/run.$$
mkdir "$d"
ls -d ` + runs + `/run.* | wc -l >>` + runs + `/seen
sleep 0.2
rmdir "$d"
exit 2
`
	if err := os.WriteFile(filepath.Join(bin, "pg_isready"), []byte("#!/bin/sh\n"+isready), 0o755); err != nil {
		t.Fatal(err)
	}
	segs := []cluster.Segment{seg(1, -1, cluster.RolePrimary, cluster.ModeNotSynced, "localhost", 31600, t.TempDir())}
	for i := range 40 {
		segs = append(segs, seg(2+i, i, cluster.RolePrimary, cluster.ModeNotSynced, "localhost", 31601+i, t.TempDir()))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	o := Gatherer{Exec: remote.LocalExecutor{}, Parallel: 1}.Gather(ctx, home, cluster.GP7, mustCluster(t, segs), Request{Readiness: true})
	if len(o.HostWarnings) != 0 || o.Instances[41].Ready != 2 {
		t.Fatalf("gather: %v %+v", o.HostWarnings, o.Instances[41])
	}
	b, err := os.ReadFile(filepath.Join(runs, "seen"))
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for _, f := range strings.Fields(string(b)) {
		var n int
		fmt.Sscan(f, &n)
		most = max(most, n)
	}
	if most > InstancesPerHost || most < 2 {
		t.Errorf("at most %d pg_isready ran at once; want between 2 and %d", most, InstancesPerHost)
	}
}
