// Package gpdemo implements gpdemo: it creates a demo Greenplum cluster from
// a GPHOME on this machine, a coordinator plus N segment hosts that are
// loopback addresses with their own host names reached over real SSH (or
// locally with --local), optionally with a standby, and destroys it again.
// It is how the integration tests get their clusters.
package gpdemo

import (
	"context"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// Env is app.Env plus what gpdemo alone needs from the machine, each a
// field so tests can replace it.
type Env struct {
	*app.Env
	// Geteuid returns the effective user id (gpdemo refuses root).
	Geteuid func() int
	// LookupHost resolves a host name to its addresses.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// Executable returns the path of gpdemo's own executable (the
	// management tools are built beside it).
	Executable func() (string, error)
}

// NewEnv returns the Env of the running process around e.
func NewEnv(e *app.Env) *Env {
	return &Env{
		Env:        e,
		Geteuid:    os.Geteuid,
		LookupHost: net.DefaultResolver.LookupHost,
		Executable: os.Executable,
	}
}

// NewCommand returns the gpdemo command with its create and destroy
// subcommands. runCreate and runDestroy, when not nil, receive the parsed
// options instead of Create and Destroy (for flag-parsing tests).
func NewCommand(env *Env, runCreate func(*CreateOptions) error, runDestroy func(*DestroyOptions) error) *cobra.Command {
	root := &cobra.Command{
		Use:   "gpdemo <create|destroy> [options]",
		Short: "Create or destroy a demo Greenplum cluster on this machine.",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &app.ArgumentError{Msg: "unknown command " + args[0] + ": use create or destroy", ShowHelp: true}
			}
			return &app.ArgumentError{Msg: "a command is required: create or destroy", ShowHelp: true}
		},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &app.FlagError{Err: err} })
	root.AddCommand(newCreateCommand(env, runCreate), newDestroyCommand(env, runDestroy))
	return root
}

func newCreateCommand(env *Env, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{}
	spec := app.ToolSpec{
		Use:        "create --dir DIR [options]",
		Short:      "Create a demo cluster in DIR: a coordinator, N segment hosts of M primaries, optionally a standby.",
		Positional: app.RejectWithHelp,
	}
	cmd := app.NewCommand(env.Env, spec, opts, runF, func(ctx context.Context, o *CreateOptions) error {
		return Create(ctx, env, o)
	})
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", "", "demo `directory` (absent, empty, or left by a create that did not finish, which is destroyed first); holds every instance, the manifest and the env file")
	f.IntVar(&opts.Hosts, "hosts", DefaultHosts, "number of segment hosts, named sdw1..sdwN unless --host-names names them")
	f.IntVar(&opts.PrimariesPerHost, "primaries-per-host", DefaultPrimariesPerHost, "primary segments per host")
	f.BoolVar(&opts.Standby, "standby", false, "add a coordinator standby on the host after the segment hosts (sdwN+1, or the last of --host-names)")
	f.IntVar(&opts.PortBase, "port-base", DefaultPortBase, "coordinator `port`; the standby gets port+1, primaries port+2 and up")
	f.StringSliceVar(&opts.HostNames, "host-names", nil, "segment host `names`, comma-separated; with --standby one more name at the end: the standby host")
	f.BoolVar(&opts.Local, "local", false, "run every host's work locally instead of over SSH (no sshd needed)")
	f.StringVar(&opts.GPHome, "gphome", "", "Greenplum install to run (default $GPHOME)")
	f.StringVar(&opts.ToolsDir, "tools-dir", "", "`directory` of gpmgmt's gpstate, gpstart, ... that the env file puts first in PATH (default gpdemo's own directory)")
	f.StringVar(&opts.Mirrors, "mirrors", MirrorsNone, "mirror `layout`: none, group or spread (built by gpaddmirrors' pipeline once the cluster is up; ports after the primaries', DIR/<host>/mirror/gpseg<content>)")
	hideUnused(cmd)
	cmd.PreRun = func(c *cobra.Command, _ []string) { opts.HostsGiven = c.Flags().Changed("hosts") }
	return cmd
}

func newDestroyCommand(env *Env, runF func(*DestroyOptions) error) *cobra.Command {
	opts := &DestroyOptions{}
	spec := app.ToolSpec{
		Use:        "destroy --dir DIR [options]",
		Short:      "Stop every instance of the demo cluster in DIR and remove DIR.",
		Positional: app.RejectWithHelp,
	}
	cmd := app.NewCommand(env.Env, spec, opts, runF, func(ctx context.Context, o *DestroyOptions) error {
		return Destroy(ctx, env, o)
	})
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "demo `directory` made by gpdemo create")
	hideUnused(cmd)
	return cmd
}

// hideUnused hides the common options gpdemo has no use for: -d (the demo
// directory is --dir; Validate refuses -d) and -a (gpdemo never prompts).
func hideUnused(cmd *cobra.Command) {
	for _, name := range []string{"master_data_directory", "coordinator_data_directory", "non-interactive"} {
		_ = cmd.Flags().MarkHidden(name) // the flags exist; hiding cannot fail
	}
}
