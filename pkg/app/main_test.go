package app_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

const starting = prefix + "[INFO]:-Starting gptest with args: "

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		run        func(ctx context.Context, env *app.Env) error
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "success",
			run:        func(context.Context, *app.Env) error { return nil },
			wantCode:   0,
			wantStdout: starting + "\n", // trailing space when there are no args
		},
		{
			name:       "args are logged as typed",
			args:       []string{"-av", "-d", "/data/qddir/demoDataDir-1"},
			run:        func(context.Context, *app.Env) error { return nil },
			wantCode:   0,
			wantStdout: starting + "-av -d /data/qddir/demoDataDir-1\n",
		},
		{
			name:       "completed with failures",
			run:        func(context.Context, *app.Env) error { return &app.ExitError{Code: app.ExitFailures} },
			wantCode:   1,
			wantStdout: starting + "\n",
		},
		{
			name: "exit code chosen by the tool with an error",
			run: func(context.Context, *app.Env) error {
				return &app.ExitError{Code: 3, Err: app.Errorf("health check failed")}
			},
			wantCode:   3,
			wantStdout: starting + "\n" + prefix + "[ERROR]:-gptest error: health check failed\n",
		},
		{
			name:       "expected error",
			run:        func(context.Context, *app.Env) error { return app.Errorf("coordinator %s is down", "mdw") },
			wantCode:   2,
			wantStdout: starting + "\n" + prefix + "[ERROR]:-gptest error: coordinator mdw is down\n",
		},
		{
			name:       "expected error with empty message keeps the trailing space",
			run:        func(context.Context, *app.Env) error { return app.Errorf("") },
			wantCode:   2,
			wantStdout: starting + "\n" + prefix + "[ERROR]:-gptest error: \n",
		},
		{
			name:       "user abort",
			run:        func(context.Context, *app.Env) error { return fmt.Errorf("confirm recovery: %w", app.ErrUserAbort) },
			wantCode:   4,
			wantStdout: starting + "\n" + prefix + "[INFO]:-User abort requested, Exiting...\n",
		},
		{
			name: "hint",
			run: func(context.Context, *app.Env) error {
				return &app.HintError{Err: app.Errorf("content 3 cannot be recovered incrementally"), Hint: "run 'gprecoverseg -F' to do a full recovery of content 3"}
			},
			wantCode: 2,
			wantStdout: starting + "\n" +
				prefix + "[ERROR]:-gptest error: content 3 cannot be recovered incrementally\n" +
				prefix + "[ERROR]:-Hint: run 'gprecoverseg -F' to do a full recovery of content 3\n",
		},
		{
			name: "unexpected error",
			run: func(context.Context, *app.Env) error {
				return fmt.Errorf("load segments: %w", errors.New("connection refused"))
			},
			wantCode:   2,
			wantStdout: starting + "\n" + prefix + "[CRITICAL]:-gptest failed. (Reason='load segments: connection refused') exiting...\n",
		},
		{
			name:       "panic",
			run:        func(context.Context, *app.Env) error { panic("kaboom") },
			wantCode:   2,
			wantStdout: starting + "\n" + prefix + "[CRITICAL]:-gptest failed. (Reason='kaboom') exiting...\n",
		},
		{
			name:       "cancelled context",
			run:        func(context.Context, *app.Env) error { return fmt.Errorf("start segments: %w", context.Canceled) },
			wantCode:   2,
			wantStdout: starting + "\n" + prefix + "[ERROR]:-gptest error: interrupted, exiting...\n",
		},
		{
			name:       "quiet hides INFO on the console but not errors",
			args:       []string{"-q"},
			run:        func(context.Context, *app.Env) error { return app.Errorf("coordinator is down") },
			wantCode:   2,
			wantStdout: prefix + "[ERROR]:-gptest error: coordinator is down\n",
		},
		{
			name:       "unknown short option in a bundle",
			args:       []string{"-avx"},
			wantCode:   2,
			wantStderr: "Usage: gptest [options]\n\ngptest: error: no such option: -x\n",
		},
		{
			name:       "unknown long option",
			args:       []string{"--bogus"},
			wantCode:   2,
			wantStderr: "Usage: gptest [options]\n\ngptest: error: no such option: --bogus\n",
		},
		{
			name:       "missing option value",
			args:       []string{"-a", "-l"},
			wantCode:   2,
			wantStderr: "Usage: gptest [options]\n\ngptest: error: -l option requires an argument\n",
		},
		{
			name:       "value given to a flag without one",
			args:       []string{"--verbose=maybe"},
			wantCode:   2,
			wantStderr: "Usage: gptest [options]\n\ngptest: error: --verbose option does not take a value\n",
		},
		{
			name:       "version",
			args:       []string{"--version"},
			wantCode:   0,
			wantStdout: "gptest version gpmgmt 1.2.3\n",
		},
		{
			name:     "log directory that cannot be created",
			args:     []string{"-l", "/nonexistent-parent/logs"},
			run:      func(context.Context, *app.Env) error { t.Fatal("tool ran without a log file"); return nil },
			wantCode: 2,
			wantStdout: prefix + "[ERROR]:-gptest error: cannot create log directory /nonexistent-parent/logs: " +
				"parent directory /nonexistent-parent does not exist\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, stdout, stderr := testEnv(t, tt.args...)
			run := tt.run
			if run == nil {
				run = func(context.Context, *app.Env) error { t.Fatal("tool ran"); return nil }
			}
			code := app.Main(newTestCommand(env, app.RejectWithHelp, run), env)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			if d := cmp.Diff(tt.wantStdout, stdout.String()); d != "" {
				t.Errorf("stdout (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantStderr, stderr.String()); d != "" {
				t.Errorf("stderr (-want +got):\n%s", d)
			}
		})
	}
}

func TestMainLogFile(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantFile string
	}{
		{
			name:     "default",
			wantFile: starting + "\n" + prefix + "[ERROR]:-gptest error: coordinator is down\n",
		},
		{
			name:     "quiet does not affect the file",
			args:     []string{"-q"},
			wantFile: starting + "-q\n" + prefix + "[ERROR]:-gptest error: coordinator is down\n",
		},
		{
			name: "verbose adds DEBUG",
			args: []string{"-v"},
			wantFile: starting + "-v\n" + prefix + "[DEBUG]:-looking for the coordinator\n" +
				prefix + "[ERROR]:-gptest error: coordinator is down\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := testEnv(t, tt.args...)
			app.Main(newTestCommand(env, app.RejectWithHelp, func(_ context.Context, env *app.Env) error {
				env.Log.Debug("looking for the coordinator")
				return app.Errorf("coordinator is down")
			}), env)
			got := logFile(t, filepath.Join(env.Home, "gpAdminLogs"))
			if d := cmp.Diff(tt.wantFile, got); d != "" {
				t.Errorf("log file (-want +got):\n%s", d)
			}
		})
	}
}

func TestMainLogDirFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs") // missing: created with one mkdir
	for range 2 {                             // the second run appends
		env, _, _ := testEnv(t, "-l", dir)
		if code := app.Main(newTestCommand(env, app.RejectWithHelp, func(context.Context, *app.Env) error { return nil }), env); code != 0 {
			t.Fatalf("exit code %d", code)
		}
	}
	want := strings.Repeat(starting+"-l "+dir+"\n", 2)
	if d := cmp.Diff(want, logFile(t, dir)); d != "" {
		t.Errorf("log file (-want +got):\n%s", d)
	}
}

func TestMainPanicStackOnlyWithVerbose(t *testing.T) {
	env, stdout, _ := testEnv(t, "-v")
	code := app.Main(newTestCommand(env, app.RejectWithHelp, func(context.Context, *app.Env) error { panic("kaboom") }), env)
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	out := stdout.String()
	if !strings.Contains(out, prefix+"[DEBUG]:-panic: kaboom\ngoroutine ") {
		t.Errorf("no DEBUG stack trace with -v:\n%s", out)
	}
	if !strings.HasSuffix(out, prefix+"[CRITICAL]:-gptest failed. (Reason='kaboom') exiting...\n") {
		t.Errorf("CRITICAL line missing or not last:\n%s", out)
	}
}

// TestProcessCountChecked (review finding 3): GP_MGMT_PROCESS_COUNT is
// read and range-checked before a tool runs: 0, negative, too large and
// non-numeric values are refused with exit 2 and the tool's Run is never
// called; a valid value reaches the options.
func TestProcessCountChecked(t *testing.T) {
	for _, tt := range []struct {
		value string
		code  int
		want  int
	}{
		{"0", app.ExitFatal, 0}, {"-3", app.ExitFatal, 0}, {"129", app.ExitFatal, 0}, {"many", app.ExitFatal, 0},
		{"", app.ExitOK, 0}, {"8", app.ExitOK, 8}, {" 128 ", app.ExitOK, 128},
	} {
		t.Run(tt.value, func(t *testing.T) {
			env, out, _ := testEnv(t)
			env.Getenv = func(k string) string {
				if k == app.ProcessCountEnv {
					return tt.value
				}
				return ""
			}
			ran, got := false, 0
			opts := &app.CommonOptions{}
			cmd := app.NewCommand(env, app.ToolSpec{Use: "gptest [options]"}, opts, nil, func(context.Context, *app.CommonOptions) error {
				ran, got = true, opts.ProcessCount
				return nil
			})
			if code := app.Main(cmd, env); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, out)
			}
			if ran != (tt.code == app.ExitOK) || got != tt.want {
				t.Errorf("ran %t with ProcessCount %d, want ran %t with %d", ran, got, tt.code == app.ExitOK, tt.want)
			}
			if tt.code != app.ExitOK && !strings.Contains(out.String(), "GP_MGMT_PROCESS_COUNT="+tt.value+" is not a number of parallel processes") {
				t.Errorf("output lacks the reason:\n%s", out)
			}
		})
	}
}
