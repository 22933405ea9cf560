package sipx

import (
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// AnswerBasics makes srv answer OPTIONS with 200 and the methods it
// allows (RFC 3261 §11.2), CANCEL with 200 (§9.2: sipgo itself ends the
// INVITE with 487), and any other method with 405 naming them (§21.5.6):
// what every small SIP role of Parley (the attendant, the announcement
// service) answers the same way. who names the role in the Warning.
func AnswerBasics(srv *sipgo.Server, hostname, who, allowed string) {
	srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		_ = tx.Respond(res)
	})
	srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		if req.IsAck() {
			return
		}
		res := Reject(req, 405, "Method Not Allowed", hostname, who+" takes "+allowed)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		_ = tx.Respond(res)
	})
}
