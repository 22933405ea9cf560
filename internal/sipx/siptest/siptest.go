// Package siptest is what the SIP tests of several roles need to run real
// user agents on loopback, in the spirit of net/http/httptest: a UDP socket
// and a TCP listener on one port, a wait for sipgo to serve them, polling
// with a deadline, and a log that is shown only when a test fails. It is
// imported by tests only.
package siptest

import (
	"bytes"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
)

// Wait bounds every wait for a network event: generous, so that a slow
// machine does not flake, and never a sleep that must be "long enough".
const Wait = 10 * time.Second

// ListenPair opens a UDP socket and a TCP listener on the same loopback
// port (SIP listens on both, RFC 3261 §18), retrying when the kernel's free
// UDP port is taken for TCP.
func ListenPair(tb testing.TB) (net.PacketConn, net.Listener) {
	tb.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		_ = pc.Close()
	}
	tb.Fatal("no free UDP+TCP port pair")
	return nil, nil
}

// Eventually polls cond until it holds, failing the test after Wait.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitListening returns once sipgo serves ua's UDP listener at addr and a
// TCP listener (the client side of a UDP user agent sends from its
// listener, so requests sent before would leave from another port).
func WaitListening(tb testing.TB, ua *sipgo.UserAgent, addr string) {
	tb.Helper()
	Eventually(tb, "listener "+addr, func() bool {
		c, err := ua.TransportLayer().GetConnection("udp", addr)
		if err != nil {
			return false
		}
		c.TryClose()
		return len(ua.TransportLayer().ListenPorts("tcp")) > 0
	})
}

// LogBuffer collects log output that the code under test may write from
// any goroutine, even after the test returned.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logger is a text logger at level whose output is shown only if the test
// fails.
func Logger(tb testing.TB, level slog.Level) *slog.Logger {
	tb.Helper()
	buf := &LogBuffer{}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level}))
}
