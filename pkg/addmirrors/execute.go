package addmirrors

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// banner is Greenplum's closing message (spec §5.2 step 12).
var banner = []string{
	strings.Repeat("*", 66),
	"Mirror segments have been added; data synchronization is in progress.",
	"Data synchronization will continue in the background.",
	"Use  gpstate -s  to check the resynchronization progress.",
	strings.Repeat("*", 66),
}

// build runs the build-mirrors pipeline for mirrors (after the
// confirmation, or for --dry-run) and decides the outcome: nil when every
// mirror was added, exit 1 ("completed with failures") when some failed,
// exit 2 when the input was refused before anything changed.
//
// An earlier run's work that res takes over is stopped first, and the
// journal records each step before it runs.
func build(ctx context.Context, env *app.Env, opts *Options, c *coordinator.Coordinator, ex remote.HostExecutor, mirrors []Mirror, res resumption) (err error) {
	bms := res.buildMirrors(mirrors)
	bopts := buildmirrors.Options{
		Prog:               env.Prog,
		Flavour:            c.Flavour(),
		GPHome:             c.GPHome,
		CoordinatorPort:    c.Port,
		CoordinatorDataDir: c.DataDir,
		User:               env.User,
		BatchSize:          opts.BatchSize,
		SegmentBatchSize:   opts.SegmentBatchSize,
		HBAHostnames:       opts.HBAHostnames,
		DryRun:             opts.DryRun,
		StreamTimeout:      opts.StreamTimeout,
		Terminal:           progressTerminal(env, opts),
	}
	benv := buildmirrors.Env{
		Log:           env.Log,
		Progress:      env.Progress,
		Exec:          ex,
		CheckHostKeys: ex.CheckHostKeys,
		Conn:          c.Conn,
		Connect:       env.Connect,
		LookupHost:    opts.LookupHost,
		Now:           env.Now,
	}
	var rep buildmirrors.Report
	if !opts.DryRun {
		res.takeOver(ctx, env, ex, c.GPHome, bms)
		jn := newJournal(env, c.DataDir, res, mirrors)
		benv.BeforeStep = jn.beforeStep
		defer func() {
			if ferr := jn.finish(rep); ferr != nil {
				err = errors.Join(err, ferr)
			}
		}()
	}
	rep, err = buildmirrors.Run(ctx, benv, bopts, bms)
	var ie *buildmirrors.InputError
	if errors.As(err, &ie) {
		return &app.ExpectedError{Err: err}
	}
	if opts.DryRun || (err != nil && len(rep.Outcomes) == 0) {
		return err
	}
	rep.Log(env.Log)
	if err != nil {
		return err
	}
	if len(rep.Failed()) > 0 {
		env.Log.Error(env.Prog + " failed. Please check the output for more details.")
		return &app.HintError{
			Err:  &app.ExitError{Code: app.ExitFailures},
			Hint: "fix the cause and run the same command again: mirrors already added are kept, finished copies are reused",
		}
	}
	for _, l := range banner {
		env.Log.Info(l)
	}
	return nil
}

// progressTerminal is where live copy bars go: the console when it is a
// terminal, unless -q (no progress) or -v (debug lines would tear the bars).
func progressTerminal(env *app.Env, opts *Options) *os.File {
	if opts.Quiet || opts.Verbose {
		return nil
	}
	return env.Terminal
}

// checkHosts refuses to go on unless every segment host answers with a
// known host key; the error lists every host with the line that fixes it.
func checkHosts(ctx context.Context, ex remote.HostExecutor, c *cluster.Cluster) error {
	if err := ex.CheckHostKeys(ctx, c.Hosts()); err != nil {
		return app.Errorf("%w", err)
	}
	return nil
}
