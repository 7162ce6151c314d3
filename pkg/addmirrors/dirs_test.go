package addmirrors_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

func TestReadDirFile(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
		err        string
	}{
		{"two", "  /data/m1 \n\n/data//m2/\n", []string{"/data/m1", "/data/m2"}, ""},
		{"same location twice", "/data/m\n/data/m\n", []string{"/data/m", "/data/m"}, ""},
		{"too many", "/a\n/b\n/c\n", nil, "Number of data directories must equal 2 but more were read from dirs"},
		{"too few", "/a\n\n", nil, "Number of data directories must equal 2 but 1 were read from dirs"},
		{"relative", "/a\nmirror\n", nil, "Path entered in config file is invalid; it must be a full path.  Path: 'mirror'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := addmirrors.ReadDirFile(strings.NewReader(tt.text), "dirs", 2)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// FuzzReadDirFile: a -m file gives exactly the number of locations asked
// for, each absolute, clean and safe for pg_ctl's shell, and the same
// locations written one per line read back the same; a line-level refusal
// is an ExpectedError naming its line. Seeds: testdata/fuzz.
func FuzzReadDirFile(f *testing.F) {
	f.Add("/data/m1\n/data/m2\n", uint8(2))
	f.Add("  /a//b/ \n\n/c\n/d\n", uint8(2))
	f.Add("/a\n`id`\n", uint8(2))
	f.Add("/a$(x)\n", uint8(1))
	f.Add("/a\x00\n", uint8(1))
	f.Fuzz(func(t *testing.T, in string, n uint8) {
		want := int(n % 8)
		dirs, err := addmirrors.ReadDirFile(strings.NewReader(in), "fuzz", want)
		if err != nil {
			var expected *app.ExpectedError
			if errors.As(err, &expected) && !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "larger than") {
				t.Fatalf("refusal %q names no line", err)
			}
			return
		}
		if len(dirs) != want {
			t.Fatalf("%d locations, want %d", len(dirs), want)
		}
		for _, d := range dirs {
			if !filepath.IsAbs(d) || filepath.Clean(d) != d || cluster.CheckPath("d", d) != nil {
				t.Fatalf("accepted %q", d)
			}
		}
		again, err := addmirrors.ReadDirFile(strings.NewReader(strings.Join(dirs, "\n")+"\n"), "written", want)
		if err != nil || !slices.Equal(again, dirs) {
			t.Fatalf("wrote %q, read %q, %v", dirs, again, err)
		}
	})
}

// TestPromptDirs answers the prompts as the seed article's user did, with
// an empty line and a relative path on the way; the prompts are printed
// verbatim, not logged, and the confirmation answer is left unread.
func TestPromptDirs(t *testing.T) {
	env, out, _ := apptest.Env(t, "gpaddmirrors")
	in := strings.NewReader("\nmirror\n/dgdata/mirror\n/dgdata/mirror/\ny\n")
	env.In = in
	got, err := addmirrors.PromptDirs(t.Context(), env, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"/dgdata/mirror", "/dgdata/mirror"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	want := "Enter mirror segment data directory location 1 of 2 >\n" +
		"Enter mirror segment data directory location 1 of 2 >\n" +
		"\nPath entered is invalid; it must be a full path.  Path: 'mirror'\n\n" +
		"Enter mirror segment data directory location 1 of 2 >\n" +
		"Enter mirror segment data directory location 2 of 2 >\n"
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
	if in.Len() != 2 {
		t.Errorf("%d bytes left unread, want 2 (the confirmation answer)", in.Len())
	}
}

func TestPromptDirsEndOfInput(t *testing.T) {
	env, _, _ := apptest.Env(t, "gpaddmirrors")
	env.In = strings.NewReader("/data/m1\n")
	_, err := addmirrors.PromptDirs(t.Context(), env, 2)
	want := "end of input at mirror segment data directory location 2 of 2: no directory was entered"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}

	// A last line without a newline still counts.
	env.In = strings.NewReader("/data/m1\n/data/m2")
	if got, err := addmirrors.PromptDirs(t.Context(), env, 2); err != nil || len(got) != 2 {
		t.Errorf("got %v, %v; want both locations", got, err)
	}
}

func TestPromptDirsInterrupted(t *testing.T) {
	env, _, _ := apptest.Env(t, "gpaddmirrors")
	env.In = blockingReader{}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := addmirrors.PromptDirs(ctx, env, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one wrapping context.Canceled (exit 2)", err)
	}
}

// blockingReader never yields, like a terminal nobody types into.
type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }
