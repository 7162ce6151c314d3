package addmirrors

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// Run does gpaddmirrors's work in Greenplum's order (spec §5.2): open the
// coordinator with a normal connection and load the catalog; without -i,
// check the port offset; refuse a mirrored cluster; compute the mirrors
// (from -i, or placed from -m or the prompts); check ports and
// directories; with -o write the file and stop; show the parameters and
// the mirrors; ask to continue unless -a.
//
// With --dry-run it stops after showing the plan, exit 0. Otherwise, after
// a yes, it fails (exit 2) saying that the copy and registration pipeline
// is not in this build: nothing has been changed.
//
// The heap checksum consistency check of step 2 runs pg_controldata on
// every segment host; it belongs to the execution side and is not done
// yet.
func Run(ctx context.Context, env *app.Env, opts *Options) (err error) {
	c, err := coordinator.Open(ctx, env, coordinator.Options{DataDir: opts.DataDir, Utility: false})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.Close(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	mirrors, err := planFromOptions(ctx, env, opts, c)
	if err != nil {
		return err
	}
	if err := CheckConflicts(c.Cluster, mirrors); err != nil {
		return err
	}

	if opts.OutputFile != "" && !opts.DryRun {
		if err := writeConfigFile(opts.OutputFile, mirrors); err != nil {
			return err
		}
		env.Log.Info(fmt.Sprintf("Configuration file output to %s successfully.", opts.OutputFile))
		return nil
	}

	gplog.Emit(ctx, env.Log, DisplayRecords(Parameters{
		Flavour:          c.Flavour(),
		DataDir:          c.DataDir,
		Port:             c.Port,
		BatchSize:        opts.BatchSize,
		SegmentBatchSize: opts.SegmentBatchSize,
	}, mirrors))

	if opts.DryRun {
		if opts.OutputFile != "" {
			env.Log.Info(fmt.Sprintf("Dry run: the configuration file %s was not written", opts.OutputFile))
		}
		env.Log.Info(fmt.Sprintf("Dry run: %d mirror(s) planned; nothing was changed", len(mirrors)))
		return nil
	}
	if !opts.NonInteractive {
		yes, err := app.Confirm(ctx, env, "Continue with add mirrors procedure", "")
		if err != nil {
			return err
		}
		if !yes {
			return app.ErrUserAbort
		}
	}
	return &app.HintError{
		Err:  app.Errorf("adding mirrors (pg_hba.conf update, pg_basebackup, catalog registration; spec §3) is not implemented yet in this build of gpmgmt; nothing was changed"),
		Hint: "the plan above can be saved with -o <file> and used with Greenplum's own gpaddmirrors -i <file>",
	}
}

// planFromOptions computes the mirrors as the options say: from the -i
// file, or placed by PlanMirrors with locations from -m or the prompts.
// Without -i the port offset is checked first; a mirrored cluster is
// refused before any file is read or prompt shown.
func planFromOptions(ctx context.Context, env *app.Env, opts *Options, c *coordinator.Coordinator) ([]Mirror, error) {
	if !opts.FromConfigFile() {
		if err := CheckPortOffset(c.Cluster, opts.PortOffset); err != nil {
			return nil, err
		}
	}
	if c.Cluster.HasMirrors() {
		return nil, &app.ExpectedError{Err: ErrHasMirrors}
	}

	if opts.FromConfigFile() {
		lines, err := readConfigFile(opts.ConfigFile)
		if err != nil {
			return nil, err
		}
		if ok, err := confirmNonStandard(ctx, env, opts, c); !ok || err != nil {
			return nil, err
		}
		return MirrorsFromConfig(ctx, c.Cluster, lines, opts.ConfigFile, opts.LookupHost)
	}

	want := MaxPrimariesPerHost(c.Cluster)
	var dirs []string
	var err error
	if opts.DirFile != "" {
		dirs, err = readDirFile(opts.DirFile, want)
	} else {
		dirs, err = PromptDirs(ctx, env, want)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := confirmNonStandard(ctx, env, opts, c); !ok || err != nil {
		return nil, err
	}
	return PlanMirrors(c.Cluster, Placement{
		Spread:     opts.Spread,
		PortOffset: opts.PortOffset,
		Locations:  dirs,
		Prefix:     DirPrefix(c.DataDir),
	})
}

// errAborted ends Run with exit 0 after "User Aborted. Exiting...", as
// Greenplum does when the user declines to go on with a non-standard array.
var errAborted = &app.ExitError{Code: app.ExitOK}

// confirmNonStandard warns about a non-standard array as Greenplum does
// (spec §5.3) and, unless -a, asks whether to go on. A "no" logs
// "User Aborted. Exiting..." and returns errAborted (exit 0).
func confirmNonStandard(ctx context.Context, env *app.Env, opts *Options, c *coordinator.Coordinator) (bool, error) {
	standard, reason := StandardArray(c.Cluster)
	if standard {
		return true, nil
	}
	env.Log.Warn("The current system appears to be non-standard.")
	env.Log.Warn(reason)
	env.Log.Warn("gpaddmirrors will not be able to symmetrically distribute the new mirrors.")
	env.Log.Warn("It is recommended that you specify your own input file with appropriate values.")
	if opts.NonInteractive {
		return true, nil
	}
	yes, err := app.Confirm(ctx, env, "Are you sure you want to continue with this gpaddmirrors session?", "")
	if err != nil {
		return false, err
	}
	if !yes {
		env.Log.Info("User Aborted. Exiting...")
		return false, errAborted
	}
	return true, nil
}

// readConfigFile opens and parses a -i file.
func readConfigFile(name string) ([]ConfigLine, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, app.Errorf("cannot read the mirror configuration file given with -i: %v", err)
	}
	defer f.Close()
	return ParseMirrorConfig(f, name)
}

// readDirFile opens and reads a -m file.
func readDirFile(name string, want int) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, app.Errorf("cannot read the mirror data directory file given with -m: %v", err)
	}
	defer f.Close()
	return ReadDirFile(f, name, want)
}

// writeConfigFile writes the -o file (mode 0666 before umask, as Python's
// open does).
func writeConfigFile(name string, mirrors []Mirror) (err error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return app.Errorf("cannot write the mirror configuration file given with -o: %v", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = app.Errorf("write %s: %v", name, cerr)
		}
	}()
	if err := WriteMirrorConfig(f, ConfigLines(mirrors)); err != nil {
		return app.Errorf("write %s: %v", name, err)
	}
	return nil
}
