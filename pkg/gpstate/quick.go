package gpstate

import (
	"context"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// quickDashes frames -Q: 58 dashes.
var quickDashes = strings.Repeat("-", 58)

// quick is gpstate -Q (spec §2.4.6, __showQuickStatus): up and down
// counts of every segment row (primaries and mirrors, content >= 0) from
// the catalog only. It exits 1 when a segment is down in the catalog.
func (r *report) quick(ctx context.Context) error {
	recs, down := quickRecords(r.st)
	gplog.Emit(ctx, r.env.Log, recs)
	return exitIf(down)
}

// quickRecords builds -Q's lines (pure) and says whether a segment is
// down. The two counts are plain log lines (their '=' aligned by
// Greenplum's literal spacing); only the list of down segments is a
// table.
func quickRecords(st *Status) ([]gplog.Record, bool) {
	f := st.Flavour
	var up, down []cluster.Segment
	for _, s := range st.Cluster.Segments() {
		if s.IsUp() {
			up = append(up, s)
		} else {
			down = append(down, s)
		}
	}
	recs := modeInfo(
		"-Quick "+f.ProductWord()+" database status from "+f.CoordinatorTitle()+" instance only",
		quickDashes,
		fmt.Sprintf("# of up segments, from configuration table     = %d", len(up)))
	if len(down) > 0 {
		recs = append(recs, modeInfo(fmt.Sprintf("# of down segments, from configuration table   = %d", len(down)))...)
		t := &render.Table{Arrows: true}
		t.Add("Down Segment", "Datadir", "Port")
		for _, s := range down {
			t.Add(modeTriplet(s)...)
		}
		recs = append(recs, t.Records()...)
	}
	return append(recs, modeInfo(quickDashes)...), len(down) > 0
}
