package pgcmd

import (
	"fmt"
	"strings"
	"unicode"
)

// CheckDataDir refuses a data directory that pg_ctl's shell would
// interpret (safety invariant 7). pg_ctl starts the postmaster with
// sh -c 'exec "postgres" -D "<dir>" ...': inside those double quotes a
// '$' or a backquote still expands (a command substitution runs as the
// cluster's owner), a '"' ends the quotes and a '\' escapes the next
// character. Quoting on our side cannot help, so such a directory is
// refused before anything runs, with the character named.
func CheckDataDir(dir string) error {
	i := strings.IndexFunc(dir, func(r rune) bool {
		return r == '$' || r == '`' || r == '"' || r == '\\' || unicode.IsControl(r)
	})
	if i < 0 {
		return nil
	}
	return fmt.Errorf("data directory %q contains %q, which the shell pg_ctl starts the postmaster with would interpret: choose a directory without $, `, \", \\ or control characters",
		dir, dir[i:i+1])
}
