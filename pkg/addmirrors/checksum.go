package addmirrors

import (
	"context"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// CheckHeapChecksums is step 2 of spec §5.2: every segment's heap checksum
// setting must match the coordinator's. Segment hosts are reached with ex,
// the coordinator's data directory with env.Exec (locally). As Greenplum
// does, when no segment answers it says so and goes on.
func CheckHeapChecksums(ctx context.Context, env *app.Env, ex remote.Executor, c *cluster.Cluster, f cluster.Flavour, gphome, mdd string, batch int) error {
	word := f.CoordinatorWord()
	segs := c.Segments()
	var answered []segctl.ControlData
	for _, res := range (remote.Runner{Exec: ex, Limit: batch}).Run(ctx, segctl.ControlDataCommands(gphome, segs)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if res.Err != nil && res.ExitCode != 0 {
			env.Log.Warn(fmt.Sprintf("cannot access pg_controldata on host %s: %v", res.Command.Host, res.Err))
		}
		for _, d := range segctl.ParseControlData(res.Stdout) {
			s, ok := c.ByDBID(d.DBID)
			if !ok {
				continue
			}
			if d.ExitCode != 0 {
				env.Log.Warn(fmt.Sprintf("cannot access pg_controldata for dbid %d on host %s", d.DBID, s.Hostname))
				continue
			}
			env.Log.Info(fmt.Sprintf("Successfully finished pg_controldata %s for dbid %d:\nstdout: %s\nstderr: %s", s.DataDir, d.DBID, d.Stdout, d.Stderr))
			answered = append(answered, d)
		}
	}

	coord := c.Coordinator()
	env.Log.Debug("Running Command: $GPHOME/bin/pg_controldata " + coord.DataDir)
	coord.DataDir = mdd
	local := env.Exec.Exec(ctx, segctl.ControlDataCommands(gphome, []cluster.Segment{coord})[0])
	mine := segctl.ParseControlData(local.Stdout)
	if len(mine) != 1 || mine[0].ExitCode != 0 || mine[0].Field(cluster.ControlChecksumVersion) == "" {
		return app.Errorf("cannot read the heap checksum setting of the %s: pg_controldata %s: %s",
			c.Coordinator().Label(), mdd, strings.TrimSpace(local.Stdout+" "+local.Stderr))
	}
	want := mine[0].Field(cluster.ControlChecksumVersion)

	if len(answered) == 0 {
		env.Log.Log(ctx, gplog.LevelCritical, "No segments responded to ssh query for heap checksum. Not expanding the cluster.")
		return nil
	}
	var differ []string
	for _, d := range answered {
		if v := d.Field(cluster.ControlChecksumVersion); v != want {
			differ = append(differ, fmt.Sprintf("dbid: %d checksum set to %s differs from %s checksum set to %s", d.DBID, v, word, want))
		}
	}
	if len(differ) == 0 {
		env.Log.Info("Heap checksum setting consistent across cluster")
		return nil
	}
	env.Log.Log(ctx, gplog.LevelCritical, "Cluster heap checksum setting differences reported")
	env.Log.Log(ctx, gplog.LevelCritical, fmt.Sprintf("Heap checksum settings on %d of %d segment instances do not match %s <<<<<<<<", len(differ), len(segs), word))
	env.Log.Warn("Failed checksum consistency validation:")
	for _, d := range differ {
		env.Log.Warn(d)
	}
	env.Log.Log(ctx, gplog.LevelCritical, "gpaddmirrors error: Cluster will not be modified as checksum settings are not consistent across the cluster.")
	return app.Errorf("Segments have heap_checksum set inconsistently to %s", word)
}
