package sdes

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// Negotiation errors.
var (
	// ErrNoAcceptable reports an offer with no a=crypto line we can use; it
	// is joined with the reason each line was refused.
	ErrNoAcceptable = errors.New("sdes: no acceptable crypto attribute")
	// ErrAnswerMismatch reports an answer whose tag or suite matches
	// nothing we offered (RFC 4568 §7.1.3).
	ErrAnswerMismatch = errors.New("sdes: answer does not match the offer")
)

// Negotiated is the outcome of SDES offer/answer for one media stream.
type Negotiated struct {
	// Local is our key, with which we encrypt. When we answer, Local.String()
	// is the value of the one a=crypto line of our answer.
	Local Crypto
	// Remote is the peer's key, with which we decrypt.
	Remote Crypto
}

// NewKey returns a fresh master key and salt for suite from crypto/rand.
func NewKey(suite Suite) (Key, error) {
	if !suite.valid() {
		return Key{}, fmt.Errorf("%w: %v", ErrUnknownSuite, suite)
	}
	k := Key{KeySalt: make([]byte, suite.KeyLen()+suite.SaltLen())}
	if _, err := rand.Read(k.KeySalt); err != nil {
		return Key{}, fmt.Errorf("sdes: new key: %w", err)
	}
	return k, nil
}

// Answer chooses one of the offered a=crypto values (RFC 4568 §7.1.2) and
// makes our key for it. prefer lists acceptable suites, best first (nil
// means DefaultSuites); among lines of the same suite the offerer's order
// wins. Lines with unknown suites, malformed lines and lines asking for what
// we do not support are skipped; if none is left the error wraps
// ErrNoAcceptable and says why each line was refused.
//
// Our answer reuses the chosen tag and suite. If the offer's key carries an
// MKI, so does ours (value 1, the same length): an endpoint that numbers its
// keys expects to parse MKIs, and one that does not never sees them.
func Answer(offer []string, prefer []Suite) (Negotiated, error) {
	if prefer == nil {
		prefer = DefaultSuites()
	}
	var best *Crypto
	bestRank := len(prefer)
	var errs []error
	tags := make(map[uint32]bool, len(offer))
	for i, v := range offer {
		c, err := Parse(v)
		if err == nil {
			err = c.Supported()
		}
		if err == nil && tags[c.Tag] {
			err = fmt.Errorf("%w: tag %d used twice", ErrSyntax, c.Tag)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("offer line %d: %w", i+1, err))
			continue
		}
		tags[c.Tag] = true
		if r := rank(prefer, c.Suite); r < bestRank {
			best, bestRank = &c, r
		}
	}
	if best == nil {
		return Negotiated{}, errors.Join(append([]error{ErrNoAcceptable}, errs...)...)
	}
	k, err := NewKey(best.Suite)
	if err != nil {
		return Negotiated{}, err
	}
	if mkiLen := best.Keys[0].MKILen; mkiLen != 0 {
		k.MKI, k.MKILen = 1, mkiLen
	}
	return Negotiated{
		Local:  Crypto{Tag: best.Tag, Suite: best.Suite, Keys: []Key{k}},
		Remote: *best,
	}, nil
}

// rank is the position of s in prefer, or len(prefer) if absent.
func rank(prefer []Suite, s Suite) int {
	for i, p := range prefer {
		if p == s {
			return i
		}
	}
	return len(prefer)
}

// Offer makes one a=crypto line per suite in prefer (nil means
// DefaultSuites), tagged 1, 2, ... in that order, each with a fresh key.
// Put each value's String() in the offer as a=crypto:<value>.
func Offer(prefer []Suite) ([]Crypto, error) {
	if prefer == nil {
		prefer = DefaultSuites()
	}
	out := make([]Crypto, 0, len(prefer))
	for i, s := range prefer {
		k, err := NewKey(s)
		if err != nil {
			return nil, err
		}
		out = append(out, Crypto{Tag: uint32(i + 1), Suite: s, Keys: []Key{k}})
	}
	return out, nil
}

// AcceptAnswer completes an exchange we offered: answer is the value of the
// answer's a=crypto attribute, which must carry the tag and suite of one of
// offered (RFC 4568 §7.1.3).
func AcceptAnswer(offered []Crypto, answer string) (Negotiated, error) {
	remote, err := Parse(answer)
	if err != nil {
		return Negotiated{}, err
	}
	if err := remote.Supported(); err != nil {
		return Negotiated{}, err
	}
	for _, o := range offered {
		if o.Tag == remote.Tag {
			if o.Suite != remote.Suite {
				return Negotiated{}, fmt.Errorf("%w: tag %d offered %v, answered %v", ErrAnswerMismatch, o.Tag, o.Suite, remote.Suite)
			}
			return Negotiated{Local: o, Remote: remote}, nil
		}
	}
	return Negotiated{}, fmt.Errorf("%w: tag %d was not offered", ErrAnswerMismatch, remote.Tag)
}
