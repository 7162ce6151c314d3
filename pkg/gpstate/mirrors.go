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

// mirrorsDashes frames the headings of -m and -c: 61 dashes (TableLogger's
// own separator is 52).
var mirrorsDashes = strings.Repeat("-", 61)

// mirrors is gpstate -m (spec §2.4.3, _showMirrorList): every segment whose
// preferred role is mirror, from the catalog only. It exits 1 when such a
// mirror is down and not acting as primary.
//
// The table is Greenplum's TableLogger (render.Table): every column is as
// wide as its widest cell over all rows, the header included, and every
// cell but a row's last is padded to that width + 3. Two things shape the
// lines:
//
//   - The header has a sixth, empty cell ("Mirror", ..., "Data Status",
//     ""), so its "Data Status" is not the last cell and is padded (the
//     trailing spaces of the header line), while a data row ends with its
//     unpadded data status. A warning row (Failed) carries the arrow cell
//     "<<<<<<<<" in that sixth column, after an empty, padded data status.
//   - The widths come from the cells as the catalog holds them. In
//     testdata/gpstate/gp6-*.txt the header's columns look wider or
//     narrower than the rows' (header "Datadir" padded to 49 + 3, row
//     "mdw" to 7 + 3): those transcripts were renamed after the run (host
//     "vm" became "mdw", as the helper's unrenamed program name
//     "gpgetstatususingtransition.py_vm" in gp6-e-v.txt shows, and every
//     data directory lost 16 characters of its prefix). Real TableLogger
//     alignment is the same in every row; mirrors_test.go reproduces the
//     transcript from the original lengths.
func (r *report) mirrors(ctx context.Context) error {
	recs, failed := mirrorsRecords(r.st)
	gplog.Emit(ctx, r.env.Log, recs)
	return exitIf(failed)
}

// mirrorsRecords builds -m's lines (pure) and says whether a preferred
// mirror has failed.
func mirrorsRecords(st *Status) ([]gplog.Record, bool) {
	c := st.Cluster
	if !c.HasMirrors() {
		return modeWarn(mirrorsDashes, "Mirror not used", mirrorsDashes), false
	}
	t := &render.Table{Arrows: true}
	t.Add("Mirror", "Datadir", "Port", "Status", "Data Status", "")
	var acting, failed, unsynced int
	for _, s := range c.Segments() {
		if s.PreferredRole != cluster.RoleMirror {
			continue
		}
		status, data, warn := "", s.Mode.Label(), false
		switch {
		case s.IsPrimary():
			status = "Acting as Primary"
			acting++
			if !s.IsSynced() {
				unsynced++
			}
		case s.IsUp():
			status = "Passive"
		default:
			status, data, warn = "Failed", "", true
			failed++
		}
		t.AddIf(warn, append(modeTriplet(s), status, data)...)
	}
	recs := mirrorsHeading(st)
	recs = append(recs, t.Records()...)
	recs = append(recs, modeInfo(mirrorsDashes)...)
	if acting > 0 {
		recs = append(recs, modeWarn(fmt.Sprintf("%d segment(s) configured as mirror(s) are acting as primaries", acting))...)
	}
	if failed > 0 {
		recs = append(recs, modeWarn(fmt.Sprintf("%d segment(s) configured as mirror(s) have failed", failed))...)
	}
	if unsynced > 0 {
		recs = append(recs, modeWarn(fmt.Sprintf("%d mirror segment(s) acting as primaries are not synchronized", unsynced))...)
	}
	return recs, failed > 0
}

// mirrorsHeading is the heading -m and -c share: "-Current GPDB mirror
// list and status" (CBDB on Cloudberry, spec §1.11; Greenplum 7 kept
// GPDB) and the mirror placement.
func mirrorsHeading(st *Status) []gplog.Record {
	product := "GPDB"
	if st.Flavour == cluster.Cloudberry {
		product = "CBDB"
	}
	return modeInfo(mirrorsDashes,
		"-Current "+product+" mirror list and status",
		"-Type = "+mirrorsType(st.Cluster),
		mirrorsDashes)
}

// mirrorsType is Greenplum's guess of the mirror placement
// (GpArray.guessIsSpreadMirror, spec §2.4.3), from preferred roles and
// hostnames: "Group" when the primaries of one host have two or more of
// their mirrors on one same host, else "Spread" (so a 2-host cluster with
// one segment per host is Spread); "No Mirror" without mirrors. A content
// without a preferred mirror (not a valid Greenplum configuration) is
// skipped.
func mirrorsType(c *cluster.Cluster) string {
	if !c.HasMirrors() {
		return "No Mirror"
	}
	mirrorHost := map[int]string{}
	for _, s := range c.Segments() {
		if s.PreferredRole == cluster.RoleMirror {
			mirrorHost[s.ContentID] = s.Hostname
		}
	}
	seen := map[[2]string]bool{}
	for _, s := range c.Segments() {
		if s.PreferredRole != cluster.RolePrimary {
			continue
		}
		mh, ok := mirrorHost[s.ContentID]
		if !ok {
			continue
		}
		key := [2]string{s.Hostname, mh}
		if seen[key] {
			return "Group"
		}
		seen[key] = true
	}
	return "Spread"
}

// modeTriplet is __appendSegmentTripletToArray: the address, data
// directory and port cells of s.
func modeTriplet(s cluster.Segment) []string {
	return []string{s.Address, s.DataDir, strconv.Itoa(s.Port)}
}

// modeInfo is one INFO record per message.
func modeInfo(msgs ...string) []gplog.Record { return modeRecords(slog.LevelInfo, msgs) }

// modeWarn is one WARNING record per message.
func modeWarn(msgs ...string) []gplog.Record { return modeRecords(slog.LevelWarn, msgs) }

func modeRecords(level slog.Level, msgs []string) []gplog.Record {
	recs := make([]gplog.Record, 0, len(msgs))
	for _, m := range msgs {
		recs = append(recs, gplog.Record{Level: level, Msg: m})
	}
	return recs
}
