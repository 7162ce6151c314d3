package recoverseg

import (
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// TestDryRewindsSkipCrashed: pg_rewind --dry-run runs only for a failed
// instance that was shut down; a crashed one ("in production") cannot be
// estimated before the real rewind's crash recovery, so the plan does not
// spend the round trip on it, and says why.
func TestDryRewindsSkipCrashed(t *testing.T) {
	env, _, _ := apptest.Env(t, "gprecoverseg")
	exec := &remotetest.Fake{}
	exec.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		return remotetest.Response{Stdout: "pg_rewind: need to copy 3 MB (total source directory size is 40 MB)\n"}, true
	})
	r := &recovery{env: env, opts: &Options{Parallel: 16, ParallelPerHost: 64}, co: &coordinator.Coordinator{GPHome: "/usr/local/gp"},
		f: cluster.GP7, exec: exec, unreachable: map[string]error{}}
	crashed, stopped := diffTarget(), diffTarget()
	crashed.Differential, stopped.Differential = false, false
	stopped.Failed.DBID, stopped.Failed.Hostname = 7, "sdw3"
	state := func(s string) segctl.ControlData {
		return segctl.ControlData{Stdout: "Database cluster state:               " + s + "\n"}
	}
	data := map[int]segctl.ControlData{5: state("in production"), 7: state("shut down")}

	got := r.dryRewinds(t.Context(), []target{crashed, stopped}, data)
	var hosts []string
	for _, c := range exec.Calls() {
		hosts = append(hosts, c.Host)
	}
	if strings.Join(hosts, " ") != "sdw3" {
		t.Errorf("pg_rewind --dry-run ran on %v, want only sdw3 (the instance shut down)", hosts)
	}
	if _, ok := got[5]; ok {
		t.Errorf("an estimate for the crashed instance: %+v", got[5])
	}
	if got[7].bytes != 3<<20 {
		t.Errorf("the stopped instance's estimate: %+v, want 3 MB", got[7])
	}
}
