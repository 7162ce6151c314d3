package remotetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

func TestFake(t *testing.T) {
	var f Fake
	f.OnArgv("sdw1", []string{"pg_ctl", "status"}, Response{Stdout: "running\n"})
	f.OnArgv("sdw1", []string{"pg_ctl", "status"}, Response{ExitCode: 3, Stderr: "no server running"})
	f.OnArgv(AnyHost, []string{"hostname"}, Response{Stdout: "any\n"})
	f.OnScript("sdw2", "echo $1", Response{Stdout: "scripted\n"})
	dialErr := errors.New("dial tcp: connection refused")
	f.OnArgv("sdw3", []string{"true"}, Response{Err: dialErr})

	cmds := []remote.Command{
		{Host: "sdw1", Argv: []string{"pg_ctl", "status"}},
		{Host: "sdw1", Argv: []string{"pg_ctl", "status"}},
		{Host: "sdw1", Argv: []string{"pg_ctl", "status"}},
		{Host: "sdw9", Argv: []string{"hostname"}},
		{Host: "sdw2", Script: "echo $1", Args: []string{"x"}},
		{Host: "sdw3", Argv: []string{"true"}},
		{Host: "sdw4", Argv: []string{"rm", "-rf", "/"}},
	}
	res := remote.Runner{Exec: &f, Limit: 1}.Run(t.Context(), cmds)
	type row struct {
		Out  string
		Code int
		Err  bool
	}
	var got []row
	for _, r := range res {
		got = append(got, row{r.Stdout, r.ExitCode, r.Err != nil})
	}
	want := []row{{"running\n", 0, false}, {"", 3, true}, {"", 3, true}, {"any\n", 0, false}, {"scripted\n", 0, false}, {"", -1, true}, {"", -1, true}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if !errors.Is(res[5].Err, dialErr) || !errors.Is(res[6].Err, ErrUnscripted) {
		t.Fatalf("errors: %v / %v", res[5].Err, res[6].Err)
	}
	var he *remote.HostError
	if !errors.As(res[1].Err, &he) || he.Stderr != "no server running" || he.ExitCode != 3 {
		t.Fatalf("exit failure: %#v", res[1].Err)
	}
	if d := cmp.Diff(cmds, f.Calls(), cmpopts.IgnoreFields(remote.Command{}, "OnLine")); d != "" {
		t.Fatalf("calls (-want +got):\n%s", d)
	}
	if s := f.SortedCalls(); s[0].Host != "sdw1" || s[len(s)-1].Host != "sdw9" {
		t.Fatalf("sorted calls: %v", s)
	}
}

func TestFakeDelayAndLines(t *testing.T) {
	var f Fake
	f.OnFunc(func(c remote.Command) (Response, bool) {
		return Response{Stdout: "a\nb\n", Delay: time.Second}, c.Host == "slow"
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	r := f.Exec(ctx, remote.Command{Host: "slow", Argv: []string{"x"}})
	if r.ExitCode != -1 || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("delay not cut by ctx: %+v", r)
	}
	f.OnArgv("fast", []string{"x"}, Response{Stdout: "a\nb\n"})
	var lines []remote.Line
	f.Exec(t.Context(), remote.Command{Host: "fast", Argv: []string{"x"}, OnLine: func(l remote.Line) { lines = append(lines, l) }})
	if d := cmp.Diff([]remote.Line{{Stream: remote.Stdout, Text: "a"}, {Stream: remote.Stdout, Text: "b"}}, lines); d != "" {
		t.Fatal(d)
	}
}
