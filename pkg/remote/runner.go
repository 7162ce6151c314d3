package remote

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// DefaultLimit is the default number of commands a Runner runs at once,
// matching Greenplum's gp.DEFAULT_MASTER_NUM_WORKERS (-B).
const DefaultLimit = 16

// Runner runs many Commands through one Executor, at most Limit at a time,
// and keeps every Result.
type Runner struct {
	Exec Executor
	// Limit caps the commands running at once, or, with PerHost set, the
	// hosts. Any positive value is valid; each tool validates its own
	// range (-B, -b). A Runner with Limit < 1 is a programming error:
	// Validate reports it and Run fails every command with it instead of
	// running anything.
	Limit int
	// PerHost, when positive, caps the commands of one host running at
	// once (-b), Limit then capping the hosts (-B): Greenplum's
	// coordinator pool of -B hosts, each running -b segments.
	PerHost int
	// OnDone, when set, is called as each command ends, with its index
	// and Result, before Run returns (for progress displays).
	OnDone func(i int, r Result)
}

// Validate reports a Runner that cannot run anything: no Executor, or a
// Limit below 1.
func (r Runner) Validate() error {
	if r.Exec == nil {
		return errors.New("remote runner: no executor")
	}
	if r.Limit < 1 {
		return fmt.Errorf("remote runner: limit %d is not positive", r.Limit)
	}
	return nil
}

// Run runs cmds, at most r.Limit at a time (with PerHost: r.Limit hosts,
// r.PerHost commands each), and returns one Result per Command in the same
// order, whatever order they finish in. A failed command never stops the
// others; only ctx does: once ctx is done, commands that have not started
// yet are not started and get ExitCode -1 and an Err wrapping ctx.Err(),
// while running ones end as their Executor decides (the SSH and local
// executors kill them). If r is not valid (see Validate), every Result
// carries that error and nothing runs.
func (r Runner) Run(ctx context.Context, cmds []Command) []Result {
	res := make([]Result, len(cmds))
	if err := r.Validate(); err != nil {
		for i, c := range cmds {
			res[i] = Result{Command: c, ExitCode: -1, Err: failure(c, -1, "", err)}
		}
		return res
	}
	one := func(i int) {
		c := cmds[i]
		if err := ctx.Err(); err != nil {
			res[i] = notStarted(c, err)
		} else {
			res[i] = r.Exec.Exec(ctx, c)
		}
		if r.OnDone != nil {
			r.OnDone(i, res[i])
		}
	}
	var g errgroup.Group
	g.SetLimit(r.Limit)
	if r.PerHost < 1 {
		for i := range cmds {
			g.Go(func() error { one(i); return nil })
		}
		_ = g.Wait() // the goroutines never return errors
		return res
	}
	var hosts []string
	byHost := map[string][]int{}
	for i, c := range cmds {
		if _, seen := byHost[c.Host]; !seen {
			hosts = append(hosts, c.Host)
		}
		byHost[c.Host] = append(byHost[c.Host], i)
	}
	for _, h := range hosts {
		g.Go(func() error {
			var hg errgroup.Group
			hg.SetLimit(r.PerHost)
			for _, i := range byHost[h] {
				hg.Go(func() error { one(i); return nil })
			}
			return hg.Wait()
		})
	}
	_ = g.Wait()
	return res
}

func notStarted(c Command, err error) Result {
	return Result{Command: c, ExitCode: -1, Err: failure(c, -1, "", fmt.Errorf("not started: %w", err))}
}

// Failures returns the errors.Join of one *HostError per Result that is not
// OK, in the order of rs, or nil if every command succeeded. A failed Result
// whose Err is not a *HostError (or is nil, with a non-zero exit code) gets
// one built from the Result.
func Failures(rs []Result) error {
	var errs []error
	for _, r := range rs {
		if r.OK() {
			continue
		}
		var he *HostError
		if errors.As(r.Err, &he) {
			errs = append(errs, he)
			continue
		}
		errs = append(errs, failure(r.Command, r.ExitCode, r.Stderr, r.Err))
	}
	return errors.Join(errs...)
}
