package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"
)

// anyLocator binds every AOR and GRUU to one contact.
type anyLocator struct{}

func (anyLocator) Lookup(string) []Target {
	return []Target{{URI: sip.Uri{Scheme: "sip", User: "x", Host: "192.0.2.20", Port: 5062}, Source: "192.0.2.21:40000", Transport: "TCP"}}
}

func (anyLocator) LookupGRUU(string) (Target, bool) {
	return Target{URI: sip.Uri{Scheme: "sip", User: "x", Host: "192.0.2.20"}}, true
}

// FuzzPlan feeds arbitrary requests through validation, Route
// preprocessing, target determination and branch building: none of it may
// panic, and every branch must carry our Via and a decremented
// Max-Forwards.
func FuzzPlan(f *testing.F) {
	seeds := []string{
		"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: f1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		"BYE sip:bob@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKb\r\nRoute: <sip:127.0.0.1;lr;ptk=00>, <sip:192.0.2.30>\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\nCall-ID: f2\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
		"OPTIONS sip:127.0.0.1;lr SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKc\r\nRoute: <sip:bob@192.0.2.20>\r\nFrom: <sip:x@elsewhere.test>;tag=1\r\nTo: <sip:y@example.com>\r\nCall-ID: f3\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n",
		"MESSAGE sip:bob@example.com;gr=urn:uuid:1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKpx.x.y\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKd;rport\r\nProxy-Require: foo\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: f4\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	ua, err := sipgo.NewUA()
	if err != nil {
		f.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		f.Fatal(err)
	}
	p := New(Config{Hostname: "127.0.0.1", RecordRoute: true, ForwardOutOfDomain: true}, sipx.NewLocal([]string{"example.com"}, []string{"127.0.0.1"}), anyLocator{}, cli, nil)
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok || req.Via() == nil || req.CSeq() == nil {
			return // sipgo's transaction layer answers these 400 itself
		}
		req.SetSource("192.0.2.10:5070")
		req.SetTransport("UDP")
		pl := p.plan(context.Background(), req)
		if pl.reject != nil {
			return
		}
		in := inbound{transport: "UDP", source: req.Source(), port: 5060, loop: p.loopHash(req)}
		targets := pl.targets
		if pl.direct {
			targets = []Target{{}}
		}
		for i := range targets {
			spec := branchSpec{flow: pl.flow, recordRoute: pl.recordRoute, unique: "u"}
			if !pl.direct {
				spec.target = &targets[i]
			}
			out := p.buildBranch(in, &pl.work, spec)
			b, _ := out.Via().Params.Get("branch")
			if !strings.HasPrefix(b, branchPrefix) {
				t.Fatalf("branch Via %q is not ours", out.Via().Value())
			}
			mf := out.MaxForwards()
			if mf == nil || (req.MaxForwards() != nil && req.MaxForwards().Val() > 0 && mf.Val() != req.MaxForwards().Val()-1) {
				t.Fatalf("Max-Forwards %v after %v", mf, req.MaxForwards())
			}
			if req.IsInvite() && !hasToTag(req) && len(out.GetHeaders("Record-Route")) != len(req.GetHeaders("Record-Route"))+2 {
				t.Fatalf("Record-Route not added to an initial INVITE")
			}
			_ = out.String()
		}
	})
}
