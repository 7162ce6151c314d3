package recoverseg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// The scripts of a differential recovery, run by the local shell as the
// target's host runs them, on a directory of the test's own.

// runScript runs script with args locally and returns the last RESULT
// line's kind and text, and every PROGRESS line.
func runScript(t *testing.T, script string, args ...string) (kind, msg string, progress []string) {
	t.Helper()
	res := remote.LocalExecutor{}.Exec(t.Context(), remote.Command{Host: "localhost", Script: script, Args: args})
	for _, l := range strings.Split(res.Stdout, "\n") {
		if p, ok := strings.CutPrefix(l, "PROGRESS "); ok {
			progress = append(progress, p)
		}
		if r, ok := strings.CutPrefix(l, "RESULT "); ok {
			kind, msg, _ = strings.Cut(r, " ")
		}
	}
	if kind == "" {
		t.Fatalf("no RESULT line: %+v", res)
	}
	return kind, msg, progress
}

// targetDir is a failed instance's directory naming dbid 5.
func targetDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mirror", "gpseg1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "internal.auto.conf"), "gp_dbid=5\n")
	write(t, filepath.Join(dir, "postgresql.conf"), "port=6001\nlisten_addresses='*'\n")
	return dir
}

// TestDiffPrepareScript refuses a directory that is missing, names
// another dbid, or has a live postmaster, before anything changes.
func TestDiffPrepareScript(t *testing.T) {
	dir := targetDir(t)
	want := "ok"
	if _, err := exec.LookPath("rsync"); err != nil {
		want = "validation" // "rsync is not installed on ..."
	}
	if kind, msg, _ := runScript(t, diffPrepareScript, dir, "5"); kind != want {
		t.Errorf("a stopped instance's directory: %s %s", kind, msg)
	}
	for _, tt := range []struct {
		name, dir, dbid, want string
		prepare               func()
	}{
		{"missing", filepath.Join(dir, "nope"), "5", "does not exist: run gprecoverseg -F", nil},
		{"another dbid", dir, "7", "names gp_dbid '5', not 7: not this instance's directory", nil},
		{"live postmaster", dir, "5", "a postmaster (pid " + strconv.Itoa(os.Getpid()) + ") runs in", func() {
			write(t, filepath.Join(dir, "postmaster.pid"), strconv.Itoa(os.Getpid())+"\n"+dir+"\n")
		}},
	} {
		if tt.prepare != nil {
			tt.prepare()
		}
		kind, msg, _ := runScript(t, diffPrepareScript, tt.dir, tt.dbid)
		if kind != "validation" || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %s %q, want validation %q", tt.name, kind, msg, tt.want)
		}
	}
}

// TestDiffRsyncScript: the marker is written before rsync runs, the WAL
// list is the range's segments (the same names as walRange.Names) and the
// history files, the output goes to the progress file, exit status 24 is
// success and others are differential failures with rsync's last words.
func TestDiffRsyncScript(t *testing.T) {
	dir := targetDir(t)
	pf := filepath.Join(t.TempDir(), "logs", "rsync.dbid5.out")
	mk, list := differentialMarker(dir), walListFile(dir)
	w := walRange{TLI: 3, First: 510, Last: 513, PerID: 256}

	// "rsync" is cat here: it copies the list into the progress file.
	args := append(append([]string{pf, "truncate", mk, list}, w.args()...), "cat", list)
	kind, msg, progress := runScript(t, diffRsyncScript, args...)
	if kind != "ok" {
		t.Fatalf("%s %s", kind, msg)
	}
	got, err := os.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	want := "/" + strings.Join(w.Names(), "\n/") + "\n/*.history\n"
	if string(got) != want {
		t.Errorf("WAL list:\n%s\nwant:\n%s", got, want)
	}
	if len(progress) == 0 || progress[len(progress)-1] != "/*.history" {
		t.Errorf("progress %q: want the last line of the output last", progress)
	}
	if _, err := os.Stat(list); err == nil {
		t.Error("the WAL list stays after the copy")
	}
	if b, err := os.ReadFile(mk); err != nil || !strings.Contains(string(b), "only gprecoverseg --differential or -F completes it") {
		t.Errorf("marker: %q, %v", b, err)
	}

	none := []string{pf, "append", "", "", "", "", "", ""}
	for _, tt := range []struct {
		name   string
		rsync  []string
		kind   string
		msg    string
		output string
	}{
		{"files vanished", []string{"sh", "-c", "echo 'file has vanished: \"pg_wal/xlogtemp.1\"'; exit 24"}, "ok", "rsync exit 24", ""},
		{"failure", []string{"sh", "-c", "echo 'rsync: connection unexpectedly closed' >&2; exit 12"}, "differential",
			"rsync exited with status 12: ", ""},
		{"progress with carriage returns", []string{"sh", "-c", `printf 'base/1/1259\n     1,234  10%%    1.00MB/s    0:00:01\r    12,340 100%%    2.00MB/s    0:00:00\n'`}, "ok", "rsync exit 0",
			"    12,340 100%    2.00MB/s    0:00:00"},
	} {
		kind, msg, progress := runScript(t, diffRsyncScript, append(none, tt.rsync...)...)
		if kind != tt.kind || !strings.Contains(msg, tt.msg) || (kind != "ok" && !strings.HasSuffix(strings.TrimSpace(msg), "rsync: connection unexpectedly closed")) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, kind, msg, tt.kind, tt.msg)
		}
		if tt.output != "" && (len(progress) == 0 || progress[len(progress)-1] != tt.output) {
			t.Errorf("%s: progress %q, want %q last", tt.name, progress, tt.output)
		}
	}
	if b, _ := os.ReadFile(pf); !strings.Contains(string(b), "/*.history") || !strings.Contains(string(b), "connection unexpectedly closed") {
		t.Errorf("append mode lost earlier output:\n%s", b)
	}
}

// TestDiffLabelScript writes backup_label exactly as the backup's stop
// returned it, and removes a tablespace_map when there is none.
func TestDiffLabelScript(t *testing.T) {
	dir := targetDir(t)
	write(t, filepath.Join(dir, "tablespace_map"), "16385 /old/ts\n")
	text := label("0/5000028", "000000010000000000000005")
	if kind, msg, _ := runScript(t, diffLabelScript, dir, text, ""); kind != "ok" {
		t.Fatalf("%s %s", kind, msg)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "backup_label")); string(b) != text {
		t.Errorf("backup_label %q, want %q", b, text)
	}
	if _, err := os.Stat(filepath.Join(dir, "tablespace_map")); err == nil {
		t.Error("the old tablespace_map stays")
	}
	if kind, _, _ := runScript(t, diffLabelScript, dir, text, "16390 /ts\n"); kind != "ok" {
		t.Fatal(kind)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tablespace_map")); string(b) != "16390 /ts\n" {
		t.Errorf("tablespace_map %q", b)
	}
}

// TestDiffFinishScript removes the marker and the pid file, sets the
// port the copy brought from the source to the target's own, and starts
// the instance unless pg_ctl status says it runs.
func TestDiffFinishScript(t *testing.T) {
	dir := targetDir(t)
	gphome := t.TempDir()
	if err := os.MkdirAll(filepath.Join(gphome, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(gphome, "bin", "pg_ctl"), "#!/bin/sh\nexit 3\n") // status: not running
	if err := os.Chmod(filepath.Join(gphome, "bin", "pg_ctl"), 0o755); err != nil {
		t.Fatal(err)
	}
	mk, pidf := differentialMarker(dir), rsyncPIDFile(dir)
	write(t, mk, "half\n")
	write(t, pidf, "4242\n")
	started := filepath.Join(t.TempDir(), "started")
	kind, msg, _ := runScript(t, diffFinishScript, gphome, dir, "7001", mk, pidf, "sh", "-c", `echo "$@" > "$0"`, started, "-D", dir)
	if kind != "ok" || msg != "started" {
		t.Fatalf("%s %s", kind, msg)
	}
	for _, f := range []string{mk, pidf} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s stays", f)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "postgresql.conf")); !strings.HasPrefix(string(b), "port=7001\n") {
		t.Errorf("postgresql.conf:\n%s", b)
	}
	if b, _ := os.ReadFile(started); string(b) != "-D "+dir+"\n" {
		t.Errorf("start ran with %q", b)
	}
	kind, msg, _ = runScript(t, diffFinishScript, gphome, dir, "7001", mk, pidf, "sh", "-c", "echo could not start >&2; exit 1")
	if kind != "start" || msg != "could not start" {
		t.Errorf("a failed start: %s %q", kind, msg)
	}
}

// TestMarkerScript finds the half-copied directories among those given.
func TestMarkerScript(t *testing.T) {
	half, whole := targetDir(t), targetDir(t)
	write(t, differentialMarker(half), "x\n")
	res := remote.LocalExecutor{}.Exec(context.Background(), remote.Command{Host: "localhost", Script: markerScript, Args: []string{"3", half, "4", whole}})
	if !res.OK() || res.Stdout != "MARKER 3 yes\n" {
		t.Errorf("%+v", res)
	}
}
