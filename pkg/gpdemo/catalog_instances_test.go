package gpdemo

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// TestDestroyRemovesOnlyUnderDir: instances found in the catalog after
// create are stopped; the data directory of one under DIR is removed, that
// of one elsewhere is left in place with a warning.
func TestDestroyRemovesOnlyUnderDir(t *testing.T) {
	dir := "/home/gpadmin/demo"
	seg := func(dbid, content int, role cluster.Role, host, dataDir string) cluster.Segment {
		return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: cluster.ModeSynced,
			Status: cluster.StatusUp, Hostname: host, Address: host, Port: 7000 + dbid, DataDir: dataDir}
	}
	coord := seg(1, -1, cluster.RolePrimary, "cdw", dir+"/coordinator/gpseg-1")
	primary := seg(2, 0, cluster.RolePrimary, "sdw1", dir+"/sdw1/primary/gpseg0")
	inside := seg(3, 0, cluster.RoleMirror, "sdw2", dir+"/sdw2/mirror/gpseg0")
	outside := seg(4, 1, cluster.RoleMirror, "sdw2", "/home/gpadmin")
	p := Plan{Dir: dir, CoordinatorHost: "cdw", Instances: []Instance{{Segment: coord}, {Segment: primary}}}

	env, _, _ := apptest.Env(t, "gpdemo", "destroy")
	var log bytes.Buffer
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: &log, Level: slog.LevelInfo}))
	conn := &clustertest.FakeConn{}
	conn.On(cluster.LoadSQL, clustertest.SegmentRows([]cluster.Segment{coord, primary, inside, outside}))
	env.Connect = conn.Connector()

	got := withCatalogInstances(t.Context(), &Env{Env: env}, p)
	if len(got.Instances) != 4 {
		t.Fatalf("%d instances, want 4", len(got.Instances))
	}
	if !strings.Contains(log.String(), "[WARNING]:-content 1 mirror (dbid 4)'s data directory /home/gpadmin is outside "+dir+": it is stopped but not removed") {
		t.Errorf("no warning for the directory left in place:\n%s", log.String())
	}
	steps := TeardownSteps(got, "fast")
	var stopped, removed []string
	for _, c := range steps[0].Commands {
		stopped = append(stopped, c.Args...)
	}
	for _, c := range steps[1].Commands {
		removed = append(removed, c.Args...)
	}
	if !slices.Contains(stopped, "/home/gpadmin") || !slices.Contains(stopped, inside.DataDir) {
		t.Errorf("not every instance is stopped: %q", stopped)
	}
	if slices.Contains(removed, "/home/gpadmin") || !slices.Contains(removed, inside.DataDir) {
		t.Errorf("removed %q: want %s, never /home/gpadmin", removed, inside.DataDir)
	}
	for _, tt := range []struct {
		path string
		want bool
	}{{dir + "/x", true}, {dir, false}, {dir + "x/y", false}, {"/home/gpadmin", false}, {dir + "/../demo2", false}, {"relative/" + dir, false}} {
		if got := under(dir, tt.path); got != tt.want {
			t.Errorf("under(%s, %s) = %v", dir, tt.path, got)
		}
	}
}
