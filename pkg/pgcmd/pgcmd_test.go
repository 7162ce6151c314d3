package pgcmd

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

const gphome = "/usr/local/greenplum-db"

// transcriptLines reads a testdata file of command lines copied from a
// transcript, skipping its '#' header.
func transcriptLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/pgcmd/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

const era = "281f4dd391c358af_261123185433"

func gp6Starts() []Start {
	seg := func(dir string, port int) Start {
		return Start{Flavour: cluster.GP6, GPHome: gphome, Kind: Segment, DataDir: dir, Port: port, Era: era, Wait: true, Timeout: 600}
	}
	return []Start{
		{Flavour: cluster.GP6, GPHome: gphome, Kind: CoordinatorUtility, DataDir: "/data/qddir/demoDataDir-1", Port: 7000, Wait: true, Timeout: 600},
		seg("/data/dbfast1/demoDataDir0", 7002),
		seg("/data/dbfast2/demoDataDir1", 7003),
		seg("/data/dbfast_mirror1/demoDataDir0", 7004),
		seg("/data/dbfast_mirror2/demoDataDir1", 7005),
		{Flavour: cluster.GP6, GPHome: gphome, Kind: CoordinatorNormal, DataDir: "/data/qddir/demoDataDir-1", Port: 7000, Era: era, Wait: true, Timeout: 600},
	}
}

func TestGP6StartMatchesTranscript(t *testing.T) {
	var got []string
	for _, s := range gp6Starts() {
		got = append(got, s.Display())
	}
	if d := cmp.Diff(transcriptLines(t, "gp6-start.txt"), got); d != "" {
		t.Fatalf("GP6 start lines differ from gpstart-v.txt (-want +got):\n%s", d)
	}
}

func TestGP6StopMatchesTranscript(t *testing.T) {
	got := []string{
		Display(gphome, Stop(gphome, "/data/qddir/demoDataDir-1", "fast", true, 120)),
		Display(gphome, Stop(gphome, "/data/dbfast2/demoDataDir1", "smart", true, 120)),
		Display(gphome, Stop(gphome, "/data/dbfast1/demoDataDir0", "smart", true, 120)),
		Display(gphome, Stop(gphome, "/data/dbfast_mirror1/demoDataDir0", "smart", true, 120)),
		Display(gphome, Stop(gphome, "/data/dbfast_mirror2/demoDataDir1", "smart", true, 120)),
	}
	if d := cmp.Diff(transcriptLines(t, "gp6-stop.txt"), got); d != "" {
		t.Fatalf("GP6 stop lines differ from gpstop-v.txt (-want +got):\n%s", d)
	}
}

// TestFlavoursGolden pins every kind of start, with the extras, per
// flavour, and the stop/status/reload lines.
func TestFlavoursGolden(t *testing.T) {
	var b strings.Builder
	for _, f := range []cluster.Flavour{cluster.GP6, cluster.GP7, cluster.Cloudberry} {
		b.WriteString("## " + f.String() + "\n")
		for _, k := range []struct {
			name string
			kind Kind
			wait bool
		}{{"coordinator utility", CoordinatorUtility, true}, {"coordinator normal", CoordinatorNormal, true}, {"standby", Standby, false}, {"segment", Segment, true}, {"recovery segment", RecoverySegment, true}} {
			dir, port := "/data/seg0", 6000
			if k.kind <= Standby {
				dir, port = "/data/qd", 5432
			}
			s := Start{Flavour: f, GPHome: gphome, Kind: k.kind, DataDir: dir, Port: port, Era: "e1", Wait: k.wait, Timeout: 600}
			b.WriteString(k.name + ": " + s.Display() + "\n")
		}
		r := Start{Flavour: f, GPHome: gphome, Kind: CoordinatorNormal, DataDir: "/data/qd", Port: 5432, Wait: true, Timeout: 600, RestrictedConnections: 250, SpecialMode: "maintenance"}
		b.WriteString("restricted maintenance: " + r.Display() + "\n")
		u := Start{Flavour: f, GPHome: gphome, Kind: Segment, DataDir: "/data/seg0", Port: 6000, Era: "e1", Wait: true, Timeout: 600, SpecialMode: "upgrade"}
		b.WriteString("upgrade segment: " + u.Display() + "\n")
	}
	b.WriteString("## any flavour\n")
	b.WriteString("stop immediate, no wait: " + Display(gphome, Stop(gphome, "/data/seg0", "immediate", false, 0)) + "\n")
	b.WriteString("stop smart no-wait: " + Display(gphome, StopNoWait(gphome, "/data/qd", "smart")) + "\n")
	b.WriteString("status: " + Display(gphome, Status(gphome, "/data/qd")) + "\n")
	b.WriteString("reload: " + Display(gphome, Reload(gphome, "/data/seg0")) + "\n")
	golden.Check(t, "pgcmd", "flavours.golden", []byte(b.String()))
}

func TestArgvKeepsOptionsOneWord(t *testing.T) {
	s := Start{Flavour: cluster.GP7, GPHome: "/gp home", Kind: Segment, DataDir: "/d i r", Port: 1, Wait: true, Timeout: 5}
	want := []string{"env", "GPSESSID=0000000000", "GPERA=None", "/gp home/bin/pg_ctl", "-D", "/d i r", "-l", "/d i r/log/startup.log", "-w", "-t", "5", "-o", " -c gp_role=execute ", "start"}
	if d := cmp.Diff(want, s.Argv()); d != "" {
		t.Fatal(d)
	}
}
