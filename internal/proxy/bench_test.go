package proxy

import (
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
		loc := newLocator()
		p := startProxy(b, defaultTestConfig(), loc)
		bob := newUA(b, "bob", "UDP", answerNow)
		loc.bind(bobAOR, bob.target())
		alice := newUA(b, "alice", "UDP", nil)
		var failed atomic.Int64
		call := func() {
			inv := alice.request(sip.INVITE, bobAOR, aliceURI, p.udp)
			tx := alice.send(inv)
			res, _ := final(b, tx)
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
