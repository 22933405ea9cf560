package sdpoa

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"

	"github.com/pion/sdp/v3"
)

// Session is our side of the offer/answer exchanges of one dialog: the
// o= line we send and the m= lines of our previous description.
//
// RFC 3264 §8: every description after the first keeps the o= line except
// the version, which grows by one exactly when the description changed;
// and a new offer keeps every m= line of the previous description, in
// order. A Session is safe for concurrent use.
type Session struct {
	mu       sync.Mutex
	username string
	id       uint64
	version  uint64
	last     []byte       // previous description we produced
	media    []mediaShape // its m= lines
	audio    int          // index of its audio stream, -1 if none
}

// mediaShape is what a later offer must repeat of an m= line.
type mediaShape struct {
	media, proto string
	formats      []string
}

// NewSession returns a Session with a random session id. username is the
// o= username; empty writes "-".
func NewSession(username string) *Session {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	// RFC 3264 §5: id and version must fit a signed 64-bit integer and the
	// version must start below 2^62-1 so it cannot overflow.
	id := binary.BigEndian.Uint64(b[:]) >> 2
	return newSession(username, id, 1)
}

func newSession(username string, id, version uint64) *Session {
	if username == "" {
		username = "-"
	}
	return &Session{username: username, id: id, version: version, audio: -1}
}

// ID returns the o= session id.
func (s *Session) ID() uint64 { return s.id }

// Version returns the version of the last description produced.
func (s *Session) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// previous returns the m= lines of our last description and the index of
// its audio stream.
func (s *Session) previous() ([]mediaShape, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media, s.audio
}

// stamp fills in the o= line of sd and marshals it, incrementing the
// version when the result differs from our previous description.
func (s *Session) stamp(sd *sdp.SessionDescription, audio int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sd.Origin.Username = s.username
	sd.Origin.SessionID = s.id
	sd.Origin.SessionVersion = s.version
	body, err := sd.Marshal()
	if err != nil {
		return nil, err
	}
	if s.last != nil && !bytes.Equal(body, s.last) {
		s.version++
		sd.Origin.SessionVersion = s.version
		if body, err = sd.Marshal(); err != nil {
			return nil, err
		}
	}
	s.last = body
	s.audio = audio
	s.media = s.media[:0]
	for _, md := range sd.MediaDescriptions {
		s.media = append(s.media, mediaShape{
			media:   md.MediaName.Media,
			proto:   strings.Join(md.MediaName.Protos, "/"),
			formats: md.MediaName.Formats,
		})
	}
	return body, nil
}
