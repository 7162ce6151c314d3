package render

import (
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// View is a table of something Greenplum never printed (plans, progress
// summaries, --format table): plain columns under a header, rendered with
// tablewriter. Greenplum's own tables are Table values instead.
type View struct {
	Header []string
	Rows   [][]string // sorted by the caller; cells are printed as given
}

// Write renders v to w as an ASCII-bordered table with left-aligned,
// unwrapped cells and the header as given (no upper-casing).
func (v View) Write(w io.Writer) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithSymbols(tw.NewSymbols(tw.StyleASCII)),
	)
	if len(v.Header) > 0 {
		t.Header(v.Header)
	}
	if err := t.Bulk(v.Rows); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return nil
}
