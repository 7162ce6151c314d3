package gpdemo

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
)

// checkGolden compares got with testdata/gpdemo/<name> (golden.Check).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, "gpdemo", name, []byte(got))
}

// facts are the machine facts of the fixtures: the test host's layout,
// where every sdwN is 127.0.60.N and the coordinator host mdw is 127.0.0.1.
func facts() Facts {
	addrs := map[string][]string{"mdw": {"127.0.0.1"}, "db-a": {"127.0.61.1"}, "db-b": {"127.0.61.2", "::1"}, "db-s": {"127.0.61.9"}}
	for i := 1; i <= 9; i++ {
		addrs[fmt.Sprintf("sdw%d", i)] = []string{fmt.Sprintf("127.0.60.%d", i)}
	}
	return Facts{Dir: "/home/gpadmin/demo", GPHome: "/usr/local/greenplum-db", CoordinatorHost: "mdw", Addresses: addrs}
}

func TestPlanGolden(t *testing.T) {
	tests := []struct {
		golden string
		opts   CreateOptions
	}{
		{"plan_2x2.golden", CreateOptions{Hosts: 2, PrimariesPerHost: 2, PortBase: 7000}},
		{"plan_3x1_standby.golden", CreateOptions{Hosts: 3, PrimariesPerHost: 1, PortBase: 7000, Standby: true}},
		{"plan_host_names.golden", CreateOptions{Hosts: 2, PrimariesPerHost: 2, PortBase: 20100, Standby: true, Local: true,
			HostNames: []string{"db-a", "db-b", "db-s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			o := tt.opts
			o.Dir = "demo"
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			p := BuildPlan(&o, facts())
			var b strings.Builder
			b.WriteString(p.Render())
			b.WriteString("\n# create\n")
			b.WriteString(RenderSteps(CreateSteps(p)))
			b.WriteString("\n# destroy\n")
			b.WriteString(RenderSteps(TeardownSteps(p, "fast")))
			b.WriteString("\n# remote hosts: " + strings.Join(p.RemoteHosts(), ",") + "\n")
			checkGolden(t, tt.golden, b.String())
		})
	}
}

// TestPlanInvariants checks what every plan must hold whatever the
// options: unique ports and dbids, contents host by host, the standby last.
func TestPlanInvariants(t *testing.T) {
	for hosts := 1; hosts <= 4; hosts++ {
		for per := 1; per <= 3; per++ {
			o := CreateOptions{Dir: "d", Hosts: hosts, PrimariesPerHost: per, PortBase: 7000, Standby: true}
			p := BuildPlan(&o, facts())
			ports, dirs := map[int]bool{}, map[string]bool{}
			for i, in := range p.Instances {
				if ports[in.Port] || dirs[in.DataDir] {
					t.Fatalf("%d×%d: port %d or dir %s used twice", hosts, per, in.Port, in.DataDir)
				}
				ports[in.Port], dirs[in.DataDir] = true, true
				if in.DBID != i+1 {
					t.Errorf("%d×%d: instance %d has dbid %d", hosts, per, i, in.DBID)
				}
				if in.IsSegment() && in.Hostname != fmt.Sprintf("sdw%d", in.ContentID/per+1) {
					t.Errorf("%d×%d: content %d on %s", hosts, per, in.ContentID, in.Hostname)
				}
				if in.Hostname != in.Address || len(in.Listen) == 0 {
					t.Errorf("%d×%d: %+v", hosts, per, in)
				}
			}
			if s, ok := p.Standby(); !ok || s.DBID != len(p.Instances) || s.Hostname != fmt.Sprintf("sdw%d", hosts+1) {
				t.Errorf("%d×%d: standby %+v", hosts, per, s)
			}
		}
	}
}

func TestEnvFileGolden(t *testing.T) {
	o := CreateOptions{Dir: "d", Hosts: 2, PrimariesPerHost: 2, PortBase: 7000}
	f := facts()
	f.Dir = "/home/gpadmin/o'brien demo"
	checkGolden(t, "env.golden", EnvFile(BuildPlan(&o, f)))
	f.ToolsDir = "/home/gpadmin/o'brien/bin"
	checkGolden(t, "env_tools.golden", EnvFile(BuildPlan(&o, f)))
}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	o := CreateOptions{Dir: dir, Hosts: 2, PrimariesPerHost: 2, PortBase: 7000, Standby: true}
	f := facts()
	f.Dir = dir
	m := Manifest{Version: manifestVersion, Plan: BuildPlan(&o, f), DirCreated: true}
	if err := WriteManifest(m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	// the file spells roles as the catalog does
	b, err := os.ReadFile(ManifestPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Instances []map[string]any `json:"instances"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if in := raw.Instances[len(raw.Instances)-1]; in["role"] != "m" || in["content"] != float64(-1) || in["hostname"] != "sdw3" {
		t.Errorf("standby in the file: %v", in)
	}

	other := t.TempDir()
	if _, err := ReadManifest(other); err == nil || !strings.Contains(err.Error(), "no gpdemo manifest") {
		t.Errorf("missing manifest: %v", err)
	}
	if err := os.WriteFile(ManifestPath(other), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(other); err == nil || !strings.Contains(err.Error(), "not this directory") {
		t.Errorf("manifest of another directory: %v", err)
	}
}
