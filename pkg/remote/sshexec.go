package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// killWait bounds the wait for a killed session's last output.
const killWait = time.Second

// Exec runs c on c.Host and returns its Result; see Executor. When ctx is
// done or c.Timeout expires, the session is sent SIGKILL and closed, and the
// Result has ExitCode -1 and an Err wrapping the context's error. Older sshd
// ignores signals, so long commands should also set PIDFile and be stopped
// with Stop.
func (e *SSHExecutor) Exec(ctx context.Context, c Command) Result {
	start := time.Now()
	res := e.exec(ctx, c)
	res.Command = c
	res.Duration = time.Since(start)
	return res
}

func (e *SSHExecutor) exec(ctx context.Context, c Command) Result {
	fail := func(err error) Result {
		return Result{ExitCode: -1, Err: failure(c, -1, "", err)}
	}
	if err := c.check(); err != nil {
		return fail(err)
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("not started: %w", err))
	}

	client, hc, err := e.client(ctx, c.Host)
	if err != nil {
		if ctx.Err() == nil {
			err = &ConnectError{Host: c.Host, Err: err}
		}
		return fail(err)
	}
	select {
	case hc.sem <- struct{}{}:
	case <-ctx.Done():
		return fail(fmt.Errorf("wait for a session slot: %w", ctx.Err()))
	}
	defer func() { <-hc.sem }()

	sess, client, err := e.openSession(ctx, hc, client, c.Host)
	if err != nil {
		switch lost := client.lostErr(); {
		case lost != nil:
			err = lost
		case SSHFailure(err) != nil && ctx.Err() == nil:
			// the connection had died and the redial failed: unreachable now
			return fail(&ConnectError{Host: c.Host, Err: err})
		}
		return fail(fmt.Errorf("open ssh session: %w", err))
	}
	defer func() { _ = sess.Close() }()
	return runSession(ctx, sess, c, withEnvScript(e.opts.EnvScript, CommandLine(c)), client.lostErr)
}

// sessionRetries and sessionRetryPause bound the retries of a session the
// server refused: sshd frees a closed session's slot a little after the
// close, so a new session opened at once can be refused with "no more
// sessions" although the executor never has more than SessionsPerHost open.
const (
	sessionRetries    = 8
	sessionRetryPause = 25 * time.Millisecond
)

// openSession opens a session on client. A refused session (the connection
// is alive) is retried with a growing pause; a dead connection is dropped
// and redialled once. Other sessions on a live connection are never
// disturbed. It returns the connection the session is on.
func (e *SSHExecutor) openSession(ctx context.Context, hc *hostConn, client *liveClient, host string) (*ssh.Session, *liveClient, error) {
	redialled := false
	pause := sessionRetryPause
	for refused := 0; ; {
		sess, err := newSession(ctx, client.Client)
		if err == nil || ctx.Err() != nil {
			return sess, client, err
		}
		var oce *ssh.OpenChannelError
		switch {
		case errors.As(err, &oce) && refused < sessionRetries:
			refused++
			e.opts.Logger.Debug("ssh session refused, retrying", "host", host, "err", err, "pause", pause)
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return nil, client, ctx.Err()
			}
			pause = min(2*pause, time.Second)
		case errors.As(err, &oce) || redialled:
			return nil, client, err
		default: // the connection died since it was dialled
			e.opts.Logger.Debug("ssh connection lost, reconnecting", "host", host, "err", err)
			e.drop(hc, client)
			redialled = true
			next, _, err := e.client(ctx, host)
			if err != nil {
				return nil, client, err
			}
			client = next
		}
	}
}

// newSession opens a session on client, giving up when ctx ends (a session
// that opens later is closed).
func newSession(ctx context.Context, client *ssh.Client) (*ssh.Session, error) {
	type opened struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := client.NewSession()
		ch <- opened{s, err}
	}()
	select {
	case o := <-ch:
		return o.s, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.s != nil {
				_ = o.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// runSession runs line in sess, with c's script on stdin, and waits for it
// or for ctx. lost says why the connection ended, when its keepalives went
// unanswered.
func runSession(ctx context.Context, sess *ssh.Session, c Command, line string, lost func() error) Result {
	res := Result{ExitCode: -1}
	out := newOutput(c.OnLine)
	sess.Stdout = out.writer(Stdout)
	sess.Stderr = out.writer(Stderr)
	if c.Script != "" {
		sess.Stdin = strings.NewReader(c.Script)
	}
	if err := sess.Start(line); err != nil {
		res.Err = failure(c, -1, "", fmt.Errorf("start remote command: %w", err))
		return res
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		_ = sess.Close()
		select { // keep what the command printed before it died
		case <-done:
		case <-time.After(killWait):
		}
		out.finish()
		res.Stdout, res.Stderr = out.strings()
		res.Err = failure(c, -1, res.Stderr, fmt.Errorf("killed: %w", ctx.Err()))
		return res
	}
	out.finish()
	res.Stdout, res.Stderr = out.strings()

	var (
		ee *ssh.ExitError
		em *ssh.ExitMissingError
	)
	switch {
	case err == nil:
		res.ExitCode = 0
	case errors.As(err, &ee) && ee.Signal() != "":
		res.Err = failure(c, -1, res.Stderr, fmt.Errorf("killed by signal %s", ee.Signal()))
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitStatus()
		res.Err = failure(c, res.ExitCode, res.Stderr, nil)
	case lost() != nil:
		res.Err = failure(c, -1, res.Stderr, lost())
	case errors.As(err, &em):
		res.Err = failure(c, -1, res.Stderr, errors.New("remote command ended without an exit status (connection lost?)"))
	default:
		res.Err = failure(c, -1, res.Stderr, fmt.Errorf("ssh session: %w", err))
	}
	return res
}
