package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// SSHExecutor runs commands on hosts over SSH. It keeps one connection per
// host, dialled on first use and shared by every command on that host, and
// caps the sessions open at once on each connection. It honours ssh_config
// (HostName, Port, User, IdentityFile, IdentitiesOnly, StrictHostKeyChecking,
// UserKnownHostsFile, GlobalKnownHostsFile, HostKeyAlias, ConnectTimeout),
// verifies host keys against known_hosts and never writes to it.
//
// The remote login shell runs CommandLine(c), prefixed with the EnvScript
// when one is set. It is safe for concurrent use; Close it when done.
type SSHExecutor struct {
	opts    SSHOptions
	configs sshConfigs
	done    chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool
	hosts  map[string]*hostConn
	keyDBs map[string]*hostKeyDB // by the joined list of known_hosts files
}

// hostConn is the shared connection to one host.
type hostConn struct {
	sem chan struct{} // one slot per open session

	mu      sync.Mutex
	client  *liveClient
	pending *dialAttempt // the dial in flight, if any
}

// dialAttempt is one dial, shared by every command that waits for it.
type dialAttempt struct {
	done   chan struct{}
	client *liveClient
	err    error
}

// NewSSHExecutor checks opts, fills in defaults and reads the ssh_config
// files. It connects to nothing: connections are made on first use.
func NewSSHExecutor(opts SSHOptions) (*SSHExecutor, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfgs, err := loadSSHConfigs(o.ConfigFile, o.SystemConfigFile)
	if err != nil {
		return nil, err
	}
	return &SSHExecutor{
		opts:    o,
		configs: cfgs,
		done:    make(chan struct{}),
		hosts:   map[string]*hostConn{},
		keyDBs:  map[string]*hostKeyDB{},
	}, nil
}

// Close closes every connection and makes later commands fail. Commands
// running on a closed connection end with an error. A dial in flight is
// stopped, and a connection it completes anyway is closed, never used.
//
// Locks are taken in one order everywhere: e.mu, then a host's hc.mu.
func (e *SSHExecutor) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	var clients []*liveClient
	for _, hc := range e.hosts {
		hc.mu.Lock()
		if hc.client != nil {
			clients = append(clients, hc.client)
			hc.client = nil
		}
		hc.mu.Unlock()
	}
	e.mu.Unlock()
	var errs []error
	for _, c := range clients {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close ssh connection to %s: %w", c.RemoteAddr(), err))
		}
	}
	return errors.Join(errs...)
}

// host returns the connection record of host, creating it.
func (e *SSHExecutor) host(host string) (*hostConn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("ssh executor is closed")
	}
	hc := e.hosts[host]
	if hc == nil {
		hc = &hostConn{sem: make(chan struct{}, e.opts.SessionsPerHost)}
		e.hosts[host] = hc
	}
	return hc, nil
}

// client returns the connection to host, dialling it if there is none. Callers
// that arrive while a dial is in flight share its outcome; after a failed
// dial, the next caller dials again. ctx bounds only the wait: the dial itself
// runs under the dial timeout and stops when the executor is closed.
func (e *SSHExecutor) client(ctx context.Context, host string) (*liveClient, *hostConn, error) {
	hc, err := e.host(host)
	if err != nil {
		return nil, nil, err
	}
	hc.mu.Lock()
	if c := hc.client; c != nil {
		hc.mu.Unlock()
		return c, hc, nil
	}
	a := hc.pending
	if a == nil {
		a = &dialAttempt{done: make(chan struct{})}
		hc.pending = a
		go e.dialFor(context.WithoutCancel(ctx), host, hc, a)
	}
	hc.mu.Unlock()
	select {
	case <-a.done:
		return a.client, hc, a.err
	case <-ctx.Done():
		return nil, hc, fmt.Errorf("connect: %w", ctx.Err())
	}
}

// dialFor runs one dial attempt and publishes its outcome: the new
// connection, watched by its keepalives, or the error. Whether the executor
// was closed is checked under the same locks as the connection is
// published, in Close's order, so that a Close in between cannot leave the
// connection open and usable after it returned.
func (e *SSHExecutor) dialFor(ctx context.Context, host string, hc *hostConn, a *dialAttempt) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	client, err := e.dial(ctx, host)
	var late *liveClient // completed after Close: closed, never published
	e.mu.Lock()
	hc.mu.Lock()
	if e.closed && client != nil {
		late, client, err = client, nil, errors.New("ssh executor is closed")
	}
	a.client, a.err = client, err
	hc.pending = nil
	if err == nil {
		hc.client = client
	}
	hc.mu.Unlock()
	e.mu.Unlock()
	close(a.done)
	if late != nil {
		_ = late.Close()
	}
	if client != nil {
		go client.watch(func() {
			e.opts.Logger.Debug("ssh keepalives unanswered: connection closed", "host", host)
			e.drop(hc, client)
		})
	}
}

// drop forgets a connection that failed, so that the next command redials.
func (e *SSHExecutor) drop(hc *hostConn, c *liveClient) {
	hc.mu.Lock()
	if hc.client == c {
		hc.client = nil
	}
	hc.mu.Unlock()
	_ = c.Close()
}

// settings resolves ssh_config for host.
func (e *SSHExecutor) settings(host string) (hostSettings, error) {
	return resolve(e.configs, e.opts, host)
}

// keyDB returns the parsed known_hosts files, read once per list of files.
func (e *SSHExecutor) keyDB(files []string) (*hostKeyDB, error) {
	k := strings.Join(files, "\x00")
	e.mu.Lock()
	defer e.mu.Unlock()
	if db := e.keyDBs[k]; db != nil {
		return db, nil
	}
	db, err := loadHostKeyDB(files)
	if err != nil {
		return nil, err
	}
	e.keyDBs[k] = db
	return db, nil
}

// dialTimeout is the bound of a connect plus handshake to s.
func (e *SSHExecutor) dialTimeout(s hostSettings) time.Duration {
	switch {
	case e.opts.DialTimeout > 0:
		return e.opts.DialTimeout
	case s.connectTimeout > 0:
		return s.connectTimeout
	}
	return DefaultDialTimeout
}
