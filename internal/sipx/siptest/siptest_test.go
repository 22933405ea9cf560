package siptest

import (
	"log/slog"
	"net"
	"strings"
	"testing"
)

func TestListenPair(t *testing.T) {
	pc, ln := ListenPair(t)
	defer pc.Close()
	defer ln.Close()
	u, tc := pc.LocalAddr().(*net.UDPAddr), ln.Addr().(*net.TCPAddr)
	if u.Port != tc.Port || !u.IP.IsLoopback() {
		t.Errorf("UDP %v and TCP %v: want one loopback port", u, tc)
	}
}

func TestLogBuffer(t *testing.T) {
	var b LogBuffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	log.Info("hello", "n", 1)
	if !strings.Contains(b.String(), "msg=hello n=1") {
		t.Errorf("log %q", b.String())
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
}
