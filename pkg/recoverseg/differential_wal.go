package recoverseg

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The WAL a differential copy needs: the segments from the one holding the
// backup's start (its redo point, named in backup_label) to the one
// holding its stop LSN, on the backup's timeline, and the timeline history
// files. The source keeps them: its replication slot was created before
// the backup started. Greenplum copies the whole of pg_wal, recycled
// segments included; these are the only ones recovery reads before it
// streams the rest from the source through the slot.

// walRange is a run of WAL segments of one timeline.
type walRange struct {
	TLI         uint32
	First, Last uint64 // segment numbers, inclusive
	PerID       uint64 // segments per "xlog id" (2^32 / segment size)
}

// startWALRE finds the start segment in a backup_label.
var startWALRE = regexp.MustCompile(`(?m)^START WAL LOCATION: [0-9A-F]+/[0-9A-F]+ \(file ([0-9A-F]{24})\)$`)

// backupWAL is the WAL range of a backup from its backup_label, its stop
// LSN and the server's WAL segment size in bytes.
func backupWAL(label, stopLSN string, segSize int64) (walRange, error) {
	if segSize <= 0 || segSize&(segSize-1) != 0 || segSize > 1<<30 {
		return walRange{}, fmt.Errorf("WAL segment size %d is not a power of two up to 1 GB", segSize)
	}
	m := startWALRE.FindStringSubmatch(label)
	if m == nil {
		return walRange{}, fmt.Errorf("backup_label names no START WAL LOCATION file: %q", label)
	}
	per := uint64(1<<32) / uint64(segSize)
	tli, first, err := parseWALName(m[1], per)
	if err != nil {
		return walRange{}, err
	}
	stop, err := parseLSN(stopLSN)
	if err != nil {
		return walRange{}, err
	}
	last := stop / uint64(segSize)
	if last < first {
		return walRange{}, fmt.Errorf("backup stop LSN %s is before its start segment %s", stopLSN, m[1])
	}
	return walRange{TLI: tli, First: first, Last: last, PerID: per}, nil
}

// parseLSN reads "X/Y" (hexadecimal halves) as PostgreSQL prints an LSN.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not an LSN", s)
	}
	return h<<32 | l, nil
}

// parseWALName reads a WAL file name: timeline, then the segment number
// as "xlog id" and segment within it, 8 hexadecimal digits each.
func parseWALName(name string, per uint64) (tli uint32, segno uint64, err error) {
	if len(name) != 24 {
		return 0, 0, fmt.Errorf("%q is not a WAL file name", name)
	}
	t, err1 := strconv.ParseUint(name[:8], 16, 32)
	id, err2 := strconv.ParseUint(name[8:16], 16, 32)
	seg, err3 := strconv.ParseUint(name[16:], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || seg >= per {
		return 0, 0, fmt.Errorf("%q is not a WAL file name for %d segments per id", name, per)
	}
	return uint32(t), id*per + seg, nil
}

// walName is the file name of segment segno of timeline tli.
func walName(tli uint32, segno, per uint64) string {
	return fmt.Sprintf("%08X%08X%08X", tli, segno/per, segno%per)
}

// Names are the file names of the range, in order.
func (w walRange) Names() []string {
	var out []string
	for s := w.First; s <= w.Last; s++ {
		out = append(out, walName(w.TLI, s, w.PerID))
	}
	return out
}

// args are the range as walListScript reads it: the timeline in
// hexadecimal, segments per id, first and last segment in decimal.
func (w walRange) args() []string {
	return []string{fmt.Sprintf("%08X", w.TLI), strconv.FormatUint(w.PerID, 10), strconv.FormatUint(w.First, 10), strconv.FormatUint(w.Last, 10)}
}
