// Command faulttable prints the fault table the campaign recorded (the
// file faulttest.TableEnv names) as Markdown, for docs/reliability.md. It
// fails when the file holds no row or a row lost data.
//
// Usage: go run ./internal/faulttest/faulttable FILE
package main

import (
	"fmt"
	"os"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: faulttable FILE")
		os.Exit(2)
	}
	rows, err := faulttest.ReadRows(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttable:", err)
		os.Exit(1)
	}
	if len(rows) == 0 {
		fmt.Fprintf(os.Stderr, "faulttable: %s holds no row: did the campaign run?\n", os.Args[1])
		os.Exit(1)
	}
	fmt.Print(faulttest.Markdown(rows))
	lost := 0
	for _, r := range rows {
		lost += r.Lost
	}
	fmt.Printf("\n%d faults, %d rows lost\n", len(rows), lost)
	if lost > 0 {
		os.Exit(1)
	}
}
