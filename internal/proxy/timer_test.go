package proxy

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/sipx"

	"github.com/parleyhq/parley/internal/sipx/siptest"
)

// These tests drive the response context with fake transactions inside a
// synctest bubble, so the one-minute no-answer timer and the drain bound
// run on the bubble's clock.

// fakeClientTx is a client transaction the test answers by hand.
type fakeClientTx struct {
	req       *sip.Request
	responses chan *sip.Response
	done      chan struct{}
	once      sync.Once
}

func (f *fakeClientTx) Terminate()                             { f.once.Do(func() { close(f.done) }) }
func (f *fakeClientTx) OnTerminate(sip.FnTxTerminate) bool     { return true }
func (f *fakeClientTx) Done() <-chan struct{}                  { return f.done }
func (f *fakeClientTx) Err() error                             { return nil }
func (f *fakeClientTx) Responses() <-chan *sip.Response        { return f.responses }
func (f *fakeClientTx) OnRetransmission(sip.FnTxResponse) bool { return true }

// reply sends a response to the transaction's request, as its UAS would.
func (f *fakeClientTx) reply(code int, reason string) {
	f.responses <- sip.NewResponseFromRequest(f.req, code, reason, nil)
}

// fakeRequester stands in for sipgo's transaction layer.
type fakeRequester struct{ txs chan *fakeClientTx }

func (r *fakeRequester) Request(_ context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	tx := &fakeClientTx{req: req, responses: make(chan *sip.Response), done: make(chan struct{})}
	r.txs <- tx
	return tx, nil
}

// fakeServerTx records what the proxy answers upstream.
type fakeServerTx struct {
	mu       sync.Mutex
	sent     []int
	onCancel sip.FnTxCancel
	done     chan struct{}
}

func (f *fakeServerTx) Terminate()                         {}
func (f *fakeServerTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (f *fakeServerTx) Done() <-chan struct{}              { return f.done }
func (f *fakeServerTx) Err() error                         { return nil }
func (f *fakeServerTx) Acks() <-chan *sip.Request          { return nil }
func (f *fakeServerTx) Respond(res *sip.Response) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, res.StatusCode)
	return nil
}

func (f *fakeServerTx) OnCancel(fn sip.FnTxCancel) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCancel = fn
	return true
}

func (f *fakeServerTx) codes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sent...)
}

// fakeProxy returns a proxy whose client transactions appear on the
// returned channel, with bob bound to one contact.
func fakeProxy(t *testing.T, cfg Config) (*Proxy, chan *fakeClientTx) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	txs := make(chan *fakeClientTx, 4)
	cli.TxRequester = &fakeRequester{txs: txs}
	loc := newLocator()
	var contact sip.Uri
	if err := sip.ParseUri("sip:bob@192.0.2.20:5062", &contact); err != nil {
		t.Fatal(err)
	}
	loc.bind(bobAOR, Target{URI: contact})
	cfg.Hostname = "127.0.0.1"
	return New(cfg, sipx.NewLocal([]string{"example.com"}, []string{"127.0.0.1"}), loc, cli, siptest.Logger(t, slog.LevelDebug)), txs
}

func inviteForBob(t *testing.T) *sip.Request {
	t.Helper()
	return parseRequest(t, "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa\n"+
		"From: <sip:carol@elsewhere.test>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: timer@test\nCSeq: 1 INVITE\n"+
		"Max-Forwards: 70\nContent-Length: 0\n\n")
}

func TestNoAnswerTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, txs := fakeProxy(t, Config{RecordRoute: true}) // default one-minute timer
		stx := &fakeServerTx{done: make(chan struct{})}
		served := make(chan struct{})
		go func() {
			p.ServeSIP(inviteForBob(t), stx)
			close(served)
		}()
		inv := <-txs
		inv.reply(180, "Ringing")
		synctest.Wait()
		if got := stx.codes(); len(got) != 1 || got[0] != 180 {
			t.Fatalf("upstream got %v, want the 180", got)
		}

		time.Sleep(DefaultBranchTimeout - time.Second)
		synctest.Wait()
		select {
		case tx := <-txs:
			t.Fatalf("%s sent before the timer", tx.req.Method)
		default:
		}

		time.Sleep(2 * time.Second)
		cancel := <-txs
		if cancel.req.Method != sip.CANCEL {
			t.Fatalf("got %s, want CANCEL", cancel.req.Method)
		}
		cancel.reply(200, "OK")
		inv.reply(487, "Request Terminated")
		<-served
		if got := stx.codes(); len(got) != 2 || got[1] != 408 {
			t.Errorf("upstream got %v, want 180 then 408", got)
		}
	})
}

func TestCancelWaitsForProvisional(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, txs := fakeProxy(t, Config{RecordRoute: true})
		stx := &fakeServerTx{done: make(chan struct{})}
		served := make(chan struct{})
		go func() {
			p.ServeSIP(inviteForBob(t), stx)
			close(served)
		}()
		inv := <-txs
		synctest.Wait()
		stx.mu.Lock()
		onCancel := stx.onCancel
		stx.mu.Unlock()
		if onCancel == nil {
			t.Fatal("proxy did not watch for CANCEL")
		}
		onCancel(nil) // what sipgo does when the caller's CANCEL arrives
		synctest.Wait()
		select {
		case tx := <-txs:
			t.Fatalf("%s sent before any provisional response (RFC 3261 §9.1)", tx.req.Method)
		default:
		}
		inv.reply(100, "Trying")
		cancel := <-txs
		if cancel.req.Method != sip.CANCEL {
			t.Fatalf("got %s, want CANCEL", cancel.req.Method)
		}
		cancel.reply(200, "OK")
		inv.reply(487, "Request Terminated")
		<-served
		if got := stx.codes(); len(got) != 0 {
			t.Errorf("proxy answered %v upstream; sipgo already sent the 487", got)
		}
	})
}

func TestDrainBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, txs := fakeProxy(t, Config{RecordRoute: true})
		stx := &fakeServerTx{done: make(chan struct{})}
		served := make(chan struct{})
		go func() {
			p.ServeSIP(inviteForBob(t), stx)
			close(served)
		}()
		inv := <-txs
		synctest.Wait()
		stx.mu.Lock()
		onCancel := stx.onCancel
		stx.mu.Unlock()
		onCancel(nil)
		// The branch never answers at all: the proxy gives up after the
		// drain bound and ends the branch itself.
		start := time.Now()
		<-served
		if d := time.Since(start); d != sip.Timer_B {
			t.Errorf("gave up after %s, want %s", d, sip.Timer_B)
		}
		select {
		case <-inv.done:
		default:
			t.Error("branch transaction left running")
		}
	})
}
