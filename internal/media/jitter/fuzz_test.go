package jitter

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// FuzzBuffer drives a Buffer with an arbitrary sequence of pushes and pops
// decoded from the input (8 bytes per operation) and checks its
// invariants: no panic, only the documented errors, frames carry the
// payload pushed for them, and the counters add up.
func FuzzBuffer(f *testing.F) {
	f.Add([]byte("\x00\x01\x00\x00\x00\xa0\x05\x00\x80\x00\x00\x00\x00\x00\x14\x00"))
	f.Add(make([]byte, 64))
	seed := make([]byte, 0, 8*100)
	for i := range 100 {
		seed = binary.BigEndian.AppendUint16(seed, uint16(i))
		seed = binary.BigEndian.AppendUint32(seed, uint32(i*160))
		seed = append(seed, byte(i%7), 0x80|byte(i%3))
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, ops []byte) {
		b := newBuffer(t, func(c *Config) { c.Capacity = 8; c.MaxDelay = 100 * time.Millisecond; c.MaxPayload = 160 })
		now := t0
		payload, dst := make([]byte, 200), make([]byte, DefaultMaxPayload)
		var accepted, ready uint64
		for len(ops) >= 8 {
			seq := binary.BigEndian.Uint16(ops)
			ts := binary.BigEndian.Uint32(ops[2:])
			step, kind := ops[6], ops[7]
			ops = ops[8:]
			now = now.Add(time.Duration(step) * time.Millisecond)
			if kind&0x80 != 0 {
				if fr := b.Pop(now, dst); fr.Status == Ready {
					ready++
					if fr.N != int(fr.Seq%160)+1 || dst[0] != byte(fr.Seq) {
						t.Fatalf("frame seq %d: %d bytes starting %d", fr.Seq, fr.N, dst[0])
					}
				}
				continue
			}
			payload[0] = byte(seq)
			n := int(seq%160) + 1
			if kind&0x40 != 0 {
				n = len(payload) // over MaxPayload
			}
			err := b.Push(uint32(kind&3), seq, ts, payload[:n], now)
			switch {
			case err == nil:
				accepted++
				if n > 160 {
					t.Fatalf("accepted a %d-byte payload", n)
				}
			case errors.Is(err, ErrLate), errors.Is(err, ErrDuplicate), errors.Is(err, ErrJump), errors.Is(err, ErrOversize):
			default:
				t.Fatalf("push: unexpected error %v", err)
			}
		}
		st := b.Stats()
		if st.Received != accepted || ready > accepted {
			t.Fatalf("received %d accepted %d ready %d", st.Received, accepted, ready)
		}
	})
}
