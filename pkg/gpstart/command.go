// Package gpstart implements gpstart: starts a Greenplum cluster.
package gpstart

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// Options are gpstart's command-line options.
type Options struct {
	app.CommonOptions
}

// Validate checks the options before anything runs.
func (o *Options) Validate() error {
	return o.CommonOptions.Validate()
}

// NewCommand returns the gpstart command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	spec := app.ToolSpec{
		Use:        "gpstart [options]",
		Short:      "Start a Greenplum Database system.",
		Positional: app.RejectLastArgument,
	}
	return app.NewCommand(env, spec, &Options{}, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
}

// Run does gpstart's work. Its operations are not implemented in this build
// yet: it says so and fails (exit 2) rather than pretend.
func Run(ctx context.Context, env *app.Env, opts *Options) error {
	return app.Errorf("gpstart operations are not implemented yet in this build of gpmgmt")
}
