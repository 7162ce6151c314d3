package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Reason says why an SSH connection to a host failed or ended, in the
// words a DBA acts on: a changed key is a possible attack, an unknown key
// needs ssh-keyscan, a refused key needs authorized_keys, a refused port
// needs sshd, a timeout or a lost connection needs the network looked at.
type Reason int

// The reasons, by what the user does about them.
const (
	ReasonOther          Reason = iota // none of the below: the cause says what
	ReasonHostKeyChanged               // known_hosts holds another key: possible man in the middle
	ReasonHostKeyUnknown               // known_hosts holds no key for the host
	ReasonAuth                         // the server refused every key offered
	ReasonRefused                      // nothing listens on the port
	ReasonTimeout                      // no TCP connection, or no SSH handshake, in time
	ReasonUnreachable                  // no route to the host, or its name does not resolve
	ReasonClosed                       // the server closed the connection during the handshake
	ReasonLost                         // the host stopped answering keepalives mid-run
)

var reasonWords = [...]string{
	ReasonOther:          "failed",
	ReasonHostKeyChanged: "host key changed",
	ReasonHostKeyUnknown: "host key unknown",
	ReasonAuth:           "authentication failed",
	ReasonRefused:        "connection refused",
	ReasonTimeout:        "timeout",
	ReasonUnreachable:    "host unreachable",
	ReasonClosed:         "connection closed by the server",
	ReasonLost:           "connection lost",
}

// String is the reason in a few words: "host key changed", "timeout", ...
func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonWords) {
		return reasonWords[r]
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// SSHError is why the SSH connection to a host failed or was lost. The
// executors put it (inside a HostError) in the Result of every command
// that failed because of its connection, and CheckHostKeys in its errors,
// so that errors.As finds it, and through it the *ChangedHostKeyError or
// *UnknownHostKeyError of a key problem.
type SSHError struct {
	Host   string // the host as the caller named it
	Addr   string // the address dialled, host:port
	Reason Reason
	Detail string // what happened and what to do, for the user; may be empty
	Err    error  // the cause
}

// Error names the host, the reason, the detail and the cause on one line.
// A host key problem is its own message: it already says all of that,
// with the known_hosts file and line and the command that fixes it.
func (e *SSHError) Error() string {
	var (
		ck *ChangedHostKeyError
		uk *UnknownHostKeyError
	)
	switch {
	case e.Reason == ReasonHostKeyChanged && errors.As(e.Err, &ck):
		return ck.Error()
	case e.Reason == ReasonHostKeyUnknown && errors.As(e.Err, &uk):
		return uk.Error()
	}
	msg := fmt.Sprintf("ssh to %s (%s): %s", e.Host, e.Addr, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

// Unwrap returns the cause.
func (e *SSHError) Unwrap() error { return e.Err }

// SSHFailure returns the *SSHError in err's chain, or nil: whether a
// command failed because of its connection, and why.
func SSHFailure(err error) *SSHError {
	var se *SSHError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// TurnsAway reports whether err says a host answered and turned us away:
// its host key is unknown or changed, or it refused every key offered. The
// user fixes that on the spot, unlike a host that is down (refused port,
// timeout, no route), so a tool that would otherwise leave the cluster
// half stopped or half started refuses to begin instead.
func TurnsAway(err error) bool {
	se := SSHFailure(err)
	if se == nil {
		return false
	}
	switch se.Reason {
	case ReasonHostKeyChanged, ReasonHostKeyUnknown, ReasonAuth:
		return true
	}
	return false
}

// connectError classifies a failed TCP connect to s within timeout.
func connectError(s hostSettings, timeout time.Duration, err error) *SSHError {
	e := &SSHError{Host: s.alias, Addr: s.addr(), Err: err}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Reason = ReasonRefused
		e.Detail = fmt.Sprintf("nothing listens on port %s of %s: is sshd running there, and is Port right in ssh_config?", s.port, s.hostName)
	case errors.As(err, &dnsErr):
		e.Reason = ReasonUnreachable
		e.Detail = fmt.Sprintf("the name %s does not resolve: check HostName in ssh_config or /etc/hosts", s.hostName)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Reason = ReasonUnreachable
		e.Detail = "no route to the host: is it up, and is the network between us working?"
	case isTimeout(err):
		e.Reason = ReasonTimeout
		e.Detail = fmt.Sprintf("no TCP connection within %s (ConnectTimeout): is the host up, or does a firewall drop the packets?", timeout)
	}
	return e
}

// handshakeError classifies a failed SSH handshake (key exchange, host key
// check, authentication) with s within timeout; keys lists the keys
// offered and skipped, for an authentication failure.
func handshakeError(s hostSettings, timeout time.Duration, keys string, err error) *SSHError {
	e := &SSHError{Host: s.alias, Addr: s.addr(), Err: err}
	var (
		uk *UnknownHostKeyError
		ck *ChangedHostKeyError
	)
	switch {
	case errors.As(err, &ck):
		e.Reason = ReasonHostKeyChanged
	case errors.As(err, &uk):
		e.Reason = ReasonHostKeyUnknown
	case isAuthFailure(err):
		e.Reason = ReasonAuth
		e.Detail = fmt.Sprintf("the server refused every key offered for user %s (%s): add one of them to ~%s/.ssh/authorized_keys on %s, or name the right key with IdentityFile in ssh_config",
			s.user, keys, s.user, s.hostName)
	case isTimeout(err):
		e.Reason = ReasonTimeout
		e.Detail = fmt.Sprintf("the server accepted the TCP connection but did not complete the SSH handshake within %s: is it an sshd, and is it overloaded or stopped?", timeout)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		e.Reason = ReasonClosed
		e.Detail = "it hung up before the handshake finished (sshd's MaxStartups, AllowUsers or DenyUsers, or a firewall?)"
	}
	return e
}

// lostError is the error of a connection whose keepalives went unanswered.
func lostError(s hostSettings, k keepalive) *SSHError {
	return &SSHError{Host: s.alias, Addr: s.addr(), Reason: ReasonLost,
		Detail: fmt.Sprintf("the host stopped answering: nothing received for %s although keepalives were sent (ServerAliveInterval %s, ServerAliveCountMax %d)",
			k.limit(), k.interval, k.count)}
}

// isTimeout reports a deadline or timeout, of a context or of the network.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
