package server

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// regFront is the way in of REGISTER requests. Registration is the bulk
// of a registrar's traffic (every client refreshes every few minutes, and
// all of them at once after an outage), and REGISTER is idempotent, so it
// is answered the way RFC 3261 §8.2.7 allows a stateless UAS to: UDP
// REGISTERs are taken off the socket before sipgo's transaction layer
// (which would start a goroutine and a server transaction for each and
// keep the transaction for 32 s), TCP and TLS ones off the connection
// (streamfront.go), and a small cache (txcache.go) stands in for the
// transaction's retransmission handling.
//
// Every REGISTER, whatever its transport, then waits in one bounded queue
// for a fixed pool of workers. Admission is decided before any work is
// done: when the request a worker took last had waited longer than
// maxDelay and others still wait, or the queue is full, a new request is
// refused at once with
// 503 Service Unavailable and Retry-After (RFC 3261 §21.5.4) instead of
// joining an ever longer queue whose answers would come after the client
// has retransmitted or given up. So throughput stays at capacity when
// more is offered, and queueing delay stays below maxDelay, well under
// T1 = 500 ms, the client's first retransmission.
type regFront struct {
	handle   func(ctx context.Context, req *sip.Request) *sip.Response
	parser   *sip.Parser
	cache    *txCache
	queue    chan regJob
	workers  int
	maxDelay time.Duration
	// retryAfter is the Retry-After of a refusal, in seconds; a random
	// part of as much again spreads the clients' return.
	retryAfter int
	now        func() time.Time
	log        *slog.Logger

	udp     atomic.Pointer[udpListener]
	sojourn atomic.Int64 // queueing delay of the job taken last, ns
	stopped chan struct{}

	admitted        atomic.Uint64 // REGISTERs queued
	refused         atomic.Uint64 // REGISTERs answered 503
	retransAnswered atomic.Uint64 // retransmissions answered from the cache
	retransDropped  atomic.Uint64 // retransmissions of queued requests dropped
	unparsable      atomic.Uint64 // datagrams sipgo's parser refused
}

// packetWriter is the part of *net.UDPConn the front end writes with.
type packetWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// udpListener is the UDP socket whose REGISTERs the front end answers.
type udpListener struct {
	w    packetWriter
	addr *net.UDPAddr
}

// regJob is one REGISTER waiting for a worker: a message to parse, from a
// UDP socket or a stream connection, or a request sipgo parsed (one the
// sniffer could not read) with the channel its response goes back on.
type regJob struct {
	at     time.Time
	data   []byte
	w      packetWriter   // the UDP socket data came on, or
	stream *frontConn     // the connection it came on
	src    netip.AddrPort // UDP source
	dest   netip.AddrPort // where a UDP response goes (RFC 3261 §18.2.2)
	key    uint64         // txCache key (UDP)
	req    *sip.Request
	done   chan<- *sip.Response
}

// Front-end defaults. maxDelay keeps answers well inside T1 (500 ms), the
// client's first retransmission, while letting the queue ride out a pause
// of the process (a garbage collection, a reload of the user cache, the
// machine's other work) without refusing anyone. The queue bound only
// caps memory (a queued datagram is about 0.5 KiB); maxDelay acts first.
// The cache covers about a second at 20,000 REGISTERs/s and the whole of
// Timer J below 500/s, in under 20 MiB.
const (
	defaultMaxDelay      = 200 * time.Millisecond
	defaultQueueLen      = 8192
	defaultCacheEntries  = 16384
	defaultRetryAfter    = 5
	timerJ               = 64 * 500 * time.Millisecond // 64*T1, RFC 3261 §17.2.2
	workerDeadlineReuse  = time.Second
	overloadLogEvery     = 10 * time.Second
	maxStatelessResponse = 65507 // the largest UDP payload
)

// newRegFront returns a front end passing requests to handle with the
// given number of workers.
func newRegFront(handle func(context.Context, *sip.Request) *sip.Response, parser *sip.Parser, workers int, log *slog.Logger) *regFront {
	return &regFront{
		handle:     handle,
		parser:     parser,
		cache:      newTxCache(defaultCacheEntries, timerJ),
		queue:      make(chan regJob, defaultQueueLen),
		workers:    max(1, workers),
		maxDelay:   defaultMaxDelay,
		retryAfter: defaultRetryAfter,
		now:        time.Now,
		log:        log,
		stopped:    make(chan struct{}),
	}
}

// setUDP names the UDP listener whose REGISTERs the front end takes.
func (f *regFront) setUDP(c *net.UDPConn) {
	addr, _ := c.LocalAddr().(*net.UDPAddr)
	f.udp.Store(&udpListener{w: c, addr: addr})
}

// readFilter is sipgo's transport read filter (sip.WithTransportLayerReadFilter):
// it sees every datagram before sipgo parses it, and keeps the REGISTERs
// that arrive on our UDP listener. Everything else goes on to sipgo.
//
// It runs on sipgo's one read loop of the socket. That loop is also what
// applies admission control to the excess of an overload, so everything
// it does for a REGISTER is cheap and allocates nothing. (Readers of our
// own on the same socket were tried: in Go, goroutines reading one socket
// hand its lock to each other through the scheduler, and then wait behind
// the busy workers, and the kernel drops what they do not read in time.)
func (f *regFront) readFilter(props sip.TransportReadProps, data []byte) []byte {
	if props.Transport != "UDP" {
		return data
	}
	l := f.udp.Load()
	local, ok1 := props.LocalAddr.(*net.UDPAddr)
	remote, ok2 := props.RemoteAddr.(*net.UDPAddr)
	if l == nil || !ok1 || !ok2 || !sameUDPAddr(local, l.addr) {
		return data
	}
	if f.offerUDP(l.w, data, remote.AddrPort()) {
		return nil
	}
	return data
}

func sameUDPAddr(a, b *net.UDPAddr) bool {
	return a == b || (b != nil && a.Port == b.Port && a.IP.Equal(b.IP) && a.Zone == b.Zone)
}

// offerUDP takes a datagram that came on w if it is a REGISTER it can
// read, and reports whether it did. It runs on sipgo's UDP read loop, so
// it only does what must be decided at once: answer a retransmission,
// drop one of a queued request, refuse a new request when overloaded, or
// queue it.
func (f *regFront) offerUDP(w packetWriter, data []byte, src netip.AddrPort) bool {
	var s sniffed
	if !sniff(data, &s) || !s.isRegister(data) {
		return false
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dest := udpResponseDestination(&s, src)
	now := f.now()
	key := f.cache.key(data, &s)
	switch st, res := f.cache.begin(key, now); st {
	case txDone:
		f.retransAnswered.Add(1)
		f.write(w, res, dest)
		return true
	case txPending:
		f.retransDropped.Add(1)
		return true
	}
	if !f.overloaded() {
		select {
		case f.queue <- regJob{at: now, data: bytes.Clone(data), w: w, src: src, dest: dest, key: key}:
			f.admitted.Add(1)
			return true
		default:
		}
	}
	f.cache.forget(key)
	f.refused.Add(1)
	bp := refusalBufs.Get().(*[]byte)
	*bp = appendRefusal((*bp)[:0], data, &s, src, key, f.retryAfterValue())
	f.write(w, *bp, dest)
	refusalBufs.Put(bp)
	return true
}

// refusalBufs holds buffers for 503 responses.
var refusalBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// overloaded reports whether new requests are to be refused: the request
// a worker took last had waited longer than maxDelay and others still
// wait. Once the queue has drained, the next request is admitted and
// resets the measure.
func (f *regFront) overloaded() bool {
	return len(f.queue) > 0 && time.Duration(f.sojourn.Load()) > f.maxDelay
}

// serveTx is the sipgo handler for REGISTERs that come through the
// transaction layer: those the sniffer or the stream framer left to
// sipgo's parser, and any on sockets the front end does not watch.
func (f *regFront) serveTx(req *sip.Request, tx sip.ServerTransaction) {
	done := make(chan *sip.Response, 1)
	if !f.overloaded() {
		select {
		case f.queue <- regJob{at: f.now(), req: req, done: done}:
			f.admitted.Add(1)
			select {
			case res := <-done:
				_ = tx.Respond(res)
			case <-f.stopped:
			case <-tx.Done():
			}
			return
		default:
		}
	}
	f.refused.Add(1)
	res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(f.retryAfterValue())))
	_ = tx.Respond(res)
}

func (f *regFront) retryAfterValue() int {
	return f.retryAfter + rand.IntN(f.retryAfter+1)
}

// Run runs the workers until ctx is done.
func (f *regFront) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range f.workers {
		wg.Go(func() { f.work(ctx) })
	}
	t := time.NewTicker(overloadLogEvery)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-ctx.Done():
			close(f.stopped)
			wg.Wait()
			return ctx.Err()
		case <-t.C:
			if n := f.refused.Load(); n != last {
				f.log.WarnContext(ctx, "SIP overload: REGISTERs refused with 503",
					"refused", n-last, "queued", len(f.queue), "admitted_total", f.admitted.Load())
				last = n
			}
		}
	}
}

// work handles queued REGISTERs until ctx is done.
func (f *regFront) work(ctx context.Context) {
	var buf bytes.Buffer
	var dl deadlineCtx
	defer dl.release()
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-f.queue:
			now := f.now()
			f.sojourn.Store(int64(now.Sub(job.at)))
			rctx := dl.get(ctx, now)
			if job.req != nil {
				job.done <- f.handle(rctx, job.req)
				continue
			}
			f.handleMessage(rctx, &job, &buf)
		}
	}
}

// handleMessage parses, handles and answers a queued REGISTER; on UDP it
// keeps the answer for the request's retransmissions. Over TCP and TLS
// there are none (RFC 3261 §17.1.2.2), and nothing is kept.
func (f *regFront) handleMessage(ctx context.Context, job *regJob, buf *bytes.Buffer) {
	msg, err := f.parser.ParseSIP(job.data)
	req, ok := msg.(*sip.Request)
	if err != nil || !ok {
		// sipgo would have dropped it too; the client's retransmission
		// fares no better, so it is not kept.
		if job.stream == nil {
			f.cache.forget(job.key)
		}
		f.unparsable.Add(1)
		f.log.DebugContext(ctx, "REGISTER not parsed", "error", err)
		return
	}
	if job.stream != nil {
		req.SetTransport(job.stream.transport)
		req.SetSource(job.stream.source)
	} else {
		req.SetTransport("UDP")
		req.SetSource(job.src.String())
	}
	res := f.handle(ctx, req)
	buf.Reset()
	res.StringWrite(buf)
	if job.stream != nil {
		job.stream.write(buf.Bytes())
		return
	}
	out := bytes.Clone(buf.Bytes())
	f.cache.finish(job.key, out)
	f.write(job.w, out, job.dest)
}

func (f *regFront) write(w packetWriter, b []byte, dest netip.AddrPort) {
	if len(b) > maxStatelessResponse {
		f.log.Warn("REGISTER response too large for UDP", "bytes", len(b), "destination", dest.String())
		return
	}
	if _, err := w.WriteToUDPAddrPort(b, dest); err != nil {
		f.log.Debug("REGISTER response not sent", "destination", dest.String(), "error", err)
	}
}

// deadlineCtx gives a worker a context bounding the directory lookups of
// each request to about requestDeadline without a new context and timer
// per request: the same one serves until less than workerDeadlineReuse
// of it is left, so every request has between requestDeadline minus that
// and requestDeadline.
type deadlineCtx struct {
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time
}

// requestDeadline bounds the work on one REGISTER, as
// registrar.ServeREGISTER does for the transaction path.
const requestDeadline = 5 * time.Second

func (d *deadlineCtx) get(parent context.Context, now time.Time) context.Context {
	if d.ctx == nil || d.deadline.Sub(now) < workerDeadlineReuse || d.ctx.Err() != nil {
		d.release()
		d.deadline = now.Add(requestDeadline)
		d.ctx, d.cancel = context.WithDeadline(parent, d.deadline)
	}
	return d.ctx
}

func (d *deadlineCtx) release() {
	if d.cancel != nil {
		d.cancel()
	}
}

// udpResponseDestination is where a response to a UDP request goes (RFC
// 3261 §18.2.2): the source address, with the source port when the top
// Via asks for rport (RFC 3581 §4) and otherwise the Via's port or 5060.
func udpResponseDestination(s *sniffed, src netip.AddrPort) netip.AddrPort {
	if s.topVia.rport {
		return src
	}
	port := s.topVia.port
	if port == 0 {
		port = sip.DefaultUdpPort
	}
	return netip.AddrPortFrom(src.Addr(), uint16(port))
}

// appendRefusal appends to dst a 503 Service Unavailable for the sniffed
// request in b, built from the request's bytes (RFC 3261 §8.2.6.2: its
// Via lines, From, To with a tag added, Call-ID and CSeq), with the
// received and rport parameters of RFC 3581 §4 in the top Via and a
// Retry-After. The To tag is derived from key, so a retransmission
// refused again gets the same one (RFC 3261 §8.2.7).
func appendRefusal(dst, b []byte, s *sniffed, src netip.AddrPort, key uint64, retryAfter int) []byte {
	dst = append(dst, "SIP/2.0 503 Service Unavailable\r\n"...)
	for i := range s.nVias {
		if i == 0 {
			dst = appendTopVia(dst, b, s, src)
		} else {
			dst = append(dst, s.vias[i].of(b)...)
		}
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, s.from.of(b)...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, s.to.of(b)...)
	if !s.hasToTag {
		dst = append(dst, ";tag="...)
		dst = strconv.AppendUint(dst, key, 16)
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, s.callIDLine.of(b)...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, s.cseqLine.of(b)...)
	dst = append(dst, "\r\nRetry-After: "...)
	dst = strconv.AppendInt(dst, int64(retryAfter), 10)
	dst = append(dst, "\r\nContent-Length: 0\r\n\r\n"...)
	return dst
}

// appendTopVia appends the top Via line with rport filled in and, when
// rport was asked for or the sent-by host is not the source address,
// received (RFC 3261 §18.2.1, RFC 3581 §4).
func appendTopVia(dst, b []byte, s *sniffed, src netip.AddrPort) []byte {
	line, v := s.vias[0], &s.topVia
	ip := src.Addr()
	var text [64]byte
	received := v.rport || !bytes.Equal(v.host.of(b), ip.AppendTo(text[:0]))
	if v.rport {
		dst = append(dst, b[line.start:v.rportEnd]...)
		dst = append(dst, '=')
		dst = strconv.AppendUint(dst, uint64(src.Port()), 10)
		dst = append(dst, b[v.rportEnd:v.end]...)
	} else {
		dst = append(dst, b[line.start:v.end]...)
	}
	if received {
		dst = append(dst, ";received="...)
		dst = ip.AppendTo(dst)
	}
	return append(dst, b[v.end:line.end]...)
}
