package gpstart

import (
	"context"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gpstop"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
)

// Restart starts the cluster gpstop -r has just stopped, as Greenplum's
// gpstop runs `gpstart -a -d <dir> [-v] [-y]`, in-process and logging
// through gpstop's logger.
func Restart(ctx context.Context, env *app.Env, r gpstop.Restart) error {
	return Run(ctx, env, &Options{
		CommonOptions: app.CommonOptions{NonInteractive: true, DataDir: r.DataDir, Verbose: r.Verbose, LogDir: r.LogDir},
		NoStandby:     r.NoStandby,
		Timeout:       pgcmd.DefaultStartTimeout,
		Parallel:      DefaultParallel,
		NewExecutor:   gpstop.NewSSHExecutor,
	})
}
