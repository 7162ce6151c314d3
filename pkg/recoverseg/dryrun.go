package recoverseg

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// dryRun is --dry-run (an addition): after the read-only checks and the
// plan, every command each host would run and every statement, then exit
// 0 with nothing changed. The full recoveries' steps (in place and to new
// locations) are printed by pkg/buildmirrors after its read-only checks,
// as gpaddmirrors --dry-run prints them; the incremental ones' after.
func (r *recovery) dryRun(ctx context.Context, ts []target) error {
	log := r.env.Log
	log.Info("Dry run: the steps below would run; only the read-only checks ran")
	era, err := cluster.ReadEra(r.co.DataDir, r.f)
	if err != nil {
		return app.Errorf("%w", err)
	}
	if r.opts.Differential {
		return r.dryRunDifferential(ctx, ts)
	}
	inc, full, _, _ := splitTargets(ts)
	if len(full) > 0 {
		printStep(log.Info, "stop the failed segments that still run", r.stopCommands(full), nil)
		_, err := buildmirrors.Run(ctx, r.buildEnv(nil, nil), r.buildOptions(true), r.mirrors(full))
		var ie *buildmirrors.InputError
		if errors.As(err, &ie) {
			return &app.ExpectedError{Err: err}
		}
		if err != nil {
			return app.Errorf("%w", err)
		}
	}
	if len(inc) == 0 {
		log.Info(fmt.Sprintf("Dry run: %d segment(s) planned; nothing was changed", len(ts)))
		return nil
	}
	stops := r.stopCommands(inc)
	hba, err := r.hbaCommands(ctx, inc)
	if err != nil {
		return err
	}
	catalog, err := r.catalogStatements(inc)
	if err != nil {
		return app.Errorf("%w", err)
	}
	var setup, stream, fts []string
	var recov []remote.Command
	for _, t := range inc {
		where := fmt.Sprintf("source %s:%d (utility): ", t.Source.Address, t.Source.Port)
		setup = append(setup, where+"CHECKPOINT")
		stream = append(stream, where+cluster.Statement{SQL: buildmirrors.StreamingSQL, Args: []any{buildmirrors.WalReceiverName}}.String())
		recov = append(recov, r.recoverCommand(t, era))
	}
	var cat []string
	for _, s := range catalog {
		cat = append(cat, "coordinator (allow_system_table_mods, one transaction): "+s.String())
	}
	for range cluster.FTSProbeCount(r.f) {
		fts = append(fts, "coordinator: "+cluster.FTSProbeSQL)
	}
	printStep(log.Info, "update pg_hba.conf on the sources", hba, nil)
	printStep(log.Info, "stop the failed segments that still run", stops, nil)
	printStep(log.Info, "checkpoint the sources", nil, setup)
	printStep(log.Info, "update the catalog", nil, cat)
	printStep(log.Info, "rewind (detached), set the port and start each failed segment", recov, nil)
	printStep(log.Info, "wait until the recovered segments stream (read-only)", nil, stream)
	printStep(log.Info, "trigger FTS probe", nil, fts)
	log.Info(fmt.Sprintf("Dry run: %d segment(s) planned; nothing was changed", len(ts)))
	return nil
}

// printStep logs one step of the dry run: its commands, one per host with
// the command line the host's shell receives, and its statements.
func printStep(info func(string, ...any), name string, cmds []remote.Command, sql []string) {
	info("Step: " + name)
	if len(cmds) == 0 && len(sql) == 0 {
		info("  (nothing to do)")
	}
	for _, c := range cmds {
		for _, l := range strings.Split(c.Host+": "+remote.CommandLine(c), "\n") {
			info("  " + l)
		}
	}
	for _, s := range sql {
		for _, l := range strings.Split(s, "\n") {
			info("  " + l)
		}
	}
}
