package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/registrar"
	"github.com/parleyhq/parley/internal/sipx"
)

// benchUsers is a directory of provisioned users, as the user cache
// serves them.
type benchUsers map[string]directory.User

func (u benchUsers) User(_ context.Context, uri string) (directory.User, error) {
	if user, ok := u[uri]; ok {
		return user, nil
	}
	return directory.User{}, directory.ErrNotFound
}

// countingWriter counts the datagrams written, signals the last, and
// hands a token back for each, which bounds the requests in flight.
type countingWriter struct {
	n      atomic.Int64
	want   int64
	done   chan struct{}
	tokens chan struct{}
}

func (w *countingWriter) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) {
	<-w.tokens
	if w.n.Add(1) == w.want {
		close(w.done)
	}
	return len(b), nil
}

// BenchmarkRegisterFront measures the server's whole REGISTER path but the
// socket: what the UDP read loop does with a datagram (sniff, cache,
// admission, queue), the worker's parse, the registrar and the response,
// for 20,000 users who register again and again under new Call-IDs as
// SIPp's register.xml makes them. cpu-ns/op is the process's CPU time per
// REGISTER, garbage collection included.
func BenchmarkRegisterFront(b *testing.B) {
	const users = 20_000
	dir := benchUsers{}
	for i := range users {
		uri := fmt.Sprintf("sip:u%06d@parley.test", i)
		dir[uri] = directory.User{URI: uri, Enabled: true, Pool: "pool.parley.test",
			Credential: directory.NewCredential(fmt.Sprintf("u%06d", i), "parley.test", "x")}
	}
	local := sipx.NewLocal([]string{"parley.test"}, []string{"127.0.0.1"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registrar.New(registrar.Config{Hostname: "127.0.0.1"}, local, dir, nil, log)
	f := newRegFront(reg.Register, sip.NewParser(), 2, log)
	f.maxDelay = 1 << 62 // measure the work, not the admission control
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx) //nolint:errcheck // ends with ctx

	tmpl := make([][]byte, users)
	for i := range tmpl {
		tmpl[i] = fmt.Appendf(nil, "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-4242-0000000000-0;rport\r\n"+
			"Max-Forwards: 70\r\n"+
			"From: <sip:u%06d@parley.test>;tag=4242rn%d\r\n"+
			"To: <sip:u%06d@parley.test>\r\n"+
			"Call-ID: 0000000000-4242@127.0.0.1\r\n"+
			"CSeq: 1 REGISTER\r\n"+
			"Contact: <sip:u%06d@127.0.0.1:5070;transport=UDP>\r\n"+
			"Expires: 3600\r\n"+
			"User-Agent: parley-e2e-sipp\r\n"+
			"Content-Length: 0\r\n\r\n", i, i, i, i)
	}
	src := netip.MustParseAddrPort("127.0.0.1:5070")
	data := make([]byte, 0, 512)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	w := &countingWriter{want: int64(b.N), done: make(chan struct{}), tokens: make(chan struct{}, 256)}
	for range b.N {
		t := tmpl[n%users]
		n++
		data = append(data[:0], t...)
		num := strconv.AppendInt(nil, int64(n), 10)
		for _, at := range [2]int{bytes.Index(t, []byte("0000000000-0")), bytes.Index(t, []byte("0000000000-4242"))} {
			copy(data[at+10-len(num):], num)
		}
		w.tokens <- struct{}{} // at most 256 in flight
		if !f.offerUDP(w, data, src) {
			b.Fatal("not taken")
		}
	}
	<-w.done
	b.StopTimer()
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	}
	if f.refused.Load() != 0 || f.unparsable.Load() != 0 {
		b.Fatalf("%d refused, %d unparsable", f.refused.Load(), f.unparsable.Load())
	}
}
