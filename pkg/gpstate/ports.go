package gpstate

import (
	"context"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// portsDashes underlines -p's heading: 34 dashes.
var portsDashes = strings.Repeat("-", 34)

// ports is gpstate -p (spec §2.4.8, __showPortInfo): the coordinator's
// data directory and port as gpstate found them (-d or the environment,
// and its postgresql.conf), then every segment row's address, data
// directory and port, from the catalog only. It always exits 0. Its table
// follows the rules told at mirrors.
func (r *report) ports(ctx context.Context) error {
	gplog.Emit(ctx, r.env.Log, portsRecords(r.st))
	return nil
}

// portsRecords builds -p's lines (pure).
func portsRecords(st *Status) []gplog.Record {
	recs := modeInfo(
		fmt.Sprintf("-%s segment instance  %s  port = %d", st.Flavour.CoordinatorTitle(), st.DataDir, st.Port),
		"-Segment instance port assignments",
		portsDashes)
	t := &render.Table{Arrows: true}
	t.Add("Host", "Datadir", "Port")
	for _, s := range st.Cluster.Segments() {
		t.Add(modeTriplet(s)...)
	}
	return append(recs, t.Records()...)
}
