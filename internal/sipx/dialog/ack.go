package dialog

import (
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// AwaitACK hands dlg an ACK for its 2xx that the INVITE's own server
// transaction took, until answered is closed (when dlg.Respond has
// returned) or the transaction ends. Run it on its own goroutine before
// dlg.Respond(200, ...).
//
// An ACK without a Via branch, as SIPE sends every request of a dialog
// (protocols.md §3.3), is matched the RFC 2543 way (RFC 3261 §17.2.3): by
// Call-ID, From tag, CSeq and top Via, which are the INVITE's. sipgo then
// passes it to the INVITE's transaction (tx.Acks) rather than to the ACK
// handler, so DialogServerSession.ReadAck is never called and Respond
// retransmits the 2xx until it gives up after 64*T1 with "No ACK received".
// An ACK with a branch of its own still goes to the ACK handler, which
// must call ReadAck as before.
func AwaitACK(dlg *sipgo.DialogServerSession, tx sip.ServerTransaction, answered <-chan struct{}) {
	select {
	case ack := <-tx.Acks():
		_ = dlg.ReadAck(ack, tx)
	case <-tx.Done():
	case <-answered:
	}
}
