package gpstate

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// The coordinator queries of -s (spec §2.4.2), run in utility mode; --json
// reports their answers too.
const (
	detailInitVersionSQL   = "select productversion from gp_version_at_initdb limit 1;"
	detailServerVersionSQL = "show server_version;"
)

// detailStars is the line of 53 '*' around -s's closing warnings.
var detailStars = strings.Repeat("*", 53)

// detailCoordinator is what -s learns from the coordinator itself.
type detailCoordinator struct {
	InitVersion     string // gp_version_at_initdb.productversion
	PostgresVersion string // show server_version
	Role            string // "dispatch" when a normal connection succeeds, else "utility"
	Version         string // version(); "" is Greenplum's None (a warning "Unknown")
}

// detail is gpstate -s (spec §2.4.2, __showStatus): the coordinator block,
// then every segment in one table. It exits 1 when any row of either table
// is a warning.
func (r *report) detail(ctx context.Context) error {
	co, err := r.detailCoordinator(ctx)
	if err != nil {
		return err
	}
	recs, warned := detailRecords(r.st, co, briefExpansionInProgress(r.co.DataDir))
	gplog.Emit(ctx, r.env.Log, recs)
	return exitIf(warned)
}

// detailCoordinator runs -s's two queries on the coordinator connection
// (utility mode) and tries a normal connection to learn the current role,
// as Greenplum does: a failed query fails the run, a failed connection
// only means "utility".
func (r *report) detailCoordinator(ctx context.Context) (detailCoordinator, error) {
	d := detailCoordinator{Version: r.co.ServerVersion, Role: "utility"}
	for _, q := range []struct {
		sql  string
		into *string
	}{{detailInitVersionSQL, &d.InitVersion}, {detailServerVersionSQL, &d.PostgresVersion}} {
		if err := r.co.Conn.QueryRow(ctx, q.sql).Scan(q.into); err != nil {
			return d, fmt.Errorf("%s on the %s: %w", q.sql, r.st.Flavour.CoordinatorWord(), err)
		}
	}
	cfg := cluster.ConnConfig{Port: r.co.Port, Flavour: r.st.Flavour}
	r.env.Log.Debug(cluster.ConnectMessage(cfg))
	conn, err := r.env.Connect(ctx, cfg)
	if err != nil {
		r.env.Log.Debug(fmt.Sprintf("no normal connection to the %s: %v", r.st.Flavour.CoordinatorWord(), err))
		return d, nil
	}
	d.Role = "dispatch"
	if err := conn.Close(ctx); err != nil {
		r.env.Log.Debug(fmt.Sprintf("closing the normal connection: %v", err))
	}
	return d, nil
}

// detailRecords builds the -s report (pure) and says whether a warning
// row was produced. The replication warnings come first, where Greenplum
// logs them while it builds its data; expanding adds gpexpand's rows at
// the end of the segment table.
func detailRecords(st *Status, co detailCoordinator, expanding bool) ([]gplog.Record, bool) {
	f := st.Flavour
	title := f.CoordinatorTitle()
	rep := st.Replication()
	var recs []gplog.Record
	for _, w := range rep.Warnings {
		recs = append(recs, gplog.Record{Level: slog.LevelWarn, Msg: w})
	}
	recs = append(recs, detailInfo(render.SeparatorLine, "-"+title+" Configuration & Status", render.SeparatorLine)...)
	unavailable := st.Unavailable()
	if unavailable {
		recs = append(recs, detailUnavailableRecords()...)
	}

	ct := &render.Table{Arrows: true}
	coord := st.Cluster.Coordinator()
	o := st.observed(coord)
	ct.Add(title+" host", "= "+coord.Hostname)
	if o.HostErr != "" {
		ct.Warn(title+" port", "= Error fetching data: "+o.HostErr) // sic: Greenplum's key
	} else {
		ct.Add(title+" postgres process ID", fmt.Sprintf("= %d", o.PID))
	}
	ct.Add(title+" data directory", "= "+coord.DataDir)
	ct.Add(title+" port", fmt.Sprintf("= %d", coord.Port))
	ct.Add(title+" current role", "= "+co.Role)
	product := f.ProductWord()
	ct.Add(product+" initsystem version", "= "+co.InitVersion)
	switch {
	case o.HostErr != "":
		ct.Warn(product+" current version", "= Error fetching data: "+o.HostErr)
	case co.Version == "":
		ct.Warn(product+" current version", "= Unknown")
	default:
		ct.Add(product+" current version", "= "+co.Version)
	}
	ct.Add("Postgres version", "= "+co.PostgresVersion)
	briefStandbyRows(st, ct)
	coordRecs := ct.Records()
	recs = append(recs, coordRecs...)

	recs = append(recs, detailInfo(render.SeparatorLine, "Segment Instance Status Report")...)
	segs := &render.Table{Arrows: true}
	mirrored := st.Cluster.HasMirrors()
	for _, s := range st.Cluster.Segments() {
		segs.Separator()
		detailSegmentRows(st, rep, s, mirrored, segs)
	}
	if expanding {
		briefExpansionRows(segs, true)
	}
	segRecs := segs.Records()
	recs = append(recs, segRecs...)

	if unavailable {
		recs = append(recs, detailUnavailableRecords()...)
	}
	warned := detailWarned(coordRecs) || detailWarned(segRecs)
	if warned {
		recs = append(recs,
			gplog.Record{Level: slog.LevelWarn, Msg: detailStars},
			gplog.Record{Level: slog.LevelWarn, Msg: "Warnings have been generated during status processing"},
			gplog.Record{Level: slog.LevelWarn, Msg: "Check log file or review screen output"},
			gplog.Record{Level: slog.LevelWarn, Msg: detailStars})
	}
	return recs, warned
}

// detailField is one key of a -s section; an empty Text means the key has
// no value and is not printed.
type detailField struct {
	key string
	Value
}

// detailSegmentRows appends one segment's sections (GpStateData's
// categories, in Greenplum's order): a section is printed only when one of
// its keys has a value. Mirroring Info is left out on an array without
// mirrors.
func detailSegmentRows(st *Status, rep ReplicationReport, s cluster.Segment, mirrored bool, t *render.Table) {
	o := st.observed(s)
	sr := rep.ByDBID[s.DBID]
	var mirroring []detailField
	if mirrored {
		mirroring = []detailField{
			{"Current role", Value{Text: s.Role.Label()}},
			{"Preferred role", Value{Text: s.PreferredRole.Label()}},
			{"Mirror status", Value{Text: detailMirrorStatus(rep, s, mirrored)}},
			{"Mirror recovery start", sr.RecoveryStart},
		}
	}
	status := []detailField{}
	if o.HostErr == "" {
		pid, warn := st.PIDText(s)
		status = append(status, detailField{"PID", Value{Text: pid, Warn: warn}})
	}
	status = append(status, detailField{"Configuration reports status as", Value{Text: s.Status.Label(), Warn: !s.IsUp()}})
	dbStatus, warn := st.DatabaseStatus(s)
	dbKey := "Database status"
	if s.IsMirror() {
		dbKey = "Segment status"
	}
	status = append(status, detailField{dbKey, Value{Text: dbStatus, Warn: warn}})

	for _, sec := range []struct {
		name   string
		fields []detailField
	}{
		{"Segment Info", []detailField{
			{"Hostname", Value{Text: s.Hostname}},
			{"Address", Value{Text: s.Address}},
			{"Datadir", Value{Text: s.DataDir}},
			{"Port", Value{Text: strconv.Itoa(s.Port)}},
		}},
		{"Mirroring Info", mirroring},
		{"Error Getting Segment Status", []detailField{{"Error Getting Segment Status", Value{Text: o.HostErr}}}},
		{"Replication Info", []detailField{
			{"WAL Sent Location", sr.WALSent},
			{"WAL Flush Location", sr.WALFlush},
			{"WAL Replay Location", sr.WALReplay},
			{"Current write location", sr.CurrentWrite},
			{"Bytes remaining to send to mirror", sr.BytesToSend},
			{"Bytes received but remain to flush", sr.BytesToFlush},
			{"Bytes received but remain to replay", sr.BytesToReplay},
		}},
		{"Status", status},
	} {
		if !detailHasValue(sec.fields) {
			continue
		}
		t.Add(sec.name)
		for _, fl := range sec.fields {
			if fl.Text != "" {
				t.AddIf(fl.Warn, "   "+fl.key, "= "+fl.Text)
			}
		}
	}
}

// detailMirrorStatus is "Mirror status": what the acting primary's
// pg_stat_replication says, else the catalog's mode label; without
// mirrors, "Physical replication not configured".
func detailMirrorStatus(rep ReplicationReport, s cluster.Segment, mirrored bool) string {
	if !mirrored {
		return "Physical replication not configured"
	}
	if sr, ok := rep.ByDBID[s.DBID]; ok && sr.MirrorStatus.Text != "" {
		return sr.MirrorStatus.Text
	}
	return s.Mode.Label()
}

func detailHasValue(fields []detailField) bool {
	for _, f := range fields {
		if f.Text != "" {
			return true
		}
	}
	return false
}

// detailUnavailableRecords is the "DATABASE IS PROBABLY UNAVAILABLE"
// block (spec §2.2).
func detailUnavailableRecords() []gplog.Record {
	var recs []gplog.Record
	for _, m := range []string{detailStars, "DATABASE IS PROBABLY UNAVAILABLE",
		"Review Instance Status in log file or screen output for more information", detailStars} {
		recs = append(recs, gplog.Record{Level: slog.LevelWarn, Msg: m})
	}
	return recs
}

// detailInfo returns INFO records of msgs.
func detailInfo(msgs ...string) []gplog.Record {
	recs := make([]gplog.Record, 0, len(msgs))
	for _, m := range msgs {
		recs = append(recs, gplog.Record{Level: slog.LevelInfo, Msg: m})
	}
	return recs
}

// detailWarned reports whether a table produced a warning row.
func detailWarned(recs []gplog.Record) bool {
	for _, r := range recs {
		if r.Level == slog.LevelWarn {
			return true
		}
	}
	return false
}
