package c3p

import (
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NamespaceParley holds Parley's own C3P extensions (prefix pl): what the
// seeds describe but no public specification names, such as the encrypted
// passcode an organizer's client sends with addConference (seed 001,
// "Meeting Set-up", step 3), the access numbers' languages and the meeting's
// schedule. Microsoft clients ignore unknown extension elements, so a
// response carrying them stays readable to them.
const NamespaceParley = "urn:parleyhq:params:xml:ns:c3p-ext"

func plName(local string) xml.Name { return xml.Name{Space: NamespaceParley, Local: local} }

// PasscodeAlgorithm is the one sealing algorithm Parley defines for
// passcodes: HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256 and AES-128-GCM, info "parley passcode v1".
const PasscodeAlgorithm = "hpke-x25519-sha256-aes128gcm"

// Sealed is a secret encrypted to the Focus Factory's key: the alg
// attribute names the algorithm, the text is the base64 ciphertext
// (encapsulated key followed by the sealed passcode).
type Sealed struct {
	Alg        string
	Ciphertext []byte
}

// PublicKey is a key the Focus Factory publishes for sealing passcodes to
// it, in getConferencingCapabilities responses.
type PublicKey struct {
	Alg string
	Key []byte
}

// Schedule is pl:schedule, the meeting's schedule, from which the Focus
// Factory derives its expiry (seed 003, "Meeting Expiration") instead of
// trusting a client's expiry-time.
type Schedule struct {
	// Kind is one-time, recurring or ad-hoc.
	Kind string
	// Start and End are the first occurrence's times.
	Start, End *time.Time
	// RecursUntil is the end of the last occurrence of a recurring
	// meeting; absent means no end date.
	RecursUntil *time.Time
	Extensions
}

func (d *dec) schedule() *Schedule {
	el := d.one("schedule", NamespaceParley)
	if el == nil {
		return nil
	}
	s := d.sub(el)
	out := &Schedule{
		Kind:        s.token("kind", NamespaceParley),
		Start:       s.time("start", NamespaceParley),
		End:         s.time("end", NamespaceParley),
		RecursUntil: s.time("recurs-until", NamespaceParley),
	}
	s.done(&out.Extensions)
	return out
}

func (sc *Schedule) encode() *Element {
	e := newEnc(plName("schedule"), &sc.Extensions)
	e.token("kind", NamespaceParley, sc.Kind)
	e.time("start", NamespaceParley, sc.Start)
	e.time("end", NamespaceParley, sc.End)
	e.time("recurs-until", NamespaceParley, sc.RecursUntil)
	return e.done()
}

// maxBase64 bounds the decoded size of base64 extension values: a sealed
// passcode is 32 + 16 + 16 bytes at most, a public key 32.
const maxBase64 = 1024

// sealed reads an optional element of the form <pl:NAME alg="...">base64</pl:NAME>.
func (d *dec) sealed(local string) (alg string, b []byte, ok bool) {
	el := d.one(local, NamespaceParley)
	if el == nil {
		return "", nil, false
	}
	if len(el.Children) > 0 {
		d.failf("<%s> must hold text only", local)
		return "", nil, false
	}
	for _, a := range el.Attrs {
		if a.Name.Space != "" || a.Name.Local != "alg" {
			d.failf("<%s> has an unknown attribute %s", local, a.Name.Local)
			return "", nil, false
		}
		alg = a.Value
	}
	if alg == "" {
		d.failf("<%s> needs an alg attribute", local)
		return "", nil, false
	}
	text := strings.TrimSpace(el.Text)
	if base64.StdEncoding.DecodedLen(len(text)) > maxBase64 {
		d.failf("<%s> longer than %d bytes", local, maxBase64)
		return "", nil, false
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		d.failf("<%s> is not base64", local)
		return "", nil, false
	}
	return alg, b, true
}

func (e *enc) sealed(local, alg string, b []byte) {
	e.add(&Element{
		Name:  plName(local),
		Attrs: []xml.Attr{{Name: xml.Name{Local: "alg"}, Value: alg}},
		Text:  base64.StdEncoding.EncodeToString(b),
	})
}

// passcodeInfo binds sealed passcodes to their purpose (RFC 9180 §5.1 info).
var passcodeInfo = []byte("parley passcode v1")

// ErrSealed reports a sealed passcode that cannot be opened: another
// algorithm, a wrong key or a tampered ciphertext.
var ErrSealed = errors.New("c3p: sealed passcode cannot be opened")

// maxPasscodeLen bounds what SealPasscode accepts and OpenPasscode returns.
const maxPasscodeLen = 64

// DerivePasscodeKey derives the Focus Factory's passcode key pair from a
// secret (RFC 9180 §7.1.3 DeriveKeyPair), so that every front end of a
// deployment publishes the same key without storing it.
func DerivePasscodeKey(secret []byte) (hpke.PrivateKey, error) {
	k, err := hpke.DHKEM(ecdh.X25519()).DeriveKeyPair(secret)
	if err != nil {
		return nil, fmt.Errorf("c3p: deriving the passcode key: %w", err)
	}
	return k, nil
}

// SealPasscode encrypts a passcode to a Focus Factory's public key (the
// PasscodeKey of its getConferencingCapabilities response), as an
// organizer's client does before addConference.
func SealPasscode(key *PublicKey, passcode string) (*Sealed, error) {
	if key == nil || key.Alg != PasscodeAlgorithm {
		return nil, fmt.Errorf("%w: no key for %s", ErrSealed, PasscodeAlgorithm)
	}
	if len(passcode) > maxPasscodeLen {
		return nil, fmt.Errorf("%w: passcode longer than %d", ErrSealed, maxPasscodeLen)
	}
	pub, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(key.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealed, err)
	}
	ct, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES128GCM(), passcodeInfo, []byte(passcode))
	if err != nil {
		return nil, fmt.Errorf("c3p: sealing the passcode: %w", err)
	}
	return &Sealed{Alg: PasscodeAlgorithm, Ciphertext: ct}, nil
}

// OpenPasscode decrypts a sealed passcode with the Focus Factory's key.
func (s *Sealed) OpenPasscode(key hpke.PrivateKey) (string, error) {
	if s.Alg != PasscodeAlgorithm {
		return "", fmt.Errorf("%w: unknown algorithm %q", ErrSealed, s.Alg)
	}
	pt, err := hpke.Open(key, hpke.HKDFSHA256(), hpke.AES128GCM(), passcodeInfo, s.Ciphertext)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSealed, err)
	}
	if len(pt) > maxPasscodeLen {
		return "", fmt.Errorf("%w: passcode longer than %d", ErrSealed, maxPasscodeLen)
	}
	return string(pt), nil
}
