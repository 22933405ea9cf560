package avmcu

import "context"

// eventQueue bounds the callbacks waiting for the event goroutine. A full
// queue drops events (counted in Load.EventsDropped) rather than block a
// reader or a tick; inactivity is re-checked and so re-reported.
const eventQueue = 4096

// LegEvents are the callbacks through which a leg reports to signalling.
// They run on the engine's event goroutine, one at a time and in order,
// never on a reader or a tick: a slow callback delays other callbacks,
// never media. Nil callbacks are skipped. A callback may call any method
// of the leg or its conference.
type LegEvents struct {
	// OnDTMF reports a key press: from RFC 4733 telephone-events, or,
	// with inBand set, found in the audio by LegSpec.DetectInBand.
	OnDTMF func(digit rune, inBand bool)
	// OnInactive reports that neither RTP nor RTCP has arrived for
	// Config.InactivityTimeout: the endpoint vanished without a BYE. It is
	// reported again if media resumes and stops again.
	OnInactive func()
	// OnBye reports an RTCP BYE from the endpoint's current source
	// (RFC 3550 §6.6), a hint that it is hanging up.
	OnBye func()
	// OnSpeaking reports that the leg started (true) or stopped (false)
	// talking: its input is voiced, with the mixer's hold time. Muted legs
	// report it too, for a roster's "speaking while muted" hint.
	OnSpeaking func(speaking bool)
}

type eventKind uint8

const (
	evDTMF eventKind = iota + 1
	evDTMFInBand
	evInactive
	evBye
	evSpeaking
)

type event struct {
	leg   *Leg
	kind  eventKind
	digit rune
	on    bool
}

// emit queues ev without blocking and reports whether it was queued.
func (e *Engine) emit(ev event) bool {
	select {
	case e.events <- ev:
		return true
	default:
		e.eventsDropped.Add(1)
		return false
	}
}

// runEvents delivers queued events until ctx is done.
func (e *Engine) runEvents(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-e.events:
			ev.deliver()
		}
	}
}

func (ev event) deliver() {
	h := &ev.leg.spec.Events
	switch ev.kind {
	case evDTMF, evDTMFInBand:
		if h.OnDTMF != nil {
			h.OnDTMF(ev.digit, ev.kind == evDTMFInBand)
		}
	case evInactive:
		if h.OnInactive != nil {
			h.OnInactive()
		}
	case evBye:
		if h.OnBye != nil {
			h.OnBye()
		}
	case evSpeaking:
		if h.OnSpeaking != nil {
			h.OnSpeaking(ev.on)
		}
	}
}
