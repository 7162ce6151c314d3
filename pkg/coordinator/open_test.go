package coordinator_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// Versions as the GP6 transcripts print them (gp6-transcripts/gpstate-v.txt),
// and a Greenplum 7 with a PostgreSQL version() like the compat test bed's.
const (
	gphome = "/usr/local/gpdb"

	gp6Local  = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
	gp6Server = "PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213) on x86_64-unknown-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit compiled on Nov 23 2026 18:42:17"
	gp7Local  = "postgres (Greenplum Database) 7.1.0 build commit:e7c2b1f14bb42a1018ac57d14f4436880e0a0515"
	gp7Server = "PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit"
)

// gpdemo is the cluster of gp6-transcripts/gpstate-v.txt (its
// gpgetstatususingtransition.py line): a coordinator and two mirrored
// contents on one host.
func gpdemo() []cluster.Segment {
	seg := func(dbid, content int, role cluster.Role, mode cluster.Mode, port int, dir string) cluster.Segment {
		return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: mode,
			Status: cluster.StatusUp, Hostname: "mdw", Address: "mdw", Port: port, DataDir: dir}
	}
	return []cluster.Segment{
		seg(1, -1, cluster.RolePrimary, cluster.ModeNotSynced, 7000, "/data/qddir/demoDataDir-1"),
		seg(2, 0, cluster.RolePrimary, cluster.ModeSynced, 7002, "/data/dbfast1/demoDataDir0"),
		seg(4, 0, cluster.RoleMirror, cluster.ModeSynced, 7004, "/data/dbfast_mirror1/demoDataDir0"),
		seg(3, 1, cluster.RolePrimary, cluster.ModeSynced, 7003, "/data/dbfast2/demoDataDir1"),
		seg(5, 1, cluster.RoleMirror, cluster.ModeSynced, 7005, "/data/dbfast_mirror2/demoDataDir1"),
	}
}

// fixture reads testdata/segconfig/<name>.json.
func fixture(t *testing.T, name string) []cluster.Segment {
	t.Helper()
	return clustertest.ReadSegments(t, filepath.Join("..", "..", "testdata", "segconfig", name+".json"))
}

const (
	optsDispatch = `/usr/local/gpdb/bin/postgres "-D" "/data/qddir/demoDataDir-1" "-p" "7000" "-E"`
	optsUtility  = `/usr/local/gpdb/bin/postgres "-D" "/data/qddir/demoDataDir-1" "-p" "7000" "-c" "gp_role=utility"`
)

// rig is everything Open touches, faked: the environment, the local
// executor answering postgres --gp-version, a coordinator data directory
// and the connection.
type rig struct {
	env  *app.Env
	out  *bytes.Buffer
	vars map[string]string
	exec *remotetest.Fake
	dir  string
	conn *clustertest.FakeConn
}

// newRig sets up a healthy coordinator of flavour f (GP6 or GP7) running
// the gpdemo cluster, in dispatch mode. Log lines at INFO and above go to
// b.out.
func newRig(t *testing.T, f cluster.Flavour) *rig {
	t.Helper()
	env, out, _ := apptest.Env(t, "gpstate")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: slog.LevelInfo}))
	b := &rig{env: env, out: out, vars: map[string]string{"GPHOME": gphome}, exec: &remotetest.Fake{},
		dir: t.TempDir(), conn: &clustertest.FakeConn{}}
	env.Getenv = func(k string) string { return b.vars[k] }
	env.Exec = b.exec
	env.Connect = b.conn.Connector()

	local, server := gp6Local, gp6Server
	b.vars["MASTER_DATA_DIRECTORY"] = b.dir
	if f == cluster.GP7 {
		local, server = gp7Local, gp7Server
		delete(b.vars, "MASTER_DATA_DIRECTORY")
		b.vars["COORDINATOR_DATA_DIRECTORY"] = b.dir
		b.conn.On(cluster.ServerVersionNumSQL, clustertest.Text("70100"))
	}
	b.exec.OnArgv("localhost", []string{gphome + "/bin/postgres", "--gp-version"}, remotetest.Response{Stdout: local + "\n"})
	b.conn.On(cluster.ServerVersionSQL, clustertest.Text(server))
	b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(gpdemo()))
	b.write(t, "postgresql.conf", "# written by initdb\nport=7000 # gpdemo\nmax_connections = 25\n")
	b.write(t, "postmaster.pid", "12345\n/data/qddir/demoDataDir-1\n")
	b.write(t, "postmaster.opts", optsDispatch+"\n")
	return b
}

func (b *rig) write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, name), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (b *rig) remove(t *testing.T, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(b.dir, name)); err != nil {
		t.Fatal(err)
	}
}

func (b *rig) open(t *testing.T, opts coordinator.Options) (*coordinator.Coordinator, error) {
	t.Helper()
	c, err := coordinator.Open(context.Background(), b.env, opts)
	if err == nil {
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}
	return c, err
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		flavour cluster.Flavour
		golden  string
		local   string
		server  string
		sql     []string // statements run on the coordinator, in order
	}{
		{"gp6", cluster.GP6, "open_gp6.golden", gp6Local, gp6Server,
			[]string{cluster.ServerVersionSQL, cluster.LoadSQL}},
		// version() names no Greenplum release: the release comes from
		// gp_server_version_num.
		{"gp7 version from gp_server_version_num", cluster.GP7, "open_gp7.golden", gp7Local, gp7Server,
			[]string{cluster.ServerVersionSQL, cluster.ServerVersionNumSQL, cluster.LoadSQL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRig(t, tt.flavour)
			c, err := b.open(t, coordinator.Options{Utility: true})
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.golden, b.out.Bytes())

			if d := cmp.Diff(gpdemo(), c.Cluster.All()); d != "" {
				t.Errorf("loaded cluster (-want +got):\n%s", d)
			}
			if c.GPHome != gphome || c.DataDir != b.dir || c.Port != 7000 || c.MaxConnections != 25 ||
				c.Local.Raw != tt.local || c.ServerVersion != tt.server || c.Flavour() != tt.flavour ||
				c.State != (cluster.CoordinatorState{Opts: optsDispatch}) {
				t.Errorf("coordinator %+v", *c)
			}
			wantCfg := []cluster.ConnConfig{{Port: 7000, Flavour: tt.flavour, Utility: true}}
			if d := cmp.Diff(wantCfg, b.conn.Configs()); d != "" {
				t.Errorf("connection (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.sql, b.conn.SQL()); d != "" {
				t.Errorf("statements (-want +got):\n%s", d)
			}
			wantExec := []remote.Command{cluster.VersionCommand(gphome)}
			if d := cmp.Diff(wantExec, b.exec.Calls(), cmpCommand); d != "" {
				t.Errorf("local commands (-want +got):\n%s", d)
			}
			if b.conn.Closed() {
				t.Error("connection closed before Close")
			}
			if err := c.Close(context.Background()); err != nil || !b.conn.Closed() {
				t.Errorf("Close: %v, closed %t", err, b.conn.Closed())
			}
		})
	}
}

// cmpCommand compares commands by what runs where.
var cmpCommand = cmp.Transformer("command", func(c remote.Command) string {
	return c.Host + ": " + remote.CommandLine(c)
})

func TestOpenOptions(t *testing.T) {
	b := newRig(t, cluster.GP6)
	other := t.TempDir()
	b.vars["MASTER_DATA_DIRECTORY"] = "/nonexistent"
	for _, name := range []string{"postgresql.conf", "postmaster.pid", "postmaster.opts"} {
		data, err := os.ReadFile(filepath.Join(b.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "postgresql.conf" {
			data = []byte("port = 6000\n")
		}
		if err := os.WriteFile(filepath.Join(other, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	segs := gpdemo() // whose coordinator is the one in other
	segs[0].Port, segs[0].DataDir = 6000, other
	b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
	c, err := b.open(t, coordinator.Options{DataDir: other, ConnectTimeout: 15e9, Retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != other || c.Port != 6000 || c.MaxConnections != 0 {
		t.Errorf("-d: data dir %s port %d max_connections %d", c.DataDir, c.Port, c.MaxConnections)
	}
	want := []cluster.ConnConfig{{Port: 6000, Flavour: cluster.GP6, ConnectTimeout: 15e9, Retries: 3}}
	if d := cmp.Diff(want, b.conn.Configs()); d != "" {
		t.Errorf("connection (-want +got):\n%s", d)
	}
}

// A coordinator started in utility mode is being repaired: its pairs are
// not validated. A normal one with the same catalog is refused.
func TestOpenUtilityModeSkipsPairValidation(t *testing.T) {
	bad := fixture(t, "invalid_bad_pair_state")
	tests := []struct {
		name    string
		opts    string
		wantErr string
	}{
		{"utility coordinator", optsUtility, ""},
		{"dispatch coordinator", optsDispatch, "Invalid GpArray: content 0: invalid pair state (u,s,d,s) (primary dbid 2, mirror dbid 6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRig(t, cluster.GP6)
			b.write(t, "postmaster.opts", tt.opts+"\n")
			b.write(t, "postgresql.conf", "port = 5432\n") // the fixture's coordinator port
			b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(bad))
			c, err := b.open(t, coordinator.Options{Utility: true})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !c.State.Utility {
					t.Error("State.Utility = false")
				}
				want, err := cluster.New(bad)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(want.All(), c.Cluster.All()); d != "" {
					t.Errorf("loaded cluster (-want +got):\n%s", d)
				}
				return
			}
			var expected *app.ExpectedError
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !errors.As(err, &expected) {
				t.Errorf("err = %v, want an ExpectedError starting %q", err, tt.wantErr)
			}
			if !b.conn.Closed() {
				t.Error("connection left open")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name      string
		flavour   cluster.Flavour
		setup     func(t *testing.T, b *rig)
		want      string // the whole message; %s is the data directory
		hint      string
		connected bool // whether a connection was opened (and must be closed)
		// unexpected errors are not app.ExpectedError: app.Main reports
		// them as Python reports an exception ("<prog> failed. (Reason=...)")
		unexpected bool
	}{
		{name: "GPHOME unset",
			setup: func(t *testing.T, b *rig) { delete(b.vars, "GPHOME") },
			want:  "Environment Variable GPHOME not set"},
		{name: "postgres --gp-version fails",
			setup: func(t *testing.T, b *rig) {
				b.exec = &remotetest.Fake{}
				b.exec.OnArgv("localhost", []string{gphome + "/bin/postgres", "--gp-version"},
					remotetest.Response{ExitCode: 127, Stderr: "bash: /usr/local/gpdb/bin/postgres: No such file or directory\n"})
				b.env.Exec = b.exec
			},
			want: "get local version: localhost: local version: /usr/local/gpdb/bin/postgres --gp-version: exit status 127\n" +
				"    stderr: bash: /usr/local/gpdb/bin/postgres: No such file or directory (is GPHOME=/usr/local/gpdb a Greenplum installation?)"},
		{name: "no data directory, GP6",
			setup: func(t *testing.T, b *rig) { delete(b.vars, "MASTER_DATA_DIRECTORY") },
			want:  "Environment Variable MASTER_DATA_DIRECTORY not set!"},
		{name: "no data directory, GP7", flavour: cluster.GP7,
			setup: func(t *testing.T, b *rig) { delete(b.vars, "COORDINATOR_DATA_DIRECTORY") },
			want:  "Environment Variable COORDINATOR_DATA_DIRECTORY not set!"},
		{name: "missing postgresql.conf",
			setup: func(t *testing.T, b *rig) { b.remove(t, "postgresql.conf") },
			want:  "read configuration: open %s/postgresql.conf: no such file or directory (is %s the master data directory?)"},
		{name: "no port in postgresql.conf",
			setup: func(t *testing.T, b *rig) { b.write(t, "postgresql.conf", "max_connections = 25\n") },
			want:  "master port in %s/postgresql.conf: "},
		{name: "stopped",
			setup: func(t *testing.T, b *rig) { b.remove(t, "postmaster.pid") },
			want:  "Greenplum database appears to be stopped",
			hint:  "no postmaster.pid in %s: start the cluster with gpstart"},
		{name: "connect fails",
			setup: func(t *testing.T, b *rig) {
				b.env.Connect = func(context.Context, cluster.ConnConfig) (cluster.Conn, error) {
					return nil, errors.New("connect to database template1 on /tmp:7000 as gpadmin: server error")
				}
			},
			want: "cannot connect to the master on port 7000: connect to database template1 on /tmp:7000 as gpadmin: server error"},
		{name: "version() fails", connected: true, unexpected: true,
			setup: func(t *testing.T, b *rig) {
				b.conn.On(cluster.ServerVersionSQL, clustertest.Err(errors.New("conn busy")))
			},
			want: "read server version: conn busy"},
		{name: "version mismatch", connected: true,
			setup: func(t *testing.T, b *rig) {
				b.conn.On(cluster.ServerVersionSQL, clustertest.Text(strings.ReplaceAll(gp6Server, "Greenplum Database 6.24.3", "Greenplum Database 7.1.0")))
			},
			want: "Cannot connect to GPDB version 7.1 from installed version 6.24"},
		{name: "version mismatch from gp_server_version_num", flavour: cluster.GP7, connected: true,
			setup: func(t *testing.T, b *rig) {
				b.conn.On(cluster.ServerVersionNumSQL, clustertest.Text("60243"))
			},
			want: "Cannot connect to GPDB version 6.2 from installed version 7.1"},
		{name: "no Greenplum release at all", flavour: cluster.GP7, connected: true,
			setup: func(t *testing.T, b *rig) {
				b.conn.On(cluster.ServerVersionNumSQL, clustertest.Err(errors.New(`unrecognized configuration parameter "gp_server_version_num"`)))
			},
			want: `coordinator at port 7000: version() names no Greenplum release and read gp_server_version_num: unrecognized configuration parameter "gp_server_version_num"`},
		{name: "load fails", connected: true,
			setup: func(t *testing.T, b *rig) {
				b.conn.On(cluster.LoadSQL, clustertest.Err(errors.New(`relation "gp_segment_configuration" does not exist`)))
			},
			want: `query gp_segment_configuration: relation "gp_segment_configuration" does not exist`},
		{name: "invalid catalog", connected: true,
			setup: func(t *testing.T, b *rig) {
				b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(fixture(t, "invalid_two_primaries")))
			},
			want: "load segment configuration: Invalid GpArray: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.flavour
			if f == cluster.FlavourUnknown {
				f = cluster.GP6
			}
			b := newRig(t, f)
			tt.setup(t, b)
			_, err := b.open(t, coordinator.Options{Utility: true})
			if err == nil {
				t.Fatal("no error")
			}
			want := strings.ReplaceAll(tt.want, "%s", b.dir)
			if got := err.Error(); got != want && !(strings.HasSuffix(want, ": ") && strings.HasPrefix(got, want)) {
				t.Errorf("error\n got %q\nwant %q", got, want)
			}
			var expected *app.ExpectedError
			if errors.As(err, &expected) == tt.unexpected {
				t.Errorf("%T: ExpectedError %t, want %t", err, !tt.unexpected, tt.unexpected)
			}
			var hint *app.HintError
			if gotHint := errors.As(err, &hint); gotHint != (tt.hint != "") || gotHint && hint.Hint != strings.ReplaceAll(tt.hint, "%s", b.dir) {
				t.Errorf("hint = %+v, want %q", hint, tt.hint)
			}
			if connected := len(b.conn.Configs()) > 0; connected != tt.connected {
				t.Errorf("connected = %t, want %t", connected, tt.connected)
			}
			if tt.connected && b.conn.CloseCount() != 1 {
				t.Errorf("connection closed %d times, want once", b.conn.CloseCount())
			}
		})
	}
}

// A failure to close after an error is reported with the error.
func TestOpenErrorAndCloseError(t *testing.T) {
	b := newRig(t, cluster.GP6)
	b.conn.On(cluster.LoadSQL, clustertest.Err(errors.New("boom")))
	b.conn.CloseErr = errors.New("connection reset")
	_, err := b.open(t, coordinator.Options{})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("err = %v", err)
	}
	var expected *app.ExpectedError
	if !errors.As(err, &expected) {
		t.Errorf("%T is not an app.ExpectedError", err)
	}
}
