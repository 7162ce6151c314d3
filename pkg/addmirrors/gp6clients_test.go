package addmirrors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/gp6clients"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// TestChecksumScriptUnderGP6Clients runs the heap checksum script with
// GP6's pg_controldata (package gp6clients: 9.4's, which has no -D).
func TestChecksumScriptUnderGP6Clients(t *testing.T) {
	home := t.TempDir()
	log := gp6clients.Install(t, home, gp6clients.Answers{ControlData: `echo "Data page checksum version:           1"`})
	segs := []cluster.Segment{
		{DBID: 2, ContentID: 0, Role: cluster.RolePrimary, PreferredRole: cluster.RolePrimary, Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: "localhost", Address: "localhost", Port: 6000, DataDir: "/data/p0"},
		{DBID: 3, ContentID: 1, Role: cluster.RolePrimary, PreferredRole: cluster.RolePrimary, Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: "localhost", Address: "localhost", Port: 6001, DataDir: "/data/p1"},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmds := segctl.ControlDataCommands(home, segs)
	r := (remote.LocalExecutor{}).Exec(ctx, cmds[0])
	got := segctl.ParseControlData(r.Stdout)
	if !r.OK() || len(got) != 2 || got[0].Field(cluster.ControlChecksumVersion) != "1" || got[1].Field(cluster.ControlChecksumVersion) != "1" {
		t.Errorf("checksum script under GP6 clients: %v %+v\n%s", r.Err, got, r.Stderr)
	}
	for _, l := range gp6clients.Calls(t, log) {
		if strings.HasPrefix(l, "REFUSED") {
			t.Errorf("a GP6 client program refused an option: %s", l)
		}
	}
}
