package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/confid"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/focus"
	"github.com/parleyhq/parley/internal/focusfactory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// serviceTimeout bounds the work on one SERVICE request.
const serviceTimeout = 10 * time.Second

// sweepInterval is how often expired meetings are deleted.
const sweepInterval = 5 * time.Minute

// meetingDB is the store as the conferencing roles need it: the directory,
// the meeting table and the Focus state of active meetings.
type meetingDB interface {
	directory.Store
	directory.MeetingStore
	focus.StateStore
}

// newFocusFactory builds the Focus Factory on the store. It reads users
// from the store rather than the user cache, since it changes their
// assigned conference IDs, and tells the cache when it does.
func newFocusFactory(org directory.Organization, hostname string, local *sipx.Local, db meetingDB, cache *userCache, log *slog.Logger) (*focusfactory.Factory, error) {
	codec, err := confid.NewCodec(org.ConferenceKey)
	if err != nil {
		return nil, fmt.Errorf("conference IDs: %w", err)
	}
	pk, err := c3p.DerivePasscodeKey(deriveKey(org.ConferenceKey, "parley passcode hpke v1"))
	if err != nil {
		return nil, err
	}
	return focusfactory.New(focusfactory.Config{
		Hostname:        hostname,
		Domain:          org.PrimaryDomain(),
		Local:           local,
		Codec:           codec,
		PasscodeKey:     pk,
		AccessKeySecret: deriveKey(org.ConferenceKey, "parley access key v1"),
		DefaultPolicy:   admin.DefaultPolicyName,
	}, db, cachedMeetings{db, cache}, log)
}

// cachedMeetings forgets an organizer's cached user entry after a write to
// his meetings, since a personal meeting's write changes his assigned
// conference ID.
type cachedMeetings struct {
	directory.MeetingStore
	cache *userCache
}

func (c cachedMeetings) CreateMeeting(ctx context.Context, m directory.Meeting) error {
	err := c.MeetingStore.CreateMeeting(ctx, m)
	c.cache.forget(m.Organizer)
	return err
}

func (c cachedMeetings) UpdateMeeting(ctx context.Context, organizer, key string, fn func(*directory.Meeting) error) (directory.Meeting, error) {
	m, err := c.MeetingStore.UpdateMeeting(ctx, organizer, key, fn)
	c.cache.forget(organizer)
	return m, err
}

func (c cachedMeetings) DeleteMeeting(ctx context.Context, organizer, key string) error {
	err := c.MeetingStore.DeleteMeeting(ctx, organizer, key)
	c.cache.forget(organizer)
	return err
}

// serveSERVICE routes SERVICE requests: those to a Focus Factory of one of
// our users are authenticated (407, like any request the proxy serves for
// a local user) and answered here; the rest are proxied.
func (s *sipServer) serveSERVICE(req *sip.Request, tx sip.ServerTransaction) {
	if !s.local.IsLocal(req.Recipient.Host) {
		s.prx.ServeSIP(req, tx)
		return
	}
	if s.ff == nil || !focusfactory.Handles(req) {
		// SERVICE is addressed to the user's home server, never to his
		// endpoints: Office Communicator-class clients publish presence
		// categories and edit their contact list (SOAP) with SERVICE to
		// their own address. Parley offers neither; forwarding them
		// would hand the client its own request.
		_ = tx.Respond(sipx.Reject(req, 501, "Not Implemented", s.hostname,
			"presence publication and contact lists are not offered by this server"))
		return
	}
	// The transaction lasts at most 32 s (RFC 3261 §17.2.2); the work is
	// bounded well within it.
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	if len(req.GetHeaders(trust.Header)) > 0 {
		s.serveTrusted(ctx, req, tx)
		return
	}
	user := ""
	if s.auth != nil {
		name, reject := s.auth.Authenticate(ctx, req, digest.Proxy, req.Source())
		if reject != nil {
			_ = tx.Respond(reject)
			return
		}
		user = s.userAOR(name)
	}
	if err := tx.Respond(s.ff.ServeSERVICE(ctx, req, user)); err != nil {
		s.log.WarnContext(ctx, "focus factory: the response could not be sent", "call_id", req.CallID().Value(), "err", err)
	}
}

// serveTrusted answers a trusted service's privileged request: its
// signature must verify and name a trusted service of the directory
// (seed 000: the Conferencing Attendant and Announcement Service are
// trusted by the front end).
func (s *sipServer) serveTrusted(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	service, host, err := trust.Verify(s.trustKey, req, time.Now())
	if err == nil && !s.isTrusted(ctx, service, host) {
		err = fmt.Errorf("%s at %s is not a trusted service", service, host)
	}
	if err != nil {
		s.log.WarnContext(ctx, "untrusted privileged request refused", "source", req.Source(), "err", err)
		_ = tx.Respond(sipx.Reject(req, 403, "Forbidden", s.hostname, err.Error()))
		return
	}
	if err := tx.Respond(s.ff.ServeTrusted(ctx, req, service+"@"+host)); err != nil {
		s.log.WarnContext(ctx, "focus factory: the response could not be sent", "call_id", req.CallID().Value(), "err", err)
	}
}

// isTrusted reports whether the directory lists host as running service.
func (s *sipServer) isTrusted(ctx context.Context, service, host string) bool {
	list, err := s.dir.TrustedServices(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "reading trusted services", "err", err)
		return false
	}
	for _, t := range list {
		if t.Type == service && strings.EqualFold(t.FQDN, host) {
			return true
		}
	}
	return false
}

// userAOR is the address-of-record of a digest username, as credentials
// looks it up.
func (s *sipServer) userAOR(username string) string {
	u := strings.ToLower(username)
	if strings.Contains(u, "@") {
		return "sip:" + strings.TrimPrefix(u, "sip:")
	}
	return "sip:" + u + "@" + s.local.PrimaryDomain()
}
