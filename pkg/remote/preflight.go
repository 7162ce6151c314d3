package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"
)

// errKeyObtained stops a probe handshake once the server's key is known.
var errKeyObtained = errors.New("host key obtained")

// CheckHostKeys connects to every host far enough to obtain its host key,
// without authenticating, and verifies the key against known_hosts under
// each host's ssh_config policy, DefaultLimit hosts at a time, each within
// the dial timeout. It writes nothing anywhere.
//
// It returns nil if every key is known (or accepted by policy); otherwise
// one error that lists, sorted by host, every host whose key is unknown
// (each with its *UnknownHostKeyError and the exact ssh-keyscan line that
// fixes it), changed (*ChangedHostKeyError) or that could not be reached,
// each an *SSHError that names its reason, wrapped in a *HostError. Use
// errors.As to tell them apart.
func (e *SSHExecutor) CheckHostKeys(ctx context.Context, hosts []string) error {
	hosts = slices.Clone(hosts)
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)

	var (
		mu   sync.Mutex
		errs = make([]error, len(hosts))
		g    errgroup.Group
	)
	g.SetLimit(DefaultLimit)
	for i, h := range hosts {
		g.Go(func() error {
			err := e.checkHostKey(ctx, h)
			if err != nil {
				mu.Lock()
				errs[i] = &HostError{Host: h, Label: "ssh host key check", ExitCode: -1, Err: err}
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	errs = slices.DeleteFunc(errs, func(err error) bool { return err == nil })
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("ssh host key check failed for %d of %d hosts:\n%w", len(errs), len(hosts), errors.Join(errs...))
}

// checkHostKey probes one host.
func (e *SSHExecutor) checkHostKey(ctx context.Context, host string) error {
	s, err := e.settings(host)
	if err != nil {
		return err
	}
	cfg, db, err := e.clientConfig(s)
	if err != nil {
		return err
	}
	var verdict error
	cfg.HostKeyCallback = func(_ string, remote net.Addr, key ssh.PublicKey) error {
		if !e.opts.InsecureIgnoreHostKeys {
			verdict = e.verifyHostKey(s, db, remote, key)
		}
		return errKeyObtained
	}
	timeout := e.dialTimeout(s)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := handshakeWithRetry(ctx, s, cfg, e.opts.Logger.Debug)
	if client != nil { // cannot happen: the callback always stops the handshake
		_ = client.Close()
	}
	switch {
	case errors.Is(err, errKeyObtained) && verdict != nil:
		return handshakeError(s, timeout, "", verdict)
	case errors.Is(err, errKeyObtained), err == nil:
		return nil
	}
	return classify(s, timeout, "", err)
}
