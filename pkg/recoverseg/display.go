package recoverseg

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// displaySeparator is the 57-dash line of gprecoverseg's display.
var displaySeparator = strings.Repeat("-", 57)

// DisplayRecords is Greenplum's display of a recovery without -i or -p
// (spec §4.6 step 3): the recovery type, then one "Recovery i of N" table
// per target, in the flavour's words.
func DisplayRecords(f cluster.Flavour, ts []target) []gplog.Record {
	return displayRecords(f, []string{recoveryType("Standard")}, ts)
}

// recoveryType is the display's "Recovery type" line.
func recoveryType(kind string) string { return fmt.Sprintf("%-27s= %s", "Recovery type", kind) }

// displayHeader is the display's lines about where the targets come from:
// -i's, -p's with each pool host, or the standard recovery's.
func (r *recovery) displayHeader() []string {
	switch {
	case r.opts.ConfigFile != "":
		return []string{"Recovery from configuration -i option supplied"}
	case r.opts.SpareHosts != "":
		head := []string{recoveryType("Pool Host")}
		for _, h := range r.spareHosts {
			head = append(head, fmt.Sprintf("%-27s= %s", "Pool host for recovery", h))
		}
		return head
	}
	return []string{recoveryType("Standard")}
}

// displayRecords is the display with head after its title; a target at a
// new location shows it as "Recovery Target instance ..." rows.
func displayRecords(f cluster.Flavour, head []string, ts []target) []gplog.Record {
	recs := displayHead(f, head...)
	for i, t := range ts {
		recs = append(recs, info(fmt.Sprintf("Recovery %d of %d", i+1, len(ts))), info(displaySeparator))
		var tb render.Table
		tb.Add("Synchronization mode", "= "+t.Method())
		tb.Add("Failed instance host", "= "+t.Failed.Hostname)
		tb.Add("Failed instance address", "= "+t.Failed.Address)
		tb.Add("Failed instance directory", "= "+t.Failed.DataDir)
		tb.Add("Failed instance port", "= "+strconv.Itoa(t.Failed.Port))
		tb.Add("Recovery Source instance host", "= "+t.Source.Hostname)
		tb.Add("Recovery Source instance address", "= "+t.Source.Address)
		tb.Add("Recovery Source instance directory", "= "+t.Source.DataDir)
		tb.Add("Recovery Source instance port", "= "+strconv.Itoa(t.Source.Port))
		if m := t.Move; m != nil {
			tb.Add("Recovery Target instance host", "= "+m.Hostname)
			tb.Add("Recovery Target instance address", "= "+m.Address)
			tb.Add("Recovery Target instance directory", "= "+m.DataDir)
			tb.Add("Recovery Target instance port", "= "+strconv.Itoa(m.Port))
		} else {
			tb.Add("Recovery Target", "= in-place")
		}
		recs = append(recs, tb.Records()...)
		recs = append(recs, info(displaySeparator))
	}
	return recs
}

func info(msg string) gplog.Record { return gplog.Record{Level: slog.LevelInfo, Msg: msg} }

// displayHead is the head of every gprecoverseg display: the parameters'
// title and the lines about the recovery's kind (Standard, Rebalance, Pool
// Host with its hosts, or -i's configuration), between separators.
func displayHead(f cluster.Flavour, head ...string) []gplog.Record {
	recs := []gplog.Record{info(f.ProductWord() + " instance recovery parameters"), info(displaySeparator)}
	for _, h := range head {
		recs = append(recs, info(h))
	}
	return append(recs, info(displaySeparator))
}

// PlanView is the recovery plan, an addition printed before Greenplum's
// display: per target, what will be copied from where, how much, and how
// long it may take.
func PlanView(ts []target) render.View {
	v := render.View{Header: []string{"dbid", "content", "failed instance", "method", "source", "to copy", "estimate"}}
	for _, t := range ts {
		method := strings.ToLower(t.Method())
		switch {
		case t.Plan.Impossible != "":
			method += " (cannot work)"
		case t.Move != nil:
			method += fmt.Sprintf(" (pg_basebackup to %s:%d %s)", t.Move.Hostname, t.Move.Port, t.Move.DataDir)
		case t.Full:
			method += " (pg_basebackup)"
		case t.Differential:
			method += " (rsync)"
		case t.Plan.NoRewind:
			method += " (restart only)"
		default:
			method += " (pg_rewind)"
		}
		copyText := t.Plan.BytesNote
		if t.Plan.Bytes >= 0 {
			copyText = human(t.Plan.Bytes)
			if t.Plan.BytesNote != "" && t.Plan.Bytes > 0 {
				copyText += " (" + t.Plan.BytesNote + ")"
			}
		}
		v.Rows = append(v.Rows, []string{
			strconv.Itoa(t.Failed.DBID), strconv.Itoa(t.Failed.ContentID),
			fmt.Sprintf("%s:%d %s", t.Failed.Hostname, t.Failed.Port, t.Failed.DataDir),
			method,
			fmt.Sprintf("dbid %d %s:%d", t.Source.DBID, t.Source.Hostname, t.Source.Port),
			copyText, estimate(t.Plan.Bytes),
		})
	}
	return v
}

// display logs the plan, its notes and problems, then Greenplum's display.
// The plan is for the one who answers the prompt (and for --dry-run): with
// -a it is a DEBUG message (shown, and written to the log file, with -v),
// so that the output stays Greenplum's; its warnings and refusals are
// printed whatever the mode.
func (r *recovery) display(ctx context.Context, ts []target) {
	log := r.env.Log
	level := slog.LevelInfo
	if r.opts.NonInteractive && !r.opts.DryRun {
		level = slog.LevelDebug
	}
	var b bytes.Buffer
	if err := PlanView(ts).Write(&b); err == nil {
		log.Log(ctx, level, "Recovery plan:")
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			log.Log(ctx, level, l)
		}
	}
	for _, t := range ts {
		for _, n := range t.Plan.Notes {
			log.Warn(fmt.Sprintf("%s: %s", t.label(), n))
		}
		if t.Plan.Impossible != "" {
			log.Error(fmt.Sprintf("%s: %s recovery cannot work: %s", t.label(), strings.ToLower(t.Method()), t.Plan.Impossible))
		}
	}
	gplog.Emit(ctx, log, displayRecords(r.f, r.displayHeader(), ts))
	for _, w := range r.recoveryWarnings(ts) {
		log.Warn(w)
	}
}
