package attendant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// Backend is what the flow's Resolve, CheckPasscode and CheckPIN actions
// ask of the front end (seed 001, steps 8-9). Errors are the package's
// outcome sentinels (ErrInvalidID, ErrNotFound, ErrWrongPasscode,
// ErrTooManyAttempts, ErrAuthFailed, ErrPINLocked, ErrPINExpired), or
// anything else for a failure to ask.
type Backend interface {
	ResolveConference(ctx context.Context, conferenceID string) (Meeting, error)
	VerifyPasscode(ctx context.Context, conferenceID, passcode string) error
	// VerifyPIN takes an extension or, when longer than MaxExtension
	// digits, a phone number.
	VerifyPIN(ctx context.Context, extension, pin string) (User, error)
}

// MaxExtension is the longest entry VerifyPIN sends as an extension;
// longer ones are phone numbers (seed 000: "extension or phone number").
const MaxExtension = 7

// ErrFrontEnd reports a front end that refused or garbled a command
// without a C3P outcome the flow knows.
var ErrFrontEnd = errors.New("attendant: front end failure")

// FrontEnd is the Backend that sends Parley's attendant commands
// (c3p.ResolveConference, VerifyPasscode, VerifyPIN) to a pool's Focus
// Factory as SIP SERVICE requests signed as a trusted service
// (directory.ServiceAttendant), and reads the C3P response of the 200.
type FrontEnd struct {
	// Client sends the requests.
	Client *sipgo.Client
	// Signer signs them (Service directory.ServiceAttendant, Host this
	// attendant's FQDN).
	Signer trust.Signer
	// Pool is the FQDN of the front end pool: requests go to
	// sip:Pool;gruu;opaque=app:conf:focusfactory.
	Pool string
	// Proxy, when set, is the "host:port" to send to instead of resolving
	// Pool (the local front end).
	Proxy string
	// From is the attendant's own URI.
	From string
	// PasscodeKey is the key passcodes and PINs are sealed to: the one the
	// Focus Factory publishes in getConferencingCapabilities. The attendant
	// runs in the same deployment, so the server derives it from the
	// deployment secret (c3p.DerivePasscodeKey) and passes it in the
	// attendant's configuration instead of asking for it on every call.
	PasscodeKey *c3p.PublicKey
	// Log records failures, never passcodes or PINs; nil discards.
	Log *slog.Logger

	requestID atomic.Uint64
}

var _ Backend = (*FrontEnd)(nil)

// ResolveConference implements Backend.
func (fe *FrontEnd) ResolveConference(ctx context.Context, conferenceID string) (Meeting, error) {
	res, err := fe.do(ctx, &c3p.ResolveConference{ConferenceID: conferenceID})
	if err != nil {
		return Meeting{}, err
	}
	c, ok := res.Command.(*c3p.ResolveConference)
	if !ok || c.FocusURI == "" {
		return Meeting{}, fmt.Errorf("%w: resolveConference answered without a focus", ErrFrontEnd)
	}
	m := Meeting{
		ConferenceID: c.ConferenceID,
		FocusURI:     c.FocusURI,
		MeetingID:    c.MeetingID,
		Organizer:    c.Organizer,
		Pool:         c.Pool,
		// Unknown is taken as required: asking costs a prompt, not asking
		// would let a caller skip a passcode.
		PasscodeRequired: c.PasscodeRequired == nil || *c.PasscodeRequired,
	}
	if m.ConferenceID == "" {
		m.ConferenceID = conferenceID
	}
	return m, nil
}

// VerifyPasscode implements Backend. The passcode leaves sealed.
func (fe *FrontEnd) VerifyPasscode(ctx context.Context, conferenceID, passcode string) error {
	sealed, err := c3p.SealPasscode(fe.PasscodeKey, passcode)
	if err != nil {
		return fmt.Errorf("attendant: sealing a passcode: %w", err)
	}
	_, err = fe.do(ctx, &c3p.VerifyPasscode{ConferenceID: conferenceID, Passcode: sealed})
	return err
}

// VerifyPIN implements Backend. The PIN leaves sealed; a phone number is
// sent as typed, with a "+", for the front end to match to a line URI.
func (fe *FrontEnd) VerifyPIN(ctx context.Context, extension, pin string) (User, error) {
	sealed, err := c3p.SealPasscode(fe.PasscodeKey, pin)
	if err != nil {
		return User{}, fmt.Errorf("attendant: sealing a PIN: %w", err)
	}
	cmd := &c3p.VerifyPIN{PIN: sealed}
	if len(extension) > MaxExtension {
		cmd.PhoneNumber = "+" + strings.TrimPrefix(extension, "+")
	} else {
		cmd.Extension = extension
	}
	res, err := fe.do(ctx, cmd)
	if err != nil {
		return User{}, err
	}
	c, ok := res.Command.(*c3p.VerifyPIN)
	if !ok || c.User == "" {
		return User{}, fmt.Errorf("%w: verifyPin answered without a user", ErrFrontEnd)
	}
	return User{URI: c.User, DisplayName: c.DisplayName}, nil
}

// methodService is SERVICE, the method OCS uses for C3P commands
// ([MS-CONFPRO] §2.2.1); sipgo has no constant for it.
const methodService sip.RequestMethod = "SERVICE"

// reasons maps the Focus Factory's failure reasons to outcomes.
var reasons = map[string]error{
	"invalidConferenceId":    ErrInvalidID,
	"conferenceDoesNotExist": ErrNotFound,
	"wrongPasscode":          ErrWrongPasscode,
	"tooManyAttempts":        ErrTooManyAttempts,
	"authenticationFailed":   ErrAuthFailed,
	"pinLockedOut":           ErrPINLocked,
	"pinExpired":             ErrPINExpired,
}

// do sends one command and returns the successful response, or the
// outcome of a failed one.
func (fe *FrontEnd) do(ctx context.Context, cmd c3p.Command) (*c3p.Response, error) {
	name := cmd.CommandName()
	target := "sip:" + fe.Pool + ";gruu;opaque=" + c3p.OpaqueFocusFactory
	creq := &c3p.Request{
		Header:  c3p.Header{Version: c3p.Version, RequestID: fe.requestID.Add(1), From: fe.From, To: target},
		Command: cmd,
	}
	body, err := creq.Marshal()
	if err != nil {
		return nil, fmt.Errorf("attendant: encoding %s: %w", name, err)
	}
	req, err := fe.request(target, body)
	if err != nil {
		return nil, err
	}
	tx, err := fe.Client.TransactionRequest(ctx, req, sipgo.ClientRequestBuild)
	if err != nil {
		return nil, fmt.Errorf("attendant: sending %s: %w", name, err)
	}
	defer tx.Terminate()
	var res *sip.Response
	for res == nil {
		select {
		case r := <-tx.Responses():
			if !r.IsProvisional() {
				res = r
			}
		case <-tx.Done():
			return nil, fmt.Errorf("attendant: %s: %w", name, tx.Err())
		case <-ctx.Done():
			return nil, fmt.Errorf("attendant: %s: %w", name, ctx.Err())
		}
	}
	if !res.IsSuccess() {
		fe.log().WarnContext(ctx, "front end refused an attendant command", "command", name, "status", res.StatusCode)
		return nil, fmt.Errorf("%w: %s: %d %s", ErrFrontEnd, name, res.StatusCode, res.Reason)
	}
	cres, err := c3p.ParseResponse(res.Body())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFrontEnd, name, err)
	}
	if cres.RequestID != creq.RequestID || cres.Command == nil || cres.Command.CommandName() != name {
		return nil, fmt.Errorf("%w: %s: the response answers another request", ErrFrontEnd, name)
	}
	if cres.Code == c3p.CodeSuccess {
		return cres, nil
	}
	if out, ok := reasons[cres.Reason]; ok {
		return nil, out
	}
	fe.log().WarnContext(ctx, "attendant command failed", "command", name, "reason", cres.Reason)
	return nil, fmt.Errorf("%w: %s failed: %s", ErrFrontEnd, name, cres.Reason)
}

// request builds the signed SERVICE request. Every header the signature
// covers is set here; the transport adds only Via and Max-Forwards.
func (fe *FrontEnd) request(target string, body []byte) (*sip.Request, error) {
	var uri, from sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("attendant: pool %q: %w", fe.Pool, err)
	}
	if err := sip.ParseUri(fe.From, &from); err != nil {
		return nil, fmt.Errorf("attendant: own URI %q: %w", fe.From, err)
	}
	req := sip.NewRequest(methodService, uri)
	callID := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&sip.FromHeader{Address: from, Params: sip.HeaderParams{{K: "tag", V: sip.GenerateTagN(12)}}})
	req.AppendHeader(&sip.ToHeader{Address: uri})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: methodService})
	req.AppendHeader(sip.NewHeader("Content-Type", c3p.ContentType))
	req.SetBody(body)
	if fe.Proxy != "" {
		req.SetDestination(fe.Proxy)
	}
	if err := fe.Signer.Sign(req); err != nil {
		return nil, fmt.Errorf("attendant: signing: %w", err)
	}
	return req, nil
}

func (fe *FrontEnd) log() *slog.Logger {
	if fe.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return fe.Log
}
