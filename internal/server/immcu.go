package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/focus"
	"github.com/parleyhq/parley/internal/immcu"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

// This file wires the IM Conferencing Server (seed 003: "Enables group IM
// by relaying IM traffic among all participants"; it "is an integral part
// of the Front End Server"): SIP routing of chat conference URIs and IM
// dialogs, its signed C3P/HTTP control, its participant events into the
// Focus's roster, and its counters.

// imMCUPath is where the IM MCU's control is mounted on the web listener.
const imMCUPath = "/immcu"

// newIMMCU builds the IM MCU on the server's SIP user agent.
func newIMMCU(s *sipServer, hostname string, log *slog.Logger) (*immcu.Server, error) {
	m, err := immcu.New(immcu.Config{
		Hostname:  hostname,
		Contact:   s.imContact,
		Client:    s.client,
		Canonical: s.canonicalURI,
	}, log)
	if err != nil {
		return nil, err
	}
	s.metrics.register(imCollector{m: m.Metrics()})
	return m, nil
}

// imContact is the IM MCU's Contact: the server's address, user "immcu".
func (s *sipServer) imContact(transport string) sip.ContactHeader {
	return s.contactAs("immcu", transport)
}

// mountIMMCU serves the IM MCU's control to the roles that sign (the Focus,
// the Conferencing Server Factory).
func mountIMMCU(mux *http.ServeMux, m *immcu.Server, roles roleAuth) {
	mux.HandleFunc("POST "+imMCUPath+"/c3p", func(w http.ResponseWriter, r *http.Request) {
		m.ServeControl(w, r, roles.verify)
	})
	mux.HandleFunc("GET "+imMCUPath+"/load", func(w http.ResponseWriter, r *http.Request) {
		if err := roles.verify(r, nil); err != nil {
			http.Error(w, "not a trusted role: "+err.Error(), http.StatusForbidden)
			return
		}
		m.ServeLoad(w, r)
	})
}

// routeIM hands the IM MCU what is its own, and reports whether it did:
// joins (INVITE to a chat conference URI) and requests in its dialogs.
func (s *sipServer) routeIM(req *sip.Request, tx sip.ServerTransaction) bool {
	m := s.imMCU()
	if m == nil {
		return false
	}
	switch {
	case req.Method == sip.INVITE && outOfDialog(req) && immcu.Handles(req) && s.local.IsLocal(req.Recipient.Host):
		s.serveIMInvite(req, tx)
	case !outOfDialog(req) && m.Owns(req):
		switch req.Method {
		case sip.INVITE:
			m.ServeINVITE(context.Background(), req, tx, "")
		case sip.ACK:
			m.ServeACK(req, tx)
		case sip.BYE:
			m.ServeBYE(req, tx)
		case sip.MESSAGE:
			m.ServeMESSAGE(req, tx)
		case sip.INFO:
			m.ServeINFO(req, tx)
		default:
			_ = tx.Respond(sipx.Reject(req, 405, "Method Not Allowed", s.hostname,
				"the IM MCU takes INVITE, ACK, BYE, MESSAGE and INFO in its dialogs"))
		}
	default:
		return false
	}
	return true
}

// serveIMInvite authenticates a join to the IM MCU (407, as for any
// request of a local user) and hands it over; a caller from
// anonymous.invalid joins as the anonymous participant the Focus added.
func (s *sipServer) serveIMInvite(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	user := ""
	switch {
	case strings.EqualFold(req.From().Address.Host, anonymousFrom):
	case s.auth != nil:
		name, reject := s.auth.Authenticate(ctx, req, digest.Proxy, req.Source())
		if reject != nil {
			_ = tx.Respond(reject)
			return
		}
		user = s.userAOR(name)
	default:
		user = s.canonicalURI(req.From().Address.String())
	}
	s.imMCU().ServeINVITE(ctx, req, tx, user)
}

// focusChat passes the IM MCU's participant events to the Focus's roster
// (the IM MCU logs them).
type focusChat struct{ focus *focus.Focus }

func (f focusChat) Joined(conference, user, endpoint string) {
	f.focus.ChatJoined(conference, user, endpoint)
}

func (f focusChat) Left(conference, user, endpoint, reason string) {
	f.focus.ChatLeft(conference, user, endpoint, reason)
}

// imCollector exposes the IM MCU's counters to Prometheus.
type imCollector struct{ m *immcu.Metrics }

var (
	imConferencesDesc  = prometheus.NewDesc("parley_immcu_conferences", "Conferences provisioned on the IM MCU.", nil, nil)
	imParticipantsDesc = prometheus.NewDesc("parley_immcu_participants", "Participants in IM sessions with the IM MCU.", nil, nil)
	imReceivedDesc     = prometheus.NewDesc("parley_immcu_messages_received_total", "Messages and typing notifications the IM MCU received from participants.", nil, nil)
	imRelayedDesc      = prometheus.NewDesc("parley_immcu_messages_relayed_total", "Messages and typing notifications the IM MCU delivered to participants.", nil, nil)
	imFailuresDesc     = prometheus.NewDesc("parley_immcu_relay_failures_total", "Deliveries that failed; the recipient was removed.", nil, nil)
	imDroppedDesc      = prometheus.NewDesc("parley_immcu_dropped_total", "Deliveries never sent: typing notifications behind a busy queue, messages of a type the recipient does not accept.", nil, nil)
)

func (c imCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{imConferencesDesc, imParticipantsDesc, imReceivedDesc, imRelayedDesc, imFailuresDesc, imDroppedDesc} {
		ch <- d
	}
}

func (c imCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(imConferencesDesc, prometheus.GaugeValue, float64(c.m.Conferences.Load()))
	ch <- prometheus.MustNewConstMetric(imParticipantsDesc, prometheus.GaugeValue, float64(c.m.Participants.Load()))
	ch <- prometheus.MustNewConstMetric(imReceivedDesc, prometheus.CounterValue, float64(c.m.Received.Load()))
	ch <- prometheus.MustNewConstMetric(imRelayedDesc, prometheus.CounterValue, float64(c.m.Relayed.Load()))
	ch <- prometheus.MustNewConstMetric(imFailuresDesc, prometheus.CounterValue, float64(c.m.RelayFailures.Load()))
	ch <- prometheus.MustNewConstMetric(imDroppedDesc, prometheus.CounterValue, float64(c.m.Dropped.Load()))
}
