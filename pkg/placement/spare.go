package placement

import (
	"errors"
	"fmt"
	"sort"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Move is a failed segment and the new location it is recovered to: the
// same dbid, content and roles on another host, port or directory.
type Move struct {
	Failed cluster.Segment
	Target cluster.Segment
}

// ErrTooFewSpareHosts is Greenplum's refusal when -p names fewer spare
// hosts than there are hosts with failed segments.
var ErrTooFewSpareHosts = errors.New("Not enough new recovery hosts given for recovery.")

// maxPort is the largest TCP port.
const maxPort = 65535

// OntoSpareHosts places failed segments on spare hosts as gprecoverseg -p
// does (spec §4.4.2): the failed segments are grouped by host name, the
// hosts sorted, and the k-th host's segments all go to spares[k]. A moved
// segment keeps its data directory; its host name and address become the
// spare host's name; its port is the lowest one, from the smallest port of
// any segment row up, that no row of the catalog and no earlier move uses
// on that host (Ports). Within a host, segments keep the order of failed.
//
// It returns the moves and the spare hosts that were not needed, in the
// order given; fewer spare hosts than failed hosts is ErrTooFewSpareHosts.
func OntoSpareHosts(c *cluster.Cluster, failed []cluster.Segment, spares []string) (moves []Move, unneeded []string, err error) {
	byHost := map[string][]cluster.Segment{}
	for _, s := range failed {
		byHost[s.Hostname] = append(byHost[s.Hostname], s)
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	if len(spares) < len(hosts) {
		return nil, nil, ErrTooFewSpareHosts
	}
	ports, err := NewPorts(c)
	if err != nil {
		return nil, nil, err
	}
	for k, h := range hosts {
		to := spares[k]
		for _, s := range byHost[h] {
			port, err := ports.Take(to)
			if err != nil {
				return nil, nil, err
			}
			t := s
			t.Hostname, t.Address, t.Port = to, to, port
			moves = append(moves, Move{Failed: s, Target: t})
		}
	}
	if len(spares) > len(hosts) {
		unneeded = spares[len(hosts):]
	}
	return moves, unneeded, nil
}

// Ports hands out ports on hosts as Greenplum's PortAssigner does for
// recovery to new hosts: from the smallest port of any segment row
// upwards, the first one that no catalog row on that host and nothing
// taken earlier uses.
type Ports struct {
	min  int
	used map[string]map[int]bool
}

// NewPorts starts from c's rows: every row (coordinator and standby
// included) occupies its port on its host.
func NewPorts(c *cluster.Cluster) (*Ports, error) {
	p := &Ports{min: 0, used: map[string]map[int]bool{}}
	for _, s := range c.Segments() {
		if p.min == 0 || s.Port < p.min {
			p.min = s.Port
		}
	}
	if p.min == 0 {
		return nil, errors.New("No segment ports found in array.")
	}
	for _, s := range c.All() {
		p.mark(s.Hostname, s.Port)
	}
	return p, nil
}

func (p *Ports) mark(host string, port int) {
	if p.used[host] == nil {
		p.used[host] = map[int]bool{}
	}
	p.used[host][port] = true
}

// Take returns the next free port on host and marks it used.
func (p *Ports) Take(host string) (int, error) {
	for port := p.min; port <= maxPort; port++ {
		if !p.used[host][port] {
			p.mark(host, port)
			return port, nil
		}
	}
	return 0, fmt.Errorf("Unable to assign port on %s", host)
}
