package app

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// SetupLogging starts logging as the common options say, before the tool
// does anything else: it opens <logdir>/<prog>_<YYYYMMDD>.log for appending
// (creating a missing log directory with one mkdir), points e.Log at the
// console (stderr from ERROR up under MachineOutput) and the file with the
// -v/-q thresholds of spec §1.3, sets
// e.Progress (io.Discard under -q), and logs the first line,
// "Starting <prog> with args: <args>". Main closes the file.
//
// When the log file cannot be opened, e.Log stays console-only and the
// returned ExpectedError says why. A -l directory that cluster.CheckPath
// refuses is refused before anything is created: the tools hand it on
// (gpstop -r to gpstart, gprecoverseg to its recovery steps), and it must
// be as safe as any path that may reach a server program.
func (e *Env) SetupLogging(o *CommonOptions) error {
	if err := cluster.CheckPath("log directory (-l)", o.LogDir); err != nil {
		return &ExpectedError{Err: err}
	}
	dir := o.LogDir
	if dir == "" {
		if e.Home == "" {
			return Errorf("cannot find the home directory for the default log directory ~/%s; use -l <dir>", gplog.DefaultDirName)
		}
		dir = gplog.DefaultDir(e.Home)
	}
	f, err := gplog.Open(dir, e.Prog, e.Start)
	if err != nil {
		return &ExpectedError{Err: err}
	}
	if err := e.closeLogging(); err != nil {
		_ = f.Close() // the earlier error is the one to report
		return err
	}
	console := gplog.NewSyncWriter(e.Out)
	sink := gplog.Sink{W: console, Level: gplog.ConsoleLevel(o.Verbose, o.Quiet)}
	e.Progress = console
	if o.MachineOutput {
		sink = gplog.Sink{W: gplog.NewSyncWriter(e.Err), Level: slog.LevelError}
		e.Progress = io.Discard
	}
	e.Log = slog.New(gplog.NewHandler(e.LogConfig(), sink, gplog.Sink{W: f, Level: gplog.FileLevel(o.Verbose)}))
	if o.Quiet {
		e.Progress = io.Discard
	}
	e.closeLog = f.Close
	// Control characters escaped: an argument must not forge log lines.
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = cluster.Visible(a)
	}
	e.Log.Info("Starting " + e.Prog + " with args: " + strings.Join(args, " "))
	return nil
}

// closeLogging closes the log file opened by SetupLogging, if any, and
// returns e.Log to the console.
func (e *Env) closeLogging() error {
	if e.closeLog == nil {
		return nil
	}
	err := e.closeLog()
	e.closeLog = nil
	e.Log = e.consoleLogger()
	if err != nil {
		return fmt.Errorf("close log file: %w", err)
	}
	return nil
}
