package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// toolOptions is a tool's Options as the tools write them: the common
// options embedded, plus a check of its own.
type toolOptions struct {
	app.CommonOptions
	invalid bool
}

func (o *toolOptions) Validate() error {
	if o.invalid {
		return app.Errorf("the tool's own check failed")
	}
	return o.CommonOptions.Validate()
}

func TestNewCommandRunF(t *testing.T) {
	env, stdout, _ := testEnv(t)
	var got *toolOptions
	cmd := app.NewCommand(env, app.ToolSpec{Use: "gptest [options]"}, &toolOptions{},
		func(o *toolOptions) error { got = o; return nil },
		func(context.Context, *toolOptions) error { t.Error("run called although runF was given"); return nil })
	cmd.SetArgs([]string{"-a", "extra"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || !got.NonInteractive || !cmp.Equal(got.Args, []string{"extra"}) {
		t.Errorf("runF got %+v; want -a and the positional argument collected", got)
	}
	if stdout.Len() != 0 {
		t.Errorf("runF runs before logging is set up, but stdout has %q", stdout)
	}
}

func TestNewCommandOrder(t *testing.T) {
	tests := []struct {
		name     string
		opts     *toolOptions
		args     []string
		wantRun  bool
		wantCode int
		wantOut  string
	}{
		{
			name: "logging, then run", opts: &toolOptions{}, args: []string{"-a"},
			wantRun: true, wantCode: 0,
			wantOut: prefix + "[INFO]:-Starting gptest with args: -a\n",
		},
		{
			name: "the tool's Validate stops it before run", opts: &toolOptions{invalid: true}, args: []string{"-a"},
			wantCode: 2,
			wantOut: prefix + "[INFO]:-Starting gptest with args: -a\n" +
				prefix + "[ERROR]:-gptest error: the tool's own check failed\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, stdout, _ := testEnv(t, tt.args...)
			ran := false
			cmd := app.NewCommand(env, app.ToolSpec{Use: "gptest [options]"}, tt.opts, nil,
				func(ctx context.Context, o *toolOptions) error {
					ran = true
					if ctx == nil || errors.Is(ctx.Err(), context.Canceled) {
						t.Error("run got no live context")
					}
					return nil
				})
			code := app.Main(cmd, env)
			if code != tt.wantCode || ran != tt.wantRun {
				t.Errorf("exit %d, ran %v; want %d, %v", code, ran, tt.wantCode, tt.wantRun)
			}
			if d := cmp.Diff(tt.wantOut, stdout.String()); d != "" {
				t.Errorf("stdout (-want +got):\n%s", d)
			}
		})
	}
}
