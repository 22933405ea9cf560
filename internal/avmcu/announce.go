package avmcu

import (
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/c3p"
	"github.com/parleyhq/parley/internal/media/mix"
	"github.com/parleyhq/parley/internal/media/tone"
	"github.com/parleyhq/parley/internal/prompts"
)

// Announcements (seed 001, step 12: the Conference Announcement Service
// "plays the entry and exit announcements and the announcements that
// confirm in-call commands"). The Focus decides who hears what and sends
// pl:playAnnouncement; the MCU renders it into the legs of that one
// participant, over what they hear of the conference (Leg.Play), so that
// nobody else hears it.

// maxAnnouncementPrompts bounds the prompts of one announcement: the
// Focus sends one or two, a longer list is a mistake.
const maxAnnouncementPrompts = 8

// toneLevel is the level of each announcement tone, in dBm0: clearly
// audible over speech without being harsh.
const toneLevel = -13

// The entry and exit tones are the same two notes (E5 and A5) in opposite
// orders: rising for somebody joining, falling for somebody leaving, so
// that they are told apart without words.
const (
	toneLow   = 659.25
	toneHigh  = 880.0
	toneNote  = 120 * time.Millisecond
	tonePause = 40 * time.Millisecond
)

// AnnouncementTone returns the pattern of a tone PlayAnnouncement names
// (c3p.ToneEntry, c3p.ToneExit).
func AnnouncementTone(name string) (tone.Pattern, bool) {
	first, second := toneLow, toneHigh
	switch name {
	case c3p.ToneEntry:
	case c3p.ToneExit:
		first, second = second, first
	default:
		return tone.Pattern{}, false
	}
	return tone.Pattern{Repeat: 1, Steps: []tone.Step{
		{Freq1: first, Level: toneLevel, Duration: toneNote},
		{Duration: tonePause},
		{Freq1: second, Level: toneLevel, Duration: toneNote},
	}}, true
}

var errAnnouncement = errors.New("avmcu: announcement")

// announcement makes a fresh Source of the announcement for a leg of the
// given sample rate: every leg reads its own.
type announcement func(rate int) (tone.Source, error)

// announcementOf checks a PlayAnnouncement and returns its renderer.
func announcementOf(c *c3p.PlayAnnouncement) (announcement, error) {
	switch {
	case len(c.Prompts) > 0 && c.Tone != "":
		return nil, fmt.Errorf("%w: prompts and a tone at once", errAnnouncement)
	case c.Tone != "":
		p, ok := AnnouncementTone(c.Tone)
		if !ok {
			return nil, fmt.Errorf("%w: unknown tone %q", errAnnouncement, c.Tone)
		}
		return func(rate int) (tone.Source, error) { return tone.NewGenerator(rate, p) }, nil
	case len(c.Prompts) == 0:
		return nil, fmt.Errorf("%w: neither prompts nor a tone", errAnnouncement)
	case len(c.Prompts) > maxAnnouncementPrompts:
		return nil, fmt.Errorf("%w: %d prompts, at most %d", errAnnouncement, len(c.Prompts), maxAnnouncementPrompts)
	}
	lang := prompts.Best(c.Language)
	clips := make([][]int16, 0, len(c.Prompts))
	for _, k := range c.Prompts {
		pcm, err := prompts.PCM(lang, prompts.Key(k))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errAnnouncement, err)
		}
		clips = append(clips, pcm)
	}
	return func(rate int) (tone.Source, error) {
		parts := make([]tone.Source, 0, 2*len(clips))
		for i, pcm := range clips {
			if i > 0 {
				parts = append(parts, tone.NewSilence(prompts.Gap))
			}
			parts = append(parts, tone.NewClip(pcm, false))
		}
		var src tone.Source = tone.NewSequence(parts...)
		switch rate {
		case prompts.Rate:
		case 2 * prompts.Rate:
			src = &upsampled{src: src}
		default:
			return nil, fmt.Errorf("%w: no prompts for %d Hz legs", errAnnouncement, rate)
		}
		return src, nil
	}, nil
}

// upsampled plays an 8 kHz source to a 16 kHz (G.722) leg.
type upsampled struct {
	src  tone.Source
	up   mix.Upsampler
	buf  [mix.MaxFrameSamples / 2]int16
	done bool
}

// Read implements tone.Source.
func (u *upsampled) Read(frame []int16) (int, bool) {
	total := 0
	for total+1 < len(frame) && !u.done {
		want := min((len(frame)-total)/2, len(u.buf))
		n, done := u.src.Read(u.buf[:want])
		u.done = done
		out, err := u.up.Process(frame[total:], u.buf[:n])
		if err != nil {
			// Cannot happen with these sizes; end rather than play noise.
			u.done = true
			break
		}
		total += len(out)
		if n < want {
			u.done = true
		}
	}
	return total, u.done
}

// announce plays an announcement to every leg of user in conference and
// returns how many legs it was played to.
func (m *MCU) announce(conference, user string, a announcement) (int, error) {
	n := 0
	for _, c := range m.callsOf(conference) {
		if c.user != user || c.leg == nil {
			continue
		}
		src, err := a(c.leg.spec.Codec.SampleRate)
		if err != nil {
			return n, err
		}
		c.leg.Play(src)
		n++
	}
	return n, nil
}

// playAnnouncement serves pl:playAnnouncement.
func (m *MCU) playAnnouncement(c *c3p.PlayAnnouncement) (c3p.Command, string, error) {
	if c.Keys == nil || c.Keys.UserEntity == "" {
		return nil, reasonMalformed, fmt.Errorf("%w: no userKeys", errAnnouncement)
	}
	a, err := announcementOf(c)
	if err != nil {
		return nil, reasonMalformed, err
	}
	conf, ok := m.conference(c.Keys.ConfEntity)
	if !ok {
		return nil, reasonNoConference, fmt.Errorf("%w: %q is not a conference", errAnnouncement, c.Keys.ConfEntity)
	}
	n, err := m.announce(conf, m.canonicalUser(c.Keys.UserEntity), a)
	switch {
	case err != nil:
		return nil, reasonUnsupported, err
	case n == 0:
		return nil, reasonNoUser, fmt.Errorf("%w: %s has no audio in %s", errAnnouncement, c.Keys.UserEntity, conf)
	}
	legs := uint64(n)
	return &c3p.PlayAnnouncement{Keys: c.Keys, Prompts: c.Prompts, Language: c.Language, Tone: c.Tone, Legs: &legs}, "", nil
}
