package recoverseg

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// diffTarget is content 1's mirror (dbid 5 on sdw2) and its primary.
func diffTarget() target {
	return target{
		Failed:       cluster.Segment{DBID: 5, ContentID: 1, Role: cluster.RoleMirror, Hostname: "sdw2", Address: "sdw2-1", Port: 7001, DataDir: "/data/mirror/gpseg1"},
		Source:       cluster.Segment{DBID: 3, ContentID: 1, Role: cluster.RolePrimary, Hostname: "sdw1", Address: "sdw1-1", Port: 6001, DataDir: "/data/primary/gpseg1"},
		Differential: true,
		ProgressFile: "/home/gpadmin/gpAdminLogs/rsync.20261204_144917.dbid5.out",
	}
}

// TestRsyncCommandLines pins every command line of a differential
// recovery that runs on the target's host (golden): the three rsyncs with
// their excludes and ssh options, with host keys verified and with the
// user's opt-out, and pg_basebackup --write-conf-files-only.
func TestRsyncCommandLines(t *testing.T) {
	tg := diffTarget()
	var b strings.Builder
	line := func(name string, argv []string) {
		fmt.Fprintf(&b, "# %s\n%s\n\n", name, remote.Join(argv))
	}
	line("data directory", rsyncDataArgv(tg.Source, tg.Failed.DataDir, "log", false))
	line("data directory, log_directory pg_log", rsyncDataArgv(tg.Source, tg.Failed.DataDir, "pg_log", false))
	line("WAL", rsyncWALArgv(tg.Source, tg.Failed.DataDir, walListFile(tg.Failed.DataDir), false))
	line("pg_control", rsyncControlArgv(tg.Source, tg.Failed.DataDir, false))
	line("data directory, --insecure-ignore-host-keys", rsyncDataArgv(tg.Source, tg.Failed.DataDir, "log", true))
	ipv6 := tg.Source
	ipv6.Hostname = "fd00::13"
	line("data directory from an IPv6 address", rsyncDataArgv(ipv6, tg.Failed.DataDir, "log", false))
	line("configuration files", confFilesArgv("/usr/local/greenplum-db", tg))
	golden.Check(t, "recoverseg", "differential_commands.golden", []byte(b.String()))
}

// TestRsyncExcludes: Greenplum 7's excludes are all there, and gpmgmt's
// own; a relative log_directory other than "log" is left out too, never
// an absolute one or one outside the data directory.
func TestRsyncExcludes(t *testing.T) {
	base := rsyncExcludes("log")
	for _, e := range append(append([]string(nil), greenplumExcludes...), "/backup_label", "/tablespace_map", "/internal.auto.conf", "/pg_wal") {
		if !slices.Contains(base, "--exclude="+e) {
			t.Errorf("no --exclude=%s in %v", e, base)
		}
	}
	if len(greenplumExcludes) != 16 {
		t.Errorf("%d of Greenplum's excludes, want its 16", len(greenplumExcludes))
	}
	for _, e := range base {
		if e == "--exclude=backup_label" || strings.Contains(e, "pg_tblspc") {
			t.Errorf("%s: backup_label is excluded at the top only; pg_tblspc is never copied (tablespaces are refused)", e)
		}
	}
	for dir, extra := range map[string]string{"log": "", "pg_log": "--exclude=/pg_log", "./gplog/": "--exclude=/gplog", "/var/log/gp": "", "../outside": "", "": ""} {
		got := rsyncExcludes(dir)
		switch {
		case extra == "" && len(got) != len(base):
			t.Errorf("log_directory %q: %v", dir, got[len(base):])
		case extra != "" && (len(got) != len(base)+1 || got[len(base)] != extra):
			t.Errorf("log_directory %q: %v, want %s added", dir, got, extra)
		}
	}
}

// TestSSHOptionsVerifyHostKeys: rsync's ssh verifies the source's host key
// in batch mode; only the explicit opt-out turns checking off.
func TestSSHOptionsVerifyHostKeys(t *testing.T) {
	def := strings.Join(sshOptions(false), " ")
	if !strings.Contains(def, "StrictHostKeyChecking=yes") || !strings.Contains(def, "BatchMode=yes") || strings.Contains(def, "=no") || strings.Contains(def, "/dev/null") {
		t.Errorf("default ssh options %q", def)
	}
	if opt := strings.Join(sshOptions(true), " "); !strings.Contains(opt, "StrictHostKeyChecking=no") {
		t.Errorf("opt-out ssh options %q", opt)
	}
	if got := rsyncShell(false); got != "ssh "+def {
		t.Errorf("rsync -e %q", got)
	}
}

// TestProbeProblem: the plan's ssh check names the cause of a failure
// (key, auth, refused, timeout, name) and the fix.
func TestProbeProblem(t *testing.T) {
	res := func(stdout string) remote.Result { return remote.Result{Stdout: stdout} }
	for _, tt := range []struct {
		name string
		res  remote.Result
		want string // "" for no problem
	}{
		{"ok", res("PROBE ok\n"), ""},
		{"no rsync on the target host", res("PROBE norsync sdw2\n"), "rsync is not installed on sdw2"},
		{"unknown key", res("PROBE ssh 255 No ED25519 host key is known for sdw1 and you have requested strict checking.  Host key verification failed.  \n"),
			"ssh from sdw2 to sdw1 (as rsync will run it, as gpadmin) failed: sdw2's known_hosts has no key for sdw1 (key): on sdw2, as gpadmin, run: ssh-keyscan sdw1 >> ~/.ssh/known_hosts (and check the fingerprint)"},
		{"changed key", res("PROBE ssh 255 @@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@ ... Host key verification failed.\n"),
			"the host key of sdw1 has changed since sdw2's known_hosts recorded it (key): check why, then on sdw2 run: ssh-keygen -R sdw1"},
		{"auth", res("PROBE ssh 255 gpadmin@sdw1: Permission denied (publickey).\n"), "(auth): add sdw2's public key to gpadmin's ~/.ssh/authorized_keys on sdw1"},
		{"refused", res("PROBE ssh 255 ssh: connect to host sdw1 port 22: Connection refused\n"), "connection refused (refused): is sshd running on sdw1?"},
		{"timeout", res("PROBE ssh 255 ssh: connect to host sdw1 port 22: Connection timed out\n"), "no answer within 30 s (timeout)"},
		{"name", res("PROBE ssh 255 ssh: Could not resolve hostname sdw1: Name or service not known\n"), "sdw2 cannot resolve sdw1 (name)"},
		{"no rsync on the source host", res("PROBE ssh 1 \n"), "rsync is not installed on sdw1"},
		{"probe never ran", remote.Result{ExitCode: -1, Err: errors.New("dial tcp: connection refused")}, "could not check that sdw2 can run rsync from sdw1: dial tcp: connection refused"},
	} {
		got := probeProblem("sdw2", "sdw1", "gpadmin", tt.res)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestBesideDir: the files a differential recovery keeps next to the
// target directory, never inside it.
func TestBesideDir(t *testing.T) {
	for dir, want := range map[string]string{
		"/data/mirror/gpseg1":  "/data/mirror/.gpseg1.differential",
		"/data/mirror/gpseg1/": "/data/mirror/.gpseg1.differential",
	} {
		if got := differentialMarker(dir); got != want {
			t.Errorf("marker of %s: %s, want %s", dir, got, want)
		}
	}
	if got := rsyncPIDFile("/data/mirror/gpseg1"); got != "/data/mirror/.gpseg1.rsync.pid" {
		t.Errorf("pid file %s", got)
	}
}
