// Command gendocs writes what make install puts beside the tools: a man
// page per tool (internal/manpage) and its bash, zsh and fish completions,
// the same scripts as `<tool> completion <shell>` prints. It runs on the
// build machine, whatever platform the tools are built for (make dist).
//
// Usage: go run ./internal/gendocs VERSION DIR
//
// It writes DIR/share/man/man1/<tool>.1,
// DIR/share/bash-completion/completions/<tool>,
// DIR/share/zsh/site-functions/_<tool> and
// DIR/share/fish/vendor_completions.d/<tool>.fish.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/internal/manpage"
	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gpstart"
	"github.com/gpmgmt/gpmgmt/pkg/gpstate"
	"github.com/gpmgmt/gpmgmt/pkg/gpstop"
	"github.com/gpmgmt/gpmgmt/pkg/recoverseg"
)

// tools are the installed tools (the Makefile's TOOLS) and their commands.
var tools = []struct {
	name string
	cmd  func(*app.Env) *cobra.Command
}{
	{"gpaddmirrors", func(e *app.Env) *cobra.Command { return addmirrors.NewCommand(e, nil) }},
	{"gprecoverseg", func(e *app.Env) *cobra.Command { return recoverseg.NewCommand(e, nil) }},
	{"gpstart", func(e *app.Env) *cobra.Command { return gpstart.NewCommand(e, nil) }},
	{"gpstate", func(e *app.Env) *cobra.Command { return gpstate.NewCommand(e, nil) }},
	{"gpstop", func(e *app.Env) *cobra.Command { return gpstop.NewCommand(e, nil) }},
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gendocs VERSION DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func write(version, dir string) error {
	var names []string
	for _, t := range tools {
		names = append(names, t.name)
	}
	for _, t := range tools {
		cmd := t.cmd(app.RealEnv(t.name))
		files := []struct {
			path string
			gen  func(*bytes.Buffer) error
		}{
			{"share/man/man1/" + t.name + ".1", func(b *bytes.Buffer) error {
				return manpage.Write(b, cmd, manpage.Page{Version: version, SeeAlso: names})
			}},
			{"share/bash-completion/completions/" + t.name, func(b *bytes.Buffer) error { return cmd.GenBashCompletionV2(b, true) }},
			{"share/zsh/site-functions/_" + t.name, func(b *bytes.Buffer) error { return cmd.GenZshCompletion(b) }},
			{"share/fish/vendor_completions.d/" + t.name + ".fish", func(b *bytes.Buffer) error { return cmd.GenFishCompletion(b, true) }},
		}
		for _, f := range files {
			var b bytes.Buffer
			if err := f.gen(&b); err != nil {
				return fmt.Errorf("%s: %w", f.path, err)
			}
			path := filepath.Join(dir, f.path)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				return err
			}
			if err := os.Chmod(path, 0o644); err != nil { // as install -m 0644, whatever the umask
				return err
			}
		}
	}
	return nil
}
