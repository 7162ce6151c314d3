package compattest

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The extension's SQL takes values as bound parameters ($1, ...), never
// formatted into its text (design.md, safety invariant 5): a format verb in
// a statement may name an identifier chosen in code (%s for a table, a
// column, a WHERE clause written in the source), never a value. ALTER
// SYSTEM, which takes no parameters, is the one statement that may quote
// a value, with quote_literal_cstr.
var (
	cString    = regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)
	sqlWord    = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|VALUES|WHERE)\b`)
	valueVerb  = regexp.MustCompile(`%l?[cdiu]|'%s'`)
	quoteValue = regexp.MustCompile(`quote_literal_cstr\(`)
)

// sqlValueProblems returns the lines of C source src that format a value
// into SQL.
func sqlValueProblems(name, src string) []string {
	var problems []string
	lines := strings.Split(src, "\n")
	for i, line := range lines {
		for _, lit := range cString.FindAllString(line, -1) {
			if sqlWord.MatchString(lit) && valueVerb.MatchString(lit) {
				problems = append(problems, name+":"+strconv.Itoa(i+1)+": a value formatted into SQL: "+strings.TrimSpace(line))
			}
		}
		if quoteValue.MatchString(line) {
			context := strings.Join(lines[max(0, i-2):i+1], "\n")
			if !strings.Contains(context, "ALTER SYSTEM") {
				problems = append(problems, name+":"+strconv.Itoa(i+1)+": a quoted value in SQL other than ALTER SYSTEM's: "+strings.TrimSpace(line))
			}
		}
	}
	return problems
}

func TestExtensionSQLBindsValues(t *testing.T) {
	files, err := filepath.Glob("../ext/*.c")
	if err != nil || len(files) == 0 {
		t.Fatalf("no extension sources: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range sqlValueProblems(filepath.Base(f), string(src)) {
			t.Error(p)
		}
	}
}

// TestSQLValueProblemsFinds: the check finds the forms it forbids.
func TestSQLValueProblemsFinds(t *testing.T) {
	for _, src := range []string{
		`appendStringInfo(&sql, "UPDATE t SET role = '%c' WHERE dbid = %d;", r, d);`,
		`sql = psprintf("INSERT INTO t VALUES (%s)", quote_literal_cstr(v));`,
		`where = psprintf("content = $1 AND %s = %s", col,` + "\n" + `quote_literal_cstr(psprintf("%c", role)));`,
	} {
		if len(sqlValueProblems("x.c", src)) == 0 {
			t.Errorf("not found in %s", src)
		}
	}
	for _, src := range []string{
		`sql = psprintf("SELECT * FROM gp_compat.%s", table);`,
		`char *sql = psprintf("ALTER SYSTEM SET synchronous_standby_names = %s",` + "\n" + `quote_literal_cstr(value));`,
		`errmsg("FTS: update role, status, and mode for dbid %d", dbid)`,
	} {
		if p := sqlValueProblems("x.c", src); len(p) != 0 {
			t.Errorf("flagged: %v", p)
		}
	}
}
