// Package apptest builds app.Env values for other packages' tests: a fixed
// clock, pid, host and user, so log lines are deterministic, and buffers in
// place of the console.
package apptest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// At is the fixed clock of Env: log lines start "20261123:18:54:19:016262".
var At = time.Date(2026, 11, 23, 18, 54, 19, 0, time.UTC)

// Env returns an Env for prog with args, empty standard input, no
// environment variables, a temporary home directory, and the returned
// buffers as stdout and stderr. Log lines read
// "20261123:18:54:19:016262 <prog>:mdw:gpadmin-[LEVEL]:-msg".
func Env(t testing.TB, prog string, args ...string) (env *app.Env, stdout, stderr *bytes.Buffer) {
	t.Helper()
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	return &app.Env{
		Prog:     prog,
		Args:     args,
		Version:  "1.2.3",
		In:       strings.NewReader(""),
		Out:      stdout,
		Err:      stderr,
		Now:      func() time.Time { return At },
		Start:    At,
		Getenv:   func(string) string { return "" },
		Hostname: "mdw.example.com",
		User:     "gpadmin",
		PID:      16262,
		Home:     t.TempDir(),
	}, stdout, stderr
}
