package tooltest

import "testing"

// TestLastMessageAndProblems: the last message that says something (rules
// passed over), and the ERROR/WARNING messages when there are any.
func TestLastMessageAndProblems(t *testing.T) {
	const p = "20261204:23:04:21:015561 gpaddmirrors:vm:gpadmin-"
	out := p + "[WARNING]:-copy of dbid 5 slow\n" + p + "[INFO]:-2 of 2 mirror(s) added\n" + p + "[INFO]:-****************\n\n"
	if got, want := LastMessage(out), "[INFO]:-2 of 2 mirror(s) added"; got != want {
		t.Errorf("LastMessage: %q, want %q", got, want)
	}
	if got, want := Problems(out), "[WARNING]:-copy of dbid 5 slow"; got != want {
		t.Errorf("Problems: %q, want %q", got, want)
	}
	if got, want := Problems(p+"[INFO]:-done\n"), "[INFO]:-done"; got != want {
		t.Errorf("Problems without any: %q, want %q", got, want)
	}
}
