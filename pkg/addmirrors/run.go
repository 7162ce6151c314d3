package addmirrors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
)

// Run does gpaddmirrors's work in Greenplum's order (spec §5.2): open the
// coordinator with a normal connection and load the catalog; check that
// every segment host is reachable with a known host key and that every
// segment's heap checksum setting is the coordinator's; without -i,
// check the port offset; refuse a mirrored cluster; compute the mirrors
// (from -i, or placed from -m or the prompts); check ports and
// directories; with -o write the file and stop; show the parameters and
// the mirrors; ask to continue unless -a.
//
// Then it builds the mirrors with pkg/buildmirrors (copy, start, wait
// until they stream, register them in one transaction, trigger FTS): exit
// 0 when every mirror was added, 1 when some failed (each failed one
// cleaned up, the others added), 2 when the targets were refused before
// anything changed. With --dry-run it runs the read-only checks and prints
// every step's commands per host instead, exit 0.
//
// A cluster left partly mirrored by an earlier run of the same command is
// accepted: the mirrors are planned as on the mirrorless cluster, those
// already registered (they must match the plan) are kept, and the rest
// are built. Changing runs hold gpaddmirrors's lock and journal what they
// do (journal.go): the rerun of a run killed -9 stops what it left running
// and redoes its unfinished copies, in directories it made or was
// copying into; any other non-empty directory is still refused.
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
	if err := refuseDuringRecovery(env, c.DataDir); err != nil {
		return err
	}
	if !opts.DryRun && opts.OutputFile == "" {
		lock, err := takeLock(env, c.DataDir)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, lock.Release()) }()
	}
	prev, err := oplock.ReadJournal(c.DataDir, Tool)
	if err != nil {
		return app.Errorf("%w", err)
	}
	if prev != nil && opts.OutputFile == "" {
		env.Log.Info(fmt.Sprintf("An earlier %s (PID %d, started %s, args: %s) did not finish; this run completes its work",
			Tool, prev.PID, prev.Started.Format("2006-01-02 15:04:05"), strings.Join(prev.Args, " ")))
	}
	ex, err := env.OpenSSH(&opts.CommonOptions, c.GPHome)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := ex.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close ssh connections: %w", cerr))
		}
	}()
	if err := checkHosts(ctx, ex, c.Cluster); err != nil {
		return err
	}
	if err := CheckHeapChecksums(ctx, env, ex, c.Cluster, c.Flavour(), c.GPHome, c.DataDir, opts.BatchSize); err != nil {
		return err
	}

	if registeredAll(prev, c.Cluster) && !opts.DryRun && opts.OutputFile == "" {
		// Bad input changes nothing: the command is planned, its input
		// read and checked, before the earlier run's work is finished.
		if err := plansRegistered(ctx, env, opts, c, prev); err != nil {
			return err
		}
		return finishRegistered(ctx, env, ex, c.Conn, c.Flavour(), c.DataDir, prev)
	}
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
		if err := build(ctx, env, opts, c, ex, mirrors, resume(prev, c.Cluster, mirrors)); err != nil {
			return err
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
	return build(ctx, env, opts, c, ex, mirrors, resume(prev, c.Cluster, mirrors))
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
	view, registered, err := mirrorlessView(c.Cluster)
	if err != nil {
		return nil, err
	}
	if registered > 0 {
		env.Log.Info(fmt.Sprintf("%d of %d contents already have a mirror (an earlier %s run): planning as on the mirrorless cluster and building the rest", registered, c.Cluster.NumContents(), env.Prog))
	}
	all, err := planOn(ctx, env, opts, c, view)
	if err != nil || registered == 0 {
		return all, err
	}
	return remaining(c.Cluster, all)
}

// plansRegistered checks, before a run killed after its catalog commit is
// finished, that this command is the one that run was: the mirrors are
// planned as the options say (the -i or -m file read and checked, or the
// prompts answered) on the cluster without its mirror rows, and they must
// be exactly the mirrors the journal of that run names. Bad input, or a
// command that plans other mirrors, is refused with nothing changed.
func plansRegistered(ctx context.Context, env *app.Env, opts *Options, c *coordinator.Coordinator, prev *oplock.Record) error {
	view, err := withoutMirrors(c.Cluster)
	if err != nil {
		return err
	}
	if !opts.FromConfigFile() {
		if err := CheckPortOffset(view, opts.PortOffset); err != nil {
			return err
		}
	}
	planned, err := planOn(ctx, env, opts, c, view)
	if err != nil {
		return err
	}
	var missing []string
	for _, it := range prev.Items {
		if _, ok := findMirror(planned, it); !ok {
			missing = append(missing, fmt.Sprintf("dbid %d %s:%d %s", it.DBID, it.Host, it.Port, it.DataDir))
		}
	}
	if len(missing) == 0 && len(planned) == len(prev.Items) {
		return nil
	}
	what := "mirrors this command does not plan (" + strings.Join(missing, ", ") + ")"
	if len(missing) == 0 {
		what = fmt.Sprintf("%d mirror(s), and this command plans %d", len(prev.Items), len(planned))
	}
	return &app.HintError{
		Err:  app.Errorf("the earlier %s (PID %d) registered %s: nothing was changed", Tool, prev.PID, what),
		Hint: fmt.Sprintf("run the earlier command again to finish its work (args: %s)", strings.Join(prev.Args, " ")),
	}
}

// planOn computes every mirror as the options say, on cluster view.
func planOn(ctx context.Context, env *app.Env, opts *Options, c *coordinator.Coordinator, view *cluster.Cluster) ([]Mirror, error) {

	if opts.FromConfigFile() {
		lines, err := readConfigFile(opts.ConfigFile)
		if err != nil {
			return nil, err
		}
		if ok, err := confirmNonStandard(ctx, env, opts, view); !ok || err != nil {
			return nil, err
		}
		return MirrorsFromConfig(ctx, view, lines, opts.ConfigFile, opts.LookupHost)
	}

	want := placement.MaxPrimariesPerHost(view)
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
	if ok, err := confirmNonStandard(ctx, env, opts, view); !ok || err != nil {
		return nil, err
	}
	return placement.PlanMirrors(view, placement.Placement{
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
func confirmNonStandard(ctx context.Context, env *app.Env, opts *Options, view *cluster.Cluster) (bool, error) {
	standard, reason := placement.StandardArray(view)
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
		return nil, app.Errorf("cannot read the mirror configuration file given with -i: %w", err)
	}
	defer f.Close()
	return ParseMirrorConfig(f, name)
}

// readDirFile opens and reads a -m file.
func readDirFile(name string, want int) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, app.Errorf("cannot read the mirror data directory file given with -m: %w", err)
	}
	defer f.Close()
	return ReadDirFile(f, name, want)
}

// writeConfigFile writes the -o file (mode 0666 before umask, as Python's
// open does).
func writeConfigFile(name string, mirrors []Mirror) (err error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return app.Errorf("cannot write the mirror configuration file given with -o: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = app.Errorf("write %s: %w", name, cerr)
		}
	}()
	if err := WriteMirrorConfig(f, ConfigLines(mirrors)); err != nil {
		return app.Errorf("write %s: %w", name, err)
	}
	return nil
}

// mirrorlessView returns c without its mirror rows and how many contents
// have one. A cluster where every content has a mirror is refused with
// Greenplum's message; one where only some have (left by an earlier run
// whose other mirrors failed) is planned again on this view.
func mirrorlessView(c *cluster.Cluster) (*cluster.Cluster, int, error) {
	n := 0
	for _, s := range c.All() {
		if s.IsSegment() && s.PreferredRole == cluster.RoleMirror {
			n++
		}
	}
	if n == 0 {
		return c, 0, nil
	}
	if n >= c.NumContents() {
		return nil, n, &app.ExpectedError{Err: placement.ErrHasMirrors}
	}
	for _, s := range c.Mirrors() {
		if !s.IsBalanced() {
			return nil, n, &app.ExpectedError{Err: placement.ErrHasMirrors}
		}
	}
	view, err := withoutMirrors(c)
	return view, n, err
}

// withoutMirrors returns c without its segments' mirror rows.
func withoutMirrors(c *cluster.Cluster) (*cluster.Cluster, error) {
	var keep []cluster.Segment
	for _, s := range c.All() {
		if !s.IsSegment() || s.PreferredRole != cluster.RoleMirror {
			keep = append(keep, s)
		}
	}
	view, err := cluster.New(keep)
	if err != nil {
		return nil, app.Errorf("plan on the mirrorless view: %w", err)
	}
	return view, nil
}

// remaining drops from all the mirrors already registered in c; each must
// match its row (same dbid, host, address, port and directory), or the
// earlier run was another command and nothing is added.
func remaining(c *cluster.Cluster, all []Mirror) ([]Mirror, error) {
	var out []Mirror
	for _, m := range all {
		var have *cluster.Segment
		for _, s := range c.Mirrors() {
			if s.ContentID == m.Mirror.ContentID {
				have = &s
			}
		}
		if have == nil {
			out = append(out, m)
			continue
		}
		if have.DBID != m.Mirror.DBID || have.Hostname != m.Mirror.Hostname || have.Address != m.Mirror.Address ||
			have.Port != m.Mirror.Port || have.DataDir != m.Mirror.DataDir {
			return nil, &app.ExpectedError{Err: fmt.Errorf("%w (content %d has mirror %s, this command plans %s)", placement.ErrHasMirrors, m.Mirror.ContentID, have, m.Mirror)}
		}
	}
	return out, nil
}

// takeLock takes gpaddmirrors' lock in the coordinator data directory
// (safety invariant 3, docs/locks.md): another gpaddmirrors, or a
// gprecoverseg that started since refuseDuringRecovery looked, is refused
// with Greenplum's two lock lines, exit 2; a stale lock is taken over
// with a warning. --dry-run and -o change nothing and take no lock.
func takeLock(env *app.Env, mdd string) (*oplock.Lock, error) {
	return oplock.Take(env, mdd, "gpaddmirrors", "gprecoverseg")
}

// refuseDuringRecovery refuses to add mirrors while a gprecoverseg holds
// its lock: both build mirrors from the same primaries (docs/locks.md).
func refuseDuringRecovery(env *app.Env, mdd string) error {
	owner, held, err := oplock.Held(mdd, "gprecoverseg", env.Hostname)
	if err != nil {
		return app.Errorf("%w", err)
	}
	if held {
		return &app.HintError{
			Err:  app.Errorf("a gprecoverseg (PID %d) is running on this cluster: its lock %s is held", owner.PID, oplock.Path(mdd, "gprecoverseg")),
			Hint: "wait until it ends, then run gpaddmirrors again",
		}
	}
	return nil
}
