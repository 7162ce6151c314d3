// Command faulttable prints the tables the campaign recorded (the file
// faulttest.TableEnv names) as Markdown, for docs/reliability.md: the
// fault table, then "gpstate under load". It fails when the file holds no
// row, when a fault lost data, or when a run under load failed.
//
// Usage: go run ./internal/faulttest/faulttable FILE
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: faulttable FILE")
		os.Exit(2)
	}
	tab, err := faulttest.ReadTable(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttable:", err)
		os.Exit(1)
	}
	if len(tab.Faults) == 0 && len(tab.Loads) == 0 {
		fmt.Fprintf(os.Stderr, "faulttable: %s holds no row: did the campaign run?\n", os.Args[1])
		os.Exit(1)
	}
	if !render(os.Stdout, tab) {
		os.Exit(1)
	}
}

// render writes the tables and their totals; it reports whether every
// fault lost nothing and every run under load succeeded.
func render(w io.Writer, tab faulttest.Table) bool {
	lost, failed := 0, 0
	if len(tab.Faults) > 0 {
		fmt.Fprint(w, faulttest.Markdown(tab.Faults))
		for _, r := range tab.Faults {
			lost += r.Lost
		}
		fmt.Fprintf(w, "\n%d faults, %d rows lost\n", len(tab.Faults), lost)
	}
	if len(tab.Loads) > 0 {
		if len(tab.Faults) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprint(w, "gpstate under load:\n\n", faulttest.LoadMarkdown(tab.Loads))
		runs := 0
		for _, r := range tab.Loads {
			runs += r.Runs
			failed += r.Failed
		}
		fmt.Fprintf(w, "\n%d loops, %d runs, %d failed\n", len(tab.Loads), runs, failed)
	}
	return lost == 0 && failed == 0
}
