package proxy

import (
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// networks are the transports whose listen ports count as ours.
var networks = [...]string{"udp", "tcp", "tls", "ws", "wss"}

// refreshEvery bounds how often a port the cache does not know makes it ask
// the transport layer again: misses are normal (a Route to another server
// on this host, a transport with no listener) and asking allocates.
const refreshEvery = 100 * time.Millisecond

// portCache caches the transport layer's listen ports, which every
// forwarded request needs (Via, Record-Route) and every Route and Via entry
// is checked against. Listeners are added while the server starts, so a
// miss refreshes the cache, at most once per refreshEvery.
type portCache struct {
	tp   *sip.TransportLayer
	snap atomic.Pointer[portSnapshot]
	mu   sync.Mutex // serializes refreshes
}

// portSnapshot is one immutable reading of the listen ports.
type portSnapshot struct {
	all   []int
	first [len(networks)]int // per network, 0 if none
	at    time.Time
}

// has reports whether port is one of the ports we listen on. When no
// listener is known yet every port is taken as ours: we cannot tell, and
// refusing our own Route would break every call.
func (c *portCache) has(port int) bool {
	s := c.snap.Load()
	if s != nil && slices.Contains(s.all, port) {
		return true
	}
	s = c.refresh(s)
	return len(s.all) == 0 || slices.Contains(s.all, port)
}

// first returns the first port we listen on for network, 0 if none.
func (c *portCache) first(network string) int {
	i := networkIndex(network)
	if i < 0 {
		return 0
	}
	s := c.snap.Load()
	if s != nil && s.first[i] != 0 {
		return s.first[i]
	}
	return c.refresh(s).first[i]
}

// refresh reads the ports again unless seen, the snapshot the caller
// missed in, is younger than refreshEvery or another caller replaced it
// meanwhile.
func (c *portCache) refresh(seen *portSnapshot) *portSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.snap.Load()
	if cur != seen || (cur != nil && time.Since(cur.at) < refreshEvery) {
		return cur
	}
	s := &portSnapshot{at: time.Now()}
	if c.tp != nil {
		for i, n := range networks {
			ports := c.tp.ListenPorts(n)
			if len(ports) > 0 {
				s.first[i] = ports[0]
			}
			s.all = append(s.all, ports...)
		}
	}
	c.snap.Store(s)
	return s
}

// networkIndex is the index of a transport name in networks, -1 if unknown.
func networkIndex(network string) int {
	for i, n := range networks {
		if strings.EqualFold(n, network) {
			return i
		}
	}
	return -1
}

// listenPort returns the first port we listen on for network, 0 if none.
func (p *Proxy) listenPort(network string) int {
	if p.tp == nil {
		return 0
	}
	return p.ports.first(network)
}

// isOurHost reports whether host names this server: the configured
// Hostname, one of its aliases or one of our domains.
func (p *Proxy) isOurHost(host string) bool {
	h := strings.Trim(host, "[]")
	if p.cfg.Hostname != "" && strings.EqualFold(h, strings.Trim(p.cfg.Hostname, "[]")) {
		return true
	}
	return p.local.IsLocal(h)
}

// isUs reports whether a URI (a Route entry or a Request-URI without user)
// addresses this proxy. A domain of ours is us on any port (its SRV records
// point here); an address or host name is us only on a port we listen on,
// because other SIP endpoints on this machine (a client, a test UA) share
// the address.
func (p *Proxy) isUs(u sip.Uri) bool {
	if !p.isOurHost(u.Host) {
		return false
	}
	if p.local.IsDomain(u.Host) && !p.local.IsAlias(u.Host) && !strings.EqualFold(u.Host, p.cfg.Hostname) {
		return true
	}
	return u.Port == 0 || p.ports.has(u.Port)
}

// isLocalURI reports whether a Request-URI belongs to us: its host is one of
// our domains, or our own host name or address on one of our ports.
func (p *Proxy) isLocalURI(u sip.Uri) bool {
	if p.local.IsDomain(u.Host) {
		return true
	}
	return p.isUs(u)
}

// isOurVia reports whether a Via entry was put there by this proxy: our
// branch prefix, sent by one of our hosts on one of our ports.
func (p *Proxy) isOurVia(v *sip.ViaHeader) bool {
	b, ok := v.Params.Get("branch")
	if !ok || !strings.HasPrefix(b, branchPrefix) {
		return false
	}
	return p.isOurHost(v.Host) && (v.Port == 0 || p.ports.has(v.Port))
}

func parseIP(host string) net.IP {
	return net.ParseIP(strings.Trim(host, "[]"))
}

func trimBrackets(host string) string { return strings.Trim(host, "[]") }

// udpListener returns the address of our UDP listener: learned from the
// first request received over UDP, or found by probing sipgo's connection
// pool for the UDP listen port on the usual bind addresses.
func (p *Proxy) udpListener() *sip.Addr {
	if a := p.udpLocal.Load(); a != nil {
		return a
	}
	if p.tp == nil {
		return nil
	}
	for _, port := range p.tp.ListenPorts("udp") {
		for _, host := range []string{p.cfg.Hostname, "0.0.0.0", "::", "127.0.0.1", "::1"} {
			ip := parseIP(host)
			if ip == nil {
				continue
			}
			a := &sip.Addr{IP: ip, Port: port, Hostname: host}
			c, err := p.tp.GetConnection("udp", a.String())
			if err != nil {
				continue
			}
			uc, ok := c.(*sip.UDPConnection)
			listener := ok && uc.Listener
			c.TryClose()
			if listener {
				p.udpLocal.CompareAndSwap(nil, a)
				return p.udpLocal.Load()
			}
		}
	}
	return nil
}
