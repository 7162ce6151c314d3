package gpstate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// errorsGatheringLine is logged by report.gather (run.go) before -e's
// report; the report tests do not run gather, so it is taken off the front
// of the transcripts, after checking it is there.
const errorsGatheringLine = "Gathering data from segments..."

// errorsProgressLine is a line of recovery_progress.file for dbid 5 in a
// full recovery (spec §4.9's example).
const errorsProgressLine = "full:5: 1164848/1371715 kB (84%), 0/1 tablespace (...)"

// errorsSetup gives the test report an empty log directory (no recovery
// progress file) and coordinator data directory, then writes progress
// lines, if any, as gprecoverseg would.
func errorsSetup(t *testing.T, progress ...string) func(*testReport) {
	return func(tr *testReport) {
		tr.opts.LogDir = t.TempDir()
		tr.st.DataDir = t.TempDir()
		tr.co.DataDir = tr.st.DataDir
		if len(progress) > 0 {
			data := strings.Join(progress, "\n") + "\n"
			if err := os.WriteFile(filepath.Join(tr.opts.LogDir, errorsProgressFile), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// errorsCouldNotQuery: the replication query on content 0's primary failed.
func errorsCouldNotQuery() *fixture {
	f := healthyGP6()
	f.obs.Repl[2] = &Replication{Queried: true, Err: "psql: FATAL:  sorry, too many clients already"}
	return f
}

// errorsUnavailable: content 1 has lost both instances: its primary is down
// in the catalog and the promoted mirror's postmaster is gone too.
func errorsUnavailable() *fixture {
	f := primaryDown()
	f.obs.Instances[5] = stopped()
	delete(f.obs.Repl, 5)
	return f
}

// TestErrorsGolden pins -e on every fixture and more states, with its exit
// code (spec §2.3): 1 when a section is printed or without mirrors, 0 only
// when all segments are running normally.
func TestErrorsGolden(t *testing.T) {
	wantExit := map[string]int{"healthy": 0, "standby": 0, "gp7": 0, "could_not_query": 0}
	for _, tt := range modesCases(
		modesCase{"gp7", modesFlavoured(cluster.GP7, healthyGP6)},
		modesCase{"could_not_query", errorsCouldNotQuery},
		modesCase{"unavailable", errorsUnavailable},
		modesCase{"recovery", mirrorDown},
	) {
		t.Run(tt.name, func(t *testing.T) {
			var progress []string
			if tt.name == "recovery" {
				progress = []string{errorsProgressLine}
			}
			out, code, tr := modesRun(t, tt.make(), (*report).errors, errorsSetup(t, progress...))
			want, ok := wantExit[tt.name]
			if !ok {
				want = 1
			}
			if code != want {
				t.Errorf("exit code %d, want %d", code, want)
			}
			if sql := tr.conn.SQL(); len(sql) != 0 {
				t.Errorf("-e ran SQL of its own: %q", sql)
			}
			golden.Check(t, "gpstate", "errors_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestErrorsMatchesTranscripts: -e prints what GP6 printed, line for line:
// the healthy runs (gp6-all-modes-healthy.txt, and gp6-e-v.txt without its
// DEBUG records and their continuation lines), and the runs after a
// primary failure, after its recovery and after the rebalance of
// reference/gp6-transcripts/failover-gprecoverseg-and-rebalance.txt
// (copied here; the fixtures primary_down, unbalanced and healthy are
// those states). See modesOriginalPrefix for the renamed transcripts.
func TestErrorsMatchesTranscripts(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    *fixture
		want []string
		code int
	}{
		{"gp6-all-modes-healthy.txt -e", healthyGP6(), transcript(t, "-e"), 0},
		{"gp6-e-v.txt", healthyGP6(), withoutDebug(transcriptSection(t, "gp6-e-v.txt", "")), 0},
		{"failover -e (degraded)", primaryDown(), []string{
			"Gathering data from segments...",
			"WARNING: pg_stat_replication shows no standby connections",
			"----------------------------------------------------",
			"Segment Mirroring Status Report",
			"----------------------------------------------------",
			"Segments with Primary and Mirror Roles Switched",
			"   Current Primary   Port   Mirror   Port",
			"   mdw                7005   mdw       7003",
			"----------------------------------------------------",
			"Unsynchronized Segment Pairs",
			"   Current Primary   Port   WAL sync remaining bytes   Mirror   Port",
			"   mdw                7005   Unknown                    mdw       7003",
			"----------------------------------------------------",
			"Downed Segments (may include segments where status could not be retrieved)",
			"   Segment   Port   Config status   Status",
			"   mdw        7003   Down            Down in configuration",
		}, 1},
		{"failover -e (recovered, unbalanced)", unbalanced(), []string{
			"Gathering data from segments...",
			"----------------------------------------------------",
			"Segment Mirroring Status Report",
			"----------------------------------------------------",
			"Segments with Primary and Mirror Roles Switched",
			"   Current Primary   Port   Mirror   Port",
			"   mdw                7005   mdw       7003",
		}, 1},
		{"failover -e (final)", healthyGP6(), []string{
			"Gathering data from segments...",
			"----------------------------------------------------",
			"Segment Mirroring Status Report",
			"----------------------------------------------------",
			"All segments are running normally",
		}, 0},
	} {
		want := tt.want
		if len(want) == 0 || want[0] != errorsGatheringLine {
			t.Fatalf("%s: first line %q, want %q", tt.name, want, errorsGatheringLine)
		}
		modesCheckTranscript(t, tt.name, tt.f, (*report).errors, errorsSetup(t), want[1:], tt.code)
	}
}

// TestErrorsMirrorless: without mirrors -e says so and exits 1, whatever
// else (spec §2.4.5).
func TestErrorsMirrorless(t *testing.T) {
	out, code, _ := modesRun(t, mirrorless(), (*report).errors, errorsSetup(t, errorsProgressLine))
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if d := cmp.Diff([]string{"Physical mirroring is not configured"}, messages(out)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestErrorsSync covers the "Unsynchronized Segment Pairs" verdict derived
// from the gathered pg_stat_replication (errorsSync).
func TestErrorsSync(t *testing.T) {
	p := seg(2, 0, cluster.RolePrimary, cluster.ModeSynced, "sdw1", 6000, "/p/gpseg0")
	walreceiver := func(state, sentLeft string) *Replication {
		return &Replication{Queried: true, Rows: []ReplRow{
			{AppName: "pg_basebackup", State: "backup", SentLeft: "99"},
			{AppName: "gp_walreceiver", State: state, SentLeft: sentLeft}}}
	}
	notSynced := p
	notSynced.Mode = cluster.ModeNotSynced
	for _, tt := range []struct {
		name          string
		seg           cluster.Segment
		repl          *Replication
		wantRemaining string
		wantSynced    bool
		wantWarning   string
	}{
		{"streaming, in sync", p, walreceiver("streaming", "0"), "0", true, ""},
		{"catching up", p, walreceiver("catchup", "262896"), "262896", false, ""},
		{"streaming but not in sync in the catalog", notSynced, walreceiver("streaming", "0"), "0", false, ""},
		{"no walreceiver", p, &Replication{Queried: true, Rows: []ReplRow{{AppName: "pg_basebackup", State: "backup"}}}, "Unknown", false, ""},
		{"walreceiver without sent_left", p, walreceiver("startup", ""), "Unknown", false, ""},
		{"not queried", p, nil, "Unknown", false, ""},
		{"query failed", p, &Replication{Queried: true, Err: "psql: error"}, "", false, "could not query segment 2 (sdw1:6000)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &Status{Obs: &Observation{Repl: map[int]*Replication{}}}
			if tt.repl != nil {
				st.Obs.Repl[2] = tt.repl
			}
			remaining, synced, warning := errorsSync(st, tt.seg)
			if remaining != tt.wantRemaining || synced != tt.wantSynced || warning != tt.wantWarning {
				t.Errorf("errorsSync = %q, %v, %q; want %q, %v, %q", remaining, synced, warning, tt.wantRemaining, tt.wantSynced, tt.wantWarning)
			}
		})
	}
}

// TestErrorsParseProgress covers the reading of recovery_progress.file.
func TestErrorsParseProgress(t *testing.T) {
	got := errorsParseProgress([]string{
		"full:5: 1000/1371715 kB (0%), 0/1 tablespace (...)",
		errorsProgressLine, // later lines win
		"incremental:4:  12/345 mB (3%) copied",
		"differential:6:  1,036,923,510  99%   39.90MB/s    0:00:24", // not pg_basebackup's shape
		"full:7:pg_basebackup: base backup completed",
		"full:x: 1/2 kB (50%)",
		"no colons 1/2 kB (50%)",
		"",
	})
	want := map[int]errorsProgress{
		5: {Type: "full", Completed: "1164848", Total: "1371715", Percentage: "84%"},
		4: {Type: "incremental", Completed: "12", Total: "345", Percentage: "3%"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestErrorsRecoveryGating: the "Segments in recovery" section by flavour
// (spec §2.4.5): Greenplum 6 whenever the file exists, Greenplum 7 only
// while the pid in MDD/gprecoverseg.lock/PID is alive, Cloudberry while
// that lock directory exists; the file is read from -l's directory.
func TestErrorsRecoveryGating(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		flavour cluster.Flavour
		lockDir bool
		pid     string // content of the PID file; "" none
		want    bool
	}{
		{"gp6", cluster.GP6, false, "", true},
		{"gp7 without lock", cluster.GP7, false, "", false},
		{"gp7 lock without PID file", cluster.GP7, true, "", false},
		{"gp7 running", cluster.GP7, true, strconv.Itoa(os.Getpid()) + "\n", true},
		{"gp7 dead pid", cluster.GP7, true, strconv.Itoa(dead.Process.Pid), false},
		{"gp7 garbage pid", cluster.GP7, true, "none", false},
		{"cloudberry without lock", cluster.Cloudberry, false, "", false},
		{"cloudberry lock", cluster.Cloudberry, true, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := mirrorDown()
			f.flavour = tt.flavour
			out, code, _ := modesRun(t, f, (*report).errors, func(tr *testReport) {
				errorsSetup(t, errorsProgressLine)(tr)
				lock := filepath.Join(tr.st.DataDir, errorsRecoveryLock)
				if tt.lockDir {
					if err := os.Mkdir(lock, 0o700); err != nil {
						t.Fatal(err)
					}
				}
				if tt.pid != "" {
					if err := os.WriteFile(filepath.Join(lock, errorsRecoveryLockPID), []byte(tt.pid), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			})
			if code != 1 {
				t.Errorf("exit code %d, want 1 (mirror down)", code)
			}
			msgs := messages(out)
			shown := false
			for i, m := range msgs {
				if m == "Segments in recovery" {
					shown = true
					wantRow := "   mdw       7005   full            1164848                1371715            84%"
					if i+2 >= len(msgs) || msgs[i+2] != wantRow {
						t.Errorf("recovery rows %q, want %q", msgs[i+1:], wantRow)
					}
				}
			}
			if shown != tt.want {
				t.Errorf("section shown = %v, want %v:\n%s", shown, tt.want, strings.Join(msgs, "\n"))
			}
		})
	}
}

// TestErrorsRecoveryDefaultLogDir: without -l the file is read from
// ~/gpAdminLogs.
func TestErrorsRecoveryDefaultLogDir(t *testing.T) {
	out, _, _ := modesRun(t, mirrorDown(), (*report).errors, func(tr *testReport) {
		tr.st.DataDir = t.TempDir()
		dir := filepath.Join(tr.env.Home, "gpAdminLogs")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, errorsProgressFile), []byte(errorsProgressLine+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(out, "Segments in recovery") {
		t.Errorf("no recovery section:\n%s", out)
	}
}
