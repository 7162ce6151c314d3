package gpdemo

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Facts are what planning needs from the machine, gathered before it: the
// absolute demo directory, the GPHOME, the directory of the management
// tools, the coordinator's host name and the addresses every host name
// resolves to.
type Facts struct {
	Dir             string
	GPHome          string
	ToolsDir        string              // "" when not known: the env file leaves PATH's tools as they are
	CoordinatorHost string              // the short host name, as gpinitsystem records it
	Addresses       map[string][]string // host name → its addresses, sorted
}

// Instance is one planned instance: its catalog row and the addresses it
// listens on.
type Instance struct {
	cluster.Segment
	Listen []string `json:"listen"`
	// KeepDir, for an instance found in the catalog outside the demo
	// directory, leaves its data directory in place when the cluster is
	// destroyed: gpdemo removes only what lies under DIR.
	KeepDir bool `json:"-"`
}

// Plan is a demo cluster: where it lives and every instance, coordinator
// first, then the primaries by content, then the standby. It is also the
// manifest's content (see Manifest).
type Plan struct {
	Dir             string     `json:"dir"`
	GPHome          string     `json:"gphome"`
	ToolsDir        string     `json:"tools_dir,omitempty"` // gpstate, gpstart, ...: first in the env file's PATH
	Local           bool       `json:"local"`               // every host's work runs locally, not over SSH
	CoordinatorHost string     `json:"coordinator_host"`
	Instances       []Instance `json:"instances"`
}

// BuildPlan lays out the cluster o asks for (o must be valid):
//
//   - coordinator: dbid 1, port P, DIR/coordinator/gpseg-1 on the
//     coordinator host;
//   - primaries: host by host, content 0.., dbid 2.., port P+2+content,
//     DIR/<host>/primary/gpseg<content>;
//   - standby (--standby): the last dbid, port P+1, DIR/standby/gpseg-1 on
//     the standby host.
//
// Host name and address are both the host name, as gpinitsystem records
// them; the coordinator and primaries are p/p/n/u (gp_add_segment forces
// mode n), the standby m/m/s/u (gp_add_master_standby).
func BuildPlan(o *CreateOptions, f Facts) Plan {
	p := Plan{Dir: f.Dir, GPHome: f.GPHome, ToolsDir: f.ToolsDir, Local: o.Local, CoordinatorHost: f.CoordinatorHost}
	add := func(host string, dbid, content, port int, role cluster.Role, mode cluster.Mode, dir string) {
		p.Instances = append(p.Instances, Instance{
			Segment: cluster.Segment{
				DBID: dbid, ContentID: content, Role: role, PreferredRole: role,
				Mode: mode, Status: cluster.StatusUp,
				Hostname: host, Address: host, Port: port, DataDir: dir,
			},
			Listen: slices.Clone(f.Addresses[host]),
		})
	}
	add(f.CoordinatorHost, 1, -1, o.PortBase, cluster.RolePrimary, cluster.ModeNotSynced,
		filepath.Join(f.Dir, "coordinator", "gpseg-1"))
	content := 0
	for _, h := range o.segmentHostNames() {
		for range o.PrimariesPerHost {
			add(h, content+2, content, o.PortBase+2+content, cluster.RolePrimary, cluster.ModeNotSynced,
				filepath.Join(f.Dir, h, "primary", fmt.Sprintf("gpseg%d", content)))
			content++
		}
	}
	if h := o.standbyHostName(); h != "" {
		add(h, content+2, -1, o.PortBase+1, cluster.RoleMirror, cluster.ModeSynced,
			filepath.Join(f.Dir, "standby", "gpseg-1"))
	}
	return p
}

// Coordinator returns the coordinator instance.
func (p Plan) Coordinator() Instance { return p.Instances[0] }

// Standby returns the standby instance, if there is one.
func (p Plan) Standby() (Instance, bool) {
	for _, in := range p.Instances {
		if in.IsStandby() {
			return in, true
		}
	}
	return Instance{}, false
}

// Primaries returns the primary segments, by content.
func (p Plan) Primaries() []Instance {
	var out []Instance
	for _, in := range p.Instances {
		if isPrimary(in) {
			out = append(out, in)
		}
	}
	return out
}

// Hosts returns every host of the plan in first-use order: the coordinator
// host, the segment hosts, the standby host.
func (p Plan) Hosts() []string {
	var hosts []string
	for _, in := range p.Instances {
		if !slices.Contains(hosts, in.Hostname) {
			hosts = append(hosts, in.Hostname)
		}
	}
	return hosts
}

// RemoteHosts returns the hosts reached over SSH: every host but the
// coordinator's, none with --local.
func (p Plan) RemoteHosts() []string {
	if p.Local {
		return nil
	}
	return slices.DeleteFunc(p.Hosts(), func(h string) bool { return h == p.CoordinatorHost })
}

// OnHost returns the instances on host, in plan order.
func (p Plan) OnHost(host string) []Instance {
	var out []Instance
	for _, in := range p.Instances {
		if in.Hostname == host {
			out = append(out, in)
		}
	}
	return out
}

// ByDBID returns the instance with dbid.
func (p Plan) ByDBID(dbid int) (Instance, bool) {
	for _, in := range p.Instances {
		if in.DBID == dbid {
			return in, true
		}
	}
	return Instance{}, false
}

// Render is the plan as text, for logs and golden files: one line per
// instance in Greenplum's dbid|content|...|datadir form plus its listen
// addresses.
func (p Plan) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dir %s\ngphome %s\ncoordinator host %s\nlocal %t\n", p.Dir, p.GPHome, p.CoordinatorHost, p.Local)
	for _, in := range p.Instances {
		fmt.Fprintf(&b, "%-26s %s listen=%s\n", in.Label(), in.Segment, strings.Join(in.Listen, ","))
	}
	return b.String()
}
