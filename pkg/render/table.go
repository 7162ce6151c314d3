// Package render turns rows into output: Greenplum's own tables as log
// records (Table, spec §1.3.1), and tables Greenplum never printed (plans,
// summaries, --format table) with tablewriter (View).
package render

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// Arrow is the extra last cell of warning rows when arrows are on.
const Arrow = "<<<<<<<<"

// SeparatorLine is the text of a separator row: 52 dashes.
const SeparatorLine = "----------------------------------------------------"

// Indent prefixes every normal row; warning rows go without it, because the
// longer [WARNING] tag keeps the columns roughly aligned.
const Indent = "   "

// rowKind says how a row is logged.
type rowKind int

const (
	rowNormal rowKind = iota
	rowWarning
	rowSeparator
)

// row is one line of a Table.
type row struct {
	kind  rowKind
	cells []string
}

// Table is Greenplum's TableLogger (spec §1.3.1): rows of cells and
// separator rows, logged as one record per row with the columns aligned over
// the whole table. Build it with Add, Warn and Separator, then turn it into
// records with Records or log it with Log. The zero value is an empty table
// without arrows.
type Table struct {
	// Arrows appends the cell "<<<<<<<<" to warning rows (on in every
	// gpstate and gpstart table).
	Arrows bool
	rows   []row
}

// Add appends a normal row, logged at INFO with three leading spaces.
// Key/value rows are two cells, e.g. Add("Master port", "= 5432").
func (t *Table) Add(cells ...string) {
	t.rows = append(t.rows, row{kind: rowNormal, cells: cells})
}

// Warn appends a warning row, logged at WARNING without the indent and,
// when Arrows is set, with the arrow cell appended.
func (t *Table) Warn(cells ...string) {
	c := append([]string(nil), cells...)
	if t.Arrows {
		c = append(c, Arrow)
	}
	t.rows = append(t.rows, row{kind: rowWarning, cells: c})
}

// AddIf appends cells as a warning row when warn is true, else as a normal
// row: the usual "(warning if > 0)" rows of gpstate.
func (t *Table) AddIf(warn bool, cells ...string) {
	if warn {
		t.Warn(cells...)
		return
	}
	t.Add(cells...)
}

// Separator appends a separator row: 52 dashes at INFO, not indented.
func (t *Table) Separator() {
	t.rows = append(t.rows, row{kind: rowSeparator})
}

// Records renders the table. Column i is as wide as its widest cell over
// all rows (the arrow cell of warning rows included); every cell except a
// row's last is left-justified to that width + 3 and the last is appended
// unpadded.
func (t *Table) Records() []gplog.Record {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r.cells {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	recs := make([]gplog.Record, 0, len(t.rows))
	for _, r := range t.rows {
		switch r.kind {
		case rowSeparator:
			recs = append(recs, gplog.Record{Level: slog.LevelInfo, Msg: SeparatorLine})
		case rowWarning:
			recs = append(recs, gplog.Record{Level: slog.LevelWarn, Msg: formatRow(r.cells, widths)})
		default:
			recs = append(recs, gplog.Record{Level: slog.LevelInfo, Msg: Indent + formatRow(r.cells, widths)})
		}
	}
	return recs
}

// Log emits the table's records through log, so that they reach the
// console and the log file alike.
func (t *Table) Log(ctx context.Context, log *slog.Logger) {
	gplog.Emit(ctx, log, t.Records())
}

// formatRow pads every cell but the last to its column width + 3.
func formatRow(cells []string, widths []int) string {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", widths[i]+3-utf8.RuneCountInString(c)))
		}
	}
	return b.String()
}
