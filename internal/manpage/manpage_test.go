package manpage

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestWrite: every visible option appears with its shorthand, value name
// and help, hyphens escaped; hidden ones do not; a help text that starts
// with a dot cannot become a roff request; there is no date.
func TestWrite(t *testing.T) {
	cmd := &cobra.Command{Use: "gpthing [options]", Short: "Do a thing."}
	f := cmd.Flags()
	f.SortFlags = false
	f.BoolP("status", "s", false, "detailed status")
	f.StringP("master_data_directory", "d", "", "coordinator data `directory`")
	f.Int("parallel", 16, ".hosts at once")
	f.Bool("secret", false, "hidden")
	_ = f.MarkHidden("secret")
	var b strings.Builder
	if err := Write(&b, cmd, Page{Version: "v1.2-3-gabc", SeeAlso: []string{"gpthing", "gpother"}}); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		".TH GPTHING 1 \"\" \"gpmgmt v1.2\\-3\\-gabc\" \"gpmgmt manual\"\n",
		".SH NAME\ngpthing \\- Do a thing.\n",
		".SH SYNOPSIS\n.B gpthing\n[options]\n",
		".TP\n\\fB\\-s\\fR, \\fB\\-\\-status\\fR\ndetailed status\n",
		".TP\n\\fB\\-d\\fR, \\fB\\-\\-master_data_directory\\fR \\fIdirectory\\fR\ncoordinator data directory\n",
		".TP\n\\fB\\-\\-parallel\\fR \\fIint\\fR\n\\&.hosts at once (default 16)\n",
		".SH SEE ALSO\n\\fBgpother\\fR(1)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret") {
		t.Errorf("a hidden option is on the page:\n%s", got)
	}
}
