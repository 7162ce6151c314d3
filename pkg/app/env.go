// Package app is the application layer shared by every tool: the Env that
// carries all dependencies, the common options, logger setup, prompts, exit
// codes and the error types that decide them, and Main, the one place where
// a returned error becomes output and an exit code.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"time"

	"golang.org/x/term"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Env holds every dependency of a tool explicitly (style rule 3). main
// builds it with RealEnv; tests fill the fields they need with fakes.
type Env struct {
	Prog    string   // program name: "gpstate", "gpstart", ...
	Args    []string // command-line arguments without the program name
	Version string   // printed by --version

	In  io.Reader // answers to prompts
	Out io.Writer // stdout: console log lines and verbatim output
	Err io.Writer // stderr: usage errors only

	// Progress receives verbatim progress output (dots, live progress
	// lines) that bypasses the log file: Out normally, io.Discard under -q.
	// SetupLogging sets it.
	Progress io.Writer

	// Log is the logger every package writes through. Before SetupLogging
	// it writes INFO and above to Out only; afterwards it also writes the
	// log file, with the thresholds of the common options.
	Log *slog.Logger

	Now    func() time.Time // the clock printed on log lines
	Start  time.Time        // process start; dates the log file name
	Ticker gplog.TickerFunc // once-a-second ticks for progress dots
	Getenv func(string) string

	Hostname string // as gethostname() returns it; log lines print it up to the first '.'
	User     string // OS user name of the real uid
	PID      int
	Home     string // home directory; the default log directory lives here

	// Exec runs local commands (and is the seam remote execution shares).
	// Connect opens database connections. RealEnv wires the real ones;
	// tests set fakes, or leave them nil when nothing runs or connects.
	Exec    remote.Executor
	Connect cluster.Connector
	// NewSSH opens the executor for the other hosts (SSHOptions says
	// how); RealEnv's dials with remote.NewSSHExecutor, tests return fakes.
	NewSSH func(remote.SSHOptions) (remote.HostExecutor, error)

	// Signals delivers sig to the returned channel instead of their
	// default action until stop is called (signal.Notify); a tool that
	// handles an interrupt itself (gprecoverseg asks before it stops its
	// copies) uses it. Tests send on a channel of their own.
	Signals func(sig ...os.Signal) (ch <-chan os.Signal, stop func())

	IsTerminal bool     // stdin is a terminal
	Terminal   *os.File // stdout when it is a terminal, for live progress bars; nil otherwise

	closeLog func() error // closes the log file opened by SetupLogging
}

// RealEnv builds the Env of the running process for prog: the local
// executor, and a connector that reads PGUSER/USER from the environment
// (else takes the OS user, as libpq does) and logs Greenplum's warning on
// each connect timeout.
func RealEnv(prog string) *Env {
	host, _ := os.Hostname() // an empty host name still logs
	home, _ := os.UserHomeDir()
	e := &Env{
		Prog:       prog,
		Args:       append([]string{}, os.Args[1:]...),
		Version:    buildVersion(),
		In:         os.Stdin,
		Out:        os.Stdout,
		Err:        os.Stderr,
		Progress:   os.Stdout,
		Now:        time.Now,
		Start:      time.Now(),
		Ticker:     gplog.RealTicker,
		Getenv:     os.Getenv,
		Hostname:   host,
		User:       userName(),
		PID:        os.Getpid(),
		Home:       home,
		IsTerminal: term.IsTerminal(int(os.Stdin.Fd())),
	}
	if term.IsTerminal(int(os.Stdout.Fd())) {
		e.Terminal = os.Stdout
	}
	e.Log = e.consoleLogger()
	e.Exec = remote.LocalExecutor{}
	e.NewSSH = func(o remote.SSHOptions) (remote.HostExecutor, error) { return remote.NewSSHExecutor(o) }
	e.Signals = func(sig ...os.Signal) (<-chan os.Signal, func()) {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, sig...)
		return ch, func() { signal.Stop(ch) }
	}
	e.Connect = cluster.Dialer{
		Getenv: os.Getenv,
		OSUser: e.User,
		OnTimeout: func(cfg cluster.ConnConfig, attempt, attempts int) {
			e.Log.Warn(fmt.Sprintf("Timeout expired connecting to %s, attempt %d/%d", cfg.DatabaseName(), attempt, attempts))
		},
	}.Connect
	return e
}

// LogConfig returns the fixed parts of this process's log lines.
func (e *Env) LogConfig() gplog.Config {
	return gplog.Config{Prog: e.Prog, Host: e.Hostname, User: e.User, PID: e.PID, Now: e.Now}
}

// consoleLogger logs INFO and above to Out: the logger before the common
// options are known, and for errors that happen before the log file opens.
func (e *Env) consoleLogger() *slog.Logger {
	return slog.New(gplog.NewHandler(e.LogConfig(), gplog.Sink{W: e.Out, Level: slog.LevelInfo}))
}

// userName returns the name of the real uid, falling back to $USER. In the
// static build os/user reads /etc/passwd only: a user that only NSS knows
// (LDAP, SSSD) gets $USER (docs/ci.md).
func userName() string {
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
