package cluster

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ConfigError says why a segment configuration is invalid. Like Greenplum's
// "Invalid GpArray" error it lists every problem found and carries a dump of
// the rows, one per line in Segment.String form.
type ConfigError struct {
	Problems []string  // one sentence each, naming dbids and contents
	Segments []Segment // the rows checked, sorted
}

// Error returns "Invalid GpArray: <problems>" followed by the row dump.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("Invalid GpArray: ")
	b.WriteString(strings.Join(e.Problems, "; "))
	if len(e.Segments) > 0 {
		b.WriteString("\n")
		b.WriteString(dump(e.Segments))
	}
	return b.String()
}

// dump renders segs one per line in Greenplum's pipe-separated form.
func dump(segs []Segment) string {
	lines := make([]string, len(segs))
	for i, s := range segs {
		lines[i] = s.String()
	}
	return strings.Join(lines, "\n")
}

// sortSegments orders rows by content, then current role (primary first),
// then dbid: the order of every accessor.
func sortSegments(segs []Segment) {
	sort.SliceStable(segs, func(i, j int) bool {
		a, b := segs[i], segs[j]
		if a.ContentID != b.ContentID {
			return a.ContentID < b.ContentID
		}
		if a.Role != b.Role {
			return a.Role > b.Role // 'p' before 'm', like preferred_role DESC
		}
		return a.DBID < b.DBID
	})
}

// validateRows checks the structural invariants New enforces and returns one
// sentence per problem; segs must be sorted.
func validateRows(segs []Segment) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if len(segs) == 0 {
		return []string{"no rows in gp_segment_configuration"}
	}
	for _, s := range segs {
		problems = append(problems, rowProblems(s)...)
	}

	byDBID := map[int][]int{}
	byContent := map[int][]Segment{}
	var contents []int
	for _, s := range segs {
		byDBID[s.DBID] = append(byDBID[s.DBID], s.ContentID)
		if _, seen := byContent[s.ContentID]; !seen {
			contents = append(contents, s.ContentID)
		}
		byContent[s.ContentID] = append(byContent[s.ContentID], s)
	}
	for _, dbid := range sortedKeys(byDBID) {
		if n := len(byDBID[dbid]); n > 1 {
			add("dbid %d appears %d times (contents %s)", dbid, n, joinInts(byDBID[dbid]))
		}
	}

	for _, content := range contents { // already sorted
		rows := byContent[content]
		for _, role := range []Role{RolePrimary, RoleMirror} {
			if ids := dbidsWhere(rows, func(s Segment) bool { return s.PreferredRole == role }); len(ids) > 1 {
				add("content %d has %d rows with preferred role %s (dbid %s)", content, len(ids), role, joinInts(ids))
			}
		}
		primaries := dbidsWhere(rows, Segment.IsPrimary)
		mirrors := dbidsWhere(rows, Segment.IsMirror)
		name := "primaries"
		if content == -1 {
			name = "coordinators"
		}
		switch {
		case len(primaries) > 1:
			add("content %d has %d %s (dbid %s)", content, len(primaries), name, joinInts(primaries))
		case len(primaries) == 0 && content == -1:
			add("no coordinator: content -1 has no row with role p (dbid %s)", joinInts(mirrors))
		case len(primaries) == 0:
			add("content %d has no primary (dbid %s)", content, joinInts(mirrors))
		}
		if len(mirrors) > 1 {
			add("content %d has %d mirrors (dbid %s)", content, len(mirrors), joinInts(mirrors))
		}
	}
	if _, ok := byContent[-1]; !ok {
		add("no coordinator: no row with content -1")
	}
	if missing := missingContents(contents); len(missing) > 0 {
		add("segment contents are not contiguous from 0: missing content %s", joinInts(missing))
	}

	problems = append(problems, clashes(segs, "port", func(s Segment) string {
		return s.Hostname + ":" + strconv.Itoa(s.Port)
	})...)
	problems = append(problems, clashes(segs, "data directory", func(s Segment) string {
		return s.Hostname + ":" + path.Clean(s.DataDir)
	})...)
	return problems
}

// rowProblems checks one row on its own.
func rowProblems(s Segment) []string {
	var p []string
	add := func(format string, args ...any) {
		p = append(p, fmt.Sprintf("dbid %d: "+format, append([]any{s.DBID}, args...)...))
	}
	if s.DBID <= 0 {
		add("dbid must be positive")
	}
	if s.ContentID < -1 {
		add("invalid content %d", s.ContentID)
	}
	if !s.Role.Valid() {
		add("invalid role %s", s.Role)
	}
	if !s.PreferredRole.Valid() {
		add("invalid preferred_role %s", s.PreferredRole)
	}
	if !s.Mode.Valid() {
		add("invalid mode %s", s.Mode)
	}
	if !s.Status.Valid() {
		add("invalid status %s", s.Status)
	}
	if s.Hostname == "" {
		add("empty hostname")
	}
	if s.Address == "" {
		add("empty address")
	}
	if s.Port < 1 || s.Port > 65535 {
		add("port %d out of range 1..65535", s.Port)
	}
	if !path.IsAbs(s.DataDir) {
		add("data directory %q is not an absolute path", s.DataDir)
	}
	return p
}

// clashes reports rows that share key(s): two instances on one host cannot
// share a port or a data directory.
func clashes(segs []Segment, what string, key func(Segment) string) []string {
	seen := map[string][]int{}
	var order []string
	for _, s := range segs {
		k := key(s)
		if _, ok := seen[k]; !ok {
			order = append(order, k)
		}
		seen[k] = append(seen[k], s.DBID)
	}
	var p []string
	for _, k := range order {
		if ids := seen[k]; len(ids) > 1 {
			p = append(p, fmt.Sprintf("dbid %s share the %s %s", joinInts(ids), what, k))
		}
	}
	return p
}

// missingContents returns the contents absent from 0..max(contents).
func missingContents(contents []int) []int {
	present := map[int]bool{}
	maxContent := -1
	for _, c := range contents {
		present[c] = true
		maxContent = max(maxContent, c)
	}
	var missing []int
	for c := 0; c <= maxContent; c++ {
		if !present[c] {
			missing = append(missing, c)
		}
	}
	return missing
}

func dbidsWhere(rows []Segment, keep func(Segment) bool) []int {
	var ids []int
	for _, s := range rows {
		if keep(s) {
			ids = append(ids, s.DBID)
		}
	}
	return ids
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func joinInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ", ")
}

// ValidatePairs checks every content's pair state against the states
// Greenplum accepts (spec §1.7): (primary status, primary mode, mirror
// status, mirror mode) must be (u,s,u,s), (u,n,u,n) or (u,n,d,n); a primary
// without a mirror is checked as if its mirror were (d,n). The tools skip
// this check when the coordinator runs in utility mode, so it is separate
// from New. The error is a *ConfigError.
func (c *Cluster) ValidatePairs() error {
	var problems []string
	for _, p := range c.Pairs() {
		if p.Valid() {
			continue
		}
		mirror := "no mirror"
		if p.Mirror != nil {
			mirror = fmt.Sprintf("mirror dbid %d", p.Mirror.DBID)
		}
		problems = append(problems, fmt.Sprintf("content %d: invalid pair state %s (primary dbid %d, %s)",
			p.Content, p.StateCode(), p.Primary.DBID, mirror))
	}
	if len(problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: problems, Segments: c.All()}
}
