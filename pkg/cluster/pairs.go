package cluster

import "fmt"

// Pair is one content's primary and mirror by current role. Primary is never
// nil in a validated Cluster; Mirror is nil for a mirrorless content.
// The pointers are to copies: changing them does not change the Cluster.
type Pair struct {
	Content int
	Primary *Segment
	Mirror  *Segment
}

// PairState classifies a content for the tools that act on it.
type PairState int

// The pair states. Only Synced, Resyncing, MirrorDown and Mirrorless are
// valid in Greenplum's sense (spec §1.7).
const (
	PairInvalid    PairState = iota // a state Greenplum rejects, e.g. (u,s,d,s)
	PairMirrorless                  // no mirror for this content
	PairSynced                      // both up, in sync: (u,s,u,s)
	PairResyncing                   // both up, not yet in sync: (u,n,u,n)
	PairMirrorDown                  // primary up alone: (u,n,d,n)
)

var pairStateNames = [...]string{"invalid", "mirrorless", "synchronized", "resynchronizing", "mirror down"}

// String names the state in lower case.
func (s PairState) String() string {
	if int(s) < len(pairStateNames) {
		return pairStateNames[s]
	}
	return fmt.Sprintf("PairState(%d)", int(s))
}

// Pairs returns one Pair per content >= 0, by content.
func (c *Cluster) Pairs() []Pair {
	var pairs []Pair
	for _, s := range c.segs {
		if !s.IsSegment() {
			continue
		}
		if len(pairs) == 0 || pairs[len(pairs)-1].Content != s.ContentID {
			pairs = append(pairs, Pair{Content: s.ContentID})
		}
		p := &pairs[len(pairs)-1]
		row := s
		if s.IsPrimary() {
			p.Primary = &row
		} else {
			p.Mirror = &row
		}
	}
	return pairs
}

// StateCode is the (primary status, primary mode, mirror status, mirror mode)
// tuple Greenplum validates, e.g. "(u,s,u,s)"; a missing mirror counts as (d,n).
func (p Pair) StateCode() string {
	ms, mm := StatusDown, ModeNotSynced
	if p.Mirror != nil {
		ms, mm = p.Mirror.Status, p.Mirror.Mode
	}
	var ps Status
	var pm Mode
	if p.Primary != nil {
		ps, pm = p.Primary.Status, p.Primary.Mode
	}
	return fmt.Sprintf("(%s,%s,%s,%s)", ps, pm, ms, mm)
}

// State classifies the pair.
func (p Pair) State() PairState {
	if p.Primary == nil {
		return PairInvalid
	}
	switch p.StateCode() {
	case "(u,s,u,s)":
		return PairSynced
	case "(u,n,u,n)":
		return PairResyncing
	case "(u,n,d,n)":
		if p.Mirror == nil {
			return PairMirrorless
		}
		return PairMirrorDown
	}
	return PairInvalid
}

// Valid reports whether the pair is in a state Greenplum accepts.
func (p Pair) Valid() bool { return p.State() != PairInvalid }

// Balanced reports whether both rows run in their preferred roles.
func (p Pair) Balanced() bool {
	return p.Primary != nil && p.Primary.IsBalanced() && (p.Mirror == nil || p.Mirror.IsBalanced())
}

// Synced reports whether the content has an up, in-sync mirror.
func (p Pair) Synced() bool { return p.State() == PairSynced }

// FailedOver reports whether the preferred mirror is acting as primary.
func (p Pair) FailedOver() bool {
	return p.Primary != nil && p.Primary.PreferredRole == RoleMirror
}

// Down returns the rows of the pair marked down.
func (p Pair) Down() []Segment {
	var down []Segment
	for _, s := range []*Segment{p.Primary, p.Mirror} {
		if s != nil && !s.IsUp() {
			down = append(down, *s)
		}
	}
	return down
}
