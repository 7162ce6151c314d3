package app_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

const question = "Continue with segment recovery procedure"

// ask is the prompt Confirm prints for question.
const ask = "\n" + question + " Yy|Nn (default=N):\n> "

func TestConfirm(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		background string
		want       bool
		wantOut    string
	}{
		{"empty line is the default, no", "\n", "", false, ask},
		{"y", "y\n", "", true, ask},
		{"Y", "Y\n", "", true, ask},
		{"yes with trailing whitespace", "yes \t\n", "", true, ask},
		{"YeS", "YeS\n", "", true, ask},
		{"n", "n\n", "", false, ask},
		{"NO", "NO\n", "", false, ask},
		{"CRLF", "y\r\n", "", true, ask},
		{"last line without newline", "y", "", true, ask},
		{"invalid then yes", "maybe\ny\n", "", true, ask + "Invalid input: 'maybe'\n\n" + ask},
		{"two invalid then default", "yess\n q\n\n", "", false,
			ask + "Invalid input: 'yess'\n\n" + ask + "Invalid input: ' q'\n\n" + ask},
		{"end of input is no", "", "", false, ask + "\n"},
		{"invalid then end of input", "x\n", "", false, ask + "Invalid input: 'x'\n\n" + ask + "\n"},
		{"background first", "y\n", "The following segments will be recovered:", true,
			"The following segments will be recovered:\n" + ask},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, stdout, _ := testEnv(t)
			env.In = strings.NewReader(tt.input)
			got, err := app.Confirm(t.Context(), env, question, tt.background)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Confirm = %v, want %v", got, tt.want)
			}
			if d := cmp.Diff(tt.wantOut, stdout.String()); d != "" {
				t.Errorf("output (-want +got):\n%s", d)
			}
		})
	}
}

// TestConfirmReadsOnlyItsLine checks that a prompt leaves the rest of the
// input for the next one.
func TestConfirmReadsOnlyItsLine(t *testing.T) {
	env, _, _ := testEnv(t)
	env.In = strings.NewReader("n\nyes\n")
	var got []bool
	for range 2 {
		ok, err := app.Confirm(t.Context(), env, question, "")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if d := cmp.Diff([]bool{false, true}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestConfirmInterrupted(t *testing.T) {
	env, _, _ := testEnv(t)
	r, w := io.Pipe() // never written: the user does not answer
	defer w.Close()
	env.In = r
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := app.Confirm(ctx, env, question, "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Confirm error = %v, want context.Canceled", err)
	}
}

// TestMainInterruptAtPrompt sends a real SIGINT to the test process while
// a tool waits at a prompt: Main's signal context cancels it and the tool
// exits 2.
func TestMainInterruptAtPrompt(t *testing.T) {
	env, stdout, _ := testEnv(t)
	r, w := io.Pipe()
	defer w.Close()
	env.In = r
	cmd := newTestCommand(env, app.RejectWithHelp, func(ctx context.Context, env *app.Env) error {
		// Main has diverted SIGINT to ctx before the tool runs.
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
			return err
		}
		ok, err := app.Confirm(ctx, env, question, "")
		if err != nil {
			return err
		}
		if !ok {
			return app.ErrUserAbort
		}
		return nil
	})
	code := app.Main(cmd, env)
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	want := starting + "\n" + ask + "\n" + prefix + "[ERROR]:-gptest error: interrupt signal received, exiting...\n"
	if d := cmp.Diff(want, stdout.String()); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
}

func TestMainUserDeclines(t *testing.T) {
	env, stdout, _ := testEnv(t, "-v")
	env.In = strings.NewReader("n\n")
	cmd := newTestCommand(env, app.RejectWithHelp, func(ctx context.Context, env *app.Env) error {
		ok, err := app.Confirm(ctx, env, question, "")
		if err != nil {
			return err
		}
		if !ok {
			return app.ErrUserAbort
		}
		return nil
	})
	if code := app.Main(cmd, env); code != 4 {
		t.Errorf("exit code %d, want 4", code)
	}
	want := starting + "-v\n" + ask + prefix + "[INFO]:-User abort requested, Exiting...\n"
	if d := cmp.Diff(want, stdout.String()); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
	// The prompt is verbatim output: it is not in the log file.
	if got := logFile(t, env.Home+"/gpAdminLogs"); strings.Contains(got, "Yy|Nn") {
		t.Errorf("prompt reached the log file:\n%s", got)
	}
}
