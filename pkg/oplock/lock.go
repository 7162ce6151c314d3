// Package oplock keeps changing operations on a cluster one at a time and
// remembers what an interrupted one was doing.
//
// The lock is Greenplum's: a directory <tool>.lock in the coordinator data
// directory, made with mkdir (atomic), holding a file PID with the
// owner's pid and no newline; Greenplum's own tools and gpstate read it.
// Beside PID, a file owner holds the owner's host and the start time of
// its process, so that a lock whose process is gone, or whose pid now
// belongs to another process, is known to be stale and is taken over.
//
// The journal (journal.go) sits beside the lock and outlives it: a run
// killed with -9 leaves it for the next run to read.
package oplock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Owner is who holds a lock.
type Owner struct {
	PID   int
	Host  string
	Start string // the process's start time (/proc/<pid>/stat field 22); "" unknown
}

// Self returns the Owner of this process on host.
func Self(host string) Owner {
	pid := os.Getpid()
	start, _ := ProcessStart(pid)
	return Owner{PID: pid, Host: host, Start: start}
}

// Path is the lock directory of tool in the coordinator data directory mdd.
func Path(mdd, tool string) string { return filepath.Join(mdd, tool+".lock") }

// HeldError says that another live process holds the lock. Its two lines
// are Greenplum's.
type HeldError struct {
	Path  string
	Tool  string
	Owner Owner
	// Foreign is set when the owner runs on another host, where its
	// process cannot be checked from here.
	Foreign bool
}

// Lines are the two lines Greenplum logs at ERROR.
func (e *HeldError) Lines() []string {
	return []string{
		fmt.Sprintf("Lockfile %s indicates that an instance of %s is already running with PID %d", e.Path, e.Tool, e.Owner.PID),
		fmt.Sprintf("If this is not the case, remove the lockfile directory at %s", e.Path),
	}
}

func (e *HeldError) Error() string {
	msg := strings.Join(e.Lines(), "; ")
	if e.Foreign {
		msg += fmt.Sprintf(" (the owner runs on host %s)", e.Owner.Host)
	}
	return msg
}

// Lock is a held lock.
type Lock struct {
	path  string
	owner Owner
}

// Stale is a lock found left by a process that is gone.
type Stale struct {
	Owner  Owner
	Reason string // "not running", "its pid now belongs to another process", "unreadable"
}

// Acquire takes tool's lock in mdd for self. A lock held by a live process
// gives a *HeldError; a stale one is removed and taken over, and returned
// so the caller can warn. The lock directory keeps Greenplum's format.
func Acquire(mdd, tool string, self Owner) (*Lock, *Stale, error) {
	path := Path(mdd, tool)
	var stale *Stale
	for attempt := 0; attempt < 2; attempt++ {
		err := os.Mkdir(path, 0o700)
		if err == nil {
			l := &Lock{path: path, owner: self}
			if err := l.write(); err != nil {
				_ = os.RemoveAll(path)
				return nil, nil, err
			}
			return l, stale, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, nil, fmt.Errorf("create the lock %s: %w", path, err)
		}
		owner, reason, err := Check(path, self.Host)
		if err != nil {
			return nil, nil, err
		}
		if reason == "" {
			he := &HeldError{Path: path, Tool: tool, Owner: owner, Foreign: owner.Host != "" && owner.Host != self.Host}
			return nil, nil, he
		}
		stale = &Stale{Owner: owner, Reason: reason}
		if err := os.RemoveAll(path); err != nil {
			return nil, nil, fmt.Errorf("remove the stale lock %s: %w", path, err)
		}
	}
	return nil, nil, fmt.Errorf("lock %s: taken by another process while a stale one was being removed", path)
}

// AcquireAlone is Acquire for a tool that must not run beside others
// (safety invariant 3: one changing operation at a time): with tool's lock
// taken, a live holder of any of others' locks gives a *HeldError naming
// that tool, and tool's lock is released again. Taking one's own lock
// before looking at the others' means two tools that start together can
// both refuse, never both go on.
func AcquireAlone(mdd, tool string, self Owner, others ...string) (*Lock, *Stale, error) {
	l, stale, err := Acquire(mdd, tool, self)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range others {
		owner, held, err := Held(mdd, o, self.Host)
		if err == nil && !held {
			continue
		}
		if rerr := l.Release(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, &HeldError{Path: Path(mdd, o), Tool: o, Owner: owner, Foreign: owner.Host != "" && owner.Host != self.Host}
	}
	return l, stale, nil
}

// Check reads the lock at path and says whether it is stale: reason ""
// means its owner is alive (or runs on another host than host, where it
// cannot be checked, and so counts as alive).
func Check(path, host string) (Owner, string, error) {
	b, err := os.ReadFile(filepath.Join(path, "PID"))
	if errors.Is(err, fs.ErrNotExist) {
		return Owner{}, "it holds no PID file", nil
	}
	if err != nil {
		return Owner{}, "", fmt.Errorf("read the lock %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return Owner{}, fmt.Sprintf("its PID file holds no pid (%q)", strings.TrimSpace(string(b))), nil
	}
	o := Owner{PID: pid}
	if b, err := os.ReadFile(filepath.Join(path, "owner")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, "=")
			switch k {
			case "host":
				o.Host = v
			case "start":
				o.Start = v
			}
		}
	}
	if o.Host != "" && o.Host != host {
		return o, "", nil
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return o, "its process is not running", nil
	}
	if start, err := ProcessStart(pid); err == nil && o.Start != "" && start != o.Start {
		return o, "its pid now belongs to another process", nil
	}
	return o, "", nil
}

// write records the owner: PID as Greenplum writes it (no newline), then
// host and start time.
func (l *Lock) write() error {
	if err := os.WriteFile(filepath.Join(l.path, "PID"), []byte(strconv.Itoa(l.owner.PID)), 0o600); err != nil {
		return fmt.Errorf("write the lock %s: %w", l.path, err)
	}
	owner := fmt.Sprintf("host=%s\nstart=%s\n", l.owner.Host, l.owner.Start)
	if err := os.WriteFile(filepath.Join(l.path, "owner"), []byte(owner), 0o600); err != nil {
		return fmt.Errorf("write the lock %s: %w", l.path, err)
	}
	return nil
}

// Path is where the lock is.
func (l *Lock) Path() string { return l.path }

// Release removes the lock, if it is still this process's.
func (l *Lock) Release() error {
	b, err := os.ReadFile(filepath.Join(l.path, "PID"))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(l.owner.PID) {
		return fmt.Errorf("release the lock %s: it is no longer this process's", l.path)
	}
	if err := os.RemoveAll(l.path); err != nil {
		return fmt.Errorf("release the lock %s: %w", l.path, err)
	}
	return nil
}

// ProcessStart returns the start time of process pid on this host, in
// clock ticks since boot (/proc/<pid>/stat field 22): with the pid, it
// names one process for the host's uptime.
func ProcessStart(pid int) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 { // fields 3..22 follow the command name
		return "", fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	return f[19], nil
}

// Held reports whether tool's lock in mdd is held by a live process, and
// by whom, without taking it: what the other changing tools check.
func Held(mdd, tool, host string) (Owner, bool, error) {
	path := Path(mdd, tool)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return Owner{}, false, nil
	}
	o, reason, err := Check(path, host)
	if err != nil {
		return Owner{}, false, err
	}
	return o, reason == "", nil
}

// MirrorWorkRunning is the warning gpstart and gpstop log when
// gprecoverseg or gpaddmirrors holds its lock in mdd (docs/locks.md): they
// go on, as Greenplum's do, since a DBA must be able to stop a cluster
// whose recovery is stuck; "" when neither runs.
func MirrorWorkRunning(mdd, host string) string {
	for _, tool := range []string{"gprecoverseg", "gpaddmirrors"} {
		if o, held, err := Held(mdd, tool, host); err == nil && held {
			return fmt.Sprintf("A %s (PID %d) is running on this cluster: its copies fail while the instances stop; run it again afterwards to complete them", tool, o.PID)
		}
	}
	return ""
}
