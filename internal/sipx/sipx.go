// Package sipx holds the small pieces of SIP that Parley's roles share on top
// of sipgo's message, transport and transaction layers: which hosts and
// domains are ours (Local), address-of-record canonicalization, and building
// final responses that say why a request failed.
//
// It is a protocol package: no storage, no product policy.
package sipx

import (
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Local knows the SIP domains the server is authoritative for and the host
// names and addresses it is reached at. Clients configured with an IP address
// as their "domain" (sip:alice@127.0.0.1) are mapped to the primary domain, as
// a registrar reached by address is the primary domain's registrar.
//
// A Local is immutable after construction and safe for concurrent use.
type Local struct {
	domains []string
	aliases map[string]bool
}

// NewLocal returns a Local for domains (the first is primary) and aliases,
// the host names and IP addresses (without ports) the server listens on.
func NewLocal(domains, aliases []string) *Local {
	l := &Local{aliases: make(map[string]bool)}
	for _, d := range domains {
		l.domains = append(l.domains, strings.ToLower(d))
	}
	for _, a := range aliases {
		l.aliases[strings.ToLower(strings.Trim(a, "[]"))] = true
	}
	return l
}

// PrimaryDomain returns the first domain.
func (l *Local) PrimaryDomain() string {
	if len(l.domains) == 0 {
		return ""
	}
	return l.domains[0]
}

// Domains returns the domains, primary first.
func (l *Local) Domains() []string { return append([]string(nil), l.domains...) }

// IsDomain reports whether host is one of our SIP domains.
func (l *Local) IsDomain(host string) bool {
	host = strings.ToLower(host)
	for _, d := range l.domains {
		if d == host {
			return true
		}
	}
	return false
}

// IsAlias reports whether host is one of the server's own names or addresses.
func (l *Local) IsAlias(host string) bool {
	h := strings.ToLower(strings.Trim(host, "[]"))
	if l.aliases[h] {
		return true
	}
	// An unspecified listen address (0.0.0.0, ::) means every local address.
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() && (l.aliases["0.0.0.0"] || l.aliases["::"]) {
		return true
	}
	return false
}

// IsLocal reports whether host is one of our domains or one of our aliases.
func (l *Local) IsLocal(host string) bool { return l.IsDomain(host) || l.IsAlias(host) }

// Canonical maps a host to the domain it stands for: a domain to itself, an
// alias to the primary domain. ok is false for foreign hosts.
func (l *Local) Canonical(host string) (domain string, ok bool) {
	host = strings.ToLower(host)
	if l.IsDomain(host) {
		return host, true
	}
	if l.IsAlias(host) && len(l.domains) > 0 {
		return l.domains[0], true
	}
	return "", false
}

// AOR returns the canonical address-of-record of u, "sip:user@domain",
// lower-cased and without port or parameters (RFC 3261 §10.3 step 5). ok is
// false when u has no user part or its host is not ours.
func (l *Local) AOR(u sip.Uri) (aor string, ok bool) {
	if u.User == "" {
		return "", false
	}
	d, ok := l.Canonical(u.Host)
	if !ok {
		return "", false
	}
	return "sip:" + strings.ToLower(u.User) + "@" + d, true
}

// Reject builds a final response to req with a reason phrase and, when
// detail is not empty, a Warning header (RFC 3261 §20.43, code 399
// "miscellaneous warning") that tells the client what exactly was wrong.
// hostname is the warn-agent.
func Reject(req *sip.Request, code int, reason, hostname, detail string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if detail != "" {
		res.AppendHeader(sip.NewHeader("Warning", `399 `+hostname+` "`+quoteSafe(detail)+`"`))
	}
	return res
}

// quoteSafe makes s safe inside a quoted-string (RFC 3261 §25.1): no
// double quotes, backslashes or control characters.
func quoteSafe(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\'')
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
		if b.Len() > 200 {
			break
		}
	}
	return b.String()
}
