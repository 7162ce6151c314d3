package addmirrors

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
)

// LookupFunc resolves a host name, as net.Resolver.LookupHost does.
type LookupFunc func(ctx context.Context, host string) ([]string, error)

// MirrorsFromConfig turns the lines of a -i file (ParseMirrorConfig) into
// the mirrors to build for c (spec §5.4): one line per primary, each
// mirror's host name being its address, dbids continuing after the
// largest in the catalog in file order. name is the file name for
// messages. lookup, when not nil, must resolve every address.
//
// Besides Greenplum's checks (an unknown content, the number of lines),
// it refuses with the line number: a content given twice; a host:port or
// a host's data directory used twice, or already used by an instance in
// the catalog (such as the primary's own directory). Addresses that the
// catalog knows are compared by the host they belong to.
func MirrorsFromConfig(ctx context.Context, c *cluster.Cluster, lines []ConfigLine, name string, lookup LookupFunc) ([]Mirror, error) {
	if c.HasMirrors() {
		return nil, &app.ExpectedError{Err: placement.ErrHasMirrors}
	}
	primaries := map[int]cluster.Segment{}
	for _, s := range placement.PreferredPrimaries(c) {
		primaries[s.ContentID] = s
	}
	// machine maps an address to the host it belongs to, so that sdw1 and
	// sdw1-1 count as one machine when the catalog says so.
	hostOf := map[string]string{}
	for _, s := range c.All() {
		hostOf[s.Address] = s.Hostname
		hostOf[s.Hostname] = s.Hostname
	}
	machine := func(addr string) string {
		if h, ok := hostOf[addr]; ok {
			return h
		}
		return addr
	}
	type slot struct{ host, what string }
	owner := map[slot]string{} // who uses a port or directory on a host
	for _, s := range c.All() {
		owner[slot{s.Hostname, fmt.Sprint(s.Port)}] = s.Label()
		owner[slot{s.Hostname, "dir " + filepath.Clean(s.DataDir)}] = s.Label()
	}
	contentLine := map[int]int{}
	resolved := map[string]bool{}
	dbid := placement.NextDBID(c)
	var out []Mirror
	for _, l := range lines {
		where := fmt.Sprintf("line %d of file %s", l.Line, name)
		primary, ok := primaries[l.Content]
		if !ok {
			return nil, app.Errorf("%s: Invalid content %d specified in input file; the cluster has segment contents 0 to %d",
				where, l.Content, c.NumContents()-1)
		}
		if prev, dup := contentLine[l.Content]; dup {
			return nil, app.Errorf("%s: content %d already has a mirror on line %d; give one line per content", where, l.Content, prev)
		}
		contentLine[l.Content] = l.Line
		host := machine(l.Address)
		ps := slot{host, fmt.Sprint(l.Port)}
		if who, used := owner[ps]; used {
			return nil, app.Errorf("%s: port %d on host %s is already used by %s; choose another port", where, l.Port, host, who)
		}
		ds := slot{host, "dir " + l.DataDir}
		if who, used := owner[ds]; used {
			return nil, app.Errorf("%s: data directory %s on host %s is already used by %s; choose another directory", where, l.DataDir, host, who)
		}
		label := fmt.Sprintf("the mirror on line %d", l.Line)
		owner[ps], owner[ds] = label, label
		if lookup != nil && !resolved[l.Address] {
			if _, err := lookup(ctx, l.Address); err != nil {
				return nil, app.Errorf("%s: cannot resolve host %s: %w; fix the address or the host's DNS or /etc/hosts entry", where, l.Address, err)
			}
			resolved[l.Address] = true
		}
		out = append(out, placement.NewMirror(primary, dbid, l.Address, l.Address, l.Port, l.DataDir))
		dbid++
	}
	if len(out) != len(primaries) {
		return nil, fmt.Errorf("Wrong number of mirrors specified (specified %d mirror(s) for %d primarie(s))", len(out), len(primaries))
	}
	return out, nil
}
