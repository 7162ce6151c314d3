package tooltest

import (
	"regexp"
	"strings"
	"testing"
)

// linePrefix is Greenplum's log line prefix, "20240318:10:15:03:012345
// gprecoverseg:mdw:gpadmin-".
var linePrefix = regexp.MustCompile(`^\d{8}:\d\d:\d\d:\d\d:\d{6} [a-z]+:[^:]+:[^-]+-`)

// Messages strips Greenplum's line prefix from each line of a tool's
// output, leaving "[LEVEL]:-message"; a line without the prefix (a
// prompt, a progress line) becomes "unprefixed: <line>".
func Messages(out string) []string {
	var msgs []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if !linePrefix.MatchString(line) {
			msgs = append(msgs, "unprefixed: "+line)
			continue
		}
		msgs = append(msgs, linePrefix.ReplaceAllString(line, ""))
	}
	return msgs
}

// WantInOrder fails t unless every pattern matches one of the messages of
// out, in order.
func WantInOrder(t testing.TB, out string, patterns ...string) {
	t.Helper()
	msgs := Messages(out)
	i := 0
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		for i < len(msgs) && !re.MatchString(msgs[i]) {
			i++
		}
		if i == len(msgs) {
			t.Fatalf("no message matching %q (in order) in:\n%s", p, out)
		}
		i++
	}
}
