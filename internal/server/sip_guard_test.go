package server

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// TestGuardRefusesNewWorkWhenOverloaded checks that while the REGISTER
// front end is overloaded the guard answers new out-of-dialog requests 503
// with Retry-After and lets requests within a dialog through.
func TestGuardRefusesNewWorkWhenOverloaded(t *testing.T) {
	f, _ := testFront(t, nil)
	s := &sipServer{front: f, max: 100}
	handled := 0
	h := s.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		handled++
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	invite := func(toTag string) *sip.Request {
		to := "To: <sip:bob@parley.test>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		m, err := sip.ParseMessage(sipMessage("INVITE sip:bob@parley.test SIP/2.0",
			"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKg"+toTag, "From: <sip:a@parley.test>;tag=1", to,
			"Call-ID: c", "CSeq: 1 INVITE", "Content-Length: 0"))
		if err != nil {
			t.Fatal(err)
		}
		return m.(*sip.Request)
	}
	status := func(req *sip.Request) (int, bool) {
		tx := siptest.NewServerTxRecorder(req)
		defer tx.Terminate()
		h(req, tx)
		rs := tx.Result()
		if len(rs) != 1 {
			t.Fatalf("%d responses", len(rs))
		}
		return rs[0].StatusCode, rs[0].GetHeader("Retry-After") != nil
	}

	if code, _ := status(invite("")); code != 200 {
		t.Fatalf("new INVITE while idle: %d, want 200", code)
	}
	f.sojourn.Store(int64(time.Second))
	f.queue <- regJob{}
	if code, retry := status(invite("")); code != 503 || !retry {
		t.Errorf("new INVITE while overloaded: %d (Retry-After %v), want 503 with Retry-After", code, retry)
	}
	if code, _ := status(invite("t2")); code != 200 {
		t.Errorf("re-INVITE while overloaded: %d, want 200", code)
	}
	if handled != 2 {
		t.Errorf("handler ran %d times, want 2", handled)
	}
}
