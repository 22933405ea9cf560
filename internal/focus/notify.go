package focus

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleyhq/parley/internal/c3p"
)

// methodBENOTIFY is Microsoft's NOTIFY that expects no response
// ([MS-SIP], [MS-OCSPROT] §2.5.18).
const methodBENOTIFY = sip.RequestMethod("BENOTIFY")

// The headers every notification carries, shared: sipgo only reads them.
var (
	eventHeader       = sip.NewHeader("Event", c3p.EventConference)
	contentTypeHeader = sip.NewHeader("Content-Type", c3p.ConferenceInfoType)
)

// notifyTimeout bounds a NOTIFY transaction: Timer F (64*T1) of RFC 3261
// §17.1.2.2.
const notifyTimeout = 64 * 500 * time.Millisecond

// startSender starts the goroutine that sends a subscription's
// notifications, one at a time and in order.
func (f *Focus) startSender(c *conference, s *subscription) {
	f.spawn(func() { f.send(c, s) })
}

// send is a subscription's sender. It ends with the subscription: after
// its final notification, when the subscriber is dropped (kill) or cannot
// be reached, or when the Focus stops.
func (f *Focus) send(c *conference, s *subscription) {
	for {
		select {
		case <-f.stop:
			return
		case <-s.kill:
			f.terminate(s)
			return
		case <-s.queue.ready:
		}
		for {
			select {
			case <-f.stop:
				return
			case <-s.kill:
				f.terminate(s)
				return
			default:
			}
			n, ok := s.queue.pop()
			if !ok {
				break
			}
			err := f.notify(s, n)
			if n.final {
				return
			}
			if err != nil {
				c.post(func() { c.subscriberFailed(s, err) })
				return
			}
		}
	}
}

// terminate sends a dropped subscriber his terminated notification.
func (f *Focus) terminate(s *subscription) {
	if err := f.notify(s, note{state: "terminated;reason=" + s.killReason, final: true}); err != nil {
		f.log.Debug("terminating a dropped subscription", "dialog", s.d.ID, "err", err)
	}
}

// notify sends one notification: a BENOTIFY, which nobody answers, to
// subscribers that support it, else a NOTIFY whose response it waits for.
func (f *Focus) notify(s *subscription, n note) error {
	if s.benotify {
		return f.benotifyOne(s, n)
	}
	req := s.d.Request(sip.NOTIFY, f.contact(s.d.Transport))
	req.AppendHeader(eventHeader)
	req.AppendHeader(sip.NewHeader("Subscription-State", n.state))
	if n.doc != nil {
		req.AppendHeader(contentTypeHeader)
		// A NOTIFY's request stays with its transaction (retransmissions),
		// so its body is its own.
		req.SetBody(n.doc.body(nil, n.version))
	} else {
		req.SetBody(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	if err := s.d.Do(ctx, f.cfg.Client, req); err != nil {
		return fmt.Errorf("sending NOTIFY: %w", err)
	}
	return nil
}

// benotifyOne sends a BENOTIFY. Nothing answers a BENOTIFY and no
// transaction keeps it, so the sender renders the subscriber's request once
// (dialog.Template) and each notification only adds what changes: branch,
// CSeq, Subscription-State and the body.
func (f *Focus) benotifyOne(s *subscription, n note) error {
	if s.out == nil {
		s.out = s.d.Template(methodBENOTIFY, f.contact(s.d.Transport), eventHeader)
	}
	var body []byte
	hdrs := [][2]string{{"Subscription-State", n.state}, {"Content-Type", c3p.ConferenceInfoType}}
	if n.doc != nil {
		s.buf = n.doc.body(s.buf, n.version)
		body = s.buf
	} else {
		hdrs = hdrs[:1]
	}
	if err := s.out.Send(context.Background(), f.cfg.Client, body, hdrs...); err != nil {
		if !sip.IsReliable(s.d.Transport) {
			// A datagram that could not leave is a datagram lost, which
			// BENOTIFY over UDP allows for anyway; a stream that fails is
			// gone.
			f.log.Debug("BENOTIFY not sent", "dialog", s.d.ID, "err", err)
			return nil
		}
		return fmt.Errorf("sending BENOTIFY: %w", err)
	}
	return nil
}
