package registrar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

func TestLookupOrderAndExpiry(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Authenticate = false })
	steps := []struct {
		contact string
		advance time.Duration
	}{
		{"<sip:alice@192.0.2.1>;q=0.5;expires=100", time.Second},
		{"<sip:alice@192.0.2.2>;expires=200", time.Second}, // q 1, older
		{"<sip:alice@192.0.2.3>;q=0.9;expires=300", time.Second},
		{"<sip:alice@192.0.2.4>;expires=400", time.Second}, // q 1, newest
	}
	for i, s := range steps {
		m := register("alice").with("Contact: " + s.contact)
		m.callID = fmt.Sprint("call-", i)
		wantStatus(t, f.serve(m.request(t)), 200)
		f.clk.Advance(s.advance)
	}
	hosts := func() string {
		var hs []string
		for _, b := range f.r.Lookup("sip:alice@parley.test") {
			hs = append(hs, b.Contact.Host)
		}
		return strings.Join(hs, " ")
	}
	if got, want := hosts(), "192.0.2.4 192.0.2.2 192.0.2.3 192.0.2.1"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	f.clk.Advance(100 * time.Second) // 192.0.2.1 registered 4s ago for 100s
	if got, want := hosts(), "192.0.2.4 192.0.2.2 192.0.2.3"; got != want {
		t.Errorf("after the first expiry: %q, want %q", got, want)
	}
	if f.r.Count() != 4 {
		t.Errorf("Count = %d before sweeping, want 4", f.r.Count())
	}
	if n := f.r.table.sweep(f.clk.Now()); n != 1 || f.r.Count() != 3 {
		t.Errorf("sweep removed %d, Count %d; want 1, 3", n, f.r.Count())
	}

	// Lookup returns copies.
	bs := f.r.Lookup("sip:alice@parley.test")
	bs[0].Contact.UriParams.Add("x", "y")
	bs[0].Contact.Host = "evil"
	if got := f.r.Lookup("sip:alice@parley.test")[0]; got.Contact.Host != "192.0.2.4" || got.Contact.UriParams.Has("x") {
		t.Errorf("a caller's change leaked into the registrar: %+v", got.Contact)
	}
	for _, aor := range []string{"sip:alice@elsewhere.org", "garbage", "sip:nobody@parley.test"} {
		if bs := f.r.Lookup(aor); bs != nil {
			t.Errorf("Lookup(%q) = %v", aor, bs)
		}
	}
}

func TestRunSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		local := sipx.NewLocal([]string{realm}, nil)
		r := New(Config{}, local, newDirectory(), nil, discard())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()

		m := register("alice").with("Contact: <sip:alice@192.0.2.1>;expires=60")
		if res := r.register(ctx, m.request(t)); res.StatusCode != 200 {
			t.Fatalf("register: %v", res)
		}
		if r.Count() != 1 {
			t.Fatalf("Count = %d", r.Count())
		}
		time.Sleep(60*time.Second + sweepInterval)
		synctest.Wait()
		if r.Count() != 0 {
			t.Errorf("Count = %d after expiry and a sweep, want 0", r.Count())
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func TestConcurrentRegisterLookup(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *digest.Config) { c.Authenticate = false })
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				user := []string{"alice", "bob"}[i%2]
				m := register(user).with(fmt.Sprintf("Contact: <sip:%s@192.0.2.%d:%d>", user, w+1, 5000+i%5))
				m.callID = fmt.Sprintf("w%d-%d", w, i)
				if res := f.r.register(context.Background(), m.request(t)); res.StatusCode != 200 {
					t.Errorf("register: %d", res.StatusCode)
				}
				f.r.Lookup("sip:" + user + "@parley.test")
			}
		})
	}
	wg.Wait()
	if n := len(f.r.Lookup("sip:alice@parley.test")); n != 10 {
		t.Errorf("alice has %d bindings, want the limit 10", n)
	}
	if n := f.r.Count(); n != 20 {
		t.Errorf("Count = %d, want 20", n)
	}
}

// TestRegisterOverUDP runs a REGISTER with digest through sipgo's client
// and server on the loopback interface, the client answering the SHA-256
// challenge by itself.
func TestRegisterOverUDP(t *testing.T) {
	f := newFixture(t, nil)
	quiet := []sipgo.UserAgentOption{
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(discard())),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(discard())),
	}
	ua, err := sipgo.NewUA(append(quiet, sipgo.WithUserAgent("parley-test"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ua.Close() }()
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(f.r.ServeREGISTER)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeUDP(conn) //nolint:errcheck // ends when the UA closes
	port := conn.LocalAddr().(*net.UDPAddr).Port

	cua, err := sipgo.NewUA(append(quiet, sipgo.WithUserAgent("alice"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cua.Close() }()
	client, err := sipgo.NewClient(cua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: realm}})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: realm}, Params: sip.HeaderParams{{K: "tag", V: "t1"}}})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1", Port: 5099}})
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 401)
	res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "wonderland"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 200)
	bs := f.r.Lookup("sip:alice@parley.test")
	if len(bs) != 1 || bs[0].Contact.Port != 5099 || !strings.HasPrefix(bs[0].Source, "127.0.0.1:") {
		t.Errorf("bindings %+v", bs)
	}
}

// sipeBinding builds a binding as a SIPE REGISTER (protocols.md §3.3) would
// leave it, for user number i.
func sipeBinding(tb testing.TB, i int, now time.Time) (string, change) {
	tb.Helper()
	aor := fmt.Sprintf("sip:user%06d@parley.test", i)
	var u sip.Uri
	if err := sip.ParseUri(fmt.Sprintf("sip:10.%d.%d.%d:%d;transport=tls;ms-opaque=%010x", i>>16&255, i>>8&255, i&255, 40000+i%20000, i), &u); err != nil {
		tb.Fatal(err)
	}
	inst := fmt.Sprintf("urn:uuid:%08x-6585-5f91-a3b4-de853c15347d", i)
	b := Binding{
		AOR:        aor,
		Contact:    cloneURI(u),
		Instance:   inst,
		GRUU:       pubGRUU(aor, inst),
		Expires:    now.Add(time.Hour),
		CallID:     fmt.Sprintf("%032x", i*7919),
		CSeq:       3,
		Q:          1,
		Source:     fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 40000+i%20000),
		Transport:  "TLS",
		Registered: now,
	}
	return aor, change{key: bindingKey(inst, b.Contact), binding: b}
}

// heapBytesPerBinding registers n distinct AORs with one SIPE-like binding
// each and returns the heap growth per binding, measured after GC.
func heapBytesPerBinding(tb testing.TB, n int) float64 {
	tb.Helper()
	local := sipx.NewLocal([]string{realm}, nil)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := New(Config{Now: func() time.Time { return now }}, local, newDirectory(), nil, discard())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		aor, c := sipeBinding(tb, i, now)
		if _, err := r.table.update(aor, txRef{callID: c.binding.CallID, cseq: c.binding.CSeq}, false, []change{c}, 10, now); err != nil {
			tb.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if r.Count() != n {
		tb.Fatalf("Count = %d, want %d", r.Count(), n)
	}
	runtime.KeepAlive(r)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestRegistrarMemory checks the budget of 2 KiB per binding with 100,000
// registered users.
func TestRegistrarMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 bindings")
	}
	per := heapBytesPerBinding(t, 100_000)
	t.Logf("%.0f bytes per binding with 100,000 bindings", per)
	if per > 2048 {
		t.Errorf("%.0f bytes per binding, budget 2048", per)
	}
}

func BenchmarkRegistrarMemory(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(heapBytesPerBinding(b, 100_000), "bytes/binding")
	}
}

func BenchmarkLookup(b *testing.B) {
	local := sipx.NewLocal([]string{realm}, nil)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := New(Config{Now: func() time.Time { return now }}, local, newDirectory(), nil, discard())
	const users = 10_000
	for i := range users {
		aor, c := sipeBinding(b, i, now)
		if _, err := r.table.update(aor, txRef{callID: c.binding.CallID, cseq: c.binding.CSeq}, false, []change{c}, 10, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if len(r.Lookup(fmt.Sprintf("sip:user%06d@parley.test", i%users))) != 1 {
				b.Error("binding not found")
			}
			i++
		}
	})
}

func FuzzLookupGRUU(f *testing.F) {
	for _, s := range []string{
		"sip:alice@parley.test;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"sip:alice@parley.test;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu",
		"sip:tgruu.abcdefgh@parley.test;gr",
		"sip:alice@parley.test;gr=%zz",
		"sips:;gr",
	} {
		f.Add(s)
	}
	local := sipx.NewLocal([]string{realm}, []string{"127.0.0.1"})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := New(Config{Now: func() time.Time { return now }}, local, newDirectory(), nil, discard())
	m := register("alice").with(`Contact: <sip:alice@192.0.2.1>;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"`, "Supported: gruu")
	res := r.register(context.Background(), m.request(f))
	temp := between(strings.Join(values(res, "Contact"), ""), `temp-gruu="`)
	f.Add(temp)
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := r.LookupGRUU(s)
		if ok && b.AOR != "sip:alice@parley.test" {
			t.Fatalf("LookupGRUU(%q) found %+v", s, b)
		}
		r.Lookup(s)
	})
}

func FuzzParseContactValues(f *testing.F) {
	for _, s := range []string{`"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"`, "3600", "0.5", "%41;b", "a,b<c,d>\"e,f\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if inst, err := parseInstance(s); err == nil {
			if strings.ContainsAny(inst, "\"\\<>\r\n ") {
				t.Fatalf("parseInstance(%q) let through %q", s, inst)
			}
			if e := escapeParam(inst); unescapeParam(e) != inst || strings.ContainsAny(e, ";?=,") {
				t.Fatalf("escape round trip of %q: %q", inst, e)
			}
		}
		if d := parseDelta(s, time.Hour); d < 0 {
			t.Fatalf("parseDelta(%q) = %v", s, d)
		}
		for _, part := range splitComma(s) {
			if part == "" {
				t.Fatalf("splitComma(%q) returned an empty part", s)
			}
		}
	})
}
