package recoverseg

import (
	"context"
	"fmt"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// checkHeapChecksums is spec §4.6 step 2: pg_controldata on every source
// and failed segment (one script per host, -B hosts at once) and on the
// coordinator; each instance's data page checksum version must be the
// coordinator's. It returns what pg_controldata said, by dbid, for the
// plan.
func (r *recovery) checkHeapChecksums(ctx context.Context, ts []target) (map[int]segctl.ControlData, error) {
	log := r.env.Log
	word := r.f.CoordinatorWord()
	var segs []cluster.Segment
	for _, t := range ts {
		segs = append(segs, t.Source)
		if _, down := r.unreachable[t.Failed.Hostname]; !down {
			segs = append(segs, t.Failed) // a segment moved off a dead host is not asked
		}
	}
	cmds := segctl.ControlDataCommands(r.co.GPHome, segs)
	for _, c := range cmds {
		log.Debug(fmt.Sprintf("Running Command: $GPHOME/bin/pg_controldata on %s for %d instance(s)", c.Host, (len(c.Args)-1)/2))
	}
	data := map[int]segctl.ControlData{}
	for _, res := range r.runner(len(cmds)).Run(ctx, cmds) {
		if res.Err != nil && res.ExitCode != 0 {
			log.Debug(fmt.Sprintf("pg_controldata on %s: %v", res.Command.Host, res.Err))
		}
		for _, d := range segctl.ParseControlData(res.Stdout) {
			data[d.DBID] = d
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	answered := 0
	for _, s := range segs {
		d, ok := data[s.DBID]
		if !ok || d.ExitCode != 0 {
			log.Warn(fmt.Sprintf("cannot access pg_controldata for dbid %d on host %s", s.DBID, s.Hostname))
			continue
		}
		answered++
		log.Info(fmt.Sprintf("Successfully finished pg_controldata %s for dbid %d:\nstdout: %s\nstderr: %s", s.DataDir, s.DBID, d.Stdout, d.Stderr))
	}
	if answered == 0 {
		return nil, app.Errorf("No segments responded to ssh query for heap checksum validation.")
	}

	co := r.co.Cluster.Coordinator()
	co.DataDir = r.co.DataDir
	log.Debug("Running Command: $GPHOME/bin/pg_controldata " + co.DataDir)
	local := r.env.Exec.Exec(ctx, segctl.ControlDataCommands(r.co.GPHome, []cluster.Segment{co})[0])
	mine := segctl.ParseControlData(local.Stdout)
	if len(mine) != 1 || mine[0].ExitCode != 0 || mine[0].Field(cluster.ControlChecksumVersion) == "" {
		return nil, app.Errorf("cannot read the heap checksum setting of the %s: pg_controldata %s failed", word, co.DataDir)
	}
	want := mine[0].Field(cluster.ControlChecksumVersion)
	var differ []string
	for _, s := range segs {
		d, ok := data[s.DBID]
		if !ok || d.ExitCode != 0 {
			continue
		}
		if v := d.Field(cluster.ControlChecksumVersion); v != want {
			differ = append(differ, fmt.Sprintf("%s checksum set to %s differs from %s checksum set to %s", s.Hostname, v, word, want))
		}
	}
	if len(differ) > 0 {
		log.Log(ctx, gplog.LevelCritical, "Heap checksum setting differences reported on segments")
		log.Log(ctx, gplog.LevelCritical, "Failed checksum consistency validation:")
		for _, d := range differ {
			log.Log(ctx, gplog.LevelCritical, d)
		}
		return nil, app.Errorf("Heap checksum setting differences reported on segments")
	}
	log.Info(fmt.Sprintf("Heap checksum setting is consistent between %s and the segments that are candidates for recoverseg", word))
	return data, nil
}
