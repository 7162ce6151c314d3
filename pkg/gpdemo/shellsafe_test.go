package gpdemo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// TestCreateRefusesUnsafePaths: a demo directory or GPHOME that a shell
// would interpret inside double quotes (pg_ctl runs the server that way)
// is refused before anything runs or is created, relative --dir values
// made absolute first.
func TestCreateRefusesUnsafePaths(t *testing.T) {
	for _, tt := range []struct {
		name, dir, gphome, want string
	}{
		{"dir with $", "demo$(touch x)", "", "demo directory (--dir) /DIR/demo$(touch x) contains '$'"},
		{"dir with a newline", "de\nmo", "", `demo directory (--dir) /DIR/de\nmo contains '\n', a control character`},
		{"dir under a parent with a backquote", "a`id`/demo", "", "demo directory (--dir) /DIR/a`id`/demo contains '`'"},
		{"gphome with a quote", "demo", `/g"h`, `GPHOME /g"h contains '"'`},
		{"gphome with a backslash", "demo", `/g\h`, `GPHOME /g\h contains '\'`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := &remotetest.Fake{}
			env, home := fakeEnv(t, fake)
			base := t.TempDir()
			t.Chdir(base)
			gphome := home
			if tt.gphome != "" {
				gphome = tt.gphome
			}
			err := Create(context.Background(), env, &CreateOptions{Dir: tt.dir, Hosts: 1, PrimariesPerHost: 1, PortBase: 31600, GPHome: gphome})
			want := strings.ReplaceAll(tt.want, "/DIR", base)
			var expected *app.ExpectedError
			if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &expected) {
				t.Fatalf("got %v, want an ExpectedError starting %q", err, want)
			}
			if len(fake.Calls()) != 0 {
				t.Errorf("commands ran: %v", fake.Calls())
			}
			if entries, _ := os.ReadDir(base); len(entries) != 0 {
				t.Errorf("created %s", filepath.Join(base, entries[0].Name()))
			}
		})
	}
}
