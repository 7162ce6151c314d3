// Package gpstate implements gpstate: shows the status of a running Greenplum cluster.
package gpstate

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
)

// Options are gpstate's command-line options.
type Options struct {
	app.CommonOptions
}

// Validate checks the options before anything runs.
func (o *Options) Validate() error {
	return o.CommonOptions.Validate()
}

// NewCommand returns the gpstate command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	spec := app.ToolSpec{
		Use:        "gpstate [options]",
		Short:      "Show the status of a running Greenplum Database system.",
		Positional: app.RejectWithHelp,
	}
	return app.NewCommand(env, spec, &Options{}, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
}

// Run does gpstate's work. So far it runs the prelude it shares with the
// other tools: coordinator discovery, versions, and the catalog loaded and
// validated in utility mode, as Greenplum's gpstate does. The status reports
// themselves are not in this build yet: Run says so and fails (exit 2) rather
// than pretend.
func Run(ctx context.Context, env *app.Env, opts *Options) error {
	return coordinator.NotYet(ctx, env, coordinator.Options{DataDir: opts.DataDir, Utility: true}, "gpstate status reporting (spec §2.4)")
}
