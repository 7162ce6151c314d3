// Package remotetest provides Fake, a scripted remote.Executor for the tests
// of packages that run commands through pkg/remote.
package remotetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// AnyHost, as the host of a rule, matches every host.
const AnyHost = "*"

// ErrUnscripted is the cause in the Result of a command no rule matches.
var ErrUnscripted = errors.New("remotetest: no response scripted for this command")

// Response is what Fake returns for a matching command.
type Response struct {
	Stdout   string
	Stderr   string
	ExitCode int
	// Err, when set, is the cause of a failure that is not an exit status
	// (a dial or host key error); the Result's ExitCode is then -1 unless
	// ExitCode says otherwise.
	Err error
	// Delay is how long the command "runs". If ctx ends first, the Result
	// is the one the real executors give: ExitCode -1 and an Err wrapping
	// the context's error.
	Delay time.Duration
}

type rule struct {
	host      string
	argv      []string // for Argv commands
	script    *string  // for Script commands
	responses []Response
	calls     int
}

// Fake is a remote.Executor scripted by host and argv, or by host and
// script text. Rules are registered with OnArgv and OnScript (or OnFunc);
// registering the same key again queues another response: the n-th matching
// call gets the n-th response, and the last one repeats. A command no rule
// matches gets a failing Result (ExitCode -1, Err wrapping ErrUnscripted)
// that names the command. Fake records every command it receives. It is safe
// for concurrent use; the zero value is ready to use.
type Fake struct {
	mu    sync.Mutex
	rules []*rule
	funcs []func(remote.Command) (Response, bool)
	calls []remote.Command
}

// OnArgv scripts r for Argv commands on host (or AnyHost) with exactly argv.
func (f *Fake) OnArgv(host string, argv []string, r Response) {
	f.add(&rule{host: host, argv: slices.Clone(argv)}, r)
}

// OnScript scripts r for Script commands on host (or AnyHost) whose script
// text is exactly script, whatever their Args.
func (f *Fake) OnScript(host, script string, r Response) {
	f.add(&rule{host: host, script: &script}, r)
}

// OnFunc adds a dynamic rule, consulted in order after the fixed rules:
// the first fn that returns true gives the response.
func (f *Fake) OnFunc(fn func(remote.Command) (Response, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.funcs = append(f.funcs, fn)
}

func (f *Fake) add(n *rule, r Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, old := range f.rules {
		if old.host == n.host && slices.Equal(old.argv, n.argv) && equalScript(old.script, n.script) {
			old.responses = append(old.responses, r)
			return
		}
	}
	n.responses = []Response{r}
	f.rules = append(f.rules, n)
}

func equalScript(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// Calls returns every command received so far, in arrival order (which,
// under a concurrent Runner, is not deterministic: see SortedCalls).
func (f *Fake) Calls() []remote.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// SortedCalls returns every command received so far sorted by host, then by
// remote.CommandLine, then by label: a deterministic order for assertions on
// concurrent runs.
func (f *Fake) SortedCalls() []remote.Command {
	calls := f.Calls()
	slices.SortStableFunc(calls, func(a, b remote.Command) int {
		return cmp.Or(
			strings.Compare(a.Host, b.Host),
			strings.Compare(remote.CommandLine(a), remote.CommandLine(b)),
			strings.Compare(a.Label, b.Label))
	})
	return calls
}

// Exec records c and returns the scripted Result; see remote.Executor.
func (f *Fake) Exec(ctx context.Context, c remote.Command) remote.Result {
	start := time.Now()
	r, ok := f.match(c)
	res := remote.Result{Command: c}
	if !ok {
		res.ExitCode = -1
		res.Err = hostError(c, -1, "", fmt.Errorf("%w: host %q, %s", ErrUnscripted, c.Host, describe(c)))
		return res
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	if r.Delay > 0 {
		t := time.NewTimer(r.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		res.ExitCode = -1
		res.Err = hostError(c, -1, "", fmt.Errorf("killed: %w", err))
		res.Duration = time.Since(start)
		return res
	}
	if c.OnLine != nil {
		emit(c.OnLine, remote.Stdout, r.Stdout)
		emit(c.OnLine, remote.Stderr, r.Stderr)
	}
	res.Stdout, res.Stderr, res.ExitCode = r.Stdout, r.Stderr, r.ExitCode
	switch {
	case r.Err != nil:
		if res.ExitCode == 0 {
			res.ExitCode = -1
		}
		res.Err = hostError(c, res.ExitCode, r.Stderr, r.Err)
	case r.ExitCode != 0:
		res.Err = hostError(c, r.ExitCode, r.Stderr, &remote.ExitError{Code: r.ExitCode})
	}
	res.Duration = time.Since(start)
	return res
}

// match records c and finds its response.
func (f *Fake) match(c remote.Command) (Response, bool) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	for _, host := range []string{c.Host, AnyHost} {
		for _, r := range f.rules {
			if r.host != host || !matches(r, c) {
				continue
			}
			resp := r.responses[min(r.calls, len(r.responses)-1)]
			r.calls++
			f.mu.Unlock()
			return resp, true
		}
	}
	funcs := slices.Clone(f.funcs)
	f.mu.Unlock()
	for _, fn := range funcs {
		if resp, ok := fn(c); ok {
			return resp, true
		}
	}
	return Response{}, false
}

func matches(r *rule, c remote.Command) bool {
	if r.script != nil {
		return len(c.Argv) == 0 && c.Script == *r.script
	}
	return c.Script == "" && slices.Equal(r.argv, c.Argv)
}

func emit(onLine func(remote.Line), s remote.Stream, text string) {
	if text == "" {
		return
	}
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		onLine(remote.Line{Stream: s, Text: l})
	}
}

func describe(c remote.Command) string {
	if c.Script != "" {
		first, _, _ := strings.Cut(strings.TrimSpace(c.Script), "\n")
		return fmt.Sprintf("script %q (first line) with args %q", first, c.Args)
	}
	return fmt.Sprintf("argv %q", c.Argv)
}

func hostError(c remote.Command, code int, stderr string, err error) *remote.HostError {
	return &remote.HostError{
		Host: c.Host, Label: c.Label, Cmd: remote.CommandLine(c),
		ExitCode: code, Stderr: remote.StderrTail(stderr), Err: err,
	}
}
