// Package recoverseg implements gprecoverseg: recovers failed segments and rebalances a Greenplum cluster.
package recoverseg

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
)

// Options are gprecoverseg's command-line options.
type Options struct {
	app.CommonOptions
}

// Validate checks the options before anything runs.
func (o *Options) Validate() error {
	return o.CommonOptions.Validate()
}

// NewCommand returns the gprecoverseg command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	spec := app.ToolSpec{
		Use:        "gprecoverseg [options]",
		Short:      "Recover failed segment instances and rebalance the Greenplum Database system.",
		Positional: app.RejectWithHelp,
	}
	return app.NewCommand(env, spec, &Options{}, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
}

// Run does gprecoverseg's work. So far it runs the prelude it shares with
// the other tools: coordinator discovery, versions, and the catalog loaded
// and validated with a normal (dispatch) connection, as Greenplum's
// gprecoverseg does. The recovery itself is not in this build yet: Run says
// so and fails (exit 2) rather than pretend.
func Run(ctx context.Context, env *app.Env, opts *Options) error {
	return coordinator.NotYet(ctx, env, coordinator.Options{DataDir: opts.DataDir, Utility: false}, "gprecoverseg recovery (spec §4)")
}
