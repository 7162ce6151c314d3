package gplog_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

func TestFileName(t *testing.T) {
	start := time.Date(2026, 11, 23, 23, 59, 59, 0, time.UTC)
	if got, want := gplog.FileName("gprecoverseg", start), "gprecoverseg_20261123.log"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
	if got, want := gplog.DefaultDir("/home/gpadmin"), "/home/gpadmin/gpAdminLogs"; got != want {
		t.Errorf("DefaultDir = %q, want %q", got, want)
	}
}

func TestOpenAppends(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 23, 18, 54, 19, 0, time.UTC)
	for _, line := range []string{"first\n", "second\n"} {
		f, err := gplog.Open(dir, "gpstate", start)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "gpstate_20261123.log"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "first\nsecond\n" {
		t.Errorf("log file = %q, want both runs appended", got)
	}
}

func TestOpenDirectory(t *testing.T) {
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		dir     func(base string) string
		wantErr string // "" means success
	}{
		{
			name: "existing directory",
			dir:  func(base string) string { return base },
		},
		{
			name: "missing directory is created",
			dir:  func(base string) string { return filepath.Join(base, "logs") },
		},
		{
			name: "trailing slash",
			dir:  func(base string) string { return filepath.Join(base, "logs") + "/" },
		},
		{
			name:    "missing parent is not created",
			dir:     func(base string) string { return filepath.Join(base, "no", "logs") },
			wantErr: "cannot create log directory BASE/no/logs: parent directory BASE/no does not exist",
		},
		{
			name: "a file in the way",
			dir: func(base string) string {
				p := filepath.Join(base, "file")
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					panic(err)
				}
				return p
			},
			wantErr: "log directory BASE/file exists but is not a directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := tt.dir(base)
			f, err := gplog.Open(dir, "gpstart", start)
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "BASE", base)
				if err == nil || err.Error() != want {
					t.Fatalf("Open error = %v, want %q", err, want)
				}
				if _, err := os.Stat(filepath.Join(base, "no")); err == nil {
					t.Error("parent directory was created")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := os.Stat(filepath.Join(dir, "gpstart_20261123.log")); err != nil {
				t.Errorf("log file missing: %v", err)
			}
		})
	}
}
