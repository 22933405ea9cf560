package registrar

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
)

// benchTemplate is what SIPp's register.xml sends for user i, with ten
// zeros where the call number goes (in the branch and the Call-ID).
func benchTemplate(i int) ([]byte, []int) {
	const call = "0000000000"
	msg := fmt.Appendf(nil, "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-4242-%s-0;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:u%06d@parley.test>;tag=4242rn%d\r\n"+
		"To: <sip:u%06d@parley.test>\r\n"+
		"Call-ID: %s-4242@127.0.0.1\r\n"+
		"CSeq: 1 REGISTER\r\n"+
		"Contact: <sip:u%06d@127.0.0.1:5070;transport=UDP>\r\n"+
		"Expires: 3600\r\n"+
		"User-Agent: parley-e2e-sipp\r\n"+
		"Content-Length: 0\r\n\r\n", call, i, i, i, call, i)
	var at []int
	for off := 0; ; {
		j := bytes.Index(msg[off:], []byte(call))
		if j < 0 {
			return msg, at
		}
		at = append(at, off+j)
		off += j + len(call)
	}
}

// BenchmarkRegister measures the registrar's share of a REGISTER as the
// server handles one without authentication: parse the datagram, run RFC
// 3261 §10.3 and write the response, for 20,000 users who each register
// again under a new Call-ID, as SIPp's register.xml does.
func BenchmarkRegister(b *testing.B) {
	const users = 20_000
	dir := &directoryFake{users: map[string]directory.User{}, passwords: map[string]string{}}
	for i := range users {
		dir.add(fmt.Sprintf("u%06d", i), "x", true)
	}
	local := sipx.NewLocal([]string{realm}, []string{"127.0.0.1"})
	r := New(Config{Hostname: "127.0.0.1"}, local, dir, nil, discard())
	type tmpl struct {
		msg []byte
		at  []int
	}
	tmpls := make([]tmpl, users)
	for i := range tmpls {
		tmpls[i].msg, tmpls[i].at = benchTemplate(i)
	}
	ctx := context.Background()
	var buf bytes.Buffer
	b.ReportAllocs()
	n := 0
	cpu0 := processCPU()
	defer func() {
		if n > 0 {
			b.ReportMetric(float64(processCPU()-cpu0)/float64(n), "cpu-ns/op")
		}
	}()
	for b.Loop() {
		t := tmpls[n%users]
		n++
		data := bytes.Clone(t.msg)
		num := strconv.AppendInt(nil, int64(n), 10)
		for _, at := range t.at {
			copy(data[at+10-len(num):], num)
		}
		m, err := sip.ParseMessage(data)
		if err != nil {
			b.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetSource("127.0.0.1:5070")
		req.SetTransport("UDP")
		res := r.Register(ctx, req)
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
		buf.Reset()
		res.StringWrite(&buf)
	}
}
