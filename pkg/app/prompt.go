package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Confirm asks a yes/no question the way Greenplum does (spec §1.4) and
// reports whether the user said yes. It writes verbatim to env.Out (not to
// the log): background and a newline when background is not empty, then
//
//	\n<question> Yy|Nn (default=N):\n>
//
// and reads one line from env.In. An empty line or end of input means no;
// y/yes and n/no are accepted in any case with surrounding whitespace
// ignored; anything else prints "Invalid input: '<input>'" and a blank
// line and asks again.
//
// Confirm does not look at -a: callers skip it when opts.NonInteractive is
// set (and gpstart's "standby unreachable" question treats -a as no). If
// ctx is cancelled while waiting (Ctrl-C), Confirm returns an error wrapping
// ctx's error, which Main turns into exit 2. A "no" is the caller's to turn
// into ErrUserAbort.
func Confirm(ctx context.Context, env *Env, question, background string) (bool, error) {
	if background != "" {
		if _, err := fmt.Fprintf(env.Out, "%s\n", background); err != nil {
			return false, fmt.Errorf("prompt: %w", err)
		}
	}
	for {
		if _, err := fmt.Fprintf(env.Out, "\n%s Yy|Nn (default=N):\n> ", question); err != nil {
			return false, fmt.Errorf("prompt: %w", err)
		}
		line, err := ReadLine(ctx, env.In)
		switch {
		case errors.Is(err, io.EOF) && line == "":
			// End the "> " line so the next log line starts a fresh one.
			_, _ = io.WriteString(env.Out, "\n")
			return false, nil
		case ctx.Err() != nil:
			_, _ = io.WriteString(env.Out, "\n")
			return false, fmt.Errorf("prompt interrupted: %w", context.Cause(ctx))
		case err != nil && !errors.Is(err, io.EOF):
			return false, fmt.Errorf("read answer: %w", err)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "":
			return false, nil
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		if _, err := fmt.Fprintf(env.Out, "Invalid input: '%s'\n\n", line); err != nil {
			return false, fmt.Errorf("prompt: %w", err)
		}
	}
}

// ReadLine reads up to and without the next '\n' (and a '\r' before it)
// one byte at a time, so that nothing after the line is consumed from r (a
// later prompt reads it). A last line without '\n' comes with io.EOF.
// It returns early with ctx's error when ctx is done; the reading goroutine
// then stays blocked until r yields, which is harmless because the program
// is exiting.
func ReadLine(ctx context.Context, r io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 1)
		for {
			n, err := r.Read(buf)
			if n == 1 {
				if buf[0] == '\n' {
					done <- result{strings.TrimSuffix(b.String(), "\r"), nil}
					return
				}
				b.WriteByte(buf[0])
			}
			if err != nil {
				done <- result{b.String(), err}
				return
			}
		}
	}()
	select {
	case res := <-done:
		return res.line, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
