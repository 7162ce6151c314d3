package remote

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSSHCloseDuringDial: Close while connections are being dialled leaves
// none open, whatever moment it lands on, and no command gets a connection
// after Close returned. Many hosts dial at once and Close comes at a random
// moment of their handshakes, over and over; run it under -race.
func TestSSHCloseDuringDial(t *testing.T) {
	env := newSSHEnv(t)
	const hosts, rounds = 24, 15
	var cfg strings.Builder
	for i := range hosts {
		fmt.Fprintf(&cfg, "Host h%d\n  HostName 127.0.0.1\n  Port %s\n", i, env.srv.port)
	}
	env.writeConfig(t, cfg.String())
	for round := range rounds {
		x := env.executor(t, nil)
		var wg sync.WaitGroup
		for i := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = x.Exec(t.Context(), Command{Host: fmt.Sprintf("h%d", i), Argv: []string{"true"}})
			}()
		}
		time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		deadline := time.Now().Add(3 * time.Second)
		for env.srv.openConns() > 0 {
			if time.Now().After(deadline) {
				n := env.srv.openConns()
				env.srv.closeConns() // so that the server can stop
				t.Fatalf("round %d: %d connection(s) still open after Close returned and every command ended", round, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if r := x.Exec(t.Context(), Command{Host: "h0", Argv: []string{"true"}}); r.OK() {
			t.Fatalf("round %d: a command ran after Close", round)
		}
	}
}

// TestSSHCloseRacesDialPublish puts Close exactly between the end of a
// dial and the publication of its connection: the dial's goroutine waits
// for e.mu when its handshake completes, Close queues behind it, and
// e.mu is driven into sync.Mutex's starvation mode, where each Unlock hands
// the lock to the next waiter and yields. On one P the dial's goroutine then
// runs one critical section on e.mu and yields to Close before it can take
// hc.mu. The executor must check for Close and publish the connection under
// the same locks, or the connection made by that dial stays open, unseen
// by Close, after Close returned.
func TestSSHCloseRacesDialPublish(t *testing.T) {
	env := newSSHEnv(t)
	accepted, release := env.srv.holdHandshakes()
	t.Cleanup(release)
	x := env.executor(t, nil)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	done := make(chan Result, 1)
	go func() { done <- x.Exec(t.Context(), Command{Host: "sdw1", Argv: []string{"true"}}) }()
	select {
	case <-accepted: // the dial is in its handshake, past every use of e.mu
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	x.mu.Lock()
	release()
	time.Sleep(200 * time.Millisecond) // the handshake ends; the dial waits for e.mu
	closed := make(chan error, 1)
	go func() { closed <- x.Close() }()
	time.Sleep(50 * time.Millisecond) // Close waits for e.mu too, behind the dial
	// Wake the dial and take the lock back before it runs: having waited
	// more than a millisecond, it puts the mutex in starvation mode.
	x.mu.Unlock()
	x.mu.Lock()
	time.Sleep(50 * time.Millisecond)
	x.mu.Unlock()

	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	<-done
	deadline := time.Now().Add(3 * time.Second)
	for env.srv.openConns() > 0 {
		if time.Now().After(deadline) {
			env.srv.closeConns() // so that the server can stop
			t.Fatal("the connection the dial made is still open after Close returned")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
