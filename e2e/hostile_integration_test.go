//go:build integration

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// payload is a dangerous character, carried by text that runs
// `touch <sentinel>` if a shell ever expands it inside double quotes, as
// pg_ctl's /bin/sh -c does with -D "<dir>" (SENTINEL stands for the
// sentinel's path). char is the character as the refusal names it.
type payload struct {
	name, text, char string
}

// payloads are the characters a double-quoted shell word interprets, and
// control characters. The backslash one escapes its $ (a shell would turn
// it into another path rather than run it); the others all run the touch.
var payloads = []payload{
	{"dollar", "$(touch SENTINEL)", `'$'`},
	{"backquote", "`touch SENTINEL`", "'`'"},
	{"quote", `"; touch SENTINEL; "`, `'"'`},
	{"backslash", `\$(touch SENTINEL)`, `'\'`},
	{"newline", "\n$(touch SENTINEL)", `'\n'`},
	{"control", "\x01$(touch SENTINEL)", `'\x01'`},
}

// hostileBed is a gpdemo cluster with a scratch directory where the
// tests put hostile paths and where the sentinel would appear.
type hostileBed struct {
	dir, coord string   // the cluster directory and the coordinator's data directory
	hidden     []string // hidden from the tools (testbed.Blind)
	scratch    string
	sentinel   string
}

func newHostileBed(t *testing.T, dir, coord string, hidden []string) *hostileBed {
	t.Helper()
	scratch := t.TempDir()
	return &hostileBed{dir: dir, coord: coord, hidden: hidden, scratch: scratch, sentinel: filepath.Join(scratch, "SENTINEL")}
}

// text is p's text with the sentinel's path in.
func (b *hostileBed) text(p payload) string {
	return strings.ReplaceAll(p.text, "SENTINEL", b.sentinel)
}

// hostilePath returns a new path in the scratch directory that carries p,
// made to name target through a symbolic link (its parents, which the
// sentinel's slashes make, are created), or left absent when target is "".
// Without the checks, a tool would run pg_ctl on the very data directory
// at the end of the link, and the shell would create the sentinel.
func (b *hostileBed) hostilePath(t *testing.T, name string, p payload, target string) string {
	t.Helper()
	path := b.scratch + "/" + name + b.text(p)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if target != "" {
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// call is one run of a built tool.
type call struct {
	tool  string
	args  []string
	env   []string // NAME=value, after the cluster's own
	stdin string
	// seeAll runs the tool where it sees the segments' directories, as on
	// a host that has some (the tests that give one as the coordinator's).
	seeAll bool
}

// run runs c blind (unless c.seeAll) with the cluster's environment and
// returns the exit code and output; a -l to a new temporary directory is
// added unless c has its own.
func (b *hostileBed) run(t *testing.T, c call) (int, string) {
	t.Helper()
	args := slices.Clone(c.args)
	if !slices.Contains(args, "-l") {
		args = append(args, "-l", t.TempDir())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(toolsDir, c.tool), args...)
	if !c.seeAll {
		cmd = testbed.Blind(t, cmd, b.hidden...)
	}
	cmd.Env = append(append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+b.coord, "MASTER_DATA_DIRECTORY="), c.env...)
	cmd.Stdin = strings.NewReader(c.stdin)
	return tooltest.Run(t, cmd)
}

// wantOneError fails t unless out holds exactly one line at ERROR level or
// above (a "Hint:" line aside), an ERROR line matching re, and no sign of a
// stack trace.
func wantOneError(t *testing.T, out string, re string) {
	t.Helper()
	var errs []string
	for _, m := range messages(out) {
		hint := strings.HasPrefix(m, "[ERROR]:-Hint: ")
		if !hint && (strings.HasPrefix(m, "[ERROR]") || strings.HasPrefix(m, "[CRITICAL]")) {
			errs = append(errs, m)
		}
	}
	if len(errs) != 1 || !regexp.MustCompile(re).MatchString(errs[0]) {
		t.Errorf("want one ERROR line matching %q, got %q in:\n%s", re, errs, out)
	}
	for _, trace := range []string{"goroutine ", "panic:", ".go:"} {
		if strings.Contains(out, trace) {
			t.Errorf("output holds %q, a stack trace:\n%s", trace, out)
		}
	}
}

// refusal is the ERROR line of a refused path: "<tool> error: ... <what>
// <path> contains <char>" and the rest of the reason.
func refusal(tool, what, char string) string {
	return `^\[ERROR\]:-` + tool + ` error: .*` + regexp.QuoteMeta(what) + ` .* contains ` + regexp.QuoteMeta(char) + `[:,] `
}

// snapshot is what must not change when a tool refuses: the catalog (when
// the coordinator runs), the history row count, and the directory tree of
// the cluster and the scratch directory (each data directory's top level
// only: the server itself writes inside them).
type snapshot struct {
	catalog []string
	history int
	tree    []string
}

func (b *hostileBed) snapshot(t *testing.T, port int, withCatalog bool) snapshot {
	t.Helper()
	var s snapshot
	if withCatalog {
		conn := connect(t, "", port, true)
		segs, err := cluster.LoadSegments(t.Context(), conn)
		if err != nil {
			t.Fatal(err)
		}
		s.catalog = rows(segs)
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM gp_configuration_history").Scan(&s.history); err != nil {
			t.Fatal(err)
		}
		if err := conn.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for _, root := range []string{b.dir, b.scratch} {
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			s.tree = append(s.tree, path+" "+e.Type().String())
			if e.IsDir() && path != root {
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), "PG_VERSION")); err == nil {
					return fs.SkipDir // inside a data directory
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// wantUnchanged fails t unless nothing of before changed and the sentinel
// does not exist.
func (b *hostileBed) wantUnchanged(t *testing.T, before snapshot, port int) {
	t.Helper()
	if _, err := os.Lstat(b.sentinel); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the sentinel exists: a command ran (%v)", err)
	}
	after := b.snapshot(t, port, before.catalog != nil)
	if !slices.Equal(before.catalog, after.catalog) || before.history != after.history {
		t.Errorf("catalog changed:\n%s\n(%d history rows)\nwant\n%s\n(%d history rows)",
			strings.Join(after.catalog, "\n"), after.history, strings.Join(before.catalog, "\n"), before.history)
	}
	if !slices.Equal(before.tree, after.tree) {
		t.Errorf("directory tree changed:\n%s\nwant\n%s", strings.Join(after.tree, "\n"), strings.Join(before.tree, "\n"))
	}
}

// setDataDir points the catalog row of dbid at dir, in a utility session
// allowed to write the catalog (also from a Cleanup, after t's context
// has ended).
func setDataDir(t *testing.T, port, dbid int, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: port, Flavour: cluster.GP7, Utility: true, AllowSystemTableMods: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "UPDATE gp_segment_configuration SET datadir = $1 WHERE dbid = $2", dir, dbid); err != nil {
		t.Fatal(err)
	}
}

// TestHostileInput: one mirrored cluster with a standby, and every entry
// point through which a path reaches the tools, with every dangerous
// character: -l, GPHOME, gpdemo --dir, the coordinator data directory
// (-d) and a catalog row. Each path but -l's names a real directory of the
// cluster through a symbolic link, so that a tool that handed it to pg_ctl
// would really start a shell on it. A changing tool refuses with exit 2
// and one ERROR line naming the path, the character and why; gpstate
// only warns and reports as usual. Nothing runs (the sentinel never
// appears), and the catalog and the directory tree stay as they were.
// gpaddmirrors' own inputs need a cluster without mirrors:
// TestHostileAddMirrorsInput.
func TestHostileInput(t *testing.T) {
	t.Parallel() // with TestHostileAddMirrorsInput: clusters of their own slots
	d := newStopDemo(t)
	b := newHostileBed(t, d.dir, d.coord, d.hidden)
	port := d.port(t)
	mirror := d.find(t, func(s cluster.Segment) bool { return s.IsSegment() && s.IsMirror() })
	tools := []string{"gpstate", "gpstart", "gpstop", "gpaddmirrors", "gprecoverseg"}

	// The hazard is real: pg_ctl start on such a path runs the command,
	// although the coordinator is running and the start itself fails.
	t.Run("pg_ctl runs it", func(t *testing.T) {
		path := b.hostilePath(t, "control-", payloads[0], d.coord)
		out, err := exec.Command(filepath.Join(gphome, "bin", "pg_ctl"), "-D", path, "-l", filepath.Join(t.TempDir(), "log"), "-w", "-t", "5", "start").CombinedOutput()
		if err == nil {
			t.Fatalf("a second postmaster started on the coordinator's directory:\n%s", out)
		}
		if _, err := os.Stat(b.sentinel); err != nil {
			t.Fatalf("pg_ctl start did not create the sentinel (%v): the payload proves nothing\n%s", err, out)
		}
		if err := os.Remove(b.sentinel); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	})

	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			for _, tool := range tools {
				t.Run("-l "+tool, func(t *testing.T) {
					logDir := b.hostilePath(t, "logs-"+tool+"-", p, "")
					before := b.snapshot(t, port, true)
					code, out := b.run(t, call{tool: tool, args: []string{"-a", "-l", logDir}})
					if code != 2 {
						t.Errorf("exit %d, want 2\n%s", code, out)
					}
					wantOneError(t, out, refusal(tool, "log directory (-l)", p.char))
					if _, err := os.Lstat(logDir); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("the log directory was created: %v", err)
					}
					b.wantUnchanged(t, before, port)
				})
				t.Run("GPHOME "+tool, func(t *testing.T) {
					home := b.hostilePath(t, "gphome-"+tool+"-", p, gphome)
					before := b.snapshot(t, port, true)
					code, out := b.run(t, call{tool: tool, args: []string{"-a"}, env: []string{"GPHOME=" + home}})
					if code != 2 {
						t.Errorf("exit %d, want 2\n%s", code, out)
					}
					wantOneError(t, out, refusal(tool, "GPHOME", p.char))
					b.wantUnchanged(t, before, port)
				})
				t.Run("-d "+tool, func(t *testing.T) {
					mdd := b.hostilePath(t, "mdd-"+tool+"-", p, d.coord)
					args := []string{"-a", "-d", mdd}
					if tool == "gpstop" {
						args = append(args, "-r") // plain gpstop warns and stops: see "catalog row"
					}
					before := b.snapshot(t, port, true)
					code, out := b.run(t, call{tool: tool, args: args})
					if tool == "gpstate" {
						if code != 0 {
							t.Errorf("gpstate exit %d, want 0\n%s", code, out)
						}
						wantInOrder(t, out, `^\[WARNING\]:-coordinator data directory .* contains `+regexp.QuoteMeta(p.char)+`[:,] .*\(tools that start or copy instances refuse this cluster until it is fixed\)$`,
							`^\[INFO\]:-Gathering data from segments\.\.\.$`, `^\[INFO\]:-   Total segment instance count from metadata += 4$`)
					} else {
						if code != 2 {
							t.Errorf("exit %d, want 2\n%s", code, out)
						}
						wantOneError(t, out, refusal(tool, "coordinator data directory", p.char))
					}
					b.wantUnchanged(t, before, port)
				})
			}
			t.Run("gpdemo --dir", func(t *testing.T) {
				dir := b.hostilePath(t, "demo-", p, "")
				before := b.snapshot(t, port, true)
				code, out := b.run(t, call{tool: "gpdemo", args: []string{"create", "--dir", dir, "--gphome", gphome, "--hosts", "1"}})
				if code != 2 {
					t.Errorf("exit %d, want 2\n%s", code, out)
				}
				wantOneError(t, out, refusal("gpdemo", "demo directory (--dir)", p.char))
				b.wantUnchanged(t, before, port)
			})
			t.Run("gpdemo --gphome", func(t *testing.T) {
				home := b.hostilePath(t, "demo-gphome-", p, gphome)
				before := b.snapshot(t, port, true)
				code, out := b.run(t, call{tool: "gpdemo", args: []string{"create", "--dir", filepath.Join(t.TempDir(), "demo"), "--gphome", home, "--hosts", "1"}})
				if code != 2 {
					t.Errorf("exit %d, want 2\n%s", code, out)
				}
				wantOneError(t, out, refusal("gpdemo", "GPHOME", p.char))
				b.wantUnchanged(t, before, port)
			})

			// A mirror's row points at its real directory through a hostile
			// link: gpstate still reports it, the others refuse.
			t.Run("catalog row", func(t *testing.T) {
				setDataDir(t, port, mirror.DBID, b.hostilePath(t, "mirror-", p, mirror.DataDir))
				t.Cleanup(func() { setDataDir(t, port, mirror.DBID, mirror.DataDir) })
				row := `content \d+ mirror \(dbid ` + strconv.Itoa(mirror.DBID) + `\) in gp_segment_configuration: data directory`
				for _, c := range []call{
					{tool: "gpstate", args: []string{"-a"}},
					{tool: "gpaddmirrors", args: []string{"-a"}},
					{tool: "gprecoverseg", args: []string{"-a"}},
					{tool: "gprecoverseg", args: []string{"-a", "-r"}},
					{tool: "gpstop", args: []string{"-a", "-r"}},
				} {
					t.Run(strings.Join(append([]string{c.tool}, c.args...), " "), func(t *testing.T) {
						before := b.snapshot(t, port, true)
						code, out := b.run(t, c)
						if c.tool == "gpstate" {
							if code != 0 {
								t.Errorf("gpstate exit %d, want 0\n%s", code, out)
							}
							wantInOrder(t, out, `^\[WARNING\]:-`+row+` .* contains `+regexp.QuoteMeta(p.char)+`[:,] `, `^\[INFO\]:-   Total segment instance count from metadata += 4$`)
						} else {
							if code != 2 {
								t.Errorf("exit %d, want 2\n%s", code, out)
							}
							wantOneError(t, out, `^\[ERROR\]:-`+c.tool+` error: `+row+` .* contains `+regexp.QuoteMeta(p.char)+`[:,] `)
						}
						b.wantUnchanged(t, before, port)
					})
				}
			})
		})
	}

	t.Run("bad environment", func(t *testing.T) { badEnvironment(t, d, b) })
	t.Run("gprecoverseg recovery and rebalance", func(t *testing.T) { hostileRecovery(t, d, b) })
	// Last: it stops and starts the cluster.
	t.Run("gpstart", func(t *testing.T) { hostileStart(t, d, b, mirror) })
	d.wantAllRunning(t)
	d.wantCatalog(t, d.segs)
}

// hostileRecovery: gprecoverseg's recovery and rebalance, which run
// pg_rewind and pg_ctl start on the directories of catalog rows, refuse a
// hostile row before they act. A primary is killed and fails over; with
// its row hostile, gprecoverseg -a refuses for every dangerous character
// and the instance stays down. Mended, it is recovered; with its row
// hostile again while the cluster is unbalanced, gprecoverseg -a -r
// refuses and the roles stay switched. Mended again, it is rebalanced: the
// cluster ends as it was made.
func hostileRecovery(t *testing.T, d stopDemo, b *hostileBed) {
	port := d.port(t)
	failed := d.find(t, func(s cluster.Segment) bool { return s.IsSegment() && s.IsPrimary() })
	pid, err := os.ReadFile(filepath.Join(failed.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("kill", "-9", strings.SplitN(string(pid), "\n", 2)[0]).CombinedOutput(); err != nil {
		t.Fatalf("kill -9 the primary dbid %d: %v %s", failed.DBID, err, out)
	}
	waitFailover(t, port, failed.ContentID)
	row := `content \d+ mirror \(dbid ` + strconv.Itoa(failed.DBID) + `\) in gp_segment_configuration: data directory`
	refuse := func(t *testing.T, args ...string) {
		t.Helper()
		for _, p := range payloads {
			t.Run(p.name, func(t *testing.T) {
				setDataDir(t, port, failed.DBID, b.hostilePath(t, "recover"+strings.Join(args, "")+"-", p, failed.DataDir))
				before := b.snapshot(t, port, true)
				code, out := b.run(t, call{tool: "gprecoverseg", args: args})
				if code != 2 {
					t.Errorf("exit %d, want 2\n%s", code, out)
				}
				wantOneError(t, out, `^\[ERROR\]:-gprecoverseg error: `+row+` .* contains `+regexp.QuoteMeta(p.char)+`[:,] `)
				b.wantUnchanged(t, before, port)
			})
		}
		setDataDir(t, port, failed.DBID, failed.DataDir)
	}
	mended := func(t *testing.T, what, synced string, args ...string) {
		t.Helper()
		if code, out := b.run(t, call{tool: "gprecoverseg", args: args}); code != 0 {
			t.Fatalf("gprecoverseg %s with the row mended: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		probeUntil(t, port, what, "SELECT bool_and(status = 'u' AND mode = 's'"+synced+") FROM gp_segment_configuration WHERE content >= 0")
	}

	t.Run("recovery", func(t *testing.T) {
		refuse(t, "-a")
		if running(failed) {
			t.Errorf("the failed instance dbid %d was started", failed.DBID)
		}
	})
	mended(t, "the recovery", "", "-a")
	t.Run("rebalance", func(t *testing.T) { refuse(t, "-a", "-r") })
	mended(t, "the rebalance", " AND role = preferred_role", "-a", "-r")
}

// hostileStart: with a mirror's catalog row hostile, gpstop warns and
// stops the cluster (a stop goes through no shell), gpstart refuses after
// reading the catalog from its admin-mode coordinator, which it stops
// again, for every dangerous character; gpstart -m warns and starts the
// coordinator alone, which is how such a catalog is repaired.
func hostileStart(t *testing.T, d stopDemo, b *hostileBed, mirror cluster.Segment) {
	port := d.port(t)
	row := `content \d+ mirror \(dbid ` + strconv.Itoa(mirror.DBID) + `\) in gp_segment_configuration: data directory`
	withDir := func(dir string) []string {
		segs := slices.Clone(d.segs)
		for i := range segs {
			if segs[i].DBID == mirror.DBID {
				segs[i].DataDir = dir
			}
		}
		return rows(segs)
	}
	path := b.hostilePath(t, "stop-", payloads[0], mirror.DataDir)
	setDataDir(t, port, mirror.DBID, path)
	code, out := b.run(t, call{tool: "gpstop", args: []string{"-a", "-M", "fast"}})
	if code != 0 {
		t.Fatalf("gpstop exit %d, want 0\n%s", code, out)
	}
	wantInOrder(t, out, `^\[WARNING\]:-`+row+` .* contains '\$': `, `Coordinator segment instance directory=`)
	d.wantAllStopped(t)

	startCoordinator := func(t *testing.T, want []string) {
		t.Helper()
		code, out := b.run(t, call{tool: "gpstart", args: []string{"-a", "-m"}})
		if code != 0 {
			t.Fatalf("gpstart -m exit %d, want 0\n%s", code, out)
		}
		wantInOrder(t, out, `^\[WARNING\]:-`+row+` .* contains `, `Coordinator Started\.\.\.`)
		if got := rows(d.catalog(t)); !slices.Equal(got, want) {
			t.Fatalf("catalog:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	stopCoordinator := func(t *testing.T) {
		t.Helper()
		if code, out := b.run(t, call{tool: "gpstop", args: []string{"-a", "-m"}}); code != 0 {
			t.Fatalf("gpstop -m exit %d\n%s", code, out)
		}
	}
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			startCoordinator(t, withDir(path))
			path = b.hostilePath(t, "start-", p, mirror.DataDir)
			setDataDir(t, port, mirror.DBID, path)
			stopCoordinator(t)
			before := b.snapshot(t, port, false)
			code, out := b.run(t, call{tool: "gpstart", args: []string{"-a"}})
			if code != 2 {
				t.Errorf("gpstart exit %d, want 2\n%s", code, out)
			}
			wantOneError(t, out, `^\[ERROR\]:-gpstart error: `+row+` .* contains `+regexp.QuoteMeta(p.char)+`[:,] `)
			b.wantUnchanged(t, before, port)
			d.wantAllStopped(t)
		})
	}
	startCoordinator(t, withDir(path))
	setDataDir(t, port, mirror.DBID, mirror.DataDir)
	stopCoordinator(t)
	if code, out := b.run(t, call{tool: "gpstart", args: []string{"-a"}}); code != 0 {
		t.Fatalf("gpstart after the repair: exit %d\n%s", code, out)
	}
}

// badEnvironment: a coordinator data directory that is absent, missing,
// or another instance's; GPHOME unset or no installation; PGPORT wrong
// (ignored: the port is postgresql.conf's). One ERROR line (and perhaps a
// hint), the documented exit code, nothing changed.
func badEnvironment(t *testing.T, d stopDemo, b *hostileBed) {
	port := d.port(t)
	primary := d.find(t, func(s cluster.Segment) bool { return s.IsSegment() && s.IsPrimary() })
	mirror := d.find(t, func(s cluster.Segment) bool { return s.IsSegment() && s.IsMirror() })
	standby := d.find(t, cluster.Segment.IsStandby)
	const fix = `; set COORDINATOR_DATA_DIRECTORY or pass -d with the coordinator data directory$`
	same := func(re string) map[string]string {
		m := map[string]string{}
		for _, tool := range []string{"gpstate", "gpstart", "gpstop", "gpaddmirrors", "gprecoverseg"} {
			m[tool] = re
		}
		return m
	}
	for _, tt := range []struct {
		name   string
		env    []string
		args   []string
		seeAll bool               // see call.seeAll
		setup  func(t *testing.T) // undone by its own Cleanup
		want   map[string]string  // by tool: the ERROR line
	}{
		{name: "no data directory", env: []string{"COORDINATOR_DATA_DIRECTORY="},
			want: same(`error: Environment Variable COORDINATOR_DATA_DIRECTORY not set!$`)},
		{name: "missing data directory", args: []string{"-d", "/nonexistent/gpseg-1"},
			want: func() map[string]string {
				m := same(`error: read configuration: open /nonexistent/gpseg-1/postgresql\.conf: no such file or directory \(is /nonexistent/gpseg-1 the coordinator data directory\?\)$`)
				// gprecoverseg makes its lock there first.
				m["gprecoverseg"] = `error: create the lock /nonexistent/gpseg-1/gprecoverseg\.lock: mkdir /nonexistent/gpseg-1/gprecoverseg\.lock: no such file or directory$`
				return m
			}()},
		{name: "a primary's", seeAll: true, args: []string{"-d", primary.DataDir},
			want: same(`error: ` + regexp.QuoteMeta(primary.DataDir) + ` is the data directory of a segment, not of the coordinator \(its postmaster\.opts shows gp_role=execute\)` + fix)},
		{name: "a mirror's", seeAll: true, args: []string{"-d", mirror.DataDir},
			want: same(`error: ` + regexp.QuoteMeta(mirror.DataDir) + ` is the data directory of a mirror or a standby, not of the coordinator \(it holds standby\.signal\)` + fix)},
		{name: "the standby's", seeAll: true, args: []string{"-d", standby.DataDir},
			want: same(`error: ` + regexp.QuoteMeta(standby.DataDir) + ` is the data directory of a mirror or a standby, not of the coordinator \(it holds standby\.signal\)` + fix)},
		// A Greenplum 6 primary shows no sign in its files: it is found by
		// the catalog it serves, or by its refusal of normal sessions.
		{name: "a primary's without signs", seeAll: true, args: []string{"-d", primary.DataDir},
			setup: func(t *testing.T) {
				opts := filepath.Join(primary.DataDir, "postmaster.opts")
				old, err := os.ReadFile(opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(opts, []byte(strings.ReplaceAll(string(old), "gp_role=execute", "gp_role=x")), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.WriteFile(opts, old, 0o600) })
			},
			want: map[string]string{
				"gpstate":      `error: load segment configuration: Invalid GpArray: no rows in gp_segment_configuration$`,
				"gpstop":       `error: load segment configuration: Invalid GpArray: no rows in gp_segment_configuration$`,
				"gpstart":      `error: Coordinator instance process running$`,
				"gpaddmirrors": `error: cannot connect to the coordinator on port \d+: .*connections to primary segments are not allowed`,
				"gprecoverseg": `error: cannot connect to the coordinator on port \d+: .*connections to primary segments are not allowed`,
			}},
		{name: "no GPHOME", env: []string{"GPHOME="}, want: same(`error: Environment Variable GPHOME not set$`)},
		{name: "GPHOME no installation", env: []string{"GPHOME=/nonexistent/gphome"},
			want: map[string]string{
				"gpstate":      `error: .*\(is GPHOME=/nonexistent/gphome a Greenplum installation\?\)$`,
				"gpstop":       `error: .*\(is GPHOME=/nonexistent/gphome a Greenplum installation\?\)$`,
				"gpstart":      `error: File permission mismatch\.`,
				"gpaddmirrors": `error: .*\(is GPHOME=/nonexistent/gphome a Greenplum installation\?\)$`,
				"gprecoverseg": `error: .*\(is GPHOME=/nonexistent/gphome a Greenplum installation\?\)$`,
			}},
		// Ignored: the tools read the port from postgresql.conf, as
		// Greenplum's do; each goes as far as it would without it.
		{name: "PGPORT not a number", env: []string{"PGPORT=x7"},
			want: map[string]string{
				"gpstate":      "",
				"gpaddmirrors": `error: GPDB physical mirroring cannot be added\.  The cluster is already configured with Mirrors\.$`,
				"gprecoverseg": "", // nothing to recover
			}},
		{name: "PGPORT another port", env: []string{"PGPORT=1"},
			want: map[string]string{
				"gpstate":      "",
				"gpaddmirrors": `error: GPDB physical mirroring cannot be added\.  The cluster is already configured with Mirrors\.$`,
				"gprecoverseg": "", // nothing to recover
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			for _, tool := range []string{"gpstate", "gpstart", "gpstop", "gpaddmirrors", "gprecoverseg"} {
				want, ok := tt.want[tool]
				if !ok {
					continue
				}
				t.Run(tool, func(t *testing.T) {
					before := b.snapshot(t, port, true)
					code, out := b.run(t, call{tool: tool, args: append([]string{"-a"}, tt.args...), env: tt.env, seeAll: tt.seeAll})
					if want == "" {
						if code != 0 {
							t.Errorf("exit %d, want 0\n%s", code, out)
						}
					} else {
						if code != 2 {
							t.Errorf("exit %d, want 2\n%s", code, out)
						}
						wantOneError(t, out, `^\[ERROR\]:-`+tool+` `+want)
					}
					b.wantUnchanged(t, before, port)
				})
			}
		})
	}
}

// TestHostileAddMirrorsInput: gpaddmirrors' own inputs, on a cluster
// without mirrors where it would otherwise build them: a -i file, a -m
// file and the prompts with every dangerous character in a data directory
// (but the newline, which ends the line before it could be part of one),
// -i files with hostile addresses, and files that are no mirror files at
// all. Exit 2, one ERROR line naming the line and what is wrong, nothing
// created, the catalog unchanged, the sentinel absent.
func TestHostileAddMirrorsInput(t *testing.T) {
	t.Parallel()
	d := newMirrorless(t)
	b := newHostileBed(t, d.dir, d.coord, d.hidden)
	port := d.portBase
	targets := filepath.Join(b.scratch, "targets")
	if err := os.Mkdir(targets, 0o700); err != nil {
		t.Fatal(err)
	}
	line := func(c int, addr, dir string) string {
		return fmt.Sprintf("%d|%s|%d|%s\n", c, addr, d.portBase+60+c, dir)
	}
	good := line(1, d.hosts[0], filepath.Join(targets, "gpseg1"))
	write := func(t *testing.T, text string) string {
		t.Helper()
		f := filepath.Join(t.TempDir(), "input")
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	check := func(t *testing.T, c call, re string) {
		t.Helper()
		before := b.snapshot(t, port, true)
		code, out := b.run(t, c)
		if code != 2 {
			t.Errorf("exit %d, want 2\n%s", code, out)
		}
		wantOneError(t, out, `^\[ERROR\]:-gpaddmirrors error: `+re)
		b.wantUnchanged(t, before, port)
	}

	for _, p := range payloads {
		if strings.Contains(p.text, "\n") {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			dir := b.hostilePath(t, "mirror-", p, "")
			char := regexp.QuoteMeta(p.char) + `[:,] `
			t.Run("-i", func(t *testing.T) {
				f := write(t, line(0, d.hosts[1], dir)+good)
				check(t, call{tool: "gpaddmirrors", args: []string{"-a", "-i", f}},
					`Invalid directory on line 1 of file `+regexp.QuoteMeta(f)+`: mirror data directory .* contains `+char)
			})
			t.Run("-m", func(t *testing.T) {
				f := write(t, dir+"\n")
				check(t, call{tool: "gpaddmirrors", args: []string{"-a", "-m", f}},
					`line 1 of file `+regexp.QuoteMeta(f)+`: mirror data directory location .* contains `+char)
			})
			t.Run("prompt", func(t *testing.T) {
				check(t, call{tool: "gpaddmirrors", args: []string{"-a"}, stdin: dir + "\ny\n"},
					`mirror segment data directory location 1 of 1: mirror data directory location .* contains `+char)
			})
		})
	}

	t.Run("hostile addresses", func(t *testing.T) {
		for _, addr := range []struct{ name, text, what string }{
			{"semicolon", "sdw1;touch SENTINEL", `contains ';'`},
			{"dollar", "sdw1$(touch SENTINEL)", `contains '\$'`},
			{"backquote", "sdw1`touch SENTINEL`", "contains '`'"},
			{"option", "-oProxyCommand=touch SENTINEL", `starts with '-'`},
			{"space", "sdw1 -oProxyCommand=x", `contains ' '`},
			{"bracket", "[sdw1", `contains '\['`},
		} {
			// Names of their own: t.TempDir would carry the text.
			t.Run(addr.name, func(t *testing.T) {
				a := strings.ReplaceAll(addr.text, "SENTINEL", b.sentinel)
				f := write(t, line(0, a, filepath.Join(targets, "gpseg0"))+good)
				check(t, call{tool: "gpaddmirrors", args: []string{"-a", "-i", f}},
					`Invalid address on line 1 of file `+regexp.QuoteMeta(f)+`: address .* `+addr.what+`: host names reach ssh`)
			})
		}
	})

	t.Run("not a mirror file", func(t *testing.T) {
		unreadable := write(t, good)
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		huge := write(t, strings.Repeat("\n", 17<<20)) // blank lines, skipped by both parsers
		binary := write(t, "0|sdw1|7000|/m\x00\x01\x02\xff\n")
		latin1 := write(t, line(0, d.hosts[1], filepath.Join(targets, "caf\xe9"))+good)
		dir := t.TempDir()
		for _, flag := range []string{"-i", "-m"} {
			what := map[string]string{"-i": "mirror configuration file", "-m": "mirror data directory file"}[flag]
			for _, tt := range []struct{ name, file, re string }{
				{"unreadable", unreadable, `cannot read the ` + what + ` given with ` + flag + `: open ` + regexp.QuoteMeta(unreadable) + `: permission denied$`},
				{"a directory", dir, `cannot read ` + regexp.QuoteMeta(dir) + `: read ` + regexp.QuoteMeta(dir) + `: is a directory$`},
				{"/dev/zero", "/dev/zero", `line 1 of file /dev/zero is more than 8192 bytes long: is /dev/zero the right file\?$`},
				{"huge", huge, `file ` + regexp.QuoteMeta(huge) + ` is larger than 16 MiB: is it the right file\?$`},
				{"binary", binary, `line 1 of file ` + regexp.QuoteMeta(binary) + ` holds a NUL byte: .* is not a text file$`},
				{"Latin-1", latin1, `line 1 of file ` + regexp.QuoteMeta(latin1) + ` is not UTF-8 text: give paths and host names in UTF-8$`},
			} {
				t.Run(flag+" "+tt.name, func(t *testing.T) {
					check(t, call{tool: "gpaddmirrors", args: []string{"-a", flag, tt.file}}, tt.re)
				})
			}
		}
	})
}
