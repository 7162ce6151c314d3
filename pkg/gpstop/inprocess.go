package gpstop

import (
	"context"
	"io"
	"log/slog"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// CoordinatorStop is what another tool asks of StopCoordinator.
type CoordinatorStop struct {
	DataDir  string // the coordinator data directory (-d)
	Mode     string // smart, fast or immediate (-M)
	Parallel int    // -B
	Verbose  bool
	LogDir   string // -l
	// NewExecutor opens the SSH executor; nil means NewSSHExecutor.
	NewExecutor func(remote.SSHOptions) (Executor, error)
}

// StopCoordinator stops the coordinator only, with gpstop's own code and as
// `gpstop -a -m -M <mode> -d <dir>` would: gpstart calls it in-process
// where Greenplum runs a gpstop. gpstop's lines go to env's log at DEBUG,
// where Greenplum logs the output of the gpstop it ran.
func StopCoordinator(ctx context.Context, env *app.Env, c CoordinatorStop) error {
	sub := *env
	sub.Log = slog.New(gplog.AsDebug(env.Log.Handler()))
	sub.Progress = io.Discard
	newExec := c.NewExecutor
	if newExec == nil {
		newExec = NewSSHExecutor
	}
	return Run(ctx, &sub, &Options{
		CommonOptions:   app.CommonOptions{NonInteractive: true, DataDir: c.DataDir, Verbose: c.Verbose, LogDir: c.LogDir},
		CoordinatorOnly: true,
		Mode:            c.Mode,
		Parallel:        c.Parallel,
		Timeout:         pgcmd.DefaultStopTimeout,
		NewExecutor:     newExec,
	})
}

// Restart is what gpstop -r asks of gpstart once the cluster is stopped:
// Greenplum's gpstop runs `gpstart -a -d <dir> [-v] [-y]`.
type Restart struct {
	DataDir   string
	NoStandby bool // -y was given to gpstop
	Verbose   bool
	LogDir    string
}

// Starter starts the cluster for gpstop -r; cmd/gpstop passes gpstart's.
type Starter func(ctx context.Context, env *app.Env, r Restart) error
