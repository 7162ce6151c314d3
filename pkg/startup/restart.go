package startup

import (
	"context"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
)

// Restart is what gpstop -r asks once the cluster is stopped: Greenplum's
// gpstop runs `gpstart -a -d <dir> [-v] [-y]`.
type Restart struct {
	DataDir   string
	NoStandby bool // -y was given to gpstop
	Verbose   bool
	LogDir    string
	// ProcessCount is gpstop's checked GP_MGMT_PROCESS_COUNT (0: unset),
	// which the gpstart it runs would read from the environment.
	ProcessCount int
}

// Run starts the cluster gpstop -r has just stopped, as that gpstart would,
// in-process and logging through gpstop's logger.
func (r Restart) Run(ctx context.Context, env *app.Env) error {
	return Run(ctx, env, &Options{
		CommonOptions: app.CommonOptions{NonInteractive: true, DataDir: r.DataDir, Verbose: r.Verbose, LogDir: r.LogDir, ProcessCount: r.ProcessCount},
		NoStandby:     r.NoStandby,
		Timeout:       pgcmd.DefaultStartTimeout,
		Parallel:      DefaultParallel,
	})
}
