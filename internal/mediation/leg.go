package mediation

import (
	"context"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// reasonReplaced is the Reason (RFC 3326) of the BYE that ends a replaced
// dialog: the status a successful replacement would have had, so that the
// attendant knows its caller went on, not away.
const reasonReplaced = `SIP;cause=200;text="replaced"`

// feLeg is a call's front-end dialog: the one the Mediation Server placed
// toward the destination (uac), or one that replaced it with an INVITE
// carrying Replaces (uas, RFC 3891). Exactly one of uac and uas is set.
type feLeg struct {
	uac *sipgo.DialogClientSession
	uas *sipgo.DialogServerSession
	// id keys the leg among the server's calls: sip.DialogIDMake(Call-ID,
	// remote tag, local tag), which is what sip.DialogIDFromRequestUAC
	// gives for a request the peer sends in the dialog, whichever side
	// created it.
	id string
	// transport is the SIP transport of the dialog, for our Contact.
	transport string
	// bye sends the leg's BYE at most once.
	bye sync.Once
}

// uacLeg wraps the dialog we placed, once answered.
func uacLeg(d *sipgo.DialogClientSession, transport string) *feLeg {
	return &feLeg{uac: d, id: d.ID, transport: transport}
}

// uasLeg wraps a dialog the peer created with req (after ReadInvite, which
// chose our tag).
func uasLeg(d *sipgo.DialogServerSession, transport string) *feLeg {
	callID, local, remote := "", "", ""
	if h := d.InviteRequest.CallID(); h != nil {
		callID = h.Value()
	}
	if to := d.InviteRequest.To(); to != nil {
		local, _ = to.Params.Get("tag")
	}
	if from := d.InviteRequest.From(); from != nil {
		remote, _ = from.Params.Get("tag")
	}
	return &feLeg{uas: d, id: sip.DialogIDMake(callID, remote, local), transport: transport}
}

// readBye answers the peer's BYE.
func (l *feLeg) readBye(req *sip.Request, tx sip.ServerTransaction) error {
	l.bye.Do(func() {}) // the peer ended it: no BYE of ours
	if l.uac != nil {
		return l.uac.ReadBye(req, tx)
	}
	return l.uas.ReadBye(req, tx)
}

// sendBye ends the dialog from our side, once, with extra headers (a
// Reason); a dialog that is not up is left alone.
func (l *feLeg) sendBye(ctx context.Context, extra ...sip.Header) (err error) {
	l.bye.Do(func() { err = l.writeBye(ctx, extra) })
	return err
}

func (l *feLeg) writeBye(ctx context.Context, extra []sip.Header) error {
	var bye *sip.Request
	switch {
	case l.uac != nil:
		if l.uac.LoadState() != sip.DialogStateConfirmed {
			return nil
		}
		// RFC 3261 §12.2.1.1: to the remote target, the 2xx's Contact.
		target := l.uac.InviteRequest.Recipient
		if ct := l.uac.InviteResponse.Contact(); ct != nil {
			target = ct.Address
		}
		bye = sip.NewRequest(sip.BYE, *target.Clone())
	default:
		if st := l.uas.LoadState(); st != sip.DialogStateEstablished && st != sip.DialogStateConfirmed {
			return nil
		}
		ct := l.uas.InviteRequest.Contact()
		if ct == nil {
			return nil
		}
		bye = sip.NewRequest(sip.BYE, *ct.Address.Clone())
		bye.SetTransport(l.uas.InviteRequest.Transport())
	}
	for _, h := range extra {
		bye.AppendHeader(h)
	}
	if l.uac != nil {
		return l.uac.WriteBye(ctx, bye)
	}
	return l.uas.WriteBye(ctx, bye)
}

// close releases the dialog's resources.
func (l *feLeg) close() {
	if l.uac != nil {
		_ = l.uac.Close()
		return
	}
	_ = l.uas.Close()
}
