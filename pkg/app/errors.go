package app

import (
	"errors"
	"fmt"
)

// Exit codes common to every tool (spec §1.2).
const (
	ExitOK        = 0 // success
	ExitFailures  = 1 // the tool ran but something failed (per tool)
	ExitFatal     = 2 // bad arguments, expected or unexpected error, interrupt
	ExitUserAbort = 4 // the user answered "no" at a confirmation prompt
)

// ErrUserAbort is returned when the user declines a confirmation prompt.
// Main logs INFO "User abort requested, Exiting..." and exits 4.
var ErrUserAbort = errors.New("user abort requested")

// FlagError is a command-line parsing error (unknown option, missing
// value), found before logging starts. Main writes the usage line and
// "<prog>: error: <msg>" to stderr, as Python's optparse does, and exits 2.
type FlagError struct {
	Err error
}

// Error returns the message.
func (e *FlagError) Error() string { return e.Err.Error() }

// Unwrap returns the parsing error.
func (e *FlagError) Unwrap() error { return e.Err }

// ArgumentError is an invalid combination or value of arguments found by a
// tool's Validate (Python's ProgramArgumentValidationException). Main prints
// the help text first when ShowHelp is set, then logs ERROR
// "<prog>: error: <Msg>", and exits 2.
type ArgumentError struct {
	Msg      string
	ShowHelp bool
}

// Error returns the message.
func (e *ArgumentError) Error() string { return e.Msg }

// ExpectedError is a fatal condition the tool anticipated ("no stack trace
// needed"). Main logs ERROR "<prog> error: <msg>" and exits 2. The message
// may be empty, which prints a trailing space as Greenplum does.
type ExpectedError struct {
	Err error
}

// Error returns the message.
func (e *ExpectedError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ExpectedError) Unwrap() error { return e.Err }

// Errorf returns an ExpectedError with a formatted message; %w wraps as in
// fmt.Errorf.
func Errorf(format string, a ...any) error {
	return &ExpectedError{Err: fmt.Errorf(format, a...)}
}

// ExitError lets a tool choose its exit code, e.g. 1 when it completed
// with segment failures it has already reported. Err, when not nil, is
// reported as Main would report it alone; only the code differs. A nil Err
// prints nothing more.
type ExitError struct {
	Code int
	Err  error
}

// Error returns Err's message, or "exit status <code>" without one.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }

// HintError adds a "what to do next" line to an error. Main reports Err as
// it would alone, then logs "Hint: <Hint>" at the same level (INFO when Err
// printed nothing).
type HintError struct {
	Err  error
	Hint string
}

// Error returns the message.
func (e *HintError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *HintError) Unwrap() error { return e.Err }
