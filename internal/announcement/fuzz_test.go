package announcement

import (
	"bytes"
	"testing"

	"github.com/parleyhq/parley/internal/c3p"
)

// FuzzRoster feeds documents, separated by NUL bytes, in any order: the
// roster must never panic, never go back in version while in sync, and
// announce only to connected dial-in callers.
func FuzzRoster(f *testing.F) {
	const bob, carol = "sip:bob@example.com", "sip:carol@example.com"
	seeds := [][]*c3p.ConferenceInfo{
		{doc(c3p.StateFull, 1, caller(bob, "fr-FR", statusConnected, false, "")), doc(c3p.StatePartial, 2, caller(carol, "", "dialing-in", true, "leader"))},
		{doc(c3p.StatePartial, 3, left(bob)), doc(c3p.StateFull, 2, online(carol)), ended(4)},
		{doc(c3p.StateFull, 1, caller(bob, "", statusConnected, true, "self")), doc(c3p.StatePartial, 2, caller(bob, "", statusConnected, false, ""))},
	}
	for _, docs := range seeds {
		var parts [][]byte
		for _, d := range docs {
			b, err := d.Marshal()
			if err != nil {
				f.Fatal(err)
			}
			parts = append(parts, b)
		}
		f.Add(bytes.Join(parts, []byte{0}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r roster
		for i, part := range bytes.Split(data, []byte{0}) {
			if i > 32 {
				break
			}
			ci, err := c3p.ParseConferenceInfo(part)
			if err != nil {
				continue
			}
			was, wasSynced := r.version, r.synced
			up, err := r.apply(ci)
			if err != nil {
				continue
			}
			if wasSynced && r.version <= was {
				t.Fatalf("version went from %d to %d", was, r.version)
			}
			for _, p := range decide(up, r.listeners) {
				if f := r.users[p.user].facts(); !f.dialIn || !f.connected {
					t.Fatalf("announcement to %q, who cannot hear it: %+v", p.user, f)
				}
				if (p.tone == "") == (len(p.prompts) == 0) {
					t.Fatalf("announcement with both or neither of tone and prompts: %+v", p)
				}
			}
		}
	})
}
