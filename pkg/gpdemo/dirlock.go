package gpdemo

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// dirLock is an exclusive flock(2) on the demo directory itself, held by
// a create or a destroy while it works in DIR, so that two of them never
// work in one DIR at once: a create never destroys what another create is
// making as if it were left unfinished. The kernel releases it when the
// process ends, kill -9 included, so a killed run leaves no lock behind;
// its descriptor is close-on-exec, so no child holds it.
type dirLock struct{ f *os.File }

// lockDir takes dir's lock without waiting; another holder is refused
// with what to do. A nil *dirLock (dir absent) releases as nothing.
func lockDir(dir string) (*dirLock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, app.Errorf("--dir %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close() // only opened to lock
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, app.Errorf("--dir %s: another gpdemo create or destroy is working in it; run this one again when it has finished", dir)
		}
		return nil, app.Errorf("--dir %s: lock: %w", dir, err)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock; closing the descriptor does it.
func (l *dirLock) release() error {
	if l == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("unlock %s: %w", l.f.Name(), err)
	}
	return nil
}
