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

// LastMessage is the last message of out (Messages form) that says
// something: empty lines and rules of '*', '-' or '=' are passed over.
func LastMessage(out string) string {
	msgs := Messages(out)
	for i := len(msgs) - 1; i >= 0; i-- {
		m := strings.TrimSpace(msgs[i])
		text := m
		if _, after, ok := strings.Cut(m, "]:-"); ok {
			text = after
		}
		text = strings.TrimPrefix(text, "unprefixed:")
		if strings.Trim(text, "*-= ") != "" {
			return m
		}
	}
	return ""
}

// Problems is the ERROR, CRITICAL and WARNING messages of out joined by
// " / ", or its last message when it has none: what a tool said about a
// fault, for the fault table.
func Problems(out string) string {
	var lines []string
	for _, msg := range Messages(out) {
		if strings.HasPrefix(msg, "[ERROR]") || strings.HasPrefix(msg, "[WARNING]") || strings.HasPrefix(msg, "[CRITICAL]") {
			lines = append(lines, msg)
		}
	}
	if len(lines) == 0 {
		return LastMessage(out)
	}
	return strings.Join(lines, " / ")
}
