//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// relocDemo is a mirrored gpdemo cluster of 2 segment hosts with 1 primary
// each (group mirrors, no standby), and 2 spare hosts of the slot where
// segments are recovered to.
type relocDemo struct {
	stopDemo
	hosts, spares []string
	coordPort     int
}

func newRelocDemo(t *testing.T) relocDemo {
	t.Helper()
	slot := testbed.AcquireSlot(t)
	d := relocDemo{stopDemo: stopDemo{demo: demo{dir: filepath.Join(t.TempDir(), "cluster"), primary: 2}},
		hosts: slot.Hosts[:2], spares: slot.Hosts[2:4], coordPort: slot.PortBase}
	d.coord = filepath.Join(d.dir, "coordinator", "gpseg-1")
	run(t, "gpdemo", "create", "--dir", d.dir, "--gphome", gphome, "--hosts", "2", "--primaries-per-host", "1",
		"--mirrors", "group", "--host-names", strings.Join(d.hosts, ","), "--port-base", strconv.Itoa(slot.PortBase))
	t.Cleanup(func() { run(t, "gpdemo", "destroy", "--dir", d.dir) })
	for _, h := range append(slices.Clone(d.hosts), d.spares...) {
		dir := filepath.Join(d.dir, h)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		d.hidden = append(d.hidden, dir)
	}
	// Runs before the destroy: instances this test moved under the spare
	// hosts' directories are not in gpdemo's manifest.
	t.Cleanup(func() { d.removeSpareDirs(t) })
	d.segs = d.catalog(t)
	if len(d.segs) != 5 {
		t.Fatalf("want the coordinator, 2 primaries and 2 mirrors:\n%s", dump(d.segs))
	}
	return d
}

// removeSpareDirs stops every instance under the spare hosts' directories
// and removes them.
func (d relocDemo) removeSpareDirs(t *testing.T) {
	for _, h := range d.spares {
		root := filepath.Join(d.dir, h)
		pids, _ := filepath.Glob(filepath.Join(root, "*", "*", "postmaster.pid"))
		for _, pid := range pids {
			dir := filepath.Dir(pid)
			if out, err := exec.Command(filepath.Join(gphome, "bin", "pg_ctl"), "-D", dir, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
				t.Logf("stop %s: %v\n%s", dir, err, out)
			}
		}
		if err := os.RemoveAll(root); err != nil {
			t.Error(err)
		}
	}
}

// row is dbid's catalog row now.
func (d relocDemo) row(t *testing.T, dbid int) cluster.Segment {
	t.Helper()
	for _, s := range d.catalog(t) {
		if s.DBID == dbid {
			return s
		}
	}
	t.Fatalf("no dbid %d in the catalog", dbid)
	return cluster.Segment{}
}

// acting is content's acting primary now.
func (d relocDemo) acting(t *testing.T, content int) cluster.Segment {
	t.Helper()
	for _, s := range d.catalog(t) {
		if s.ContentID == content && s.IsPrimary() {
			return s
		}
	}
	t.Fatalf("no primary for content %d", content)
	return cluster.Segment{}
}

// killPrimary kills content's acting primary with SIGKILL and waits for
// FTS to promote its peer, whichever its preferred role; it returns the
// killed instance's row.
func (d relocDemo) killPrimary(t *testing.T, content int) cluster.Segment {
	t.Helper()
	p := d.acting(t, content)
	b, err := os.ReadFile(filepath.Join(p.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	d.waitDemoted(t, p.DBID)
	return d.row(t, p.DBID)
}

// waitDemoted requests FTS probes until dbid is a down mirror and another
// instance of its content the primary.
func (d relocDemo) waitDemoted(t *testing.T, dbid int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	conn := connect(t, "", d.coordPort, false)
	const demoted = `SELECT count(*) = 2 FROM gp_segment_configuration s
		JOIN gp_segment_configuration k ON k.content = s.content
		WHERE k.dbid = $1 AND ((s.dbid = k.dbid AND s.role = 'm' AND s.status = 'd') OR (s.dbid <> k.dbid AND s.role = 'p'))`
	for {
		if _, err := conn.Exec(ctx, "SELECT gp_request_fts_probe_scan()"); err != nil {
			t.Fatalf("dbid %d not demoted within 60 s: %v", dbid, err)
		}
		var done bool
		if err := conn.QueryRow(ctx, demoted, dbid).Scan(&done); err != nil {
			t.Fatalf("dbid %d not demoted within 60 s: %v", dbid, err)
		}
		if done {
			return
		}
	}
}

// history is gprecoverseg's rows in gp_configuration_history, in order:
// "<dbid>: <desc>".
func (d relocDemo) history(t *testing.T) []string {
	t.Helper()
	rows, err := connect(t, "", d.coordPort, true).Query(t.Context(), `SELECT dbid, "desc" FROM gp_configuration_history WHERE "desc" LIKE 'gprecoverseg%' ORDER BY time, dbid`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var dbid int
		var desc string
		if err := rows.Scan(&dbid, &desc); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d: %s", dbid, desc))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// confFile writes a recovery configuration file.
func confFile(t *testing.T, lines ...string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "recover.conf")
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// loc is a segment's location as a -i file writes it.
func loc(s cluster.Segment) string { return fmt.Sprintf("%s|%d|%s", s.Address, s.Port, s.DataDir) }

// tree is every entry under dir, one line each: path, type and mode, and
// for a file its size and modification time, in walk order. Two trees of
// the same directory differ when anything in it was created, removed,
// written or chmod-ed between them.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		line := fmt.Sprintf("%s %s", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			line += fmt.Sprintf(" %d %s", fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

// wantRow fails t unless dbid's row is at host:port dir, up and in sync,
// with its roles.
func (d relocDemo) wantRow(t *testing.T, dbid int, host string, port int, dir string, role, preferred cluster.Role) {
	t.Helper()
	s := d.row(t, dbid)
	want := cluster.Segment{DBID: dbid, ContentID: s.ContentID, Role: role, PreferredRole: preferred, Mode: cluster.ModeSynced,
		Status: cluster.StatusUp, Hostname: host, Address: host, Port: port, DataDir: dir}
	if s != want {
		t.Errorf("dbid %d is %s, want %s", dbid, s, want)
	}
}

// TestRelocate moves failed segments to new locations on one mirrored
// cluster, blind, in turn:
//
//  1. content 0's primary is killed; its former primary, now a failed
//     mirror, is to go to a spare host with -i: a non-empty target
//     directory is refused with nothing changed; then the same move with
//     the tool killed -9 after its catalog transaction and before the
//     start (the transaction is held back by a lock the test takes, the
//     start by a FIFO as the new instance's log file); the same command
//     again finishes the move, the history holds Greenplum's row, the
//     killed instance's own directory is as the failover left it (every
//     entry's mode, size and modification time), the pair syncs, and
//     gprecoverseg -r makes the moved instance the
//     primary, serving every row written before;
//  2. content 1's primary is killed, its host answers no SSH any more and
//     its data directory is lost: -o with -p writes the move, and -p itself
//     moves it onto the spare host;
//  3. content 0's primary (the moved instance) is killed again: -o writes
//     the in-place recovery, and -i of that file recovers it;
//  4. content 0's primary is killed again: one -i file recovers it
//     incrementally and, named twice, content 1's mirror, which is up: it
//     is stopped, waited for until FTS marks it down, and copied in full,
//     both in place.
func TestRelocate(t *testing.T) {
	d := newRelocDemo(t)
	h3, h4 := d.spares[0], d.spares[1]

	// Rows on content 0, replayed by its mirror.
	p0 := d.acting(t, 0)
	conn := connect(t, p0.Hostname, p0.Port, true)
	if _, err := conn.Exec(t.Context(), "CREATE TABLE public.relocate AS SELECT generate_series(1, 1000) AS i"); err != nil {
		t.Fatal(err)
	}
	var lsn string
	if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	waitReplayed(t, conn, lsn)
	if err := conn.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	failed := d.killPrimary(t, 0)
	if failed.Role != cluster.RoleMirror || failed.PreferredRole != cluster.RolePrimary || failed.IsUp() {
		t.Fatalf("after the failover dbid %d is %s, want a down former primary", failed.DBID, failed)
	}
	target := filepath.Join(d.dir, h3, "relocated", "gpseg0")
	newPort := d.coordPort + 50
	moveFile := confFile(t, "# content 0's former primary to "+h3, loc(failed)+" "+fmt.Sprintf("%s|%d|%s", h3, newPort, target))
	// Each step works on what the one before left: the first to fail ends
	// the test.
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	// The killed instance's own directory, which no step below may touch:
	// a move copies from the acting primary to the new place only.
	failedTree := tree(t, failed.DataDir)

	step("non-empty target refused", func(t *testing.T) {
		if err := os.MkdirAll(target, 0o700); err != nil {
			t.Fatal(err)
		}
		keep := filepath.Join(target, "keep.txt")
		if err := os.WriteFile(keep, []byte("not a segment\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		before, history := d.catalog(t), d.history(t)
		code, out := d.blind(t, "gprecoverseg", "-a", "-i", moveFile)
		if code != 2 || !strings.Contains(out, fmt.Sprintf("for segment with port %d: Segment directory '%s' exists but is not empty!", newPort, target)) {
			t.Fatalf("exit %d, want 2 and the not-empty refusal:\n%s", code, out)
		}
		if d := cmp.Diff(dump(before), dump(d.catalog(t))); d != "" {
			t.Errorf("the catalog changed (-before +after):\n%s", d)
		}
		if d := cmp.Diff(history, d.history(t)); d != "" {
			t.Errorf("gp_configuration_history changed (-before +after):\n%s", d)
		}
		entries, err := os.ReadDir(target)
		if b, rerr := os.ReadFile(keep); err != nil || rerr != nil || len(entries) != 1 || string(b) != "not a segment\n" {
			t.Errorf("the target directory changed: %v entries, %q, %v %v", len(entries), b, err, rerr)
		}
		if err := os.RemoveAll(target); err != nil {
			t.Fatal(err)
		}
	})

	step("killed between the catalog and the start, then rerun", func(t *testing.T) {
		d.killedMove(t, moveFile, failed, target, h3, newPort)
		code, out := d.blind(t, "gprecoverseg", "-a", "-i", moveFile)
		if code != 0 {
			t.Fatalf("rerun: exit %d\n%s", code, out)
		}
		wantInOrder(t, out,
			`^\[INFO\]:-An earlier gprecoverseg \(PID \d+, .*\) did not finish; this run completes its work$`,
			`^\[INFO\]:-Line 2 of .*: dbid `+strconv.Itoa(failed.DBID)+` was moved from `+regexp.QuoteMeta(loc(failed))+` to .* by an earlier gprecoverseg that did not finish; it is recovered there$`,
			`^\[INFO\]:-   Failed instance host += `+h3+`$`,
			`holds a finished copy from an earlier run; reusing it$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		waitSynced(t, d.coordPort)
		d.wantRow(t, failed.DBID, h3, newPort, target, cluster.RoleMirror, cluster.RolePrimary)
		want := []string{fmt.Sprintf("%d: gprecoverseg: segment config for resync: inserted segment configuration for full recovery or original dbid %d", failed.DBID, failed.DBID)}
		if d := cmp.Diff(want, d.history(t)); d != "" {
			t.Errorf("gprecoverseg's history rows (-want +got):\n%s", d)
		}
		if d := cmp.Diff(failedTree, tree(t, failed.DataDir)); d != "" {
			t.Errorf("the failed instance's own directory %s was touched (-before +after):\n%s", failed.DataDir, d)
		}
	})

	step("rebalance: the moved instance serves every row", func(t *testing.T) {
		code, out := d.blind(t, "gprecoverseg", "-a", "-r")
		if code != 0 {
			t.Fatalf("gprecoverseg -r: exit %d\n%s", code, out)
		}
		waitSynced(t, d.coordPort)
		d.wantRow(t, failed.DBID, h3, newPort, target, cluster.RolePrimary, cluster.RolePrimary)
		var n int
		if err := connect(t, h3, newPort, true).QueryRow(t.Context(), "SELECT count(*) FROM public.relocate").Scan(&n); err != nil || n != 1000 {
			t.Errorf("rows on the moved instance: %d, %v; want 1000", n, err)
		}
	})

	step("-o with -p, then -p, the failed host gone", func(t *testing.T) {
		f1 := d.killPrimary(t, 1)
		// The failed instance's host is gone: it answers no SSH, and its
		// disk is lost. (The hosts of the bed share one file system, so -p,
		// which keeps the data directory, needs the old one gone.)
		dead := []string{"HOME=" + unreachableHome(t, f1.Hostname)}
		if err := os.RemoveAll(f1.DataDir); err != nil {
			t.Fatal(err)
		}
		minPort := 0
		for _, s := range d.catalog(t) {
			if s.IsSegment() && (minPort == 0 || s.Port < minPort) {
				minPort = s.Port
			}
		}
		out1 := filepath.Join(t.TempDir(), "spare.conf")
		code, out := d.blindEnv(t, dead, "gprecoverseg", "-o", out1, "-p", h4+","+h3)
		if code != 0 {
			t.Fatalf("-o -p: exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `^\[INFO\]:-Configuration file output to `+regexp.QuoteMeta(out1)+` successfully\.$`)
		b, err := os.ReadFile(out1)
		if want := fmt.Sprintf("%s %s|%d|%s\n", loc(f1), h4, minPort, f1.DataDir); err != nil || string(b) != want {
			t.Errorf("-o wrote %q (%v), want %q", b, err, want)
		}
		code, out = d.blindEnv(t, dead, "gprecoverseg", "-a", "-p", h4+", "+h3)
		if code != 0 {
			t.Fatalf("-p: exit %d\n%s", code, out)
		}
		wantInOrder(t, out,
			`^\[WARNING\]:-Host `+f1.Hostname+` is unreachable: .+$`,
			`^\[INFO\]:-Recovery type += Pool Host$`,
			`^\[INFO\]:-Pool host for recovery += `+h4+`$`,
			`^\[INFO\]:-Pool host for recovery += `+h3+`$`,
			`^\[INFO\]:-   Recovery Target instance host += `+h4+`$`,
			`^\[INFO\]:-   Recovery Target instance port += `+strconv.Itoa(minPort)+`$`,
			`^\[WARNING\]:-The following recovery hosts were not needed:$`,
			`^\[WARNING\]:-\t`+h3+`$`,
			`^\[INFO\]:-Skipping shared memory cleanup and gpsegstop on unreachable host: `+f1.Hostname+` segment: 1$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		waitSynced(t, d.coordPort)
		d.wantRow(t, f1.DBID, h4, minPort, f1.DataDir, cluster.RoleMirror, cluster.RolePrimary)
		if h := d.history(t); len(h) != 2 || h[1] != fmt.Sprintf("%d: gprecoverseg: segment config for resync: inserted segment configuration for full recovery or original dbid %d", f1.DBID, f1.DBID) {
			t.Errorf("gprecoverseg's history rows:\n%s", strings.Join(h, "\n"))
		}
	})

	step("-o, then -i of the file", func(t *testing.T) {
		again := d.killPrimary(t, 0)
		out1 := filepath.Join(t.TempDir(), "inplace.conf")
		code, out := d.blind(t, "gprecoverseg", "-o", out1)
		if code != 0 {
			t.Fatalf("-o: exit %d\n%s", code, out)
		}
		b, err := os.ReadFile(out1)
		if want := loc(again) + "\n"; err != nil || string(b) != want {
			t.Fatalf("-o wrote %q (%v), want %q", b, err, want)
		}
		code, out = d.blind(t, "gprecoverseg", "-a", "-i", out1)
		if code != 0 {
			t.Fatalf("-i: exit %d\n%s", code, out)
		}
		wantInOrder(t, out,
			`^\[INFO\]:-Recovery from configuration -i option supplied$`,
			`^\[INFO\]:-   Synchronization mode += Incremental$`,
			`^\[INFO\]:-   Failed instance directory += `+regexp.QuoteMeta(again.DataDir)+`$`,
			`^\[INFO\]:-   Recovery Target += in-place$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		waitSynced(t, d.coordPort)
		d.wantRow(t, again.DBID, h3, newPort, target, cluster.RoleMirror, cluster.RolePrimary)
	})

	step("-i: in place, and an up mirror named twice, in one run", func(t *testing.T) {
		inc := d.killPrimary(t, 0)
		var up cluster.Segment
		for _, s := range d.catalog(t) {
			if s.ContentID == 1 && !s.IsPrimary() {
				up = s
			}
		}
		if !up.IsUp() || up.Hostname != h4 {
			t.Fatalf("content 1's mirror is %s, want the instance -p moved to %s, up", up, h4)
		}
		history := d.history(t)
		file := confFile(t, loc(inc), loc(up)+" "+loc(up))
		code, out := d.blind(t, "gprecoverseg", "-a", "-i", file)
		if code != 0 {
			t.Fatalf("-i: exit %d\n%s", code, out)
		}
		wantInOrder(t, out,
			`^\[INFO\]:-Recovery 1 of 2$`,
			`^\[INFO\]:-   Synchronization mode += Incremental$`,
			`^\[INFO\]:-   Failed instance directory += `+regexp.QuoteMeta(inc.DataDir)+`$`,
			`^\[INFO\]:-Recovery 2 of 2$`,
			`^\[INFO\]:-   Synchronization mode += Full$`,
			`^\[INFO\]:-   Failed instance directory += `+regexp.QuoteMeta(up.DataDir)+`$`,
			`^\[INFO\]:-   Recovery Target += in-place$`,
			`^\[INFO\]:-Waiting for segments to be marked down\.$`,
			`^\[INFO\]:-1 of 1 segments have been marked down\.$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		waitSynced(t, d.coordPort)
		d.wantRow(t, inc.DBID, inc.Hostname, inc.Port, inc.DataDir, cluster.RoleMirror, inc.PreferredRole)
		d.wantRow(t, up.DBID, up.Hostname, up.Port, up.DataDir, cluster.RoleMirror, up.PreferredRole)
		// Both rows stay where they are, marked down and not in sync by FTS
		// before the copies: Greenplum writes nothing, in place, full or not.
		if d := cmp.Diff(history, d.history(t)); d != "" {
			t.Errorf("gprecoverseg's history rows changed (-before +after):\n%s", d)
		}
	})
}

// killedMove runs gprecoverseg -a -i file, which moves failed to target on
// host:port, and kills it with SIGKILL once its catalog transaction has
// committed and before the instance was started there. The transaction is
// held back by an EXCLUSIVE lock on the catalog's table until the copy and
// the port are done; the start is held back by a FIFO where pg_ctl's shell
// opens the log file. After the kill, the start that never got past the
// FIFO is killed too: the state is that of a tool killed between the
// catalog transaction and the start.
func (d relocDemo) killedMove(t *testing.T, file string, failed cluster.Segment, target, host string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	lock, err := connect(t, "", d.coordPort, false).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(context.Background()) }()
	if _, err := lock.Exec(ctx, "LOCK TABLE gp_compat.gp_segment_configuration IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	c, cancelCmd := command(4*time.Minute, filepath.Join(toolsDir, "gprecoverseg"), "-a", "-i", file, "-l", t.TempDir())
	defer cancelCmd()
	cmd := testbed.Blind(t, c, d.hidden...)
	cmd.Env = append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+d.coord, "MASTER_DATA_DIRECTORY=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	watch := connect(t, "", d.coordPort, true)
	poll := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Minute); !done(); time.Sleep(50 * time.Millisecond) {
			select {
			case err := <-exited:
				t.Fatalf("gprecoverseg exited (%v) before %s\n%s", err, what, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 3 minutes\n%s", what, out.String())
			}
		}
	}

	// The copy and the port are done, the catalog transaction waits.
	poll("catalog transaction waiting for the lock", func() bool {
		var n int
		err := watch.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%gp_remove_segment_mirror%'").Scan(&n)
		return err == nil && n == 1
	})
	marker := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".gpmgmt-copied")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the copy is not finished while the catalog transaction waits: %v\n%s", err, out.String())
	}
	conf, err := cluster.ReadPostgresConf(target)
	if p, perr := conf.Port(); err != nil || perr != nil || p != port {
		t.Fatalf("the port is not set while the catalog transaction waits: %d %v %v", p, err, perr)
	}
	logFile := filepath.Join(target, "log", "startup.log")
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(logFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(logFile, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(logFile)
	if err := lock.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// The transaction commits; the start blocks on the FIFO.
	startPattern := `pg_ctl .*-D ` + regexp.QuoteMeta(target) + ` .*start`
	poll("move in the catalog and a blocked start", func() bool {
		var moved bool
		err := watch.QueryRow(ctx, "SELECT count(*) = 1 FROM gp_segment_configuration WHERE dbid = $1 AND hostname = $2 AND port = $3", failed.DBID, host, port).Scan(&moved)
		return err == nil && moved && len(pgrep(t, startPattern)) > 0
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	for _, pid := range pgrep(t, regexp.QuoteMeta(target)) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatal(err)
		}
	}
	t.Logf("gprecoverseg killed between the catalog transaction and the start:\n%s", out.String())

	// The catalog names the new location, down; nothing runs there.
	s := d.row(t, failed.DBID)
	if s.Hostname != host || s.Port != port || s.DataDir != target || s.IsUp() {
		t.Errorf("after the kill dbid %d is %s, want down at %s:%d %s", failed.DBID, s, host, port, target)
	}
	if _, err := os.Stat(filepath.Join(target, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an instance was started in %s: %v", target, err)
	}
	if _, err := os.Stat(filepath.Join(d.coord, "gprecoverseg.journal")); err != nil {
		t.Errorf("no journal left by the killed run: %v", err)
	}
}
