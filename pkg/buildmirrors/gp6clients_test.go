package buildmirrors

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/gp6clients"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// TestCommandsUnderGP6Clients runs the pipeline's commands for a GP6
// cluster with GP6's client programs (package gp6clients): the copy
// (Greenplum 6's pg_basebackup, 9.4's options), pg_hba.conf's reload, the
// port fix, the start and the stop (pg_ctl 9.4). Each must succeed and no
// program may refuse an option.
func TestCommandsUnderGP6Clients(t *testing.T) {
	home := t.TempDir()
	log := gp6clients.Install(t, home, gp6clients.Answers{
		BaseBackup: `while [ $# -gt 0 ]; do [ "$1" = -D ] && d=$2; shift; done
mkdir -p "$d" && printf 'port=6000\n' >"$d/postgresql.conf" && echo "pg_basebackup: base backup completed" >&2`,
		Ctl: `case $1 in
status) return 3 ;;
*) echo "server $1 done" ;;
esac`,
	})
	base := t.TempDir()
	primary := filepath.Join(base, "p0")
	if err := os.MkdirAll(primary, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(primary, "pg_hba.conf"), []byte("local all all trust\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := Mirror{
		Source: cluster.Segment{DBID: 2, ContentID: 0, Role: cluster.RolePrimary, PreferredRole: cluster.RolePrimary, Mode: cluster.ModeSynced, Status: cluster.StatusUp, Hostname: "localhost", Address: "localhost", Port: 6000, DataDir: primary},
		Target: cluster.Segment{DBID: 4, ContentID: 0, Role: cluster.RoleMirror, PreferredRole: cluster.RoleMirror, Mode: cluster.ModeNotSynced, Status: cluster.StatusDown, Hostname: "localhost", Address: "localhost", Port: 7000, DataDir: filepath.Join(base, "m0")},
	}
	cmds := []remote.Command{
		MkdirCommand(m),
		CopyCommand(cluster.GP6, home, m),
		HBACommand(home, "localhost", []string{primary}, map[string][]string{primary: {"host replication gpadmin samehost trust"}}),
		PortCommand(m),
		StartCommand(cluster.GP6, home, "e1", m),
		StopCommand(home, m),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, c := range cmds {
		if r := (remote.LocalExecutor{}).Exec(ctx, c); !r.OK() {
			t.Errorf("%s: %v\nstdout: %s\nstderr: %s", c.Label, r.Err, r.Stdout, r.Stderr)
		}
	}
	calls := gp6clients.Calls(t, log)
	for _, l := range calls {
		if strings.HasPrefix(l, "REFUSED") {
			t.Errorf("a GP6 client program refused an option: %s\ncalls:\n%s", l, strings.Join(calls, "\n"))
		}
	}
	var ran []string
	for _, l := range calls {
		ran = append(ran, strings.SplitN(l, " ", 2)[0])
	}
	if got := strings.Join(ran, " "); !strings.Contains(got, "pg_basebackup") || strings.Count(got, "pg_ctl") < 3 {
		t.Errorf("programs run: %s; want pg_basebackup and pg_ctl (reload, status, start...)", got)
	}
}
