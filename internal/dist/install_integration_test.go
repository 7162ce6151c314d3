//go:build integration

package dist

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// TestInstall runs make install into a temporary PREFIX as a DBA would,
// with the version the Makefile computes itself, and checks what it put
// there: each tool's --version carries the stamp (git describe --always
// --dirty, "unknown" where git cannot tell, the Makefile's rule); man -l
// renders each man page with the tool's options; bash loads each
// completion (complete -p) and completes an option through the installed
// tool; the zsh and fish scripts are the ones `<tool> completion <shell>`
// prints.
func TestInstall(t *testing.T) {
	root := testbed.RepoRoot()
	prefix, bin := filepath.Join(t.TempDir(), "prefix"), t.TempDir()
	cmd := exec.Command("make", "-s", "--no-print-directory", "-C", root, "install", "PREFIX="+prefix, "BIN="+bin)
	// VERSION as make test passes it down would reach this make too
	// (MAKEFLAGS): leave the Makefile to compute it, as for a DBA. git
	// refuses a tree another user owns (make test runs as gpadmin in
	// root's checkout): trust it here, in make's git and in this test's.
	gitTrust := []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*"}
	cmd.Env = append(append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL="), gitTrust...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	stamp := "unknown"
	git := exec.Command("git", "-C", root, "describe", "--always", "--dirty")
	git.Env = append(os.Environ(), gitTrust...)
	if out, err := git.Output(); err == nil {
		stamp = strings.TrimSpace(string(out))
	}

	for _, tool := range tools {
		t.Run(tool, func(t *testing.T) {
			exe := filepath.Join(prefix, "bin", tool)
			if out, err := exec.Command(exe, "--version").CombinedOutput(); err != nil || string(out) != tool+" version gpmgmt "+stamp+"\n" {
				t.Errorf("%s --version: %v, %q; want the stamp %q", tool, err, out, stamp)
			}

			page := filepath.Join(prefix, "share", "man", "man1", tool+".1")
			man := exec.Command("man", "-l", page)
			man.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=100", "LANG=C.UTF-8")
			var stdout, stderr bytes.Buffer
			man.Stdout, man.Stderr = &stdout, &stderr
			if err := man.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("man -l %s: %v\n%s", page, err, stderr.String())
			}
			for _, want := range []string{strings.ToUpper(tool) + `\(1\)`, `NAME\n +` + tool + ` +- \S`, "SYNOPSIS", "OPTIONS",
				"-d, --master_data_directory directory", "--coordinator_data_directory directory", "-v, --verbose", "SEE ALSO"} {
				if !regexp.MustCompile(want).MatchString(stdout.String()) {
					t.Errorf("man -l %s lacks %q:\n%s", page, want, stdout.String())
				}
			}

			// The completion as bash-completion loads it on demand, then
			// a completion of "--ver" asked of the installed tool (compopt
			// works only inside a completion bash itself started).
			script := `set -e
source /usr/share/bash-completion/bash_completion
source "$1"
complete -p "$2"
compopt() { :; }
COMP_LINE="$2 --ver"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=("$2" --ver); COMP_CWORD=1
__start_"$2"
printf 'reply: %s\n' "${COMPREPLY[@]}"`
			bashc := exec.Command("bash", "--noprofile", "--norc", "-c", script, "bash", filepath.Join(prefix, "share", "bash-completion", "completions", tool), tool)
			bashc.Env = append(os.Environ(), "PATH="+filepath.Join(prefix, "bin")+":/usr/bin:/bin")
			out, err := bashc.CombinedOutput()
			if err != nil {
				t.Fatalf("bash completion of %s: %v\n%s", tool, err, out)
			}
			for _, want := range []string{"complete -o default -F __start_" + tool + " " + tool + "\n", "reply: --verbose\n", "reply: --version\n"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("bash completion of %s: no %q in:\n%s", tool, want, out)
				}
			}

			for shell, file := range map[string]string{"bash": "share/bash-completion/completions/" + tool,
				"zsh": "share/zsh/site-functions/_" + tool, "fish": "share/fish/vendor_completions.d/" + tool + ".fish"} {
				installed, err := os.ReadFile(filepath.Join(prefix, file))
				if err != nil {
					t.Fatal(err)
				}
				printed, err := exec.Command(exe, "completion", shell).Output()
				if err != nil || !bytes.Equal(printed, installed) || len(installed) == 0 {
					t.Errorf("%s completion %s (%v) differs from the installed %s", tool, shell, err, file)
				}
			}
		})
	}
}
