package remote

import (
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Keepalive defaults: Greenplum's utilities run ssh with
// -o ServerAliveInterval=60; ServerAliveCountMax is OpenSSH's default.
const (
	DefaultKeepaliveInterval = 60 * time.Second
	DefaultKeepaliveCountMax = 3
)

// keepalive says how a connection is watched, as OpenSSH's
// ServerAliveInterval and ServerAliveCountMax do: whenever the server has
// sent nothing for interval, a keepalive request goes out (one per
// interval), and when it stays silent for limit() the connection is
// declared lost and closed, so that the commands running on it end with
// ReasonLost instead of waiting for a host that no longer answers. An
// interval of 0 watches nothing.
type keepalive struct {
	interval time.Duration
	count    int
}

// limit is the silence after which the connection is lost: interval ×
// count, as OpenSSH documents it ("if ServerAliveInterval is 15 and
// ServerAliveCountMax 3, ssh disconnects after about 45 seconds"), but at
// least two intervals, so that a keepalive always has one interval to be
// answered.
func (k keepalive) limit() time.Duration { return k.interval * time.Duration(max(k.count, 2)) }

// activityConn is a net.Conn that records when it last received data.
type activityConn struct {
	net.Conn
	last atomic.Int64 // time.Time.UnixNano of the last read that returned data
}

func newActivityConn(c net.Conn) *activityConn {
	a := &activityConn{Conn: c}
	a.last.Store(time.Now().UnixNano())
	return a
}

// Read reads from the connection and notes the time when data came.
func (a *activityConn) Read(p []byte) (int, error) {
	n, err := a.Conn.Read(p)
	if n > 0 {
		a.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (a *activityConn) lastRead() time.Time { return time.Unix(0, a.last.Load()) }

// liveClient is an SSH connection, how it is kept alive, and, once its
// keepalives went unanswered, the error that says so.
type liveClient struct {
	*ssh.Client
	conn     *activityConn
	keep     keepalive
	lostWith *SSHError // the error to record when the connection is lost
	lost     atomic.Pointer[SSHError]
}

// lostErr returns the keepalive failure of c, or nil.
func (c *liveClient) lostErr() error {
	if e := c.lost.Load(); e != nil {
		return e
	}
	return nil
}

// watch keeps c alive until it ends, as c.keep says. When the server
// stays silent for the limit, it records c.lostWith, calls onLost and
// closes c.
func (c *liveClient) watch(onLost func()) {
	k := c.keep
	if k.interval <= 0 {
		return
	}
	ended := make(chan struct{})
	go func() {
		_ = c.Wait()
		close(ended)
	}()
	var sent time.Time // when the last keepalive went out
	timer := time.NewTimer(k.interval)
	defer timer.Stop()
	for {
		select {
		case <-ended:
			return
		case <-timer.C:
		}
		now, last := time.Now(), c.conn.lastRead()
		silent := now.Sub(last)
		if silent >= k.limit() {
			c.lost.Store(c.lostWith)
			onLost()
			_ = c.Close()
			return
		}
		next := last.Add(k.interval)
		if silent >= k.interval {
			if now.Sub(sent) >= k.interval {
				sent = now
				go func() {
					// OpenSSH's own keepalive; any answer, even a refusal,
					// is data received. It returns when c ends.
					_, _, _ = c.SendRequest("keepalive@openssh.com", true, nil)
				}()
			}
			next = sent.Add(k.interval)
			if end := last.Add(k.limit()); end.Before(next) {
				next = end
			}
		}
		timer.Reset(max(next.Sub(now), time.Millisecond))
	}
}
