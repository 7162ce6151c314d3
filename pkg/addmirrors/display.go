package addmirrors

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// separator is the 44-dash line of gpaddmirrors's display (not the 52 of
// TableLogger separators).
const separator = "--------------------------------------------"

// Parameters are the values of the "Add Mirrors Parameters" block.
type Parameters struct {
	Flavour          cluster.Flavour
	DataDir          string // coordinator data directory, as the environment or -d gives it
	Port             int    // coordinator port from its postgresql.conf
	BatchSize        int
	SegmentBatchSize int
}

// DisplayRecords is what gpaddmirrors logs before its confirmation prompt
// (spec §5.2 step 8), in the flavour's dialect: the parameter block, then
// one block per mirror in build order. The parameter keys are padded to 40
// characters; each mirror's rows are a TableLogger table. Greenplum 6
// prints one more separator between the parameters and the first mirror
// (gp6-transcripts/gpaddmirrors-i-v.txt); Greenplum 7 and Cloudberry do
// not.
func DisplayRecords(p Parameters, mirrors []Mirror) []gplog.Record {
	info := func(msg string) gplog.Record { return gplog.Record{Level: slog.LevelInfo, Msg: msg} }
	product, word := p.Flavour.ProductWord(), p.Flavour.CoordinatorWord()
	param := func(key, value string) gplog.Record { return info(fmt.Sprintf("%-40s= %s", key, value)) }
	// Cloudberry renamed the product in Greenplum's padded literals, so its
	// product lines are one column wider (its published transcript shows
	// "Cloudberry coordinator port              = 5432").
	productParam := func(key, value string) gplog.Record {
		r := param("Greenplum "+key, value)
		r.Msg = product + strings.TrimPrefix(r.Msg, "Greenplum")
		return r
	}
	recs := []gplog.Record{
		info(product + " Add Mirrors Parameters"),
		info(separator),
		productParam(word+" data directory", p.DataDir),
		productParam(word+" port", strconv.Itoa(p.Port)),
		param("Batch size", strconv.Itoa(p.BatchSize)),
		param("Segment batch size", strconv.Itoa(p.SegmentBatchSize)),
	}
	if p.Flavour != cluster.GP7 && p.Flavour != cluster.Cloudberry {
		recs = append(recs, info(separator))
	}
	for i, m := range mirrors {
		recs = append(recs, info(separator), info(fmt.Sprintf("Mirror %d of %d", i+1, len(mirrors))), info(separator))
		var t render.Table
		addInstance(&t, "Primary", m.Primary)
		addInstance(&t, "Mirror", m.Mirror)
		recs = append(recs, t.Records()...)
	}
	return append(recs, info(separator))
}

// addInstance appends the four rows Greenplum prints for one instance
// (programIoUtils.appendSegmentInfoForOutput).
func addInstance(t *render.Table, label string, s cluster.Segment) {
	t.Add(label+" instance host", "= "+s.Hostname)
	t.Add(label+" instance address", "= "+s.Address)
	t.Add(label+" instance directory", "= "+s.DataDir)
	t.Add(label+" instance port", "= "+strconv.Itoa(s.Port))
}
