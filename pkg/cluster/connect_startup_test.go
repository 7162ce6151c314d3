package cluster

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// startingServer is a PostgreSQL wire-protocol server on loopback that
// refuses the first `refusals` connections as a server in crash recovery
// does (FATAL, SQLSTATE 57P03), then accepts every later one.
type startingServer struct {
	port     int
	accepted atomic.Int32 // connections seen
}

func newStartingServer(t *testing.T, refusals int32) *startingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	s := &startingServer{port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.accepted.Add(1)
			go s.serve(c, n <= refusals)
		}
	}()
	return s
}

func (s *startingServer) serve(c net.Conn, refuse bool) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	be := pgproto3.NewBackend(c, c)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		if _, ok := msg.(*pgproto3.SSLRequest); ok {
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		break
	}
	if refuse {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "57P03",
			Message: "the database system is not accepting connections", Detail: "Hot standby mode is disabled."})
		_ = be.Flush()
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return
		}
	}
}

func TestConnectWaitsForAServerStartingUp(t *testing.T) {
	srv := newStartingServer(t, 3)
	d := Dialer{OSUser: "gpadmin"}
	conn, err := d.Connect(t.Context(), ConnConfig{Host: "127.0.0.1", Port: srv.port, Flavour: GP7, StartupWait: 10 * time.Second})
	if err != nil {
		t.Fatalf("connect with StartupWait: %v", err)
	}
	_ = conn.Close(context.Background())
	if got := srv.accepted.Load(); got <= 3 {
		t.Errorf("connections tried: %d, want more than the 3 refused while starting up", got)
	}
}

func TestConnectWithoutStartupWaitFailsAtOnce(t *testing.T) {
	srv := newStartingServer(t, 1<<30)
	d := Dialer{OSUser: "gpadmin"}
	_, err := d.Connect(t.Context(), ConnConfig{Host: "127.0.0.1", Port: srv.port, Flavour: GP7, ConnectTimeout: time.Second, Retries: 3})
	if err == nil || !strings.Contains(err.Error(), "57P03") || !isStartingUp(err) {
		t.Fatalf("connect without StartupWait: %v, want the server's 57P03 refusal", err)
	}
	// pgx tries TLS, then plain text (sslmode=prefer): one Connect, two
	// connections; a refusal is not a timeout to retry.
	if got := srv.accepted.Load(); got > 2 {
		t.Errorf("connections tried: %d, want one attempt (at most 2 connections)", got)
	}
}

func TestShuttingDownIsNotWaitedFor(t *testing.T) {
	shutting := &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is shutting down"}
	starting := &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}
	if isStartingUp(shutting) || !isStartingUp(starting) {
		t.Errorf("isStartingUp: shutting down %v, starting up %v; want false, true", isStartingUp(shutting), isStartingUp(starting))
	}
}

func TestConnectStartupWaitIsBounded(t *testing.T) {
	srv := newStartingServer(t, 1<<30)
	d := Dialer{OSUser: "gpadmin"}
	start := time.Now()
	_, err := d.Connect(t.Context(), ConnConfig{Host: "127.0.0.1", Port: srv.port, Flavour: GP7, StartupWait: 500 * time.Millisecond})
	if !isStartingUp(err) {
		t.Fatalf("connect to a server that never finishes starting: %v, want its 57P03 refusal", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("gave up after %s; the wait is 500ms", elapsed)
	}
	if got := srv.accepted.Load(); got < 2 {
		t.Errorf("connections tried: %d, want several within the wait", got)
	}
}
