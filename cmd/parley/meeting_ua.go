package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/icholy/digest"

	"github.com/parleyhq/parley/internal/c3p"
)

// The meeting commands are a SIP user agent: they send C3P commands in
// SERVICE requests to the organizer's Focus Factory, as an OCS 2007 R2
// client does ([MS-CONFPRO] §3.1.5), and authenticate with the organizer's
// own SIP password. This file holds that user agent; meeting.go the
// commands built on it.

// Errors of the meeting client.
var (
	// errAuthFailed reports credentials the server refused.
	errAuthFailed = errors.New("authentication failed")
	// errNoAnswer reports a request the server did not answer in time.
	errNoAnswer = errors.New("no answer")
	// errBadAnswer reports an answer that is not the C3P response to the
	// request sent.
	errBadAnswer = errors.New("unexpected answer from the Focus Factory")
)

// sipRequestTimeout bounds one SERVICE transaction, retransmissions
// included. The Focus Factory bounds its own work to 10 s too, so a
// longer wait would only mean the server is gone.
const sipRequestTimeout = 10 * time.Second

// sipRunInfo is the part of run.json the meeting commands need: where the
// server's SIP listeners are.
type sipRunInfo struct {
	SIPUDP string `json:"sip_udp"`
	SIPTCP string `json:"sip_tcp"`
}

// sipAddrs returns the addresses of the UDP and TCP SIP listeners of the
// server running for g.dataDir; either may be empty.
func (g *globals) sipAddrs() (udp, tcp string, err error) {
	path := filepath.Join(g.dataDir, runFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", g.notRunning()
	}
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", path, err)
	}
	var info sipRunInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return "", "", fmt.Errorf("%s is not valid JSON: %w", path, err)
	}
	if udp, err = dialable(info.SIPUDP); err != nil {
		return "", "", fmt.Errorf("%s: sip_udp: %w", path, err)
	}
	if tcp, err = dialable(info.SIPTCP); err != nil {
		return "", "", fmt.Errorf("%s: sip_tcp: %w", path, err)
	}
	return udp, tcp, nil
}

// dialable turns a listen address into one to send to: a server listening
// on every address is reached on loopback.
func dialable(addr string) (string, error) {
	if addr == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("unusable address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), nil
}

// focusClient talks C3P to one organizer's Focus Factory over SIP. It keeps
// one Call-ID and increasing CSeq numbers for its requests, and reuses the
// server's digest challenge with increasing nonce counts (RFC 7616 §3.4), so
// that only the first request costs an extra round trip.
type focusClient struct {
	ua    *sipgo.UserAgent
	cl    *sipgo.Client
	local net.IP // the address requests are sent from
	// udp and tcp are the server's SIP listeners (host:port); one of them
	// may be empty. preferUDP sends small requests over UDP.
	udp, tcp  string
	preferUDP bool
	timeout   time.Duration

	organizer sip.Uri // the organizer's address of record
	factory   sip.Uri // his Focus Factory
	username  string  // digest username: the user part (directory.NewCredential)
	password  string

	callID    string
	cseq      uint32
	requestID uint64

	// chal is the last digest challenge, reused until the server
	// answers stale=true; nc counts its uses.
	chal      *digest.Challenge
	chalProxy bool // 407 (Proxy-Authorization) rather than 401
	nc        int
}

// newFocusClient returns a client for organizer's Focus Factory on the
// server listening at udp and tcp ("host:port", either may be empty).
// With preferUDP, requests go over UDP unless they are too large for it
// (see route); else over TCP.
func newFocusClient(organizer, password, udp, tcp string, preferUDP bool) (*focusClient, error) {
	var org sip.Uri
	if err := sip.ParseUri(organizer, &org); err != nil || org.User == "" || org.Host == "" || org.Scheme != "sip" {
		return nil, fmt.Errorf("organizer %q is not a SIP URI such as sip:alice@example.com", organizer)
	}
	// The directory keeps addresses of record in lower case, and the
	// digest username is the user part as stored.
	org = sip.Uri{Scheme: "sip", User: strings.ToLower(org.User), Host: strings.ToLower(org.Host)}
	var ff sip.Uri
	if err := sip.ParseUri(c3p.FocusFactoryURI(org.String()), &ff); err != nil {
		return nil, fmt.Errorf("focus factory URI of %s: %w", organizer, err)
	}
	switch {
	case preferUDP && udp == "":
		return nil, errors.New("the server has no SIP UDP listener; use --transport tcp")
	case tcp == "" && !preferUDP:
		return nil, errors.New("the server has no SIP TCP listener; use --transport udp")
	}
	addr := tcp
	if preferUDP {
		addr = udp
	}
	local, err := localAddrFor(addr)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler) // the commands report errors themselves
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("Parley meeting client"),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(quiet),
			// A late retransmission of an answer already read is dropped.
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
	)
	if err != nil {
		return nil, fmt.Errorf("SIP user agent: %w", err)
	}
	// The Via sent-by is the local IP that routes to the server, so that
	// the server can answer it (RFC 3261 §18.1.1); the transport layer
	// adds the port of the socket it sends from.
	cl, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname(local))
	if err != nil {
		_ = ua.Close()
		return nil, fmt.Errorf("SIP client: %w", err)
	}
	return &focusClient{
		ua: ua, cl: cl, local: net.ParseIP(local), udp: udp, tcp: tcp, preferUDP: preferUDP, timeout: sipRequestTimeout,
		organizer: org, factory: ff, username: org.User, password: password,
		callID: uuid.NewString(), cseq: uint32(time.Now().UnixNano()%30000) + 1,
	}, nil
}

// localAddrFor returns the local IP address the system would use to reach
// addr, without sending anything.
func localAddrFor(addr string) (string, error) {
	c, err := net.Dial("udp", addr) // a UDP "connection" only picks a route
	if err != nil {
		return "", fmt.Errorf("no route to the SIP server at %s: %w", addr, err)
	}
	defer c.Close()
	host, _, err := net.SplitHostPort(c.LocalAddr().String())
	if err != nil {
		return "", fmt.Errorf("local address: %w", err)
	}
	return host, nil
}

// Close releases the client's sockets.
func (c *focusClient) Close() error { return c.ua.Close() }

// do sends one C3P command and returns the command element of the success
// response. A failure response becomes a *refusedError with the server's
// reason and Warning text.
func (c *focusClient) do(ctx context.Context, cmd c3p.Command) (c3p.Command, error) {
	c.requestID++
	creq := &c3p.Request{
		Header: c3p.Header{
			Version: c3p.Version, RequestID: c.requestID,
			From: c.organizer.String(), To: c.factory.String(),
		},
		Command: cmd,
	}
	body, err := creq.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandName(), err)
	}
	res, err := c.service(ctx, body, answerFitsUDP(cmd))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != sip.StatusOK {
		return nil, fmt.Errorf("the server answered %s with %d %s%s", cmd.CommandName(), res.StatusCode, res.Reason, warningSuffix(res))
	}
	if ct := res.ContentType(); ct == nil || !strings.EqualFold(mediaTypeOf(ct.Value()), c3p.ContentType) {
		return nil, fmt.Errorf("%w: %s answered without a %s body", errBadAnswer, cmd.CommandName(), c3p.ContentType)
	}
	cres, err := c3p.ParseResponse(res.Body())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errBadAnswer, cmd.CommandName(), err)
	}
	switch {
	case cres.RequestID != c.requestID:
		return nil, fmt.Errorf("%w: response to request %d, want %d", errBadAnswer, cres.RequestID, c.requestID)
	case cres.Command.CommandName() != cmd.CommandName():
		return nil, fmt.Errorf("%w: %s response to %s", errBadAnswer, cres.Command.CommandName(), cmd.CommandName())
	case cres.Code == c3p.CodeFailure:
		return nil, &refusedError{
			command: cmd.CommandName(), reason: cres.Reason,
			warning: warningText(res), diagnostic: diagnosticText(res),
		}
	}
	return cres.Command, nil
}

// service sends a SERVICE request with body to the Focus Factory and
// returns the final answer, authenticating when challenged: a 401 or 407
// is answered once with credentials on the same request with CSeq+1 and a
// new branch (RFC 3261 §22.2, §8.1.3.5); a second challenge means the
// password is wrong, unless the server only found the nonce stale.
func (c *focusClient) service(ctx context.Context, body []byte, answerFits bool) (*sip.Response, error) {
	req := c.newRequest(body)
	sentFresh := false // credentials answering a challenge of this request went out
	if c.chal != nil {
		if err := c.authorize(req); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		res, err := c.roundTrip(ctx, req, answerFits)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != sip.StatusUnauthorized && res.StatusCode != sip.StatusProxyAuthRequired {
			return res, nil
		}
		chal, proxy, err := challengeOf(res)
		if err != nil {
			return nil, err
		}
		switch {
		case sentFresh && !chal.Stale:
			return nil, fmt.Errorf("%w: the server refused the password of %s", errAuthFailed, c.organizer.String())
		case attempt == 2:
			return nil, fmt.Errorf("%w: the server found fresh credentials stale three times", errAuthFailed)
		}
		c.chal, c.chalProxy, c.nc = chal, proxy, 0
		if err := c.authorize(req); err != nil {
			return nil, err
		}
		sentFresh = true
		c.cseq++
		req.CSeq().SeqNo = c.cseq
	}
}

// newRequest builds a SERVICE request to the Focus Factory with the next
// CSeq number. The Via header is added per attempt by roundTrip.
func (c *focusClient) newRequest(body []byte) *sip.Request {
	c.cseq++
	req := sip.NewRequest("SERVICE", c.factory)
	from := &sip.FromHeader{Address: c.organizer, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: c.factory, Params: sip.NewParams()})
	callID := sip.CallIDHeader(c.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.cseq, MethodName: "SERVICE"})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.NewHeader("User-Agent", "Parley meeting client"))
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(body)
	return req
}

// maxUDPMessage is the largest message sent over UDP: RFC 3261 §18.1.1
// wants a larger request sent over a congestion-controlled transport when
// the path MTU is unknown ("larger than 1300 bytes"), and sipgo, on both
// ends, refuses to send any larger UDP message, answers included.
const maxUDPMessage = 1300

// answerFitsUDP reports whether the answer to cmd always fits in a UDP
// datagram. Answers that carry a conference-info, the access numbers or the
// meeting list measure 1.2 to 2.6 KB for one meeting and grow with the
// directory; the server could not send them over UDP. Only a
// deleteConference answer, which names the conference and no more, is
// small.
func answerFitsUDP(cmd c3p.Command) bool {
	_, ok := cmd.(*c3p.DeleteConference)
	return ok
}

// route sets where req goes: to the server of the data directory, as to an
// outbound proxy, since the organizer's domain need not resolve. It goes
// over UDP when UDP is preferred and both req and its answer fit in a
// datagram, else over TCP.
func (c *focusClient) route(req *sip.Request, answerFits bool) (addr, transport string, err error) {
	// The Via header the transaction adds costs at most ~100 bytes.
	size := len(req.String()) + 100
	switch {
	case !c.preferUDP:
		addr, transport = c.tcp, "TCP"
	case size <= maxUDPMessage && (answerFits || c.tcp == ""):
		addr, transport = c.udp, "UDP"
	case c.tcp == "" && size > maxUDPMessage:
		return "", "", fmt.Errorf("a %d-byte request is too large for UDP (RFC 3261 §18.1.1) and the server has no SIP TCP listener", size)
	default:
		addr, transport = c.tcp, "TCP"
	}
	req.SetDestination(addr)
	req.SetTransport(transport)
	req.Laddr = sip.Addr{IP: c.local} // any port
	return addr, transport, nil
}

// authorize puts credentials for the cached challenge on req, with the
// next nonce count.
func (c *focusClient) authorize(req *sip.Request) error {
	c.nc++
	cred, err := digest.Digest(c.chal, digest.Options{
		Method: "SERVICE", URI: req.Recipient.String(), Count: c.nc,
		Username: c.username, Password: c.password,
	})
	if err != nil {
		return fmt.Errorf("%w: cannot answer the server's challenge: %w", errAuthFailed, err)
	}
	name := "Authorization"
	if c.chalProxy {
		name = "Proxy-Authorization"
	}
	req.RemoveHeader(name)
	req.AppendHeader(sip.NewHeader(name, cred.String()))
	return nil
}

// roundTrip runs one client transaction for req and returns its final
// response, or errNoAnswer after c.timeout.
func (c *focusClient) roundTrip(ctx context.Context, req *sip.Request, answerFits bool) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req.RemoveHeader("Via") // each attempt is a new transaction with a new branch
	addr, transport, err := c.route(req, answerFits)
	if err != nil {
		return nil, err
	}
	res, err := c.cl.Do(ctx, req, sipgo.ClientRequestAddVia)
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sip.ErrTransactionTimeout):
		return nil, fmt.Errorf("%w from the SIP server at %s over %s within %v; is it running?", errNoAnswer, addr, transport, c.timeout)
	default:
		return nil, fmt.Errorf("SERVICE to %s over %s: %w", addr, transport, err)
	}
}

// challengeOf parses the digest challenge of a 401 or 407.
func challengeOf(res *sip.Response) (chal *digest.Challenge, proxy bool, err error) {
	name := "WWW-Authenticate"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		name, proxy = "Proxy-Authenticate", true
	}
	for _, h := range res.GetHeaders(name) {
		if !digest.IsDigest(h.Value()) {
			continue
		}
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			return nil, false, fmt.Errorf("%w: %s: %w", errBadAnswer, name, err)
		}
		chal.Algorithm = strings.ToUpper(chal.Algorithm)
		if digest.CanDigest(chal) {
			return chal, proxy, nil
		}
	}
	return nil, false, fmt.Errorf("%w: %d %s without a usable digest challenge%s", errAuthFailed, res.StatusCode, res.Reason, warningSuffix(res))
}

// refusedError is a C3P failure answer: the server understood the command
// and would not do it.
type refusedError struct {
	command    string // the C3P command
	reason     string // the response's reason attribute, such as unauthorized
	warning    string // the human-readable Warning text
	diagnostic string // the ms-diagnostics code and reason
}

func (e *refusedError) Error() string {
	var b strings.Builder
	b.WriteString("the Focus Factory refused ")
	b.WriteString(e.command)
	if e.reason != "" {
		b.WriteString(" (" + e.reason + ")")
	}
	switch {
	case e.warning != "":
		b.WriteString(": " + e.warning)
	case e.diagnostic != "":
		b.WriteString(": " + e.diagnostic)
	}
	return b.String()
}

// warningText returns the texts of the response's Warning headers (RFC 3261
// §20.43: warn-code SP warn-agent SP quoted-string), joined by "; ".
func warningText(res *sip.Response) string {
	var texts []string
	for _, h := range res.GetHeaders("Warning") {
		v := h.Value()
		i := strings.IndexByte(v, '"')
		if i < 0 {
			continue
		}
		if t := unquote(v[i:]); t != "" {
			texts = append(texts, t)
		}
	}
	return strings.Join(texts, "; ")
}

// warningSuffix is ": <warning text>" when the response has one.
func warningSuffix(res *sip.Response) string {
	if w := warningText(res); w != "" {
		return ": " + w
	}
	return ""
}

// diagnosticText renders an ms-diagnostics header ([MS-OCER] §2.2.1:
// ErrorId;reason="...";source="...") as "ms-diagnostics 3014: Failed
// authorization.".
func diagnosticText(res *sip.Response) string {
	for _, name := range []string{"ms-diagnostics", "ms-diagnostics-public"} {
		h := res.GetHeader(name)
		if h == nil {
			continue
		}
		code, params, _ := strings.Cut(h.Value(), ";")
		out := "ms-diagnostics " + strings.TrimSpace(code)
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "reason") {
				out += ": " + unquote(v)
			}
		}
		return out
	}
	return ""
}

// unquote returns the content of a SIP quoted-string (RFC 3261 §25.1) at
// the start of s, with quoted-pairs resolved; s without a leading quote is
// returned trimmed.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// mediaTypeOf is a Content-Type value without its parameters.
func mediaTypeOf(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.TrimSpace(v)
}
