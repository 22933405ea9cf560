package proxy

import (
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// BenchmarkProxyInvite measures whole calls through the proxy on loopback
// UDP: INVITE, 200, ACK, BYE, 200, with the location lookup, Record-Route
// and both client transactions. "serial" is one call at a time (latency
// bound), "parallel" keeps GOMAXPROCS calls going at once (throughput).
func BenchmarkProxyInvite(b *testing.B) {
	run := func(b *testing.B, parallel bool) {
		b.Helper()
		loc := newLocator()
		p := startProxy(b, defaultTestConfig(), loc)
		bob := newUA(b, "bob", "UDP", answerNow)
		loc.bind(bobAOR, bob.target())
		alice := newUA(b, "alice", "UDP", nil)
		var failed atomic.Int64
		call := func() {
			inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
			tx := alice.send(inv)
			res := final(b, tx)
			if res.StatusCode != 200 {
				failed.Add(1)
				return
			}
			if err := alice.cli.WriteRequest(alice.inDialog(sip.ACK, inv, res, 1)); err != nil {
				failed.Add(1)
				return
			}
			if r := alice.do(alice.inDialog(sip.BYE, inv, res, 2)); r.StatusCode != 200 {
				failed.Add(1)
			}
			tx.Terminate()
		}
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					call()
				}
			})
		} else {
			for b.Loop() {
				call()
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d calls failed", n, b.N)
		}
	}
	b.Run("serial", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
}

// BenchmarkProxyCallWire measures the same call flow with hand-written
// datagrams on both ends (rawUA), as SIPp drives the server: the user
// agents allocate nearly nothing, so allocs/op and B/op are the proxy's
// and its sipgo layers'. "serial" is one call at a time; "parallel" keeps
// 4×GOMAXPROCS calls going, each worker with a caller and callee of its own.
func BenchmarkProxyCallWire(b *testing.B) {
	run := func(b *testing.B, parallel bool) {
		b.Helper()
		loc := newLocator()
		p := startProxy(b, defaultTestConfig(), loc)
		proxyAddr := netip.MustParseAddrPort(p.udp)
		var workers atomic.Int64
		worker := func() func(n int) error {
			w := workers.Add(1)
			alice := newRawUA(b, "alice"+strconv.FormatInt(w, 10))
			bob := newRawUA(b, "bob"+strconv.FormatInt(w, 10))
			loc.bind("sip:"+bob.user+"@example.com", bob.target())
			callID := make([]byte, 0, 64)
			return func(n int) error {
				callID = strconv.AppendInt(append(append(callID[:0], "wire-"...), alice.user...), int64(n), 10)
				return rawCall(proxyAddr, alice, bob, n, callID)
			}
		}
		b.ReportAllocs()
		cpu0 := processCPU()
		if parallel {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				call := worker()
				for n := 0; pb.Next(); n++ {
					if err := call(n); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			call := worker()
			n := 0
			for b.Loop() {
				if err := call(n); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		cpu := processCPU() - cpu0
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		if cpu > 0 {
			// The process's CPU, both user agents included: the cost of a
			// call that the wall clock hides behind idle cores.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
		}
	}
	b.Run("serial", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
}
