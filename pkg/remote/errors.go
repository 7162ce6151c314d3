package remote

import (
	"fmt"
	"strings"
)

// Limits of the stderr tail kept in a HostError: the last StderrTailLines
// lines, and at most StderrTailBytes bytes of them.
const (
	StderrTailLines = 20
	StderrTailBytes = 2048
)

// HostError is the error of one failed Command on one host: a non-zero exit,
// a dial, host key or authentication failure, a timeout or a cancelled
// context. Executors put one in Result.Err whenever a command fails, and
// Failures joins them.
type HostError struct {
	Host     string
	Label    string // Command.Label; may be empty
	Cmd      string // the command line as the shell received it; may be empty
	ExitCode int    // -1 if the command never ran or was killed
	Stderr   string // trimmed tail of the command's stderr, for the user
	Err      error  // the cause: exit status, dial error, context error, ...
}

// Error names the host, the label, the command and the cause, followed by the
// stderr tail, indented, on the next lines.
func (e *HostError) Error() string {
	var parts []string
	for _, p := range []string{e.Host, e.Label, e.Cmd} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		fmt.Fprintf(&b, "exit status %d", e.ExitCode)
	}
	if e.Stderr != "" {
		b.WriteString("\n    stderr: ")
		b.WriteString(strings.ReplaceAll(e.Stderr, "\n", "\n            "))
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is(err, context.DeadlineExceeded) and
// errors.As(err, &*UnknownHostKeyError) work through a HostError.
func (e *HostError) Unwrap() error { return e.Err }

// ExitError is the cause in a HostError for a command that ran and exited
// with a non-zero status.
type ExitError struct {
	Code int
}

// Error returns "exit status N", as os/exec does.
func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// StderrTail trims s to its last StderrTailLines lines and StderrTailBytes
// bytes, without surrounding blank space; a cut is marked with "...".
func StderrTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	cut := false
	lines := strings.Split(s, "\n")
	if len(lines) > StderrTailLines {
		lines = lines[len(lines)-StderrTailLines:]
		cut = true
	}
	s = strings.Join(lines, "\n")
	if len(s) > StderrTailBytes {
		s = s[len(s)-StderrTailBytes:]
		// do not start in the middle of a UTF-8 sequence
		for len(s) > 0 && s[0]&0xC0 == 0x80 {
			s = s[1:]
		}
		cut = true
	}
	if cut {
		s = "..." + s
	}
	return s
}

// failure builds the HostError for a command that failed with err (nil for
// a plain non-zero exit).
func failure(c Command, code int, stderr string, err error) *HostError {
	if err == nil {
		err = &ExitError{Code: code}
	}
	return &HostError{
		Host:     c.Host,
		Label:    c.Label,
		Cmd:      describe(c),
		ExitCode: code,
		Stderr:   StderrTail(stderr),
		Err:      err,
	}
}
