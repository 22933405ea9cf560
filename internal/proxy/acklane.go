package proxy

import (
	"bytes"
	"net/netip"
	"strconv"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// The ACK lane forwards the ACKs of dialogs the proxy record-routed as
// soon as their datagram is read, before sipgo's transaction layer sees
// them. An ACK to a 2xx is a transaction of its own that gets no response
// (RFC 3261 §17.1.1.3), and the proxy forwards it statelessly anyway
// (§16.11); through sipgo it would cost a server transaction, a goroutine
// and a context for nothing. Forwarding it on the read loop also keeps it
// ahead of the BYE a caller often sends right after it: sipgo hands each
// message to a goroutine of its own, and the BYE's could otherwise run
// first and reach a callee still waiting for the ACK.
//
// Only UDP datagrams are looked at: over a stream, sipgo's read filter sees
// chunks of the byte stream, not messages. And only ACKs that go on over
// UDP to an address take the lane, so that the read loop never waits on a
// name lookup, a connection set-up or a full stream buffer.

// ReadFilter is a sipgo transport read filter (sip.TransportReadFilter) for
// the listeners the proxy serves: it takes the ACKs of dialogs the proxy
// record-routed off the read loop and forwards them at once, and passes
// every other datagram on unchanged (nil means taken). It never fails.
//
// An ACK takes the lane when its Route set names this proxy with a valid
// dialog token. The ACK of a non-2xx final response carries the branch of
// its INVITE instead and must reach that INVITE's server transaction
// (§17.2.3), which absorbs it; the proxy remembers the INVITEs whose
// transactions are alive, and their ACKs go on to sipgo.
func (p *Proxy) ReadFilter(props sip.TransportReadProps, data []byte) ([]byte, error) {
	if props.Transport != "UDP" {
		return data, nil
	}
	// Every UDP datagram passes here before sipgo parses it, so this is set
	// before the first INVITE reaches ServeSIP.
	if !p.laneOn.Load() {
		p.laneOn.Store(true)
	}
	if !bytes.HasPrefix(data, []byte("ACK ")) || props.RemoteAddr == nil {
		return data, nil
	}
	msg, err := p.parser.ParseSIP(data)
	if err != nil {
		return data, nil // sipgo's own parse reports it
	}
	req, ok := msg.(*sip.Request)
	if !ok || !req.IsAck() || req.Via() == nil || req.CSeq() == nil {
		return data, nil
	}
	if key, ok := inviteKey(req); !ok || p.inviteLive(key) {
		return data, nil
	}
	req.SetTransport("UDP")
	req.SetSource(props.RemoteAddr.String())
	a, ok := p.planACK(req)
	if !ok || !a.dialog {
		return data, nil // the usual path decides, as it always has
	}
	out := p.ackBranch(req, a)
	if !nonBlocking(out) {
		return data, nil
	}
	p.sendACK(req, out)
	return nil, nil
}

// nonBlocking reports whether sending req cannot hold up the read loop
// the lane runs on: it goes over UDP to an address, with no name to
// resolve and no connection to open or wait on.
func nonBlocking(req *sip.Request) bool {
	if sip.NetworkToLower(req.Transport()) != "udp" {
		return false
	}
	_, err := netip.ParseAddrPort(req.Destination())
	return err == nil
}

// inviteKey identifies the INVITE server transaction a request belongs to
// by its top Via (RFC 3261 §17.2.3): the branch and the sent-by. ok is
// false for a branch without the RFC 3261 magic cookie, which the ACK lane
// leaves to sipgo's RFC 2543 matching.
func inviteKey(req *sip.Request) (string, bool) {
	v := req.Via()
	if v == nil {
		return "", false
	}
	branch, _ := v.Params.Get("branch")
	if len(branch) <= len(sip.RFC3261BranchMagicCookie) || branch[:len(sip.RFC3261BranchMagicCookie)] != sip.RFC3261BranchMagicCookie {
		return "", false
	}
	port := v.Port
	if port == 0 {
		port = sip.DefaultPort(v.Transport)
	}
	var arr [128]byte
	b := append(append(append(arr[:0], branch...), 0), v.Host...)
	b = strconv.AppendInt(append(b, ':'), int64(port), 10)
	return string(b), true
}

// inviteSet holds the keys (inviteKey) of the INVITE server transactions
// over UDP that may still get an ACK of their own: those without a final
// response yet, and those that ended with a non-2xx one and wait for its
// ACK. It stays small: an INVITE answered 2xx leaves it at once, though
// sipgo keeps its transaction for another 32 s (RFC 6026 Timer L).
type inviteSet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func (s *inviteSet) add(key string) {
	s.mu.Lock()
	if s.keys == nil {
		s.keys = make(map[string]struct{})
	}
	s.keys[key] = struct{}{}
	s.mu.Unlock()
}

func (s *inviteSet) remove(key string) {
	s.mu.Lock()
	delete(s.keys, key)
	s.mu.Unlock()
}

func (s *inviteSet) has(key string) bool {
	s.mu.Lock()
	_, ok := s.keys[key]
	s.mu.Unlock()
	return ok
}

// trackInvite remembers an INVITE server transaction received over UDP
// until it ends, so that the ACK lane leaves the ACK of its non-2xx final
// response to it. It returns the key to untrack once the INVITE is
// answered 2xx, "" when there is nothing to track.
func (p *Proxy) trackInvite(req *sip.Request, tx sip.ServerTransaction) string {
	if !p.laneOn.Load() || sip.NetworkToLower(req.Transport()) != "udp" {
		return "" // no lane, nothing to keep the ACK from
	}
	key, ok := inviteKey(req)
	if !ok {
		return ""
	}
	p.invites.add(key)
	if !tx.OnTerminate(func(string, error) { p.invites.remove(key) }) {
		p.invites.remove(key) // already over
	}
	return key
}

// inviteLive reports whether the INVITE server transaction key names may
// still get an ACK of its own.
func (p *Proxy) inviteLive(key string) bool { return p.invites.has(key) }
