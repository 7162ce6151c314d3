package oplock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Record is what a journal holds: the operation's plan, one Item per
// segment it works on, and the step each has reached.
type Record struct {
	Tool    string    `json:"tool"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Args    []string  `json:"args"`
	Items   []Item    `json:"items"`
}

// Item is one segment of the operation: where the work on it lands (Host,
// DataDir, Port) and the step it has reached.
type Item struct {
	DBID    int    `json:"dbid"`
	Method  string `json:"method"` // "incremental" or "full"
	Host    string `json:"host"`
	DataDir string `json:"datadir"`
	Port    int    `json:"port"`
	// From, for a segment recovered to a new location, is where it was
	// (address|port|datadir); Host, DataDir and Port are the new location.
	From string `json:"from,omitempty"`
	Step string `json:"step"`
	Note string `json:"note,omitempty"`
	// Made says the operation created DataDir itself: it may remove it
	// again (a directory it did not make is never removed).
	Made bool `json:"made,omitempty"`
	// Partial says DataDir may hold a copy an earlier run of the same
	// command left unfinished, which the operation has not replaced yet:
	// a rerun may clear it. A run that takes such an item over carries it
	// into its own journal, so that being killed again before its own copy
	// does not turn the earlier copy into a stranger's directory.
	// gprecoverseg also sets it when its own copy begins, and clears it
	// when the recovery of the directory succeeds.
	Partial bool `json:"partial,omitempty"`
}

// Item returns the item of dbid.
func (r *Record) Item(dbid int) (Item, bool) {
	for _, it := range r.Items {
		if it.DBID == dbid {
			return it, true
		}
	}
	return Item{}, false
}

// JournalPath is tool's journal in the coordinator data directory mdd,
// beside its lock.
func JournalPath(mdd, tool string) string { return filepath.Join(mdd, tool+".journal") }

// ReadJournal returns the journal an earlier run of tool left in mdd, or
// nil when there is none (the earlier run finished, or none ran).
func ReadJournal(mdd, tool string) (*Record, error) {
	path := JournalPath(mdd, tool)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the journal %s: %w", path, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("the journal %s is damaged (%w): remove it if no %s runs", path, err, tool)
	}
	return &r, nil
}

// Journal is the journal of the running operation. Every change is
// written to disk before the step it announces runs (write, fsync,
// rename), so a run killed at any point leaves the last step it began.
type Journal struct {
	path string
	mu   sync.Mutex
	rec  Record
}

// NewJournal writes rec as tool's journal in mdd, replacing an earlier
// run's.
func NewJournal(mdd string, rec Record) (*Journal, error) {
	j := &Journal{path: JournalPath(mdd, rec.Tool), rec: rec}
	if err := j.write(); err != nil {
		return nil, err
	}
	return j, nil
}

// Step records that the item of dbid begins step (note says more).
func (j *Journal) Step(dbid int, step, note string) error {
	return j.Update(dbid, func(it *Item) { it.Step, it.Note = step, note })
}

// Update changes the item of dbid with fn and writes the journal before
// it returns.
func (j *Journal) Update(dbid int, fn func(*Item)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.rec.Items {
		if j.rec.Items[i].DBID == dbid {
			fn(&j.rec.Items[i])
			return j.write()
		}
	}
	return fmt.Errorf("journal %s: no item for dbid %d", j.path, dbid)
}

// Made records that the operation created the data directory of the
// item of dbid.
func (j *Journal) Made(dbid int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.rec.Items {
		if j.rec.Items[i].DBID == dbid {
			if j.rec.Items[i].Made {
				return nil
			}
			j.rec.Items[i].Made = true
			return j.write()
		}
	}
	return fmt.Errorf("journal %s: no item for dbid %d", j.path, dbid)
}

// Record returns a copy of what the journal holds.
func (j *Journal) Record() Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.rec
	r.Items = append([]Item(nil), j.rec.Items...)
	return r
}

// Remove deletes the journal: the operation finished.
func (j *Journal) Remove() error {
	return RemoveJournal(filepath.Dir(j.path), j.rec.Tool)
}

func (j *Journal) write() error {
	b, err := json.MarshalIndent(j.rec, "", "  ")
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write the journal %s: %w", j.path, err)
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write the journal %s: %w", j.path, err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("write the journal %s: %w", j.path, err)
	}
	return nil
}

// RemoveJournal deletes tool's journal in mdd, if any: an earlier run's
// work is done.
func RemoveJournal(mdd, tool string) error {
	path := JournalPath(mdd, tool)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the journal %s: %w", path, err)
	}
	return nil
}
