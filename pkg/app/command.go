package app

import (
	"context"

	"github.com/spf13/cobra"
)

// Options is what every tool's Options type offers: the common options it
// embeds, and a Validate that checks them along with its own.
type Options interface {
	Common() *CommonOptions
	Validate() error
}

// Common returns o itself, so a tool's Options type that embeds
// CommonOptions satisfies the Options interface.
func (o *CommonOptions) Common() *CommonOptions { return o }

// ToolSpec describes a tool's command: its usage line ("gpstate
// [options]"), one-line description, and how it rejects positional
// arguments.
type ToolSpec struct {
	Use        string
	Short      string
	Positional Positional
}

// NewCommand returns a tool's command with the common options bound. On run
// it collects positional arguments into opts, sets up logging, validates
// opts and calls run. runF, when not nil, receives the parsed options
// instead (gh-style, for flag-parsing tests), before logging and Validate.
// Tools bind their own flags on the returned command's Flags().
func NewCommand[O Options](env *Env, spec ToolSpec, opts O, runF func(O) error, run func(context.Context, O) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   spec.Use,
		Short: spec.Short,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Common().Args = args
			if runF != nil {
				return runF(opts)
			}
			if err := env.SetupLogging(opts.Common()); err != nil {
				return err
			}
			if err := opts.Common().readProcessCount(env.Getenv); err != nil {
				return err
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			return run(cmd.Context(), opts)
		},
	}
	BindCommon(cmd, env, opts.Common(), spec.Positional)
	return cmd
}
