package gpdemo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// fakeInitdb makes the files initdb would (the last argument is the data
// directory) and fails for a directory whose name contains "bad".
const fakeInitdb = `#!/bin/sh
for a; do dir=$a; done
case $dir in *bad*) echo "initdb: could not create directory" >&2; exit 1 ;; esac
mkdir -p "$dir" && : >"$dir/postgresql.conf" && : >"$dir/pg_hba.conf"
`

// TestInitScript runs the per-host script through the local executor with
// a fake initdb: parallel jobs, one result line per instance, hostile
// values passed through intact.
func TestInitScript(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "gp home")
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "bin", "initdb"), []byte(fakeInitdb), 0o755); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(root, "o'brien $(x)", "primary", "gpseg0")
	bad := filepath.Join(root, "bad", "gpseg1")
	r := remote.LocalExecutor{}.Exec(context.Background(), remote.Command{
		Host: "sdw1", Script: initScript,
		Args: []string{home, "2", "0", "7002", good, "127.0.60.1", "3", "1", "7003", bad, "127.0.60.1"},
	})
	if r.ExitCode != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.ExitCode, r.Stdout, r.Stderr)
	}
	want := "gpdemo-result 2 ok\ngpdemo-result 3 failed: initdb: could not create directory\n"
	if r.Stdout != want {
		t.Errorf("stdout %q, want %q", r.Stdout, want)
	}
	if !strings.Contains(r.Stderr, "dbid 3 (exit 1):\ninitdb: could not create directory") {
		t.Errorf("stderr %q", r.Stderr)
	}
	conf, err := os.ReadFile(filepath.Join(good, "postgresql.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"port = 7002", "listen_addresses = '127.0.60.1'", "unix_socket_directories = '/tmp'",
		"shared_preload_libraries = '" + home + "/lib/postgresql/gp_compat.so'",
		"gp_compat.gp_contentid = 0", "hot_standby = off", "lc_messages = 'C'", "wal_level = replica",
	} {
		if !strings.Contains(string(conf), "\n"+line+"\n") {
			t.Errorf("postgresql.conf lacks %q:\n%s", line, conf)
		}
	}
	if id, _ := os.ReadFile(filepath.Join(good, "internal.auto.conf")); string(id) != "gp_dbid=2\n" {
		t.Errorf("internal.auto.conf = %q", id)
	}
	hba, _ := os.ReadFile(filepath.Join(good, "pg_hba.conf"))
	if !strings.Contains(string(hba), "host replication all 127.0.0.0/8 trust\n") {
		t.Errorf("pg_hba.conf:\n%s", hba)
	}

	// stop: nothing runs there; remove: the data directories, then the
	// directories around them when empty.
	r = remote.LocalExecutor{}.Exec(context.Background(), remote.Command{
		Script: stopScript, Args: []string{home, "fast", "2", good, "3", bad},
	})
	if !r.OK() || r.Stdout != "gpdemo-result 2 ok\ngpdemo-result 3 ok\n" {
		t.Errorf("stop: %+v", r)
	}
	r = remote.LocalExecutor{}.Exec(context.Background(), remote.Command{
		Script: removeScript, Args: []string{"1", good, filepath.Dir(good), filepath.Dir(filepath.Dir(good)), root},
	})
	if r.OK() || !strings.Contains(r.Stderr, root+" is not empty") {
		t.Errorf("remove: %+v", r)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(good))); !os.IsNotExist(err) {
		t.Errorf("left behind: %v", err)
	}
	if _, err := os.Stat(home); err != nil {
		t.Errorf("removed what it did not create: %v", err)
	}
}
