package addmirrors_test

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
)

// wantExpected fails t unless err is an app.ExpectedError (exit 2, no
// stack trace) with the message want.
func wantExpected(t *testing.T, err error, want string) {
	t.Helper()
	var expected *app.ExpectedError
	if err == nil || err.Error() != want || !errors.As(err, &expected) {
		t.Fatalf("error %v\nwant  %s (an ExpectedError)", err, want)
	}
}

// TestReadDirFileRefusals: a -m line a shell would interpret, and files
// that are not short lines of UTF-8 text, are refused naming the line.
func TestReadDirFileRefusals(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"dollar", "/a\n/data/$(touch /tmp/x)\n", "line 2 of file dirs: mirror data directory location /data/$(touch /tmp/x) contains '$'" + shellWhy('$')},
		{"backquote", "/data/`id`\n/b\n", "line 1 of file dirs: mirror data directory location /data/`id` contains '`'" + shellWhy('`')},
		{"quote", "/a\n\n" + `/data/"x` + "\n", `line 3 of file dirs: mirror data directory location /data/"x contains '"'` + shellWhy('"')},
		{"backslash", `/data/a\b` + "\n/b\n", `line 1 of file dirs: mirror data directory location /data/a\b contains '\'` + shellWhy('\\')},
		{"escape", "/data/a\x1b[2J\n/b\n", `line 1 of file dirs: mirror data directory location /data/a\x1b[2J contains '\x1b', a control character: ` +
			"it breaks postmaster.pid, configuration files and the line-based output of the tools" + pathRule},
		{"NUL", "/a\n/b\x00\n", "line 2 of file dirs holds a NUL byte: dirs is not a text file"},
		{"Latin-1", "/caf\xe9\n/b\n", "line 1 of file dirs is not UTF-8 text: give paths and host names in UTF-8"},
		{"long line", "/" + strings.Repeat("a", 1<<20) + "\n/b\n", "line 1 of file dirs is more than 8192 bytes long: is dirs the right file?"},
		{"huge file", strings.Repeat("\n", 17<<20) + "/a\n/b\n", "file dirs is larger than 16 MiB: is it the right file?"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := addmirrors.ReadDirFile(strings.NewReader(tt.text), "dirs", 2)
			wantExpected(t, err, tt.want)
		})
	}
}

// TestParseMirrorConfigFiles: -i input that is no mirror file at all.
func TestParseMirrorConfigFiles(t *testing.T) {
	t.Run("huge", func(t *testing.T) {
		_, err := addmirrors.ParseMirrorConfig(io.MultiReader(strings.NewReader("0|sdw1|7000|/m/a\n"),
			strings.NewReader(strings.Repeat("# padding\n", 2<<20))), "big")
		wantExpected(t, err, "file big is larger than 16 MiB: is it the right file?")
	})
	t.Run("zeros without a newline", func(t *testing.T) {
		_, err := addmirrors.ParseMirrorConfig(io.LimitReader(zeros{}, 1<<30), "/dev/zero")
		wantExpected(t, err, "line 1 of file /dev/zero is more than 8192 bytes long: is /dev/zero the right file?")
	})
	t.Run("a directory", func(t *testing.T) {
		dir := t.TempDir()
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, err = addmirrors.ParseMirrorConfig(f, dir)
		wantExpected(t, err, "cannot read "+dir+": read "+dir+": is a directory")
	})
	t.Run("just under the limit", func(t *testing.T) {
		text := "0|sdw1|7000|/m/a\n" + strings.Repeat("#\n", (16<<20-17)/2)
		lines, err := addmirrors.ParseMirrorConfig(strings.NewReader(text), "ok")
		if err != nil || len(lines) != 1 {
			t.Fatalf("%d bytes: %v, %v", len(text), lines, err)
		}
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestPromptDirsRefusal: an answer a shell would interpret ends the
// prompts with exit 2 rather than asking again, and nothing after it is
// read.
func TestPromptDirsRefusal(t *testing.T) {
	env, _, _ := apptest.Env(t, "gpaddmirrors")
	in := strings.NewReader("/data/m1\n/data/`reboot`\ny\n")
	env.In = in
	_, err := addmirrors.PromptDirs(t.Context(), env, 2)
	wantExpected(t, err, "mirror segment data directory location 2 of 2: mirror data directory location /data/`reboot` contains '`'"+shellWhy('`'))
	if in.Len() != 2 {
		t.Errorf("%d bytes left unread, want 2", in.Len())
	}
}

// TestReadDirFileTrailingSpace: "/data / " cleans to "/data ", a location
// ending in white space, which no one means (FuzzReadDirFile found it).
func TestReadDirFileTrailingSpace(t *testing.T) {
	_, err := addmirrors.ReadDirFile(strings.NewReader("/data / \n"), "dirs", 1)
	wantExpected(t, err, `line 1 of file dirs: mirror data directory location "/data " ends with white space; remove it`)
}
