package faulttest

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TableEnv names the file Record and RecordLoad append rows to (JSON, one
// per line); scripts/reliability.sh sets it and prints the tables when the
// campaign ends. Unset, rows are only logged.
const TableEnv = "GPMGMT_FAULT_TABLE"

// Row is one fault's outcome: a line of the table in docs/reliability.md.
// Every field is what the test observed, not what it expected.
type Row struct {
	Fault   string `json:"fault"`   // what was done, and when: "kill -9 at Step 5 of 11: copy primaries …"
	Tool    string `json:"tool"`    // the command as run
	Printed string `json:"printed"` // the tool's last message, or its error lines
	Exit    string `json:"exit"`    // "killed (137)" or the exit code
	After   string `json:"after"`   // catalog vs disk after the fault, before the rerun
	Rerun   string `json:"rerun"`   // the rerun of the same command: exit code, time, what it said
	Lost    int    `json:"lost"`    // rows written before the fault and missing after
	Test    string `json:"test"`    // the test that made the row
}

// Record logs r and, when TableEnv names a file, appends it there. The
// test name is filled in from t.
func Record(t testing.TB, r Row) {
	t.Helper()
	r.Test = t.Name()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fault table row: %s", b)
	appendLine(t, b)
}

// appendLine appends one JSON line to the file TableEnv names, if any.
func appendLine(t testing.TB, b []byte) {
	t.Helper()
	path := os.Getenv(TableEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("the fault table: %v", err)
	}
	defer f.Close()
	// One write of the whole line: O_APPEND keeps parallel tests' rows whole.
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Fatalf("the fault table %s: %v", path, err)
	}
}

// Table is what a table file holds: the fault rows and the load rows.
type Table struct {
	Faults []Row
	Loads  []LoadRow
}

// ReadTable reads the rows Record and RecordLoad appended to path, each
// kind ordered by test name.
func ReadTable(path string) (Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Table{}, err
	}
	var tab Table
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(line), &kind); err != nil {
			return Table{}, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		switch kind.Kind {
		case "":
			var r Row
			err = json.Unmarshal([]byte(line), &r)
			tab.Faults = append(tab.Faults, r)
		case loadKind:
			var r LoadRow
			err = json.Unmarshal([]byte(line), &r)
			tab.Loads = append(tab.Loads, r)
		default:
			err = fmt.Errorf("unknown kind %q", kind.Kind)
		}
		if err != nil {
			return Table{}, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	slices.SortStableFunc(tab.Faults, func(a, b Row) int { return strings.Compare(a.Test, b.Test) })
	slices.SortStableFunc(tab.Loads, func(a, b LoadRow) int { return strings.Compare(a.Test, b.Test) })
	return tab, nil
}

// ReadRows reads the fault rows Record appended to path, ordered by test
// name; load rows are left out (ReadTable has them).
func ReadRows(path string) ([]Row, error) {
	tab, err := ReadTable(path)
	return tab.Faults, err
}

// Markdown renders rows as the table docs/reliability.md quotes.
func Markdown(rows []Row) string {
	var b strings.Builder
	b.WriteString("| fault | tool | what the tool printed | exit | catalog vs disk afterwards | rerun of the same command | rows lost | test |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		cells := []string{r.Fault, "`" + r.Tool + "`", r.Printed, r.Exit, r.After, r.Rerun, fmt.Sprint(r.Lost), "`" + r.Test + "`"}
		b.WriteString("| " + strings.Join(escapeCells(cells), " | ") + " |\n")
	}
	return b.String()
}

// escapeCells makes each cell one Markdown table cell: pipes escaped,
// newlines made spaces.
func escapeCells(cells []string) []string {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(strings.ReplaceAll(c, "|", `\|`), "\n", " ")
	}
	return cells
}
