package recoverseg_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/recoverseg"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// TestRunRefusesDataDirBeforeLock: a coordinator data directory a shell
// would interpret, or a mirror's, is refused before gprecoverseg makes its
// lock in it (exit 2, nothing written).
func TestRunRefusesDataDirBeforeLock(t *testing.T) {
	const gphome = "/usr/local/gpdb"
	for _, tt := range []struct {
		name, sub, file, want string
	}{
		{"shell", "gpseg-1$(reboot)", "", "coordinator data directory %s contains '$'"},
		{"mirror", "gpseg0", "standby.signal", "%s is the data directory of a mirror or a standby, not of the coordinator (it holds standby.signal)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mdd := filepath.Join(t.TempDir(), tt.sub)
			if err := os.Mkdir(mdd, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"postgresql.conf", tt.file} {
				if f != "" {
					if err := os.WriteFile(filepath.Join(mdd, f), []byte("port = 6000\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			env, _, _ := apptest.Env(t, "gprecoverseg")
			env.Getenv = func(k string) string {
				return map[string]string{"GPHOME": gphome, "COORDINATOR_DATA_DIRECTORY": mdd}[k]
			}
			fake := &remotetest.Fake{}
			fake.OnArgv("localhost", []string{gphome + "/bin/postgres", "--gp-version"},
				remotetest.Response{Stdout: "postgres (Greenplum Database) 7.1.0 build dev\n"})
			env.Exec = fake
			err := recoverseg.Run(t.Context(), env, &recoverseg.Options{CommonOptions: app.CommonOptions{NonInteractive: true}})
			var expected *app.ExpectedError
			if want := strings.ReplaceAll(tt.want, "%s", mdd); err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &expected) {
				t.Fatalf("got  %v\nwant %s...", err, want)
			}
			if _, err := os.Lstat(filepath.Join(mdd, "gprecoverseg.lock")); !os.IsNotExist(err) {
				t.Errorf("the lock was made: %v", err)
			}
		})
	}
}
