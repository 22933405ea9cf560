package server

import (
	"context"
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/digest"
)

// Anonymous joins (issue 5: "anonymous users by digest against the
// conference key"). A client without an account joins from a random
// "<username>@anonymous.invalid" ([MS-SIPAE] §3.2.4.3). When the meeting
// admits anonymous users and has a conference key, the focus challenges
// his INVITE and SUBSCRIBE with 401 Digest, realm the organizer's address,
// MD5-sess, qop="auth" ([MS-SIPAE] §3.3.5.4, §4.5), and he answers with
// the key as the password. Everything else about anonymous users is the
// Focus's decision, as before: a meeting that does not admit them refuses
// them with its own C3P failure, and an anonymous meeting without a key
// is open to them.

// checkAnonymous decides whether an anonymous request to a focus URI may
// go on to the Focus. It returns nil to let it through, or the final
// response to send. It leaves no state behind but the digest nonce and
// failure counts.
func (s *sipServer) checkAnonymous(ctx context.Context, req *sip.Request) *sip.Response {
	if s.auth == nil || s.ff == nil {
		// Authentication is off (benchmark mode): nobody is challenged.
		return nil
	}
	org, svc, key, ok := c3p.ParseConferenceURI(req.Recipient.String())
	if !ok || svc != c3p.ServiceFocus || !directory.ValidMeetingKey(key) {
		return nil // not a meeting: the Focus answers 404
	}
	organizer := s.canonical(org)
	access, err := s.ff.OpenAccessKey(ctx, organizer, key)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return nil // the Focus answers 404 with its diagnostics
	case err != nil:
		// Fail closed: a meeting whose key cannot be read is not open.
		s.log.ErrorContext(ctx, "reading a meeting's conference key", "organizer", organizer, "meeting", key, "err", err)
		return sipx.Reject(req, 503, "Service Unavailable", s.hostname, "the meeting cannot be joined anonymously now")
	case access.Admission != directory.AdmitAnonymous || access.Key == "":
		return nil
	}
	user := req.From().Address.User
	if user == "" {
		return sipx.Reject(req, 400, "Bad Request", s.hostname,
			"an anonymous From URI needs a user part, <username>@anonymous.invalid ([MS-SIPAE] 3.2.4.3)")
	}
	return s.auth.AuthenticateKey(ctx, req, digest.KeyCheck{
		Realm:    strings.TrimPrefix(organizer, "sip:"),
		Username: user,
		Password: access.Key,
		Scope:    c3p.ConferenceURI(organizer, c3p.ServiceFocus, key),
	}, req.Source())
}
