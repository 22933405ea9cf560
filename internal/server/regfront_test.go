package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

func mustAddrPort(tb testing.TB, s string) netip.AddrPort {
	tb.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// sentPacket is a datagram the front end wrote.
type sentPacket struct {
	b    string
	dest netip.AddrPort
}

// packetRecorder is a packetWriter that keeps what is written.
type packetRecorder struct {
	mu   sync.Mutex
	sent []sentPacket
}

func (p *packetRecorder) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, sentPacket{string(b), addr})
	return len(b), nil
}

func (p *packetRecorder) packets() []sentPacket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sentPacket(nil), p.sent...)
}

// registerFrom is SIPp's REGISTER for user n, with its own Call-ID and
// branch.
func registerFrom(n int) []byte {
	return bytes.ReplaceAll(sippRegister, []byte("21972-1"), []byte(fmt.Sprintf("21972-%d", 1000+n)))
}

// testFront returns a front end with one worker whose handler answers 200
// after running work, counting the requests it handles.
func testFront(t *testing.T, work func()) (*regFront, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	h := func(_ context.Context, req *sip.Request) *sip.Response {
		calls.Add(1)
		if work != nil {
			work()
		}
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	}
	f := newRegFront(h, sip.NewParser(), 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return f, &calls
}

// runFront runs f until the test ends.
func runFront(t *testing.T, f *regFront) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestRegFrontAnswersAndAbsorbsRetransmissions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f, calls := testFront(t, func() { <-release })
		runFront(t, f)
		w := &packetRecorder{}
		src := mustAddrPort(t, "127.0.0.1:5070")

		if !f.offerUDP(w, sippRegister, src) {
			t.Fatal("REGISTER not taken")
		}
		synctest.Wait()
		// Trying: the retransmission is dropped while the first is handled.
		if !f.offerUDP(w, sippRegister, src) {
			t.Fatal("retransmission not taken")
		}
		if got := f.retransDropped.Load(); got != 1 {
			t.Errorf("retransmissions dropped = %d, want 1", got)
		}
		close(release)
		synctest.Wait()
		sent := w.packets()
		if len(sent) != 1 || !strings.HasPrefix(sent[0].b, "SIP/2.0 200 OK\r\n") || sent[0].dest != src {
			t.Fatalf("sent %+v, want one 200 to %v", sent, src)
		}

		// Completed: a retransmission gets the same bytes; the handler
		// is not run again.
		f.offerUDP(w, sippRegister, src)
		sent = w.packets()
		if len(sent) != 2 || sent[1] != sent[0] {
			t.Fatalf("retransmission answered %+v, want the first answer again", sent)
		}
		if calls.Load() != 1 || f.retransAnswered.Load() != 1 {
			t.Errorf("handler ran %d times, %d retransmissions answered; want 1, 1", calls.Load(), f.retransAnswered.Load())
		}

		// Another request from the same client is a new transaction.
		f.offerUDP(w, registerFrom(2), src)
		synctest.Wait()
		if calls.Load() != 2 {
			t.Errorf("handler ran %d times, want 2", calls.Load())
		}
	})
}

func TestRegFrontResponseDestination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := testFront(t, nil)
		runFront(t, f)
		w := &packetRecorder{}
		noRport := bytes.Replace(sippRegister, []byte(";rport"), nil, 1)
		f.offerUDP(w, noRport, mustAddrPort(t, "[::ffff:127.0.0.1]:40000"))
		synctest.Wait()
		// RFC 3261 §18.2.2: the source address and the Via port.
		if sent := w.packets(); len(sent) != 1 || sent[0].dest != mustAddrPort(t, "127.0.0.1:5070") {
			t.Fatalf("sent %+v, want one packet to 127.0.0.1:5070", sent)
		}
	})
}

// TestRegFrontOverload lets a queue build up behind one slow worker:
// once the request taken last had waited more than maxDelay, new requests
// are refused with 503 and Retry-After at once, without reaching the
// handler; when the queue has drained, requests are admitted again.
func TestRegFrontOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, calls := testFront(t, func() { time.Sleep(50 * time.Millisecond) })
		f.maxDelay = 100 * time.Millisecond
		runFront(t, f)
		w := &packetRecorder{}
		src := mustAddrPort(t, "127.0.0.1:5070")
		for n := range 5 {
			f.offerUDP(w, registerFrom(n), src)
		}
		if f.admitted.Load() != 5 {
			t.Fatalf("admitted %d of 5 while idle", f.admitted.Load())
		}
		// The fourth request is taken at 150 ms, having waited 150 ms;
		// the fifth still waits.
		time.Sleep(160 * time.Millisecond)
		if !f.overloaded() {
			t.Fatalf("not overloaded with sojourn %v and %d queued", time.Duration(f.sojourn.Load()), len(f.queue))
		}
		before := len(w.packets())
		f.offerUDP(w, registerFrom(10), src)
		sent := w.packets()
		if len(sent) != before+1 {
			t.Fatalf("no immediate answer to a request while overloaded")
		}
		res, err := sip.ParseMessage([]byte(sent[before].b))
		if err != nil {
			t.Fatal(err)
		}
		r := res.(*sip.Response)
		retry, _ := strconv.Atoi(r.GetHeader("Retry-After").Value())
		if r.StatusCode != 503 || retry < defaultRetryAfter || retry > 2*defaultRetryAfter {
			t.Errorf("answer %d with Retry-After %d, want 503 with %d to %d", r.StatusCode, retry, defaultRetryAfter, 2*defaultRetryAfter)
		}
		if tag, _ := r.To().Params.Get("tag"); tag == "" {
			t.Error("503 without a To tag")
		}
		if f.refused.Load() != 1 {
			t.Errorf("refused = %d, want 1", f.refused.Load())
		}

		// A refused request is not remembered: its retransmission, once
		// the queue has drained, is admitted.
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if f.overloaded() {
			t.Fatal("still overloaded with an empty queue")
		}
		f.offerUDP(w, registerFrom(10), src)
		synctest.Wait()
		if calls.Load() != 6 || f.admitted.Load() != 6 {
			t.Errorf("handled %d, admitted %d; want 6, 6", calls.Load(), f.admitted.Load())
		}
	})
}

// TestRegFrontQueueBound fills the queue of a front end whose workers do
// not run: the request that finds it full is refused.
func TestRegFrontQueueBound(t *testing.T) {
	f, calls := testFront(t, nil)
	f.queue = make(chan regJob, 2)
	w := &packetRecorder{}
	src := mustAddrPort(t, "127.0.0.1:5070")
	for n := range 3 {
		f.offerUDP(w, registerFrom(n), src)
	}
	sent := w.packets()
	if len(f.queue) != 2 || len(sent) != 1 || !strings.HasPrefix(sent[0].b, "SIP/2.0 503 ") || calls.Load() != 0 {
		t.Fatalf("queued %d, sent %+v; want 2 queued and one 503", len(f.queue), sent)
	}
}

func TestRegFrontReadFilter(t *testing.T) {
	f, _ := testFront(t, nil)
	f.queue = make(chan regJob, 10)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f.setUDP(conn)
	remote := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070}
	options := bytes.ReplaceAll(sippRegister, []byte("REGISTER"), []byte("OPTIONS"))
	other := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	for _, tt := range []struct {
		name      string
		transport string
		local     net.Addr
		data      []byte
		taken     bool
	}{
		{"REGISTER on the listener", "UDP", conn.LocalAddr(), sippRegister, true},
		{"REGISTER on another socket", "UDP", other, sippRegister, false},
		{"REGISTER over TCP", "TCP", conn.LocalAddr(), sippRegister, false},
		{"OPTIONS", "UDP", conn.LocalAddr(), options, false},
		{"response", "UDP", conn.LocalAddr(), []byte("SIP/2.0 200 OK\r\n\r\n"), false},
	} {
		got := f.readFilter(sip.TransportReadProps{Transport: tt.transport, LocalAddr: tt.local, RemoteAddr: remote}, tt.data)
		if taken := len(got) == 0; taken != tt.taken || (!taken && !bytes.Equal(got, tt.data)) {
			t.Errorf("%s: filter returned %q, want taken=%v", tt.name, got, tt.taken)
		}
	}
	if len(f.queue) != 1 {
		t.Errorf("%d queued, want 1", len(f.queue))
	}
}

func TestRegFrontServeTx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, calls := testFront(t, nil)
		runFront(t, f)
		m, err := sip.ParseMessage(sippRegister)
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*sip.Request)
		tx := siptest.NewServerTxRecorder(req)
		f.serveTx(req, tx)
		if rs := tx.Result(); len(rs) != 1 || rs[0].StatusCode != 200 || calls.Load() != 1 {
			t.Fatalf("responses %v, handler calls %d; want one 200", rs, calls.Load())
		}

	})

	// Overloaded (the workers are not running here): refused at once.
	f, calls := testFront(t, nil)
	m, err := sip.ParseMessage(sippRegister)
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*sip.Request)
	f.sojourn.Store(int64(time.Second))
	f.queue <- regJob{at: time.Now(), req: req, done: make(chan *sip.Response, 1)}
	tx := siptest.NewServerTxRecorder(req)
	f.serveTx(req, tx)
	if rs := tx.Result(); len(rs) != 1 || rs[0].StatusCode != 503 || rs[0].GetHeader("Retry-After") == nil || calls.Load() != 0 {
		t.Fatalf("responses %v, handler calls %d; want 503 with Retry-After", rs, calls.Load())
	}
}
