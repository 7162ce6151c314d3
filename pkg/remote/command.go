// Package remote runs commands on cluster hosts: over SSH for segment hosts,
// locally for the coordinator host, with one bounded parallel runner for both.
//
// Every remote action is a Command value. Planning code builds []Command as a
// pure function and the Runner executes them, keeping one Result per Command
// in the same order, so most orchestration logic is tested by comparing slices.
package remote

import (
	"context"
	"time"
)

// Command is one unit of work on one host.
//
// Exactly one of Argv and Script says what runs. Argv is a program and its
// arguments; it is shell-quoted only at the transport boundary, so values from
// the catalog or from input files never reach a shell unquoted. Script is a
// POSIX sh script sent on standard input (sh -s); Args become its positional
// parameters ($1, $2, ...), which keeps hostile values out of the script text.
type Command struct {
	Host    string
	Argv    []string
	Script  string
	Args    []string      // positional parameters of Script
	Label   string        // "content 3 mirror (dbid 9)"; used in reports and errors
	Timeout time.Duration // 0: no limit beyond the caller's context

	// PIDFile, when set, makes the command findable and stoppable by pid:
	// the remote shell writes its pid there before it execs the work, and
	// Stop signals that pid's process group. Set it for long commands
	// (pg_basebackup, pg_rewind), next to the target directory.
	PIDFile string

	// OnLine, when set, receives each line of output as it arrives, for
	// progress display. Lines still end up in Result.Stdout/Stderr.
	OnLine func(Line)
}

// Stream says which output stream a Line came from.
type Stream int

// The two output streams of a command.
const (
	Stdout Stream = iota
	Stderr
)

// Line is one line of a running command's output, without its newline.
type Line struct {
	Stream Stream
	Text   string
}

// Result is the outcome of one Command.
type Result struct {
	Command  Command
	Stdout   string
	Stderr   string
	ExitCode int           // -1 if the command never ran or was killed (dial, auth, context)
	Err      error         // nil on success; a *HostError otherwise
	Duration time.Duration // wall time from start to end
}

// OK reports whether the command ran and exited 0.
func (r Result) OK() bool { return r.Err == nil && r.ExitCode == 0 }

// Executor runs one Command and always returns a Result; it never panics and
// never returns early without filling Result.Err. Implementations must be
// safe for concurrent use.
type Executor interface {
	Exec(ctx context.Context, c Command) Result
}
