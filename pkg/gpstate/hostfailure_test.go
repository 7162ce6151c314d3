package gpstate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// TestHostFailureReason: when a segment host's key changed, gpstate says
// so at WARNING after Greenplum's "Error getting status from host" line,
// with the known_hosts line and the command that fixes it, on screen and
// in the log file; --json's error and --health's UNREACHABLE line carry
// the same reason.
func TestHostFailureReason(t *testing.T) {
	keyErr := &remote.SSHError{Host: "sdw2", Addr: "10.0.0.2:22", Reason: remote.ReasonHostKeyChanged, Err: changedKey}
	reason := "HOST KEY CHANGED for sdw2 (10.0.0.2:22): the server offered ssh-ed25519 SHA256:Pc0kGSQlmrLfBD2XU2XqfLW8AxHfyGyZJwtdE4l6Fw0, " +
		"which differs from the key in ~/.ssh/known_hosts:12; this is a possible man-in-the-middle attack, or the host was reinstalled: " +
		"if the change is expected, remove the old line with: ssh-keygen -R sdw2 -f ~/.ssh/known_hosts"
	rig := func(t *testing.T) *healthRig {
		f := hostUnreachable()
		r := newHealthRig(t, f)
		c := mustCluster(t, f.segs)
		r.ssh = &remotetest.Fake{}
		for _, h := range c.AllHosts() {
			resp := remotetest.Response{Stdout: healthScriptOutput(c, f.obs, h)}
			if h == "sdw2" {
				resp = remotetest.Response{Err: keyErr}
			}
			r.ssh.OnScript(h, statusScript, resp)
		}
		return r
	}

	t.Run("screen and log", func(t *testing.T) {
		r := rig(t)
		if err := r.env.SetupLogging(&app.CommonOptions{}); err != nil {
			t.Fatal(err)
		}
		r.opts.Health = false
		if err := Run(t.Context(), r.env, r.opts); err != nil {
			t.Fatal(err)
		}
		for where, text := range map[string]string{"screen": r.out.String(), "log file": r.logFile(t)} {
			want := "[WARNING]:-Error getting status from host sdw2\n" + lineStart(text, "[WARNING]:-HOST KEY") + "[WARNING]:-" + reason
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks the reason at WARNING right after Greenplum's line (want %q):\n%s", where, want, text)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		r := rig(t)
		r.opts.Health, r.opts.JSON = false, true
		if err := Run(t.Context(), r.env, r.opts); err != nil {
			t.Fatal(err)
		}
		var doc jsonDocument
		if err := json.Unmarshal(r.out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range doc.Segments {
			if s.Hostname == "sdw2" {
				n++
				if o := s.Observed; o == nil || o.Error == nil || !strings.HasPrefix(*o.Error, "Error getting status from host sdw2: "+reason) {
					t.Errorf("dbid %d: error %v", s.DBID, o)
				}
			}
		}
		if n == 0 || !strings.Contains(strings.Join(doc.Summary.Warnings, "\n"), reason) {
			t.Errorf("no sdw2 segment, or the warnings lack the reason: %v", doc.Summary.Warnings)
		}
	})
	t.Run("health", func(t *testing.T) {
		r := rig(t)
		code := healthExitCode(t, runHealth(t.Context(), r.env, r.opts))
		if code != 3 || !strings.Contains(r.out.String(), "\nUNREACHABLE: host sdw2 did not answer ("+reason+"; then add the new key with ssh-keyscan); state unknown of ") {
			t.Errorf("exit %d:\n%s", code, r.out)
		}
	})
}

// lineStart returns the prefix of the line of text that contains marker
// (Greenplum's timestamp and program), or "".
func lineStart(text, marker string) string {
	i := strings.Index(text, marker)
	if i < 0 {
		return ""
	}
	return text[strings.LastIndex(text[:i], "\n")+1 : i]
}

func TestFailureReasonWords(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&remote.HostError{Host: "sdw1", ExitCode: -1, Err: fmt.Errorf("killed: %w", context.DeadlineExceeded)},
			"the status script on sdw1 did not finish within 1m0s and was stopped"},
		{&remote.HostError{Host: "sdw1", ExitCode: 2, Stderr: "mktemp: failed\nno space", Err: &remote.ExitError{Code: 2}},
			"the status script on sdw1 failed with exit status 2: mktemp: failed; no space"},
		{&remote.HostError{Host: "sdw1", ExitCode: -1, Err: &remote.SSHError{Host: "sdw1", Addr: "sdw1:22", Reason: remote.ReasonRefused, Detail: "nothing listens"}},
			"ssh to sdw1 (sdw1:22): connection refused: nothing listens"},
	} {
		if got := failureReason("sdw1", tt.err); got != tt.want {
			t.Errorf("failureReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
