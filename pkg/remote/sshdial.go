package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// handshakeRetryPause is the pause before the one retry of a handshake the
// server cut short (sshd's MaxStartups throttling; OpenSSH reports it as
// "ssh_exchange_identification: Connection closed by remote host").
const handshakeRetryPause = 250 * time.Millisecond

// dial connects and authenticates to host, within the dial timeout. Every
// failure is an *SSHError that names its reason.
func (e *SSHExecutor) dial(ctx context.Context, host string) (*liveClient, error) {
	s, err := e.settings(host)
	if err != nil {
		return nil, err
	}
	cfg, db, err := e.clientConfig(s)
	if err != nil {
		return nil, err
	}
	creds := loadCredentials(s, e.opts.AgentSocket, e.opts.Home)
	defer creds.close()
	e.opts.Logger.Debug("ssh keys", "host", host, "keys", creds.summary())
	cfg.Auth = creds.authMethods()
	if len(cfg.Auth) == 0 {
		return nil, &SSHError{Host: s.alias, Addr: s.addr(), Reason: ReasonAuth,
			Detail: fmt.Sprintf("no usable key to offer as %s (%s): create one with ssh-keygen, or add yours to ssh-agent", s.user, creds.summary())}
	}
	cfg.HostKeyCallback = func(_ string, remote net.Addr, key ssh.PublicKey) error {
		if e.opts.InsecureIgnoreHostKeys {
			return nil
		}
		return e.verifyHostKey(s, db, remote, key)
	}

	timeout := e.dialTimeout(s)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := handshakeWithRetry(ctx, s, cfg, e.opts.Logger.Debug)
	if err != nil {
		return nil, classify(s, timeout, creds.summary(), err)
	}
	client.keep = s.keep
	client.lostWith = lostError(s, s.keep)
	return client, nil
}

// classify turns a dial or handshake failure into its *SSHError.
func classify(s hostSettings, timeout time.Duration, keys string, err error) *SSHError {
	if se := SSHFailure(err); se != nil {
		return se
	}
	var ce *connectFailure
	if errors.As(err, &ce) {
		return connectError(s, timeout, ce.err)
	}
	return handshakeError(s, timeout, keys, err)
}

// connectFailure marks an error of the TCP connect, before any SSH.
type connectFailure struct{ err error }

func (c *connectFailure) Error() string { return c.err.Error() }
func (c *connectFailure) Unwrap() error { return c.err }

// clientConfig is the SSH client configuration of s, without auth and host
// key callback, and the known_hosts database of s.
func (e *SSHExecutor) clientConfig(s hostSettings) (*ssh.ClientConfig, *hostKeyDB, error) {
	db, err := e.keyDB(s.knownHosts)
	if err != nil {
		return nil, nil, err
	}
	cfg := &ssh.ClientConfig{User: s.user}
	if !e.opts.InsecureIgnoreHostKeys {
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(db.known(s.keyLookup()))
	}
	return cfg, db, nil
}

// handshakeWithRetry is handshake, retried once when the server closes or
// resets the connection before the handshake completes.
func handshakeWithRetry(ctx context.Context, s hostSettings, cfg *ssh.ClientConfig, debug func(string, ...any)) (*liveClient, error) {
	client, err := handshake(ctx, s, cfg)
	if err == nil || !isHandshakeReset(err) || ctx.Err() != nil {
		return client, err
	}
	debug("ssh handshake cut short, retrying once", "host", s.alias, "err", err)
	select {
	case <-time.After(handshakeRetryPause):
	case <-ctx.Done():
		return nil, err
	}
	return handshake(ctx, s, cfg)
}

// handshake dials s and runs the SSH handshake, all bounded by ctx: a peer
// that accepts the TCP connection and never speaks SSH is cut off when ctx
// ends. A failed TCP connect is a *connectFailure.
func handshake(ctx context.Context, s hostSettings, cfg *ssh.ClientConfig) (*liveClient, error) {
	addr := s.addr()
	var d net.Dialer
	tcp, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &connectFailure{err: err}
	}
	conn := newActivityConn(tcp)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, s.keyLookup(), cfg)
	if !stop() {
		if err == nil {
			_ = c.Close()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, ctx.Err())
	}
	if err != nil {
		_ = conn.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("ssh handshake with %s: no answer in time: %w", addr, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return &liveClient{Client: ssh.NewClient(c, chans, reqs), conn: conn}, nil
}

// isHandshakeReset reports a connection closed or reset by the server during
// the handshake.
func isHandshakeReset(err error) bool {
	var (
		uk *UnknownHostKeyError
		ck *ChangedHostKeyError
	)
	if errors.As(err, &uk) || errors.As(err, &ck) || isAuthFailure(err) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// isAuthFailure reports that the server refused every key.
func isAuthFailure(err error) bool {
	var se *ssh.ServerAuthError
	if errors.As(err, &se) {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}
