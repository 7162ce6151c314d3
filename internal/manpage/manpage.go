// Package manpage renders a tool's man page from its cobra command: the
// usage line, the description and every option with its help text, as
// --help shows them, so the page cannot drift from the tool. make install
// runs it through internal/gendocs.
package manpage

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Page is what a man page says beyond the command itself.
type Page struct {
	Version string   // the release, in the page's footer
	SeeAlso []string // other tools' names, section 1
}

// Write renders cmd's page in section 1 to w. The page has no date (the
// release names it), so the same tree and version give the same bytes.
func Write(w io.Writer, cmd *cobra.Command, p Page) error {
	name := cmd.Name()
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 1 \"\" %s \"gpmgmt manual\"\n", strings.ToUpper(name), quote("gpmgmt "+p.Version))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", name, text(cmd.Short))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", name, text(strings.TrimSpace(strings.TrimPrefix(cmd.Use, name))))
	b.WriteString(".SH DESCRIPTION\n")
	fmt.Fprintf(&b, "%s\n.PP\n", text(cmd.Short))
	fmt.Fprintf(&b, "gpmgmt's %s is a drop-in replacement for Greenplum's: the same options, output, log lines and exit codes; "+
		"the options it adds never change the default output.\n", text(name))
	b.WriteString(".SH OPTIONS\n")
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		varname, usage := pflag.UnquoteUsage(f)
		if varname == "bool" {
			varname = ""
		}
		b.WriteString(".TP\n")
		var names []string
		if f.Shorthand != "" {
			names = append(names, `\fB\-`+f.Shorthand+`\fR`)
		}
		names = append(names, `\fB\-\-`+escape(f.Name)+`\fR`)
		line := strings.Join(names, ", ")
		if varname != "" {
			line += ` \fI` + escape(varname) + `\fR`
		}
		b.WriteString(line + "\n")
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" && !strings.Contains(usage, "default") {
			usage += " (default " + f.DefValue + ")"
		}
		b.WriteString(text(usage) + "\n")
	})
	b.WriteString(".SH ENVIRONMENT\n")
	for _, e := range [][2]string{
		{"COORDINATOR_DATA_DIRECTORY, MASTER_DATA_DIRECTORY", "the coordinator's data directory, when -d does not give it"},
		{"GPHOME", "the Greenplum installation whose programs run on every host"},
		{"GPMGMT_INSECURE_IGNORE_HOST_KEYS", "1 accepts any SSH host key, as --insecure-ignore-host-keys"},
	} {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", escape(e[0]), text(e[1]))
	}
	b.WriteString(".SH FILES\n.TP\n")
	fmt.Fprintf(&b, ".I ~/gpAdminLogs/%s_YYYYMMDD.log\n%s\n", escape(name), text("the log file, in Greenplum's line format (-l names another directory)"))
	b.WriteString(".SH SEE ALSO\n")
	var see []string
	for _, s := range p.SeeAlso {
		if s != name {
			see = append(see, `\fB`+escape(s)+`\fR(1)`)
		}
	}
	b.WriteString(strings.Join(see, ", ") + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// escape makes s safe inside a roff line: backslashes and hyphens (which
// roff may render as typographic dashes, breaking copy and paste of
// options).
func escape(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}

// text escapes s as running text: escape, and a line that would start
// with a roff control character is guarded.
func text(s string) string {
	lines := strings.Split(escape(s), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// quote is a roff macro argument in double quotes.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `""`) + `"`
}
