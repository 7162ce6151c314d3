package remotetest

import (
	"context"
	"sync/atomic"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Hosts is a Fake that is also a remote.HostExecutor, the executor a tool
// opens for the other hosts (app.Env.NewSSH): CheckHostKeys returns KeyErr,
// and Close is counted.
type Hosts struct {
	*Fake
	KeyErr error
	closes atomic.Int32
}

// NewHosts returns Hosts around a new Fake.
func NewHosts() *Hosts { return &Hosts{Fake: &Fake{}} }

// CheckHostKeys returns h.KeyErr.
func (h *Hosts) CheckHostKeys(context.Context, []string) error { return h.KeyErr }

// Close records the call.
func (h *Hosts) Close() error {
	h.closes.Add(1)
	return nil
}

// Closes is how many times Close was called.
func (h *Hosts) Closes() int { return int(h.closes.Load()) }

// Opener returns an app.Env.NewSSH that opens h, or fails with err when err
// is not nil.
func (h *Hosts) Opener(err error) func(remote.SSHOptions) (remote.HostExecutor, error) {
	return func(remote.SSHOptions) (remote.HostExecutor, error) {
		if err != nil {
			return nil, err
		}
		return h, nil
	}
}
