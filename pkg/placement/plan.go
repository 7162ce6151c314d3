package placement

import (
	"fmt"
	"path"
	"slices"
	"sort"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Placement says how PlanMirrors places mirrors (spec §5.3).
type Placement struct {
	// Spread selects spread mirroring (-s); the default is group mirroring.
	Spread bool
	// PortOffset is added to the mirror's base port (-p).
	PortOffset int
	// Locations are the mirror data directory locations (from -m or the
	// prompts), one per primary of the busiest host: the k-th mirror placed
	// on a host goes under Locations[k].
	Locations []string
	// Prefix names the data directories: Locations[k]/<Prefix><content>
	// (see DirPrefix).
	Prefix string
}

// hostPrimaries is one host's preferred primaries, sorted by port.
type hostPrimaries struct {
	host      string
	primaries []cluster.Segment
}

// primariesByHost groups the preferred primaries by host name, hosts
// sorted lexically and each host's primaries by port, as Greenplum does.
func primariesByHost(c *cluster.Cluster) []hostPrimaries {
	byHost := map[string][]cluster.Segment{}
	for _, s := range PreferredPrimaries(c) {
		byHost[s.Hostname] = append(byHost[s.Hostname], s)
	}
	out := make([]hostPrimaries, 0, len(byHost))
	for h, segs := range byHost {
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].Port < segs[j].Port })
		out = append(out, hostPrimaries{host: h, primaries: segs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].host < out[j].host })
	return out
}

// MaxPrimariesPerHost is the number of mirror data directory locations
// gpaddmirrors asks for: the most preferred primaries on any one host.
func MaxPrimariesPerHost(c *cluster.Cluster) int {
	n := 0
	for _, h := range primariesByHost(c) {
		n = max(n, len(h.primaries))
	}
	return n
}

// PlanMirrors places one mirror per primary without a -i file (spec
// §5.3): group mirroring puts all mirrors of host i on host i+1, spread
// mirroring spreads them over the following hosts. The k-th mirror placed
// on a host gets port (lowest primary port there) + k + offset and data
// directory Locations[k]/<prefix><content>; dbids continue after the
// largest in the catalog, in build order (hosts sorted, primaries by port).
//
// It refuses a cluster that already has mirrors, spread mirroring on too
// few hosts (Greenplum's gpinitsystem rule: more hosts than primaries per
// host), and fewer locations than primaries on a target host.
func PlanMirrors(c *cluster.Cluster, p Placement) ([]Mirror, error) {
	if c.HasMirrors() {
		return nil, &app.ExpectedError{Err: ErrHasMirrors}
	}
	hosts := primariesByHost(c)
	if len(hosts) == 0 {
		return nil, nil
	}
	maxP := MaxPrimariesPerHost(c)
	if len(p.Locations) != maxP {
		return nil, fmt.Errorf("Number of data directories must equal %d but %d were given", maxP, len(p.Locations))
	}
	if p.Spread && len(hosts) <= maxP {
		return nil, &app.HintError{
			Err: app.Errorf("Not enough hosts for spread mirroring.  You must have more hosts than primary segments per host"+
				" (%d hosts with primaries, up to %d primaries per host)", len(hosts), maxP),
			Hint: "use group mirroring (leave out -s), or place the mirrors yourself with -i <file>",
		}
	}
	standard, _ := StandardArray(c)
	pl := &placer{hosts: hosts, p: p, standard: standard, dbid: NextDBID(c), added: map[string]int{}}
	var out []Mirror
	for i, h := range hosts {
		offset := 1
		for _, primary := range h.primaries {
			t := (i + 1) % len(hosts)
			if p.Spread {
				t = (i + offset) % len(hosts)
				if t == i {
					offset++
					t = (i + offset) % len(hosts)
				}
				offset++
			}
			m, err := pl.place(primary, h, hosts[t])
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// placer is the state of one PlanMirrors run.
type placer struct {
	hosts    []hostPrimaries
	p        Placement
	standard bool
	dbid     int
	added    map[string]int // mirrors placed so far per target host
}

// place builds the mirror of primary (a primary of from) on target.
func (pl *placer) place(primary cluster.Segment, from, target hostPrimaries) (Mirror, error) {
	k := pl.added[target.host]
	if k >= len(pl.p.Locations) {
		return Mirror{}, fmt.Errorf("More mirrors targeted to host %s than there are mirror data directories", target.host)
	}
	port := target.primaries[0].Port + k + pl.p.PortOffset
	dir := path.Join(pl.p.Locations[k], fmt.Sprintf("%s%d", pl.p.Prefix, primary.ContentID))
	var address string
	if pl.standard {
		// The primary's index among its host's sorted addresses, plus one,
		// picks among the target's sorted addresses: primary and mirror
		// land on different interfaces.
		fromAddrs, toAddrs := addresses(from), addresses(target)
		a := slices.Index(fromAddrs, primary.Address)
		address = toAddrs[(a+1)%len(fromAddrs)%len(toAddrs)]
	} else {
		address = target.primaries[k%len(target.primaries)].Address
	}
	m := NewMirror(primary, pl.dbid, target.host, address, port, dir)
	pl.dbid++
	pl.added[target.host] = k + 1
	return m, nil
}

// addresses returns the sorted distinct addresses of h's primaries.
func addresses(h hostPrimaries) []string {
	var out []string
	for _, s := range h.primaries {
		if !slices.Contains(out, s.Address) {
			out = append(out, s.Address)
		}
	}
	sort.Strings(out)
	return out
}
