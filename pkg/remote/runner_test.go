package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// execFunc adapts a function to Executor.
type execFunc func(context.Context, Command) Result

func (f execFunc) Exec(ctx context.Context, c Command) Result { return f(ctx, c) }

func cmds(n int) []Command {
	cs := make([]Command, n)
	for i := range cs {
		cs[i] = Command{Host: fmt.Sprintf("sdw%d", i%4+1), Argv: []string{"echo", fmt.Sprint(i)}, Label: fmt.Sprintf("job %d", i)}
	}
	return cs
}

func TestRunnerKeepsOrder(t *testing.T) {
	const n = 40
	ex := execFunc(func(_ context.Context, c Command) Result {
		var i int
		fmt.Sscan(c.Argv[1], &i)
		time.Sleep(time.Duration(n-i) * time.Millisecond / 4) // later ones finish first
		return Result{Command: c, Stdout: c.Label}
	})
	res := Runner{Exec: ex, Limit: 8}.Run(t.Context(), cmds(n))
	var got, want []string
	for i, r := range res {
		got = append(got, r.Stdout)
		want = append(want, fmt.Sprintf("job %d", i))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("results not index-aligned (-want +got):\n%s", d)
	}
}

// TestRunnerLimit proves that exactly Limit commands run at once: every
// command waits until Limit of them run together (so a runner with less
// concurrency times out), and the maximum seen never passes Limit.
func TestRunnerLimit(t *testing.T) {
	for _, limit := range []int{1, 3, 7, 16, 33} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			var (
				mu       sync.Mutex
				cur, max int
				gate     = make(chan struct{})
				once     sync.Once
			)
			ex := execFunc(func(_ context.Context, c Command) Result {
				mu.Lock()
				cur++
				if cur > max {
					max = cur
				}
				if cur == limit {
					once.Do(func() { close(gate) })
				}
				mu.Unlock()
				select {
				case <-gate:
				case <-time.After(5 * time.Second):
					return Result{Command: c, ExitCode: -1, Err: errors.New("limit never reached")}
				}
				time.Sleep(time.Millisecond)
				mu.Lock()
				cur--
				mu.Unlock()
				return Result{Command: c}
			})
			res := Runner{Exec: ex, Limit: limit}.Run(t.Context(), cmds(3*limit+5))
			if err := Failures(res); err != nil {
				t.Fatal(err)
			}
			if max != limit {
				t.Fatalf("max concurrency %d, want %d", max, limit)
			}
			t.Logf("limit %d: max concurrent %d over %d commands", limit, max, len(res))
		})
	}
}

func TestRunnerKeepsAllFailures(t *testing.T) {
	ex := execFunc(func(_ context.Context, c Command) Result {
		var i int
		fmt.Sscan(c.Argv[1], &i)
		if i%3 == 0 {
			return Result{Command: c, ExitCode: 1, Stderr: "boom " + c.Argv[1], Err: failure(c, 1, "boom "+c.Argv[1], nil)}
		}
		if i == 4 { // an executor that forgets Err
			return Result{Command: c, ExitCode: 2, Stderr: "no err"}
		}
		return Result{Command: c}
	})
	res := Runner{Exec: ex, Limit: 3}.Run(t.Context(), cmds(10))
	err := Failures(res)
	var hosts []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var he *HostError
		if !errors.As(e, &he) {
			t.Fatalf("not a HostError: %v", e)
		}
		hosts = append(hosts, he.Label+"="+fmt.Sprint(he.ExitCode))
	}
	want := []string{"job 0=1", "job 3=1", "job 4=2", "job 6=1", "job 9=1"}
	if d := cmp.Diff(want, hosts); d != "" {
		t.Fatalf("failures (-want +got):\n%s", d)
	}
	if !strings.Contains(err.Error(), "sdw2: job 9: echo 9: exit status 1\n    stderr: boom 9") {
		t.Fatalf("message lacks host, label, command or stderr:\n%v", err)
	}
	if Failures(res[1:3]) != nil {
		t.Fatal("Failures of successes is not nil")
	}
}

func TestRunnerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var started atomic.Int32
	ex := execFunc(func(ctx context.Context, c Command) Result {
		if started.Add(1) == 2 {
			cancel()
		}
		<-ctx.Done()
		return Result{Command: c, ExitCode: -1, Err: failure(c, -1, "", ctx.Err())}
	})
	res := Runner{Exec: ex, Limit: 2}.Run(ctx, cmds(10))
	if n := started.Load(); n != 2 {
		t.Fatalf("%d commands started after cancel, want 2", n)
	}
	for i, r := range res {
		if r.ExitCode != -1 || !errors.Is(r.Err, context.Canceled) || r.Command.Label != fmt.Sprintf("job %d", i) {
			t.Fatalf("result %d: exit %d err %v", i, r.ExitCode, r.Err)
		}
	}
	if !strings.Contains(res[9].Err.Error(), "not started: context canceled") {
		t.Fatalf("unstarted command error: %v", res[9].Err)
	}
}

func TestRunnerInvalid(t *testing.T) {
	called := false
	ex := execFunc(func(_ context.Context, c Command) Result { called = true; return Result{Command: c} })
	for _, r := range []Runner{{Exec: ex, Limit: 0}, {Exec: ex, Limit: -1}, {Limit: 4}} {
		if r.Validate() == nil {
			t.Fatalf("%+v: Validate passed", r)
		}
		res := r.Run(t.Context(), cmds(3))
		if len(res) != 3 || res[2].ExitCode != -1 || res[2].Err == nil || res[2].Command.Label != "job 2" {
			t.Fatalf("invalid runner result: %+v", res[2])
		}
	}
	if called {
		t.Fatal("invalid runner ran a command")
	}
}

// BenchmarkRunnerOverhead measures the runner's own cost per command with an
// executor that does nothing.
func BenchmarkRunnerOverhead(b *testing.B) {
	ex := execFunc(func(_ context.Context, c Command) Result { return Result{Command: c} })
	cs := cmds(200)
	r := Runner{Exec: ex, Limit: DefaultLimit}
	b.ReportAllocs()
	for b.Loop() {
		r.Run(b.Context(), cs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cs)), "ns/command")
}

// TestRunnerPerHost: with PerHost, at most Limit hosts run at once and at
// most PerHost commands of one host; both bounds are reached; results stay
// index-aligned and OnDone sees every command once.
func TestRunnerPerHost(t *testing.T) {
	const limit, perHost = 2, 3
	var (
		mu       sync.Mutex
		byHost   = map[string]int{}
		maxHosts int
		maxOne   int
		done     atomic.Int32
	)
	ex := execFunc(func(_ context.Context, c Command) Result {
		mu.Lock()
		byHost[c.Host]++
		hosts := 0
		for _, n := range byHost {
			if n > 0 {
				hosts++
			}
		}
		maxHosts = max(maxHosts, hosts)
		maxOne = max(maxOne, byHost[c.Host])
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		byHost[c.Host]--
		mu.Unlock()
		return Result{Command: c, Stdout: c.Label}
	})
	cs := cmds(24) // 4 hosts, 6 commands each
	res := Runner{Exec: ex, Limit: limit, PerHost: perHost, OnDone: func(int, Result) { done.Add(1) }}.Run(t.Context(), cs)
	for i, r := range res {
		if r.Stdout != cs[i].Label {
			t.Fatalf("result %d is %q, want %q", i, r.Stdout, cs[i].Label)
		}
	}
	if maxHosts != limit || maxOne != perHost {
		t.Errorf("at most %d hosts and %d commands of one host ran at once, want %d and %d", maxHosts, maxOne, limit, perHost)
	}
	if done.Load() != int32(len(cs)) {
		t.Errorf("OnDone called %d times for %d commands", done.Load(), len(cs))
	}
}
