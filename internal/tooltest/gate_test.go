package tooltest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// A gate relays to its target until shut; then the open connection is
// cut and a new one refused.
func TestHostGate(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	g := newGate(t, echo.Addr().String())
	c, err := net.Dial("tcp", "127.0.0.1:"+g.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("through the gate: %q, %v", line, err)
	}
	g.Shut()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the open connection after Shut: %v, want it cut", err)
	}
	if _, err := net.Dial("tcp", "127.0.0.1:"+g.Port()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a new connection after Shut: %v, want refused", err)
	}
}
