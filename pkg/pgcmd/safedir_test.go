package pgcmd

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCheckDataDir: every character sh interprets inside double quotes is
// refused; ordinary paths, spaces and quotes of the other kind pass.
func TestCheckDataDir(t *testing.T) {
	for _, dir := range []string{"/data/gpseg0", "/data/mirror disk/gpseg0", "/data/it's/gpseg0", "/data/a-b_c.d/gpseg0"} {
		if err := CheckDataDir(dir); err != nil {
			t.Errorf("%q: %v", dir, err)
		}
	}
	for _, dir := range []string{"/data/$(touch /tmp/x)", "/data/$HOME", "/data/`id`", `/data/a"b`, `/data/a\b`, "/data/a\nb", "/data/a\x7fb"} {
		err := CheckDataDir(dir)
		if err == nil || !strings.Contains(err.Error(), "would interpret") {
			t.Errorf("%q: %v, want a refusal", dir, err)
		}
	}
}

// TestCheckDataDirMatchesTheShell: what CheckDataDir accepts comes back
// unchanged from sh -c 'printf %s "<dir>"', the way pg_ctl quotes it.
func TestCheckDataDirMatchesTheShell(t *testing.T) {
	for _, dir := range []string{"/data/mirror disk/gpseg0", "/data/it's", "/data/a*b?[c]", "/data/~x", "/data/a!b"} {
		if err := CheckDataDir(dir); err != nil {
			t.Fatalf("%q: %v", dir, err)
		}
		out, err := exec.Command("sh", "-c", `printf %s "`+dir+`"`).Output()
		if err != nil || string(out) != dir {
			t.Errorf("%q: the shell made %q of it (%v)", dir, out, err)
		}
	}
}
