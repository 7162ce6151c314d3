//go:build integration

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// mirrorless is a gpdemo cluster without mirrors and without a standby:
// 2 hosts with 1 primary each.
type mirrorless struct {
	dir, coord string
	hosts      []string
	portBase   int
	hidden     []string
}

func newMirrorless(t testing.TB) mirrorless {
	t.Helper()
	slot := testbed.AcquireSlot(t)
	d := mirrorless{dir: filepath.Join(t.TempDir(), "cluster"), hosts: slot.Hosts[:2], portBase: slot.PortBase}
	d.coord = filepath.Join(d.dir, "coordinator", "gpseg-1")
	run(t, "gpdemo", "create", "--dir", d.dir, "--gphome", gphome, "--hosts", "2", "--primaries-per-host", "1",
		"--host-names", strings.Join(d.hosts, ","), "--port-base", strconv.Itoa(d.portBase))
	t.Cleanup(func() { run(t, "gpdemo", "destroy", "--dir", d.dir) })
	// Runs before the destroy: the mirrors gpaddmirrors made are not in
	// gpdemo's manifest; stop them and remove their directories.
	t.Cleanup(func() { d.removeMirrors(t) })
	for _, h := range d.hosts {
		d.hidden = append(d.hidden, filepath.Join(d.dir, h))
	}
	return d
}

// removeMirrors stops every instance under DIR/mirrors and DIR/<host>/mirror
// and removes those directories.
func (d mirrorless) removeMirrors(t testing.TB) {
	var roots []string
	roots = append(roots, filepath.Join(d.dir, "mirrors"))
	for _, h := range d.hosts {
		roots = append(roots, filepath.Join(d.dir, h, "mirror"))
	}
	for _, root := range roots {
		_ = os.Chmod(root, 0o700)
		dirs, _ := filepath.Glob(filepath.Join(root, "gpseg*"))
		for _, dir := range dirs {
			if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
				out, err := exec.Command(filepath.Join(gphome, "bin", "pg_ctl"), "-D", dir, "-m", "immediate", "-w", "stop").CombinedOutput()
				if err != nil {
					t.Errorf("stop %s: %v\n%s", dir, err, out)
				}
			}
		}
		if err := os.RemoveAll(root); err != nil {
			t.Error(err)
		}
	}
}

// tool runs a built tool blind, with stdin, and returns its exit code and output.
func (d mirrorless) tool(t testing.TB, stdin, name string, args ...string) (int, string) {
	t.Helper()
	return d.toolEnv(t, nil, stdin, name, args...)
}

// toolEnv is tool with extra environment variables (NAME=value).
func (d mirrorless) toolEnv(t testing.TB, env []string, stdin, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := testbed.Blind(t, exec.CommandContext(ctx, filepath.Join(toolsDir, name), append(args, "-l", t.TempDir())...), d.hidden...)
	cmd.Env = append(append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+d.coord, "MASTER_DATA_DIRECTORY="), env...)
	cmd.Stdin = strings.NewReader(stdin)
	return tooltest.Run(t, cmd)
}

func connect(t testing.TB, host string, port int, utility bool) cluster.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Host: host, Port: port, Flavour: cluster.GP7, Utility: utility, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// primaryPort is content c's primary port (gpdemo: base+2+c).
func (d mirrorless) primaryPort(c int) int { return d.portBase + 2 + c }

// writeRows creates a table on each primary and returns the WAL position
// after the insert, by content.
func (d mirrorless) writeRows(t *testing.T, table string) map[int]string {
	t.Helper()
	lsn := map[int]string{}
	for c, h := range d.hosts {
		conn := connect(t, h, d.primaryPort(c), true)
		for _, sql := range []string{"CREATE TABLE public." + table + " AS SELECT generate_series(1, 1000) AS i"} {
			if _, err := conn.Exec(t.Context(), sql); err != nil {
				t.Fatalf("%s on content %d: %v", sql, c, err)
			}
		}
		var l string
		if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_insert_lsn()::text").Scan(&l); err != nil {
			t.Fatal(err)
		}
		lsn[c] = l
	}
	return lsn
}

// checkMirrored checks the catalog against what runs: every content has a
// mirror row (m, u, s after FTS) whose walreceiver streams from the
// primary and has replayed past want[c]; the primary's
// synchronous_standby_names is '*', as FTS sets it for an in-sync mirror
// (compat/README.md, FTS). No content has a leftover inactive slot.
func (d mirrorless) checkMirrored(t *testing.T, want map[int]string) {
	t.Helper()
	coord := connect(t, "", d.portBase, true)
	segs, err := cluster.LoadSegments(t.Context(), coord)
	if err != nil {
		t.Fatal(err)
	}
	mirrors := 0
	for _, s := range segs {
		if !s.IsSegment() || s.PreferredRole != cluster.RoleMirror {
			continue
		}
		mirrors++
		if s.Role != cluster.RoleMirror || s.Status != cluster.StatusUp || s.Mode != cluster.ModeSynced {
			t.Errorf("mirror row %s: want m, u, s", s)
		}
	}
	if mirrors != len(d.hosts) {
		t.Fatalf("%d mirror rows, want %d:\n%v", mirrors, len(d.hosts), segs)
	}
	var hist int
	if err := coord.QueryRow(t.Context(), `SELECT count(*) FROM gp_configuration_history WHERE "desc" = 'gpaddmirrors: segment config for resync: inserted mirror segment configuration'`).Scan(&hist); err != nil {
		t.Fatal(err)
	}
	if hist != len(d.hosts) {
		t.Errorf("%d gpaddmirrors history rows, want %d", hist, len(d.hosts))
	}
	for c, h := range d.hosts {
		conn := connect(t, h, d.primaryPort(c), true)
		lsn := want[c]
		if lsn == "" {
			lsn = "0/0"
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var ok bool
			err := conn.QueryRow(t.Context(), `SELECT coalesce(bool_or(state = 'streaming' AND replay_lsn >= $1::pg_lsn), false) FROM pg_stat_replication WHERE application_name = 'gp_walreceiver'`, lsn).Scan(&ok)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("content %d: the mirror has not replayed %s within 30 s", c, want[c])
			}
			time.Sleep(200 * time.Millisecond)
		}
		var ssn string
		if err := conn.QueryRow(t.Context(), "SHOW synchronous_standby_names").Scan(&ssn); err != nil {
			t.Fatal(err)
		}
		if ssn != "*" {
			t.Errorf("content %d primary: synchronous_standby_names = %q, want '*'", c, ssn)
		}
	}
}

// slots returns, by content, the replication slots on each primary.
func (d mirrorless) slots(t testing.TB) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for c, h := range d.hosts {
		conn := connect(t, h, d.primaryPort(c), true)
		rows, err := conn.Query(t.Context(), "SELECT slot_name || ':' || active FROM pg_replication_slots ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		out[c] = names
	}
	return out
}

// TestAddMirrorsPrompts: the directory prompt answered on stdin, group
// mirroring; rows written before are on the mirrors, and so are rows
// written after.
func TestAddMirrorsPrompts(t *testing.T) {
	d := newMirrorless(t)
	loc := filepath.Join(d.dir, "mirrors")
	if err := os.Mkdir(loc, 0o700); err != nil {
		t.Fatal(err)
	}
	d.hidden = append(d.hidden, loc)
	d.writeRows(t, "before_add")
	code, out := d.tool(t, loc+"\ny\n", "gpaddmirrors", "-p", "50")
	if code != 0 {
		t.Fatalf("gpaddmirrors: exit %d\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[INFO\]:-Successfully finished pg_controldata .*/primary/gpseg0 for dbid 2:$`,
		`^\[INFO\]:-Heap checksum setting consistent across cluster$`,
		`Enter mirror segment data directory location 1 of 1 >`,
		`^\[INFO\]:-Mirror 1 of 2$`,
		`Continue with add mirrors procedure`,
		`^\[INFO\]:-Step 2 of 11: update pg_hba.conf on primaries$`,
		`^\[INFO\]:-Successfully ran pg_basebackup for dbid: \d+$`,
		`^\[INFO\]:-Updating configuration for mirrors$`,
		`^\[INFO\]:-Triggering FTS probe$`,
		`^\[INFO\]:-2 of 2 mirror\(s\) added$`,
		`^\[INFO\]:-Mirror segments have been added; data synchronization is in progress\.$`,
	)
	after := d.writeRows(t, "after_add")
	d.checkMirrored(t, after)
	for c, s := range d.slots(t) {
		if strings.Join(s, ",") != "internal_wal_replication_slot:true" {
			t.Errorf("content %d slots %v, want the mirror's active slot only", c, s)
		}
	}
	// A second run refuses: the cluster is mirrored.
	if code, out := d.tool(t, "", "gpaddmirrors", "-a", "-m", "/dev/null"); code != 2 || !strings.Contains(out, "GPDB physical mirroring cannot be added.  The cluster is already configured with Mirrors.") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

// TestAddMirrorsFailureAndRerun: -i places content 1's mirror in a
// directory gpaddmirrors cannot write; content 0 is added, content 1 leaves
// no row, no slot, no process; after the fix the same command completes.
func TestAddMirrorsFailureAndRerun(t *testing.T) {
	d := newMirrorless(t)
	var lines []string
	for c := range d.hosts {
		host := d.hosts[(c+1)%2]
		dir := filepath.Join(d.dir, host, "mirror")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%d|%s|%d|%s", c, host, d.portBase+60+c, filepath.Join(dir, fmt.Sprintf("gpseg%d", c))))
	}
	file := filepath.Join(t.TempDir(), "mirrors")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(d.dir, d.hosts[0], "mirror") // content 1's mirror goes to hosts[0]
	if err := os.Chmod(bad, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(bad, 0o700) })
	before := d.writeRows(t, "before_add")

	code, out := d.tool(t, "", "gpaddmirrors", "-a", "-i", file)
	if code != 1 {
		t.Fatalf("gpaddmirrors with one unwritable target: exit %d, want 1\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[WARNING\]:-content 1 mirror \(dbid \d+\) on .*: create mirror directories failed`,
		`^\[INFO\]:-Cleaning up content 1 mirror`,
		`^\[INFO\]:-Updating configuration for mirrors$`,
		`^\[WARNING\]:-Mirror dbid \d+ content 1 .*: failed at "create mirror directories"`,
		`^\[INFO\]:-1 of 2 mirror\(s\) added$`,
		`^\[ERROR\]:-gpaddmirrors failed\. Please check the output for more details\.$`,
	)
	coord := connect(t, "", d.portBase, true)
	segs, err := cluster.LoadSegments(t.Context(), coord)
	if err != nil {
		t.Fatal(err)
	}
	var mirrorContents []int
	for _, s := range segs {
		if s.IsSegment() && s.PreferredRole == cluster.RoleMirror {
			mirrorContents = append(mirrorContents, s.ContentID)
		}
	}
	if fmt.Sprint(mirrorContents) != "[0]" {
		t.Errorf("mirror rows for contents %v, want [0] only", mirrorContents)
	}
	if s := d.slots(t); len(s[1]) != 0 {
		t.Errorf("content 1's primary keeps slots %v, want none", s[1])
	}
	if _, err := os.Stat(filepath.Join(bad, "gpseg1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("content 1's mirror directory: %v, want absent", err)
	}

	if err := os.Chmod(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	code, out = d.tool(t, "", "gpaddmirrors", "-a", "-i", file)
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[INFO\]:-1 of 2 contents already have a mirror`,
		`^\[INFO\]:-1 segment\(s\) to add$`,
		`^\[INFO\]:-1 of 1 mirror\(s\) added$`,
	)
	d.checkMirrored(t, before)
}

// TestAddMirrorsSpreadDryRun: -s --dry-run runs the checks and prints every
// step's commands, and changes nothing.
func TestAddMirrorsSpreadDryRun(t *testing.T) {
	d := newMirrorless(t)
	loc := filepath.Join(d.dir, "mirrors")
	if err := os.Mkdir(loc, 0o700); err != nil {
		t.Fatal(err)
	}
	d.hidden = append(d.hidden, loc)
	code, out := d.tool(t, loc+"\n", "gpaddmirrors", "-s", "-p", "50", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[INFO\]:-Mirror targets checked`,
		`^\[INFO\]:-Step 5 of 11: copy primaries with pg_basebackup$`,
		`pg_basebackup -c fast -D .*/mirrors/gpseg0 -h `+d.hosts[0]+` -p \d+ --create-slot --slot internal_wal_replication_slot`,
		`^\[INFO\]:-Dry run: 2 mirror\(s\) planned; nothing was changed$`,
	)
	if entries, _ := os.ReadDir(loc); len(entries) != 0 {
		t.Errorf("dry run created %v", entries)
	}
	if s := d.slots(t); len(s[0])+len(s[1]) != 0 {
		t.Errorf("dry run left slots %v", s)
	}
	code, out = d.tool(t, loc+"\n", "gpaddmirrors", "-a", "-s", "-p", "50")
	if code != 0 {
		t.Fatalf("spread: exit %d\n%s", code, out)
	}
	d.checkMirrored(t, nil)
}
